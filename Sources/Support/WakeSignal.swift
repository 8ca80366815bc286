import Dispatch
import Synchronization

/// Wakes one waiting loop: `signal()` from anywhere, `wait(timeout:)` from the loop. A signal
/// sent while nobody waits is kept, so the next wait returns at once (no lost wake-ups).
/// The timeout runs on a Dispatch timer rather than a sleeping task, so a waiting loop costs
/// no task and no thread.
public final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when signalled or after `seconds` (nil: only when signalled).
    public func wait(seconds: Double?) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let generation = state.withLock { s -> UInt64? in
                if s.pending {
                    s.pending = false
                    return nil
                }
                precondition(s.waiter == nil, "WakeSignal has one waiter at a time")
                s.generation &+= 1
                s.waiter = continuation
                return s.generation
            }
            guard let generation else {
                continuation.resume()
                return
            }
            guard let seconds else { return }
            let nanos = Int(max(0, min(seconds, 86_400)) * 1e9)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanos)) { [self] in
                let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    guard s.generation == generation, let w = s.waiter else { return nil }
                    s.waiter = nil
                    return w
                }
                waiter?.resume()
            }
        }
    }
}
