import COpenSSL
import Foundation

/// HMAC-SHA256, SHA-256 (and SHA-1 for the WebSocket handshake), constant-time comparison and
/// random tokens through OpenSSL's libcrypto (Foundation on Linux has no SHA-256; CryptoKit does
/// not exist there).
public enum Crypto {
    public static func hmacSHA256(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        let keyBytes = Array(key)
        let messageBytes = Array(message)
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        keyBytes.withUnsafeBytes { k in
            messageBytes.withUnsafeBytes { m in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    public static func hmacSHA256Hex(key: String, message: some Collection<UInt8>) -> String {
        hex(hmacSHA256(key: Array(key.utf8), message: message))
    }

    public static func sha256(_ data: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(data)
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        bytes.withUnsafeBytes { b in
            _ = SHA256(b.baseAddress?.assumingMemoryBound(to: UInt8.self), b.count, &out)
        }
        return out
    }

    public static func sha256Hex(_ text: String) -> String { hex(sha256(Array(text.utf8))) }

    /// SHA-1: only where a protocol fixes it and no secrecy rests on it (the WebSocket
    /// handshake's `Sec-WebSocket-Accept`, RFC 6455 4.2.2). Never for signatures or tokens.
    public static func sha1(_ data: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(data)
        var out = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        bytes.withUnsafeBytes { b in
            _ = SHA1(b.baseAddress?.assumingMemoryBound(to: UInt8.self), b.count, &out)
        }
        return out
    }

    /// Compares in time that depends only on the lengths, never on where the bytes differ.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { RAND_bytes($0.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(count)) }
        precondition(ok == 1, "OpenSSL RAND_bytes failed: no secure randomness available")
        return out
    }

    /// A random token of `bytes` bytes, hex-encoded.
    public static func randomHex(_ bytes: Int) -> String { hex(randomBytes(bytes)) }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase or uppercase hex to bytes; nil when the text is not hex.
    public static func unhex(_ text: some StringProtocol) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
