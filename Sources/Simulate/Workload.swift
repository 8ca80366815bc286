import DevFakes
import Foundation
import Support

/// The random workload: operations drawn from the seed, each sent through `TallyAPI` (or the
/// `tally` command), applied to the model as it is answered, and checked against the job's
/// outcome before the next operation on the same accounts. Operations on one account are
/// therefore in a known order, which is what makes the model exact; different accounts'
/// jobs run concurrently in the workers.
@MainActor
final class Workload {
    struct PendingJob {
        let job: Int64
        let what: String
        /// A violation, or nil, given the finished job (`{state, result, …}`).
        let check: (JSON) -> String?
    }

    private let api: TallyAPI
    private let system: SystemUnderTest
    private let bitgo: FakeBitGo
    private var rng: SplitMix64
    private let seed: UInt64
    private(set) var model = WalletModel()
    private var users: [String]
    private var opened: [String] = []
    private var pending: [String: [PendingJob]] = [:]
    private var serial = 0
    private var subscribed: Set<String> = []
    private(set) var counts: [String: Int] = [:]
    private(set) var violations: [String] = []
    /// The operations drawn, in order: two runs of one seed print the same digest.
    private(set) var schedule = ScheduleDigest()

    /// Reward rules as seeded (DESIGN.md, "Rewards"): credits per action and the daily cap.
    static let rewards: [(action: String, credits: Int64, cap: Int64)] = [
        ("daily_login", 1, 1), ("post_like", 1, 5), ("watch_milestone", 2, 10), ("ad_view", 1, 5),
    ]
    /// Stripe top-ups: amount charged (cents) and credits bought (the seeded products).
    static let topups: [(cents: Int64, credits: Int64)] = [(499, 100), (1999, 500), (4999, 1500)]

    init(api: TallyAPI, system: SystemUnderTest, bitgo: FakeBitGo, seed: UInt64, operations: Int) {
        self.api = api
        self.system = system
        self.bitgo = bitgo
        self.seed = seed
        rng = SplitMix64(seed: seed, stream: 1)
        let n = max(8, min(2_000, operations / 25))
        users = (0..<n).map { "sim\(seed)-u\($0)" }
    }

    func violation(_ text: String) { violations.append(text) }

    // MARK: One operation

    func step() async {
        serial += 1
        let kinds: [(String, Int)] = [
            ("account.open", opened.count < 4 ? 60 : 5), ("usage", 24), ("usage.burst", 2), ("activity", 9), ("stripe.checkout", 9), ("stripe.refund", 4),
            ("stripe.dispute", 2), ("stripe.dispute.closed", 1), ("crypto", 3), ("hold.create", 9), ("hold.end", 8), ("transfer", 8),
            ("transfer.end", 2), ("rollover", 1), ("subscription.rollover", 1), ("forged.webhook", 1),
        ]
        var kind = kinds[rng.weighted(kinds.map(\.1))].0
        if opened.isEmpty { kind = "account.open" }
        counts[kind, default: 0] += 1
        schedule.add(kind)
        switch kind {
        case "account.open": await openAccount()
        case "usage": await usage()
        case "usage.burst": await usageBurst()
        case "activity": await activity()
        case "stripe.checkout": await checkout()
        case "stripe.refund": await clawback(dispute: false)
        case "stripe.dispute": await clawback(dispute: true)
        case "stripe.dispute.closed": await disputeClosed()
        case "crypto": await crypto()
        case "hold.create": await holdCreate()
        case "hold.end": await holdEnd()
        case "transfer": await transfer()
        case "transfer.end": await transferEnd()
        case "rollover": await rollover()
        case "subscription.rollover": await subscriptionRollover()
        default: await forgedWebhook()
        }
    }

    /// Waits for every job on these accounts to finish and checks each outcome.
    func settle(_ accounts: [String]) async {
        for user in accounts {
            guard let jobs = pending.removeValue(forKey: user) else { continue }
            for p in jobs {
                guard let job = await api.finishedJob(p.job) else {
                    violation("\(p.what): job \(p.job) did not finish within its deadline")
                    continue
                }
                if let problem = p.check(job) { violation("\(p.what) (job \(p.job)): \(problem)") }
            }
        }
    }

    func settleAll() async { await settle(Array(pending.keys).sorted()) }

