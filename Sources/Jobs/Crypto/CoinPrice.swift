/// The USD price of one coin, exactly as CoinGecko wrote it: `mantissa ÷ 10^scale`
/// (`63968.123456789` is 63968123456789 ÷ 10⁹). Parsed from the JSON number's text, never
/// through `Double`, so every digit CoinGecko sent reaches the quote.
public struct CoinPrice: Sendable, Hashable, CustomStringConvertible {
    public let mantissa: BaseUnits
    /// Digits after the decimal point (never negative: `6.4e4` is stored as 64000, scale 0).
    public let scale: Int

    /// The most digits after the point accepted (prices of real coins use a dozen at most).
    public static let maxScale = 40

    public init(mantissa: BaseUnits, scale: Int) {
        precondition(scale >= 0)
        self.mantissa = mantissa
        self.scale = scale
    }

    /// Parses a positive JSON number literal (or PostgreSQL numeric text): `63968.12`,
    /// `63968`, `6.396812e4`, `1.5E-7`. Nil for zero, negatives, or anything else.
    public init?(_ text: String) {
        let b = Array(text.utf8)
        var i = 0
        func digits() -> [UInt8] {
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
            return Array(b[start..<i])
        }
        let whole = digits()
        guard !whole.isEmpty else { return nil }
        var fraction: [UInt8] = []
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            fraction = digits()
            guard !fraction.isEmpty else { return nil }
        }
        var exponent = 0
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            var negative = false
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                negative = b[i] == UInt8(ascii: "-")
                i += 1
            }
            let e = digits()
            guard !e.isEmpty, e.count <= 3, let n = Int(String(decoding: e, as: UTF8.self)) else { return nil }
            exponent = negative ? -n : n
        }
        guard i == b.count else { return nil }
        var scale = fraction.count - exponent
        var mantissaDigits = whole + fraction
        if scale < 0 {
            mantissaDigits += [UInt8](repeating: 48, count: -scale)
            scale = 0
        }
        // Trailing zeros after the point say nothing: 63968.10 is 63968.1.
        while scale > 0, mantissaDigits.count > 1, mantissaDigits.last == 48 {
            mantissaDigits.removeLast()
            scale -= 1
        }
        guard scale <= Self.maxScale, let m = BaseUnits(decimal: String(decoding: mantissaDigits, as: UTF8.self)), !m.isZero else {
            return nil
        }
        self.init(mantissa: m, scale: scale)
    }

    /// Plain decimal text (`63968.123456789`), what PostgreSQL's numeric stores and gives back.
    public var description: String {
        let digits = mantissa.description
        guard scale > 0 else { return digits }
        let padded = digits.count <= scale ? String(repeating: "0", count: scale - digits.count + 1) + digits : digits
        let point = padded.index(padded.endIndex, offsetBy: -scale)
        return String(padded[..<point]) + "." + String(padded[point...])
    }
}
