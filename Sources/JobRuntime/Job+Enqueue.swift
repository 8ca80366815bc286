import Foundation
import Queue
import Support

extension Job {
    /// A job of this kind with these args, on the kind's queue with its attempt limit: how every
    /// enqueuer (the ingress, the command, other jobs) builds one, so the compiler checks the
    /// args against what `run` decodes, and the kind's name is written once, on the kind.
    public static func newJob(_ args: Args, queue: String? = nil, runAt: Date? = nil, uniqueKey: String? = nil,
                              uniqueWhileActive: Bool = false) throws -> NewJob {
        NewJob(kind: kind, argsJSON: try encode(args), queue: queue ?? Self.queue, maxAttempts: maxAttempts, runAt: runAt,
               uniqueKey: uniqueKey, uniqueWhileActive: uniqueWhileActive)
    }

    /// The args as the JSON text a job row stores (keys sorted, absent optionals left out).
    public static func encode(_ args: Args) throws -> String {
        String(decoding: try argsEncoder.encode(args), as: UTF8.self)
    }

    /// The args of a stored job, decoded as `run` will decode them.
    public static func decode(_ argsJSON: String) throws -> Args {
        try JSONDecoder().decode(Args.self, from: Data(argsJSON.utf8))
    }
}

/// Sorted keys: the same args always make the same text. Integers are written exactly.
private let argsEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return e
}()
