/// The job kinds the ingress enqueues and their default queues (notes/CONTRACTS.md and
/// DESIGN.md, "The job table"): the one place they are written down on this side.
///
/// The ingress names kinds as text and never depends on the handler types: the handlers are
/// written (and registered in `JobRegistry.standard`) by other parts, possibly later, and a
/// job can wait in its queue until a worker that knows its kind claims it.
public enum IngressKinds {
    public static let accountOpen = "account.open"
    public static let usageRecord = "usage.record"
    public static let rewardsAction = "rewards.action"
    public static let cryptoQuote = "crypto.quote"
    public static let notifyRead = "notify.read"
    public static let stripeEvent = "stripe.event"
    public static let cryptoCheck = "crypto.check"

    /// Kind → queue. Payments work is kept apart from usage so a slow payment provider never
    /// holds up metering.
    public static let queues: [String: String] = [
        accountOpen: "default",
        usageRecord: "default",
        rewardsAction: "default",
        cryptoQuote: "payments",
        notifyRead: "notify",
        stripeEvent: "payments",
        cryptoCheck: "payments",
    ]

    public static func queue(_ kind: String) -> String {
        guard let q = queues[kind] else { preconditionFailure("IngressKinds.queues has no queue for \(kind)") }
        return q
    }
}

import Queue
import Support

extension IngressKinds {
    /// A job of `kind` on its queue from the table above.
    public static func job(_ kind: String, args: JSON, uniqueKey: String? = nil, uniqueWhileActive: Bool = false) -> NewJob {
        NewJob(kind: kind, args: args, queue: queue(kind), uniqueKey: uniqueKey, uniqueWhileActive: uniqueWhileActive)
    }
}
