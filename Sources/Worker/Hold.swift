/// One claim of a job by this process: the job, the attempt that runs, and a serial number no
/// other claim in this process shares. The attempt alone is not enough: a snooze gives its
/// attempt back, so the same process may claim the same job again in the same attempt while
/// the first run is still reporting its end.
struct Hold: Hashable, Sendable {
    let id: Int64
    let attempt: Int
    let serial: UInt64
}
