/// Seeded pseudo-random numbers: SplitMix64 (Steele, Lea, Flood 2014), tiny and fully
/// determined by its seed, so a seed replays the same run on any machine (Swift's
/// SystemRandomNumberGenerator cannot be seeded): the simulation's operations and faults, a
/// benchmark's workload, a fuzz-like test's rounds. Never for secrets (Crypto has those).
public struct SplitMix64: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// An independent stream for another purpose (operations, faults), from the same seed.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        state = mixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0 ..< n (n > 0); the modulo bias is irrelevant at these sizes.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// lo ... hi
    public mutating func between(_ lo: Int64, _ hi: Int64) -> Int64 { lo + Int64(next() % UInt64(hi - lo + 1)) }

    /// True `percent` times in 100.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// An index chosen with these weights.
    public mutating func weighted(_ weights: [Int]) -> Int {
        var r = below(weights.reduce(0, +))
        for (i, w) in weights.enumerated() {
            if r < w { return i }
            r -= w
        }
        return weights.count - 1
    }
}
