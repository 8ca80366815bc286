import Support
import Synchronization

/// The body of a periodic service (rescuer, scheduler, renewer, ...): runs `tick` until
/// stopped, waiting between ticks for the delay the tick returns or a `poke()`.
final class Loop: Sendable {
    let name: String
    private let wake = WakeSignal()
    private let stopped = Atomic<Bool>(false)

    init(name: String) { self.name = name }

    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// `tick` returns how long to wait before the next tick.
    func run(_ tick: () async -> Double) async {
        while !isStopped {
            let delay = await tick()
            if isStopped { break }
            await wake.wait(seconds: delay)
        }
    }

    func poke() { wake.signal() }

    func stop() {
        stopped.store(true, ordering: .releasing)
        wake.signal()
    }
}
