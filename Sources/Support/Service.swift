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
}
