import Foundation

/// A value shared between a test and callbacks on other threads.
public final class LockedBox<T>: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var stored: T

    public init(_ value: T) { stored = value }

    public var value: T {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    public func mutate(_ body: (inout T) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&stored)
    }
}
