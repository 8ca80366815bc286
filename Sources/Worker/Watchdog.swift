import Dispatch
import JobRuntime
import Support

/// Cancels runs that exceed their kind's timeout ("the job ran too long", as opposed to "the
/// worker died", which leases handle). One pass a second over the held jobs, instead of a
/// timer task per job.
struct Watchdog: Sendable {
    let loop = Loop(name: "watchdog")
    let held: HeldJobs

    func run() async {
        await loop.run {
            let n = held.cancelOverdue(now: DispatchTime.now().uptimeNanoseconds)
            if n > 0 { Log.warn("cancelled jobs past their timeout", ["count": n]) }
            return 1
        }
    }
}
