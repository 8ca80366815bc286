/// An exact non-negative whole number of any size: a crypto amount in base units (satoshi,
/// wei). Int64 ends at 9.2 × 10¹⁸, which is 9.2 ETH in wei, so amounts cannot be Int64; and
/// money never goes near floating point (DESIGN.md, Hard rules). Written and read as decimal
/// text, the way PostgreSQL's `numeric`, BitGo's `valueString` and the API carry it.
///
/// Only what the quote and the payment checks need: +, −, ×, division with remainder, and
/// comparison. Amounts here have at most a few dozen digits, so plain schoolbook arithmetic on
/// 32-bit limbs is plenty (a quote is one division of ~100 bits).
public struct BaseUnits: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Little-endian base-2³² limbs with no high zero limbs: zero is `[]`.
    private var limbs: [UInt32]

    /// The most decimal digits accepted from text (numeric(78,0) holds 78: more than any
    /// amount of any coin).
    public static let maxDigits = 78

    public static let zero = BaseUnits(limbs: [])

    private init(limbs: [UInt32]) {
        self.limbs = limbs
        normalize()
    }

    public init(_ value: UInt64) {
        self.init(limbs: [UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32)])
    }

    /// Parses a non-negative decimal integer (`"31250"`, `"000"`): digits only, no sign, no
    /// fraction, at most `maxDigits`. Nil otherwise.
    public init?(decimal text: some StringProtocol) {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count <= Self.maxDigits, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        var value = BaseUnits.zero
        var i = 0
        // Nine digits at a time: value × 10⁹ + chunk.
        let firstChunk = digits.count % 9 == 0 ? 9 : digits.count % 9
        var chunkLength = firstChunk
        while i < digits.count {
            var chunk: UInt32 = 0
            var scale: UInt32 = 1
            for d in digits[i..<(i + chunkLength)] {
                chunk = chunk * 10 + UInt32(d - 48)
                scale *= 10
            }
            value = value.multipliedAdding(small: scale, plus: chunk)
            i += chunkLength
            chunkLength = 9
        }
        self = value
    }

    /// 10ⁿ.
    public static func power10(_ n: Int) -> BaseUnits {
        precondition(n >= 0, "a negative power of ten is not a whole number")
        var value = BaseUnits(1)
        var left = n
        while left > 0 {
            let step = min(left, 9)
            var scale: UInt32 = 1
            for _ in 0..<step { scale *= 10 }
            value = value.multipliedAdding(small: scale, plus: 0)
            left -= step
        }
        return value
    }

    public var isZero: Bool { limbs.isEmpty }

    /// The value as an Int64 when it fits.
    public var int64: Int64? {
        guard limbs.count <= 2 else { return nil }
        let v = UInt64(limbs.first ?? 0) | (UInt64(limbs.count > 1 ? limbs[1] : 0) << 32)
        return v <= UInt64(Int64.max) ? Int64(v) : nil
    }

    // MARK: Text

    public var description: String {
        guard !isZero else { return "0" }
        var chunks: [UInt32] = []
        var rest = self
        while !rest.isZero {
            let (q, r) = rest.dividedReportingRemainder(small: 1_000_000_000)
            chunks.append(r)
            rest = q
        }
        var text = String(chunks.last!)
        for chunk in chunks.dropLast().reversed() {
            let s = String(chunk)
            text += String(repeating: "0", count: 9 - s.count) + s
        }
        return text
    }

    // MARK: Arithmetic

    public static func + (a: BaseUnits, b: BaseUnits) -> BaseUnits {
        var out: [UInt32] = []
        out.reserveCapacity(max(a.limbs.count, b.limbs.count) + 1)
        var carry: UInt64 = 0
        for i in 0..<max(a.limbs.count, b.limbs.count) {
            let s = UInt64(a.limb(i)) + UInt64(b.limb(i)) + carry
            out.append(UInt32(truncatingIfNeeded: s))
            carry = s >> 32
        }
        if carry > 0 { out.append(UInt32(carry)) }
        return BaseUnits(limbs: out)
    }

    /// a − b; nil when b > a (amounts are never negative).
    public func minus(_ b: BaseUnits) -> BaseUnits? {
        guard self >= b else { return nil }
        var out: [UInt32] = []
        out.reserveCapacity(limbs.count)
        var borrow: Int64 = 0
        for i in 0..<limbs.count {
            var d = Int64(limb(i)) - Int64(b.limb(i)) - borrow
            borrow = 0
            if d < 0 {
                d += 1 << 32
                borrow = 1
            }
            out.append(UInt32(d))
        }
        return BaseUnits(limbs: out)
    }

    public static func * (a: BaseUnits, b: BaseUnits) -> BaseUnits {
        guard !a.isZero, !b.isZero else { return .zero }
        var out = [UInt32](repeating: 0, count: a.limbs.count + b.limbs.count)
        for i in 0..<a.limbs.count {
            var carry: UInt64 = 0
            for j in 0..<b.limbs.count {
                let t = UInt64(a.limbs[i]) * UInt64(b.limbs[j]) + UInt64(out[i + j]) + carry
                out[i + j] = UInt32(truncatingIfNeeded: t)
                carry = t >> 32
            }
            var k = i + b.limbs.count
            while carry > 0 {
                let t = UInt64(out[k]) + carry
                out[k] = UInt32(truncatingIfNeeded: t)
                carry = t >> 32
                k += 1
            }
        }
        return BaseUnits(limbs: out)
    }

    /// Quotient and remainder (binary long division: amounts are a few hundred bits at most).
    public func quotientAndRemainder(dividingBy divisor: BaseUnits) -> (quotient: BaseUnits, remainder: BaseUnits) {
        precondition(!divisor.isZero, "division by zero")
        guard self >= divisor else { return (.zero, self) }
        var quotient = [UInt32](repeating: 0, count: limbs.count)
        var remainder = BaseUnits.zero
        for bit in stride(from: limbs.count * 32 - 1, through: 0, by: -1) {
            remainder = remainder.shiftedLeftOne(settingLowBit: (limbs[bit / 32] >> UInt32(bit % 32)) & 1 == 1)
            if remainder >= divisor {
                remainder = remainder.minus(divisor)!
                quotient[bit / 32] |= 1 << UInt32(bit % 32)
            }
        }
        return (BaseUnits(limbs: quotient), remainder)
    }

    /// ⌈self ÷ divisor⌉: what a quote charges, so the user never pays less than the price.
    public func dividedRoundingUp(by divisor: BaseUnits) -> BaseUnits {
        let (q, r) = quotientAndRemainder(dividingBy: divisor)
        return r.isZero ? q : q + BaseUnits(1)
    }

    public static func < (a: BaseUnits, b: BaseUnits) -> Bool {
        if a.limbs.count != b.limbs.count { return a.limbs.count < b.limbs.count }
        for i in stride(from: a.limbs.count - 1, through: 0, by: -1) where a.limbs[i] != b.limbs[i] {
            return a.limbs[i] < b.limbs[i]
        }
        return false
    }

    // MARK: Internals

    private func limb(_ i: Int) -> UInt32 { i < limbs.count ? limbs[i] : 0 }

    private mutating func normalize() {
        while let last = limbs.last, last == 0 { limbs.removeLast() }
    }

    /// self × m + a for small m and a.
    private func multipliedAdding(small m: UInt32, plus a: UInt32) -> BaseUnits {
        var out: [UInt32] = []
        out.reserveCapacity(limbs.count + 1)
        var carry = UInt64(a)
        for l in limbs {
            let t = UInt64(l) * UInt64(m) + carry
            out.append(UInt32(truncatingIfNeeded: t))
            carry = t >> 32
        }
        if carry > 0 { out.append(UInt32(carry)) }
        return BaseUnits(limbs: out)
    }

    private func dividedReportingRemainder(small d: UInt32) -> (BaseUnits, UInt32) {
        var out = [UInt32](repeating: 0, count: limbs.count)
        var rem: UInt64 = 0
        for i in stride(from: limbs.count - 1, through: 0, by: -1) {
            let cur = (rem << 32) | UInt64(limbs[i])
            out[i] = UInt32(cur / UInt64(d))
            rem = cur % UInt64(d)
        }
        return (BaseUnits(limbs: out), UInt32(rem))
    }

    private func shiftedLeftOne(settingLowBit low: Bool) -> BaseUnits {
        var out: [UInt32] = []
        out.reserveCapacity(limbs.count + 1)
        var carry: UInt32 = low ? 1 : 0
        for l in limbs {
            out.append((l << 1) | carry)
            carry = l >> 31
        }
        if carry > 0 { out.append(carry) }
        return BaseUnits(limbs: out)
    }
}
