import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a call to a URL someone else chose may go (notification endpoints; DESIGN.md, "The
/// security model", "Outbound calls"): only public addresses. A host that is, or resolves to,
/// a loopback, private, link-local, unique-local, carrier-grade NAT, multicast, unspecified or
/// cloud-metadata address is refused, so an endpoint cannot be pointed at the database, the
/// ingress's /metrics or 169.254.169.254. Checked when the endpoint is added and again before
/// every delivery, after DNS (a name may resolve elsewhere later). What is left: the HTTP
/// client resolves the name again when it connects; a name that changes its answer within that
/// millisecond (DNS rebinding) is not caught here. `TALLY_ENDPOINTS_ALLOW_PRIVATE=on` turns the
/// check off for development and tests.
public enum OutboundAddress {
    public struct Refused: Error, CustomStringConvertible, Sendable {
        public let host: String
        public let address: String
        public let reason: String
        public var description: String {
            host == address ? "\(host) is \(reason): only public addresses may receive calls (TALLY_ENDPOINTS_ALLOW_PRIVATE=on lifts this for development)"
                : "\(host) resolves to \(address), \(reason): only public addresses may receive calls (TALLY_ENDPOINTS_ALLOW_PRIVATE=on lifts this for development)"
        }
    }

    /// Why `ip` (a numeric IPv4 or IPv6 address) may not be called, or nil when it is public.
    public static func restriction(of ip: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return restriction(v4: UInt32(bigEndian: v4.s_addr)) }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, ip, &v6) == 1 else { return "not an IP address" }
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        if b[0..<15].allSatisfy({ $0 == 0 }) { return b[15] == 1 ? "a loopback address" : "the unspecified address" }
        // IPv4-mapped (::ffff:a.b.c.d) and the NAT64 well-known prefix carry an IPv4 address.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff || b[0..<12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] {
            return restriction(v4: UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15]))
        }
        if b[0] & 0xfe == 0xfc { return "a unique-local (private) address" }           // fc00::/7, AWS's fd00:ec2::254 too
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return "a link-local address" }        // fe80::/10
        if b[0] == 0xff { return "a multicast address" }                                 // ff00::/8
        return nil
    }

    static func restriction(v4 a: UInt32) -> String? {
        func inRange(_ base: UInt32, _ bits: UInt32) -> Bool { a >> (32 - bits) == base >> (32 - bits) }
        if a == 0xA9FE_A9FE { return "a cloud metadata address" }                       // 169.254.169.254
        if inRange(0x7F00_0000, 8) { return "a loopback address" }                       // 127/8
        if inRange(0x0A00_0000, 8) || inRange(0xAC10_0000, 12) || inRange(0xC0A8_0000, 16) {
            return "a private address"                                                   // 10/8, 172.16/12, 192.168/16
        }
        if inRange(0x6440_0000, 10) { return "a carrier-grade NAT (shared) address" }   // 100.64/10
        if inRange(0xA9FE_0000, 16) { return "a link-local address" }                    // 169.254/16
        if inRange(0x0000_0000, 8) { return "the unspecified (this-network) range" }     // 0/8
        if inRange(0xE000_0000, 4) || inRange(0xF000_0000, 4) { return "a multicast or reserved address" }
        return nil
    }

    /// Resolves `host` and throws `Refused` when it is, or any of its addresses is, not public.
    /// The lookup blocks, so it runs on a Dispatch thread, never on Swift's cooperative pool.
    public static func check(host: String) async throws {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let reason = literalRestriction(bare) { throw Refused(host: host, address: bare, reason: reason) }
        let addresses = try await resolve(bare)
        for address in addresses {
            if let reason = restriction(of: address) { throw Refused(host: host, address: address, reason: reason) }
        }
    }

    /// The restriction of a numeric host, or of a name that is loopback by definition
    /// (`localhost`, RFC 6761); nil for other names (they are resolved).
    static func literalRestriction(_ host: String) -> String? {
        let lower = host.lowercased()
        if lower == "localhost" || lower.hasSuffix(".localhost") { return "a loopback name" }
        var v4 = in_addr(), v6 = in6_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 else { return nil }
        return restriction(of: host)
    }

    /// Every address `host` resolves to (numeric text).
    static func resolve(_ host: String) async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(host, nil, &hints, &result)
                guard status == 0 else {
                    continuation.resume(throwing: Refused(host: host, address: host, reason: "a name that does not resolve (\(String(cString: gai_strerror(status))))"))
                    return
                }
                defer { freeaddrinfo(result) }
                var out: [String] = []
                var node = result
                while let n = node {
                    var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(n.pointee.ai_addr, n.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                        out.append(String(cString: text))
                    }
                    node = n.pointee.ai_next
                }
                continuation.resume(returning: out)
            }
        }
    }
}
