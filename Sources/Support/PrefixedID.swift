/// Ids of the form `<prefix>_<24 lowercase hex digits>` (holds, transfers): made from a hash of
/// what names them, so a replayed request names the same row; checked before any lookup.
public enum PrefixedID {
    public static let hexDigits = 24

    /// Whether `id` is `prefix` followed by 24 lowercase hex digits (`prefix` includes the `_`).
    public static func isValid(_ id: String, prefix: String) -> Bool {
        guard id.hasPrefix(prefix) else { return false }
        let hex = id.utf8.dropFirst(prefix.utf8.count)
        return hex.count == hexDigits && hex.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// `prefix` and the first 24 hex digits of SHA-256 of `name`.
    public static func make(prefix: String, name: String) -> String {
        prefix + String(Crypto.sha256Hex(name).prefix(hexDigits))
    }
}
