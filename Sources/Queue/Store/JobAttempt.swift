/// One attempt of a job: the job and the attempt that runs. Statements on held jobs match both,
/// so a run whose lease lapsed cannot touch a later claim of the same job.
public struct JobAttempt: Sendable, Hashable {
    public let id: Int64
    public let attempt: Int

    public init(id: Int64, attempt: Int) { (self.id, self.attempt) = (id, attempt) }
}
