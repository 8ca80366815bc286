/// The job is no longer held by this worker (its lease lapsed and it was rescued, or an
/// operator cancelled it): its transaction was rolled back and nothing of it was applied.
public struct LeaseLostError: Error, CustomStringConvertible, Sendable {
    public let jobID: Int64
    public var description: String { "job \(jobID) is no longer held by this worker (rescued or cancelled); its effects were rolled back" }
}
