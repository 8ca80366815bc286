extension RequestParser {
    /// What a connection's bytes parse to: the whole requests, and how the stream ended.
    public struct Transcript: Sendable, Equatable {
        public var requests: [HTTPRequest] = []
        /// `failure <status>` or `need more <bytes left>`.
        public var end = ""
    }

    /// Feeds `bytes` as a connection would receive them, in `pieces` parts, parsing all that is
    /// complete after each part. The answer must not depend on `pieces` (unit tests and ops/fuzz
    /// check that).
    public static func transcript(of bytes: [UInt8], pieces: Int, limits: Limits) -> Transcript {
        var parser = RequestParser(limits: limits)
        var transcript = Transcript()
        var buffer: [UInt8] = []
        var offset = 0
        let step = max(1, bytes.count / max(1, pieces))
        repeat {
            let next = min(bytes.count, offset + step)
            buffer.append(contentsOf: bytes[offset..<next])
            offset = next
            parsing: while !buffer.isEmpty {
                switch parser.parse(buffer) {
                case .needMore, .continueExpected:
                    break parsing
                case .failure(let f):
                    transcript.end = "failure \(f.status)"
                    return transcript
                case .request(let r, let consumed):
                    precondition(consumed > 0 && consumed <= buffer.count, "consumed \(consumed) of \(buffer.count) bytes")
                    buffer.removeFirst(consumed)
                    transcript.requests.append(r)
                }
            }
        } while offset < bytes.count
        transcript.end = "need more \(buffer.count)"
        return transcript
    }
}