    private func expect(_ user: String, _ job: Int64?, _ what: String, _ check: @escaping (JSON) -> String?) {
        guard let job else {
            violation("\(what): the answer has no job_id")
            return
        }
        pending[user, default: []].append(PendingJob(job: job, what: what, check: { j in
            guard j["state"]?.string == "completed" else {
                return "ended \(j["state"]?.string ?? "?"), errors \(j["errors"]?.serialized.prefix(300) ?? "")"
            }
            return check(j["result"] ?? .null)
        }))
    }

    /// An answer that is not one of `statuses` is a violation (nil: no final answer in time).
    private func accepted(_ a: TallyAPI.Answer?, _ what: String, _ statuses: Set<Int>) -> TallyAPI.Answer? {
        guard let a else {
            violation("\(what): no final answer within \(Int(api.requestDeadline)) s")
            return nil
        }
        guard statuses.contains(a.status) else {
            violation("\(what): answered \(a.status) \(a.json.serialized.prefix(300))")
            return nil
        }
        return a
    }

    /// The same request again, as a client that lost the first answer sends it: the same job.
    private func resend(_ path: String, _ body: JSON, key: String, first: TallyAPI.Answer, what: String) async {
        guard rng.chance(15) else { return }
        counts["resent.same", default: 0] += 1
        guard let again = accepted(await api.post(path, body, key: key), "\(what) sent again", [200, 202, 402, 404]) else { return }
        if again.jobID != first.jobID {
            violation("\(what) sent again: job \(again.jobID.map(String.init) ?? "none") instead of \(first.jobID.map(String.init) ?? "none")")
        }
    }

    private var wait: Int? { rng.chance(50) ? 10 : nil }

    private func someOpened() -> String { rng.pick(opened) }

    // MARK: Operations

    private func openAccount() async {
        let user: String
        if opened.count < users.count && (opened.count < 4 || rng.chance(90)) {
            user = users[opened.count]
        } else {
            user = someOpened()  // a second open of the same user: nothing changes
            counts["account.open.again", default: 0] += 1
        }
        await settle([user])
        let body: JSON = ["user_id": .string(user)]
        let what = "open \(user)"
        guard let a = accepted(await api.post("/v1/accounts", body, wait: wait, key: "open:\(user)"), what, [200, 202]) else { return }
        if model.accounts[user] == nil {
            var account = ModelAccount(user: user)
            account.grant("trial", 5, expiresAt: Date().addingTimeInterval(14 * 86_400))
            model.accounts[user] = account
            opened.append(user)
        }
        expect(user, a.jobID, what) { _ in nil }
        await resend("/v1/accounts", body, key: "open:\(user)", first: a, what: what)
    }

    private func usage() async {
        let ghost = rng.chance(3)
        let user = ghost ? "sim\(seed)-ghost\(serial)" : someOpened()
        await settle([user])
        let units = rng.between(1, 8)
        let key = "use-\(serial)"
        let body: JSON = ["user_id": .string(user), "agent": "default", "units": .int(units), "idempotency_key": .string(key)]
        let what = "usage \(units) of \(user) (\(key))"
        let expected: String
        if ghost {
            expected = "account_not_found"
        } else if model.accounts[user]!.balance >= units {
            _ = model.accounts[user]!.take(units)
            expected = "charged"
        } else {
            expected = "insufficient_credits"
        }
        guard let a = accepted(await api.post("/v1/usage", body, wait: wait, key: key), what, [200, 202, 402, 404]) else { return }
        expect(user, a.jobID, what) { r in
            let got = r["charged"]?.int64.map { $0 == units ? "charged" : "charged \($0)" } ?? r["error"]?.string ?? r.serialized
            return got == expected ? nil : "expected \(expected), got \(got)"
        }
        await resend("/v1/usage", body, key: key, first: a, what: what)
        if !ghost && rng.chance(5) {
            // The same key with other fields: refused (409), nothing charged.
            counts["usage.conflict", default: 0] += 1
            var other = body.object!
            other["units"] = .int(units + 1)
            _ = accepted(await api.post("/v1/usage", .object(other), key: key), "\(what) with other units", [409])
        }
    }

