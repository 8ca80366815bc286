/// Job ids in paths and audit targets.
enum JobIDs {
    static func parse(_ text: String?) throws(ConsoleError) -> Int64 {
        guard let text, let id = Int64(text), id > 0 else { throw .notFound("no job \(text?.prefix(40) ?? "")") }
        return id
    }

    /// `jobs:1,2,3`, as `tally jobs retry` writes it (Audit.record cuts a long one).
    static func target(_ ids: [Int64]) -> String { "jobs:" + ids.map(String.init).joined(separator: ",") }
}
