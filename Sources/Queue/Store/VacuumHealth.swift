/// What keeps the job table from being vacuumed (`tally jobs stats`): its dead rows, and the
/// oldest snapshot anything holds. Every finished or moved job leaves a dead row that vacuum
/// may remove only once no snapshot can still see it; a long transaction (an analytics query,
/// a forgotten `BEGIN`), a replication slot or a prepared transaction holds that horizon back,
/// and the dead rows pile up in the claim path's indexes.
public struct VacuumHealth: Sendable, Equatable {
    /// The statistics' estimates for the job table (`pg_stat_user_tables`).
    public let liveRows: Int64
    public let deadRows: Int64
    /// Seconds the oldest transaction in this database holding a snapshot has been open
    /// (another session's; nil when none). Seeing other roles' sessions needs
    /// `pg_read_all_stats` (or the superuser).
    public let oldestSnapshotAge: Double?
    /// Transactions since the oldest xmin that holds vacuum back: sessions of this database,
    /// replication slots, prepared transactions (nil when none).
    public let oldestXminAge: Int64?

    public init(liveRows: Int64, deadRows: Int64, oldestSnapshotAge: Double?, oldestXminAge: Int64?) {
        self.liveRows = liveRows
        self.deadRows = deadRows
        self.oldestSnapshotAge = oldestSnapshotAge
        self.oldestXminAge = oldestXminAge
    }
}
