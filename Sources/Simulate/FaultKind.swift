/// What the simulation can do to the system under test (DESIGN.md, "Faults, failover and
/// scale"). `--faults` takes a comma-separated list of these names.
enum FaultKind: String, CaseIterable, Sendable {
    /// `kill -9` a worker (its running jobs are rescued once their lease lapses), then start
    /// a new one under the same `--id`.
    case workerKill = "worker-kill"
    /// `SIGSTOP` a worker for longer than its lease, then `SIGCONT`: it wakes holding jobs
    /// that were rescued and may have run elsewhere; its late completions must not apply.
    case workerStop = "worker-stop"
    /// `kill -9` an ingress and start it again on the same port a moment later.
    case ingressRestart = "ingress-restart"
    /// `pg_ctl restart -m immediate`: every connection dies, uncommitted work is lost.
    case postgresRestart = "pg-restart"
    /// The next calls to one fake outside service (Stripe, BitGo, CoinGecko) answer 500.
    case service500 = "service-500"
    /// ... hang past the workers' HTTP timeout.
    case serviceHang = "service-hang"
    /// ... have their connection closed without an answer.
    case serviceClose = "service-close"

    /// The kinds named in `list` ("all", "none", or names separated by commas).
    static func parse(_ list: String) throws -> [FaultKind] {
        if list == "all" { return allCases }
        if list == "none" || list.isEmpty { return [] }
        return try list.split(separator: ",").map { name in
            guard let kind = FaultKind(rawValue: String(name)) else {
                throw SimulationError("no fault kind '\(name)'; the kinds: \(allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        }
    }
}
