import Foundation
import Queue

/// The last hour's throughput per minute as an inline SVG bar chart (completed in green,
/// discarded in red, stacked): no script and no outside asset.
enum ThroughputChart {
    static func svg(_ minutes: [ThroughputMinute], now: Date = Date()) -> HTML {
        let width = 720, height = 160, left = 40, bottom = 18
        let start = (now.timeIntervalSince1970 / 60).rounded(.down) * 60 - 59 * 60
        var byMinute: [Int: ThroughputMinute] = [:]
        for m in minutes {
            let slot = Int(((m.minute.timeIntervalSince1970 - start) / 60).rounded())
            if (0..<60).contains(slot) { byMinute[slot] = m }
        }
        let peak = max(1, byMinute.values.map { $0.completed + $0.discarded + $0.cancelled }.max() ?? 1)
        let plot = height - bottom - 6
        let barWidth = (width - left) / 60
        var bars = ""
        for slot in 0..<60 {
            guard let m = byMinute[slot] else { continue }
            let x = left + slot * barWidth
            let hc = Int(Int64(plot) * m.completed / peak), hd = Int(Int64(plot) * (m.discarded + m.cancelled) / peak)
            let base = height - bottom
            bars += "<rect class=\"c\" x=\"\(x)\" y=\"\(base - hc)\" width=\"\(barWidth - 1)\" height=\"\(hc)\"><title>\(Layout.time(m.minute)): \(m.completed) completed</title></rect>"
            if hd > 0 {
                bars += "<rect class=\"d\" x=\"\(x)\" y=\"\(base - hc - hd)\" width=\"\(barWidth - 1)\" height=\"\(hd)\"><title>\(m.discarded) discarded, \(m.cancelled) cancelled</title></rect>"
            }
        }
        let axis = "<text x=\"0\" y=\"12\">\(peak)/min</text><text x=\"0\" y=\"\(height - bottom)\">0</text>"
            + "<text x=\"\(left)\" y=\"\(height - 4)\">−60 min</text><text x=\"\(width - 40)\" y=\"\(height - 4)\">now</text>"
            + "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width)\" y2=\"\(height - bottom)\" stroke=\"#c5cbd6\"/>"
        return HTML(raw: "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"jobs finished per minute, last hour\">"
            + axis + bars + "</svg>")
    }
}
