/// A running FNV-1a digest of what a run drew (operation kinds, faults and where), printed at
/// the end so that two runs of a seed can be seen to have done the same thing.
struct ScheduleDigest {
    private var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ text: String) {
        for byte in text.utf8 + [0] {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }
    }

    var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
