import Foundation
import Postgres

/// Moves a test's story forward in time the only way a test can now that `as_of` may never be
/// later than the database's `now()` (DESIGN.md, "Limits everywhere"): the stored times move
/// back instead. Story time starts at `start` (the real time, in whole seconds); after
/// `advance(to: d)` every grant expiry and subscription period stored so far is `d - start`
/// earlier, so a job run now (as of the database's clock) sees what it would see at story time
/// `d`. Dates a test stores or compares go through `stored(_:)`.
final class LedgerClock {
    let start = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
    private(set) var elapsed: TimeInterval = 0
    private let connection: Connection

    init(on connection: Connection) { self.connection = connection }

    /// A story time as the database holds it now.
    func stored(_ date: Date) -> Date { date.addingTimeInterval(-elapsed) }

    /// Story time `start + days`, in whole seconds.
    func day(_ days: Int) -> Date { start.addingTimeInterval(TimeInterval(days) * 86400) }

    /// Makes story time `date`: ages every stored time by how far that is from the story's now.
    func advance(to date: Date) throws {
        let delta = date.timeIntervalSince(start) - elapsed
        precondition(delta >= 0, "the story's clock only moves forward")
        try connection.transaction { tx in
            try tx.query("UPDATE grants SET expires_at = expires_at - $1::bigint * interval '1 second' WHERE expires_at IS NOT NULL", [Int64(delta)])
            try tx.query("UPDATE subscriptions SET current_period_end = current_period_end - $1::bigint * interval '1 second' WHERE current_period_end IS NOT NULL", [Int64(delta)])
        }
        elapsed += delta
    }
}
