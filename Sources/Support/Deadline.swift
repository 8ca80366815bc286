import Dispatch
import Synchronization

/// A point in time on the uptime clock (`DispatchTime`), for work that must end by then
/// whatever the outside world does: a worker's shutdown promises an exit within
/// TALLY_SHUTDOWN_GRACE + 5 s, and a libpq call to a server that never answers blocks for ever.
public struct Deadline: Sendable, Comparable {
    public let uptimeNanoseconds: UInt64

    public init(uptimeNanoseconds: UInt64) { self.uptimeNanoseconds = uptimeNanoseconds }

    public static var now: Deadline { Deadline(uptimeNanoseconds: DispatchTime.now().uptimeNanoseconds) }

    public static func after(_ seconds: Double) -> Deadline { now.adding(seconds) }

    public func adding(_ seconds: Double) -> Deadline {
        let nanos = UInt64(max(0, min(seconds, 1e9)) * 1e9)
        return Deadline(uptimeNanoseconds: uptimeNanoseconds &+ nanos)
    }

    /// Seconds left, 0 once passed.
    public var remaining: Double {
        let now = DispatchTime.now().uptimeNanoseconds
        return now < uptimeNanoseconds ? Double(uptimeNanoseconds - now) / 1e9 : 0
    }

    public var hasPassed: Bool { remaining == 0 }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.uptimeNanoseconds < b.uptimeNanoseconds }

    /// Runs `operation` and returns its outcome, or nil when this deadline passes first.
    ///
    /// For work that may block without end, where the caller must move on (a shutdown step):
    /// the operation is not stopped, since a blocked libpq call cannot be; it goes on in the
    /// background and its outcome is dropped.
    public func race<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
        let slot = ResumeOnce<Result<T, any Error>?>()
        return await withCheckedContinuation { continuation in
            slot.set(continuation)
            Task {
                do { slot.resume(.success(try await operation())) } catch { slot.resume(.failure(error)) }
            }
            DispatchQueue.global().asyncAfter(deadline: DispatchTime(uptimeNanoseconds: uptimeNanoseconds)) {
                slot.resume(nil)
            }
        }
    }
}

/// A continuation resumed by whichever of several racers comes first; the others do nothing.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)

    func set(_ c: CheckedContinuation<T, Never>) { continuation.withLock { $0 = c } }

    func resume(_ value: T) {
        let c = continuation.withLock { c -> CheckedContinuation<T, Never>? in
            defer { c = nil }
            return c
        }
        c?.resume(returning: value)
    }
}
