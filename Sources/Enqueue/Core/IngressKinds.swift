import JobRuntime
import Jobs
import Queue
import Support

/// The job kinds the ingress enqueues (notes/CONTRACTS.md). Their queue and attempt limit come
/// from the kinds' own declarations in `JobRegistry.standard`, so the ingress, the command and
/// cron enqueue a kind the same way.
public enum IngressKinds {
    public static let accountOpen = "account.open"
    public static let usageRecord = "usage.record"
    public static let rewardsAction = "rewards.action"
    public static let cryptoQuote = "crypto.quote"
    public static let notifyRead = "notify.read"
    public static let stripeEvent = "stripe.event"
    public static let cryptoCheck = "crypto.check"

    /// The registered kinds (building the registry does no I/O).
    static let registry: JobRegistry = {
        do { return try JobRegistry.standard(environment: Environment([:])) } catch {
            preconditionFailure("the standard job registry does not build: \(error)")
        }
    }()

    public static func queue(_ kind: String) -> String {
        guard let q = registry.queue(for: kind) else { preconditionFailure("no job kind \(kind) is registered") }
        return q
    }
}

extension IngressKinds {
    /// A job of `kind` on its queue, with its attempt limit.
    public static func job(_ kind: String, args: JSON, uniqueKey: String? = nil, uniqueWhileActive: Bool = false) -> NewJob {
        guard let job = registry.newJob(kind, args: args, uniqueKey: uniqueKey, uniqueWhileActive: uniqueWhileActive) else {
            preconditionFailure("no job kind \(kind) is registered")
        }
        return job
    }
}
