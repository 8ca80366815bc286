import Synchronization

/// A value a fake shares between its server thread (the request handler) and its owner.
final class Shared<T: Sendable>: Sendable {
    private let storage: Mutex<T>

    init(_ value: T) { storage = Mutex(value) }

    var value: T { storage.withLock { $0 } }

    func mutate<R>(_ body: (inout T) -> R) -> R { storage.withLock { body(&$0) } }
}
