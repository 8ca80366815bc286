import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The address a connection came from, as the kernel gave it at accept (never a header a
/// client can write, such as `X-Forwarded-For`).
public struct PeerAddress: Sendable, Equatable, Hashable {
    /// `127.0.0.1`, `::1`, `203.0.113.7`…
    public let text: String
    /// 127.0.0.0/8, ::1, or an IPv4-mapped loopback (`::ffff:127.x.y.z`).
    public let isLoopback: Bool

    public init(text: String, isLoopback: Bool) {
        self.text = text
        self.isLoopback = isLoopback
    }

    /// Reads an accepted socket's address; nil for a family other than IPv4 or IPv6.
    static func from(_ storage: sockaddr_storage) -> PeerAddress? {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin_addr
                    guard inet_ntop(AF_INET, &addr, &text, socklen_t(text.count)) != nil else { return nil }
                    // The first byte in network order is the top octet: 127.x.y.z.
                    let loopback = UInt32(bigEndian: addr.s_addr) >> 24 == 127
                    return PeerAddress(text: String(cString: text), isLoopback: loopback)
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var addr = sin6.pointee.sin6_addr
                    guard inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count)) != nil else { return nil }
                    let s = String(cString: text)
                    let mappedLoopback = s.hasPrefix("::ffff:127.")
                    return PeerAddress(text: s, isLoopback: s == "::1" || mappedLoopback)
                }
            }
        default:
            return nil
        }
    }
}
