import Foundation
import Support

/// After the workload: the queue drains (within a deadline), then every account, hold,
/// transfer and purchase Tally reports is compared with the model, `tally ledger verify`
/// runs, and no job may be left running or discarded.
@MainActor
struct FinalCheck {
    let api: TallyAPI
    let system: SystemUnderTest
    let model: WalletModel

    func run(drainTimeout: TimeInterval = 180) async -> [String] {
        var v: [String] = []
        if let problem = await system.waitUntilIdle(queue: nil, timeout: drainTimeout, whileWaiting: api.whileWaiting) { v.append(problem) }
        for user in model.accounts.keys.sorted() {
            let m = model.accounts[user]!
            guard let a = await api.get("/v1/accounts/\(user)"), a.status == 200 else {
                v.append("account \(user): not readable")
                continue
            }
            let j = a.json
            let held = model.held(user)
            if j["balance"]?.int64 != m.balance || j["debt"]?.int64 != m.debt || j["held"]?.int64 != held {
                v.append("account \(user): balance \(j["balance"]?.serialized ?? "?"), debt \(j["debt"]?.serialized ?? "?"), held \(j["held"]?.serialized ?? "?"); the model says \(m.balance), \(m.debt), \(held)")
            }
            let grants = (j["grants"]?.array ?? []).sorted { ($0["id"]?.int64 ?? 0) < ($1["id"]?.int64 ?? 0) }
                .map { "\($0["source"]?.string ?? "?"):\($0["amount"]?.int64 ?? -1):\($0["remaining"]?.int64 ?? -1)" }
            if grants != m.listedGrants {
                v.append("account \(user): grants \(grants); the model says \(m.listedGrants)")
            }
        }
        for h in model.holds.values.sorted(by: { $0.id < $1.id }) {
            guard let a = await api.get("/v1/holds/\(h.id)"), a.status == 200 else {
                v.append("hold \(h.id): not readable")
                continue
            }
            let heldNow: Int64 = h.status == "held" ? h.reserved : 0
            if a.json["status"]?.string != h.status || a.json["captured"]?.int64 != h.captured || a.json["held"]?.int64 != heldNow {
                v.append("hold \(h.id): \(a.json.serialized.prefix(200)); the model says \(h.status), captured \(h.captured), held \(heldNow)")
            }
        }
        for t in model.transfers.values.sorted(by: { $0.id < $1.id }) {
            guard let a = await api.get("/v1/transfers/\(t.id)"), a.status == 200 else {
                v.append("transfer \(t.id): not readable")
                continue
            }
            if a.json["status"]?.string != t.status || a.json["credits"]?.int64 != t.credits
                || a.json["from_user_id"]?.string != t.from || a.json["to_user_id"]?.string != t.to {
                v.append("transfer \(t.id): \(a.json.serialized.prefix(200)); the model says \(t.status), \(t.credits) from \(t.from) to \(t.to)")
            }
        }
        for p in model.purchases.values.sorted(by: { $0.id < $1.id }) {
            guard let a = await api.get("/v1/purchases/\(p.id)"), a.status == 200 else {
                v.append("purchase \(p.id): not readable")
                continue
            }
            if a.json["status"]?.string != p.status || a.json["user_id"]?.string != p.user {
                v.append("purchase \(p.id): \(a.json.serialized.prefix(200)); the model says \(p.status) for \(p.user)")
            }
        }
        do {
            let verify = try system.run(["ledger", "verify"])
            if verify.status != 0 { v.append("tally ledger verify exited \(verify.status): \(verify.stdout.suffix(400)) \(verify.stderr.suffix(400))") }
            for state in ["running", "discarded"] {
                let list = try system.run(["jobs", "list", "--state", state, "--limit", "50", "--json"])
                let jobs = (try? JSON.parse(list.stdout))?["jobs"]?.array ?? []
                if list.status != 0 { v.append("tally jobs list --state \(state) exited \(list.status)") }
                // prices.refresh gives up after a few attempts while CoinGecko fails (the next
                // minute's run refreshes): a discarded one is the contract, not a finding.
                for job in jobs where !(state == "discarded" && job["kind"]?.string == "prices.refresh") {
                    v.append("a job left \(state): \(job.serialized.prefix(400))")
                }
            }
        } catch { v.append("the tally command did not run: \(error)") }
        return v
    }
}
