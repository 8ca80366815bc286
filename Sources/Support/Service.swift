import Dispatch
import Foundation
import Synchronization

/// A long-running part of a process (the worker pool, the ingress): `run()` until asked to
/// stop, then finish gracefully and return.
public protocol Service: Sendable {
    var name: String { get }
    func run() async throws
    /// Asks for a graceful stop; `run()` returns when it is done. Idempotent, non-blocking.
    func shutdown()
    /// The longest a graceful stop may take, in seconds from the request; past it the service
    /// runner logs `abandoned()` and exits the process (nil: no limit). The last line of
    /// defence, for a stop held somewhere its own deadlines did not foresee.
    var stopDeadline: TimeInterval? { get }
    /// What a stop cut short at its deadline leaves undone, for the log.
    func abandoned() -> String
}

extension Service {
    public var stopDeadline: TimeInterval? { nil }
    public func abandoned() -> String { "" }
}