    /// Several usage requests for one account sent at once without waiting, so that their
    /// jobs run together (claimed in one batch, or racing on the account's lock). Sent only when
    /// the balance covers them all: then every one is charged, in whatever order they run, and
    /// the grants end the same (each takes from the front of one consumption order).
    private func usageBurst() async {
        let user = someOpened()
        await settle([user])
        let units = (0..<rng.between(3, 10)).map { _ in rng.between(1, 5) }
        guard model.accounts[user]!.balance >= units.reduce(0, +) else { return await usage() }
        for (i, u) in units.enumerated() {
            let key = "burst-\(serial)-\(i)"
            let body: JSON = ["user_id": .string(user), "agent": "default", "units": .int(u), "idempotency_key": .string(key)]
            _ = model.accounts[user]!.take(u)
            let what = "usage \(u) of \(user) (\(key), in a burst)"
            guard let a = accepted(await api.post("/v1/usage", body, key: key), what, [202]) else { continue }
            expect(user, a.jobID, what) { r in r["charged"]?.int64 == u ? nil : "expected \(u) charged, got \(r.serialized.prefix(200))" }
        }
    }

    private func activity() async {
        let user = someOpened()
        await settle([user])
        let rule = rng.pick(Self.rewards)
        let key = "act-\(serial)"
        let body: JSON = ["user_id": .string(user), "action": .string(rule.action), "idempotency_key": .string(key)]
        let used = model.accounts[user]!.rewardsToday[rule.action] ?? 0
        let granted = max(0, min(rule.credits, rule.cap - used))
        if granted > 0 {
            model.accounts[user]!.grant("reward", granted)
            model.accounts[user]!.rewardsToday[rule.action] = used + granted
        }
        let what = "\(rule.action) of \(user)"
        guard let a = accepted(await api.post("/v1/activity", body, wait: wait, key: key), what, [200, 202]) else { return }
        expect(user, a.jobID, what) { r in r["granted"]?.int64 == granted ? nil : "expected \(granted) granted, got \(r.serialized.prefix(200))" }
        await resend("/v1/activity", body, key: key, first: a, what: what)
    }

    /// A Stripe event, signed; redelivered (re-signed, as Stripe does) now and then.
    private func deliver(_ raw: [UInt8], user: String, what: String, redeliver: Bool = true, check: @escaping (JSON) -> String? = { _ in nil }) async {
        // Drawn before sending: the seed's stream of choices never depends on an answer.
        let again = redeliver && rng.chance(30)
        guard let a = accepted(await api.webhook("/webhooks/stripe", raw: raw, signature: Webhooks.stripeSignature(raw)), what, [200]) else { return }
        expect(user, a.jobID, what, check)
        if again {
            counts["stripe.redelivery", default: 0] += 1
            _ = accepted(await api.webhook("/webhooks/stripe", raw: raw, signature: Webhooks.stripeSignature(raw)), "\(what) redelivered", [200])
        }
    }

    private func checkout() async {
        let user = someOpened()
        await settle([user])
        let n = serial
        // A third of them name no credits: the worker asks the Stripe API (the fake: 500 credits).
        let fromAPI = rng.chance(33)
        let (cents, credits) = fromAPI ? Self.topups[1] : rng.pick(Self.topups)
        let raw = Webhooks.checkout(n: n, user: user, amount: cents, credits: fromAPI ? nil : credits)
        var payment = WalletModel.Payment(user: user, credits: credits, charged: cents, grant: model.accounts[user]!.grant("topup", credits))
        if rng.chance(15) {
            // The refund arrives before its checkout: it waits for it, then applies.
            counts["stripe.refund.early", default: 0] += 1
            let refunded = rng.between(1, cents)
            payment.refunded = refunded
            payment.hasEarlyRefund = true
            let early = Webhooks.refund(n: n, amount: cents, refunded: refunded)
            guard let a = accepted(await api.webhook("/webhooks/stripe", raw: early, signature: Webhooks.stripeSignature(early)),
                                   "early refund of checkout \(n)", [200]) else { return }
            await deliver(raw, user: user, what: "checkout \(n) of \(user)")
            let owed = payment.owed
            model.accounts[user]!.clawback(owed, first: payment.grant)
            payment.taken = owed
            expect(user, a.jobID, "early refund of checkout \(n)") { _ in nil }
        } else {
            await deliver(raw, user: user, what: "checkout \(n) of \(user)")
        }
        model.payments["pi_sim_\(n)"] = payment
    }

    private func clawback(dispute: Bool) async {
        let candidates = model.payments.filter { dispute ? $0.value.disputed == 0 : $0.value.refunded == 0 }.keys.sorted()
        guard !candidates.isEmpty else { return await checkout() }
        let key = rng.pick(candidates)
        var p = model.payments[key]!
        await settle([p.user])
        let n = Int(key.dropFirst("pi_sim_".count))!
        let raw: [UInt8]
        if dispute {
            p.disputed = p.charged
            p.disputeStatus = "needs_response"
            raw = Webhooks.dispute(n: n, amount: p.charged)
        } else {
            p.refunded = rng.between(1, p.charged)
            raw = Webhooks.refund(n: n, amount: p.charged, refunded: p.refunded)
        }
        settleClawback(&p)
        model.payments[key] = p
        await deliver(raw, user: p.user, what: "\(dispute ? "dispute" : "refund") of checkout \(n)")
    }

