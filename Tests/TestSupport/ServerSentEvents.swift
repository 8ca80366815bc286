import Support

/// Server-Sent Events as a client reads them (`id:`, `event:`, `data:` lines, blank-line
/// separated); comments and events without data are left out.
public struct ServerSentEvent: Equatable, Sendable {
    public let id: Int64?
    public let name: String
    public let data: JSON

    public init(id: Int64?, name: String, data: JSON) {
        self.id = id
        self.name = name
        self.data = data
    }

    public static func parse(_ bytes: [UInt8]) -> [ServerSentEvent] {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: "\n\n").compactMap { block in
            var id: Int64?, name: String?, data: JSON?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = Int64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = try? JSON.parse(Array(line.dropFirst(6).utf8)) }
            }
            guard let name, let data else { return nil }
            return ServerSentEvent(id: id, name: name, data: data)
        }
    }
}
