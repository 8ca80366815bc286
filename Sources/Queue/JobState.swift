/// The states of a job (DESIGN.md, "The job table").
public enum JobState: String, Sendable, CaseIterable, Codable {
    case scheduled, available, running, retryable, completed, discarded, cancelled

    /// Completed, discarded and cancelled jobs never run again unless an operator retries them.
    public var isFinished: Bool {
        switch self {
        case .completed, .discarded, .cancelled: true
        default: false
        }
    }
}
