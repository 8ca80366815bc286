import Synchronization

/// Open connections per client address, across every event loop: one client cannot take all
/// of `maxConnections` (DESIGN.md, "The security model"; `TALLY_MAX_CONNECTIONS_PER_CLIENT`).
final class ClientConnections: Sendable {
    private let open = Mutex<[String: Int]>([:])

    /// Counts one more connection from `address` unless it already has `limit`.
    func tryOpen(_ address: String, limit: Int) -> Bool {
        open.withLock { o in
            let n = o[address, default: 0]
            guard n < limit else { return false }
            o[address] = n + 1
            return true
        }
    }

    func close(_ address: String) {
        open.withLock { o in
            let n = o[address, default: 0] - 1
            o[address] = n > 0 ? n : nil
        }
    }

    func count(_ address: String) -> Int { open.withLock { $0[address, default: 0] } }
}