    /// Moves what a payment's refunds and disputes took to its new target: takes the
    /// difference (from the grant it bought first, the rest as debt) or gives it back (a
    /// dispute won: a top-up grant, which repays debt first).
    private func settleClawback(_ p: inout WalletModel.Payment) {
        let step = p.owed - p.taken
        if step > 0 { model.accounts[p.user]!.clawback(step, first: p.grant) }
        if step < 0 { model.accounts[p.user]!.grant("topup", -step) }
        p.taken = p.owed
    }

    private func disputeClosed() async {
        let open = model.payments.filter { $0.value.disputeStatus == "needs_response" }.keys.sorted()
        guard !open.isEmpty else { return await clawback(dispute: true) }
        let key = rng.pick(open)
        var p = model.payments[key]!
        await settle([p.user])
        let n = Int(key.dropFirst("pi_sim_".count))!
        let status = rng.pick(["won", "lost"])
        p.disputeStatus = status
        settleClawback(&p)
        model.payments[key] = p
        await deliver(Webhooks.dispute(n: n, amount: p.disputed, closed: status), user: p.user, what: "dispute of checkout \(n) \(status)")
    }

    private func crypto() async {
        let user = someOpened()
        await settle([user])
        let coin = rng.pick(["btc", "eth"])
        let key = "crypto-\(serial)"
        let body: JSON = ["user_id": .string(user), "product": "topup_100", "coin": .string(coin), "idempotency_key": .string(key)]
        let what = "crypto \(coin) purchase of \(user)"
        let webhooks = rng.chance(30) ? 2 : 1
        guard let a = accepted(await api.post("/v1/purchases/crypto", body, wait: 10, key: key), what, [200, 202]),
              let job = a.jobID, let finished = await api.finishedJob(job) else {
            return violation("\(what): the quote did not finish")
        }
        let r = finished["result"] ?? .null
        guard finished["state"]?.string == "completed", let id = r["purchase_id"]?.string, let address = r["address"]?.string,
              let amount = r["amount_base_units"]?.string ?? r["amount_base_units"]?.numberText else {
            // A quote may fail when the price service has been failing (price_stale): no purchase, nothing owed.
            counts["crypto.quote_failed", default: 0] += 1
            return
        }
        let transfer = "sim-transfer-\(serial)"
        bitgo.setTransfer(transfer, coin: coin, to: address, amount: amount, confirmations: coin == "btc" ? 3 : 64)
        model.accounts[user]!.grant("crypto", 100)
        model.purchases[id] = .init(id: id, user: user, credits: 100, status: "paid")
        for attempt in 0..<webhooks {
            let hook = Webhooks.bitgoTransfer(id: transfer, coin: coin)
            guard let h = accepted(await api.webhook("/webhooks/bitgo", raw: hook, signature: Webhooks.bitgoSignature(hook)),
                                   "\(what): BitGo's webhook", [200]) else { return }
            if attempt > 0 { counts["bitgo.redelivery", default: 0] += 1 }
            expect(user, h.jobID, "\(what): the transfer check") { _ in nil }
        }
    }

    private func holdCreate() async {
        let user = someOpened()
        await settle([user])
        let credits = rng.between(1, 15)
        let key = "hold-\(serial)"
        let body: JSON = ["user_id": .string(user), "credits": .int(credits), "idempotency_key": .string(key), "expires_in": 86_400]
        let what = "hold of \(credits) on \(user)"
        guard let a = accepted(await api.post("/v1/holds", body, wait: 10, key: key), what, [200, 202, 402]),
              let job = a.jobID, let finished = await api.finishedJob(job) else { return violation("\(what): no job finished") }
        let r = finished["result"] ?? .null
        if model.accounts[user]!.balance >= credits {
            let (pieces, _) = model.accounts[user]!.take(credits)
            guard let id = r["hold_id"]?.string else { return violation("\(what): expected a hold, got \(r.serialized.prefix(200))") }
            model.holds[id] = .init(id: id, user: user, reserved: credits, pieces: pieces)
        } else if r["error"]?.string != "insufficient_credits" {
            violation("\(what): expected insufficient_credits, got \(r.serialized.prefix(200))")
        }
        await resend("/v1/holds", body, key: key, first: a, what: what)
    }

