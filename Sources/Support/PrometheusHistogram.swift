/// A Prometheus histogram (text format 0.0.4): per-bucket counts, the sum and the count, for
/// the ingress's and the workers' `/metrics`. A value type: its owner keeps it under its lock.
public struct PrometheusHistogram: Sendable {
    public let bounds: [Double]
    private var counts: [UInt64]
    public private(set) var sum: Double = 0
    public private(set) var count: UInt64 = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        var i = 0
        while i < bounds.count, value > bounds[i] { i += 1 }
        if i < bounds.count { counts[i] += 1 }
        sum += value
        count += 1
    }

    /// Its `_bucket` (cumulative), `_sum` and `_count` lines; `labels` is empty or ends with a
    /// comma (`route="POST /v1/usage",`).
    public func render(_ name: String, labels: String = "") -> String {
        var out = ""
        var cumulative: UInt64 = 0
        for (i, bound) in bounds.enumerated() {
            cumulative += counts[i]
            out += "\(name)_bucket{\(labels)le=\"\(Self.format(bound))\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(labels)le=\"+Inf\"} \(count)\n"
        let plain = labels.isEmpty ? "" : "{" + labels.dropLast() + "}"
        out += "\(name)_sum\(plain) \(sum)\n"
        out += "\(name)_count\(plain) \(count)\n"
        return out
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && v >= 1 ? String(Int(v)) : String(v)
    }
}