    private func holdEnd() async {
        let active = model.holds.values.filter { $0.status == "held" }.map(\.id).sorted()
        guard !active.isEmpty else { return await holdCreate() }
        var h = model.holds[rng.pick(active)]!
        await settle([h.user])
        let choice = rng.below(10)
        let key = "end-\(serial)"
        var body: JSON = ["idempotency_key": .string(key)]
        let path: String
        if choice < 5 {
            // Capture some, all (no amount), or more than held (refused: nothing changes).
            path = "/v1/holds/\(h.id)/capture"
            let over = choice == 4
            let amount: Int64? = over ? h.reserved + 1 : (choice == 3 ? nil : rng.between(1, h.reserved))
            if let amount { body = ["credits": .int(amount), "idempotency_key": .string(key)] }
            if over {
                counts["hold.capture_exceeds", default: 0] += 1
                guard let a = accepted(await api.post(path, body, wait: 10, key: key), "over-capture of \(h.id)", [200, 202, 400]) else { return }
                if a.status != 400 {
                    expect(h.user, a.jobID, "over-capture of \(h.id)") { r in
                        r["error"]?.string == "capture_exceeds_hold" ? nil : "expected capture_exceeds_hold, got \(r.serialized.prefix(200))"
                    }
                }
                return
            }
            let captured = amount ?? h.reserved
            model.accounts[h.user]!.restore(h.pieces)
            var left = captured
            for p in h.pieces where left > 0 {
                let t = min(left, p.amount)
                model.accounts[h.user]!.grants[p.index].remaining -= t
                left -= t
            }
            h.status = "captured"
            h.captured = captured
        } else {
            path = "/v1/holds/\(h.id)/void"
            body = [:]
            model.accounts[h.user]!.restore(h.pieces)
            h.status = "voided"
        }
        model.holds[h.id] = h
        let what = "\(h.status == "voided" ? "void" : "capture") of \(h.id)"
        guard let a = accepted(await api.post(path, body, wait: wait, key: key), what, [200, 202]) else { return }
        expect(h.user, a.jobID, what) { r in r["status"]?.string == h.status ? nil : "expected \(h.status), got \(r.serialized.prefix(200))" }
    }

    private func transfer() async {
        guard opened.count >= 2 else { return await openAccount() }
        let from = someOpened()
        var to = someOpened()
        let selfTransfer = rng.chance(3)
        if selfTransfer { to = from } else if to == from { to = opened.first { $0 != from }! }
        await settle([from, to])
        let credits = rng.between(1, 40)
        let key = "xfer-\(serial)"
        let escrow = rng.chance(25)
        var fields: [String: JSON] = ["from_user_id": .string(from), "to_user_id": .string(to), "credits": .int(credits), "idempotency_key": .string(key)]
        if escrow { fields["escrow"] = true }
        let body = JSON.object(fields)
        let what = "transfer of \(credits) from \(from) to \(to)"
        if selfTransfer {
            counts["transfer.self", default: 0] += 1
            _ = accepted(await api.post("/v1/transfers", body, wait: wait, key: key), what, [400])
            return
        }
        guard let a = accepted(await api.post("/v1/transfers", body, wait: 10, key: key), what, [200, 202, 402]),
              let job = a.jobID, let finished = await api.finishedJob(job) else { return violation("\(what): no job finished") }
        let r = finished["result"] ?? .null
        if model.accounts[from]!.transferable >= credits {
            let (pieces, _) = model.accounts[from]!.take(credits, paidOnly: true)
            if !escrow { model.accounts[to]!.receive(model.accounts[from]!.carried(pieces)) }
            let status = escrow ? "escrowed" : "completed"
            guard let id = r["transfer_id"]?.string, r["status"]?.string == status else {
                return violation("\(what): expected a transfer \(status), got \(r.serialized.prefix(200))")
            }
            model.transfers[id] = .init(id: id, from: from, to: to, credits: credits, status: status, pieces: pieces)
        } else if r["error"]?.string != "insufficient_credits" {
            violation("\(what): expected insufficient_credits, got \(r.serialized.prefix(200))")
        }
        await resend("/v1/transfers", body, key: key, first: a, what: what)
    }

    /// An escrow released to its recipient or refunded to its sender.
    private func transferEnd() async {
        let escrowed = model.transfers.values.filter { $0.status == "escrowed" }.map(\.id).sorted()
        guard !escrowed.isEmpty else { return await transfer() }
        var t = model.transfers[rng.pick(escrowed)]!
        await settle([t.from, t.to])
        let release = rng.chance(50)
        if release {
            model.accounts[t.to]!.receive(model.accounts[t.from]!.carried(t.pieces))
            t.status = "released"
        } else {
            model.accounts[t.from]!.restore(t.pieces)
            t.status = "refunded"
        }
        model.transfers[t.id] = t
        let what = "\(release ? "release" : "refund") of \(t.id)"
        guard let a = accepted(await api.post("/v1/transfers/\(t.id)/\(release ? "release" : "refund")", [:], wait: wait, key: "end-\(t.id)"),
                               what, [200, 202]) else { return }
        let status = t.status
        expect(t.from, a.jobID, what) { r in r["status"]?.string == status ? nil : "expected \(status), got \(r.serialized.prefix(200))" }
        // The recipient's next operation waits for it too (checked once, above).
        expect(t.to, a.jobID, what) { _ in nil }
    }

    /// A rollover for a moment just past (as an operator runs one): every subscription grant
    /// due then was settled by its own operation already, so it must change nothing.
    private func rollover() async {
        let asOf = Timestamp.iso8601(Date().addingTimeInterval(-Double(rng.between(1, 3_600))))
        guard let job = enqueueRollover(asOf: asOf) else { return }
        expect("#rollover", job, "rollover as of \(asOf)") { _ in nil }
    }

    private func enqueueRollover(asOf: String) -> Int64? {
        let run = try? system.run(["enqueue", "credits.rollover", "--args", #"{"as_of": "\#(asOf)"}"#, "--json"])
        guard let run, run.status == 0, let job = (try? JSON.parse(run.stdout))?["id"]?.int64 else {
            violation("tally enqueue credits.rollover failed: \(run?.stderr.prefix(300) ?? "did not run")")
            return nil
        }
        return job
    }

    /// A month of a subscription, ended: a signed `invoice.paid` whose line's period ended a
    /// little while ago (its 250 credits arrive already past their expiry, unspendable), then
    /// `credits.rollover` as of now moves what is left (after repaying debt) into a rollover
    /// grant expiring a month after that period's end. One subscription per account, so the
    /// rollover cap (250) is never reached by an earlier rollover.
    private func subscriptionRollover() async {
        let candidates = opened.filter { !subscribed.contains($0) }
        guard !candidates.isEmpty else { return await usage() }
        let user = rng.pick(candidates)
        subscribed.insert(user)
        await settle([user])
        let n = serial
        let end = Int64(Date().timeIntervalSince1970) - rng.between(60, 3_600)
        let raw = Webhooks.invoicePaid(n: n, user: user, periodEnd: end)
        guard let a = accepted(await api.webhook("/webhooks/stripe", raw: raw, signature: Webhooks.stripeSignature(raw)),
                               "invoice \(n) of \(user)", [200]), let job = a.jobID else { return }
        guard let invoice = await api.finishedJob(job), invoice["state"]?.string == "completed" else {
            return violation("invoice \(n) of \(user) (job \(job)) did not complete")
        }
        var account = model.accounts[user]!
        let left = 250 - min(account.debt, 250)
        account.debt -= 250 - left
        let expiry = Calendar.utc.date(byAdding: .month, value: 1, to: Date(timeIntervalSince1970: TimeInterval(end)))!
        if left > 0 { account.grant("rollover", left, expiresAt: expiry) }
        model.accounts[user] = account
        guard let rollover = enqueueRollover(asOf: Timestamp.iso8601(Date().addingTimeInterval(-1))) else { return }
        guard let done = await api.finishedJob(rollover), done["state"]?.string == "completed" else {
            return violation("rollover job \(rollover) after invoice \(n) did not complete")
        }
        // A planner with more accounts than a batch enqueues batch jobs: they finish too.
        if let problem = await system.waitUntilIdle(queue: "maintenance", timeout: 120, whileWaiting: api.whileWaiting) {
            violation("after invoice \(n): \(problem)")
        }
    }

    /// A Stripe event whose signature is wrong: refused (400), and it must grant nothing.
    private func forgedWebhook() async {
        let user = someOpened()
        let raw = Webhooks.checkout(n: 1_000_000 + serial, user: user, amount: 4999, credits: 1500)
        _ = accepted(await api.webhook("/webhooks/stripe", raw: raw, signature: Webhooks.stripeSignature(raw, secret: "whsec_forged")),
                     "forged checkout for \(user)", [400])
    }
}
