import Foundation
import Support

/// What running a job came to, as the handler and the executor see it.
public enum JobOutcome: Sendable, Equatable {
    case completed(result: JSON?)
    /// Failed: retried with backoff unless `permanent` or out of attempts.
    case failed(message: String, permanent: Bool)
    /// Run again after `seconds` without using an attempt.
    case snoozed(seconds: TimeInterval)
}

/// The change the finish statement writes to a running job's row: a plain value decided
/// from the outcome, so retry and discard rules are tested without a database.
public struct Finish: Sendable, Equatable {
    public let jobID: Int64
    /// The attempt that ran: the write applies only if the job is still in that attempt, so a
    /// run whose lease lapsed cannot overwrite a later claim of the same job, even one made by
    /// the same worker process.
    public let attempt: Int
    public let state: JobState
    public let result: JSON?
    /// For `retryable` and `scheduled` (snooze): when it runs again, from now.
    public let delayMilliseconds: Int64
    /// Recorded in the job's errors for a failure.
    public let errorMessage: String?

    public init(jobID: Int64, attempt: Int, state: JobState, result: JSON? = nil, delayMilliseconds: Int64 = 0, errorMessage: String? = nil) {
        self.jobID = jobID
        self.attempt = attempt
        self.state = state
        self.result = result
        self.delayMilliseconds = delayMilliseconds
        self.errorMessage = errorMessage
    }

    /// Decides the row change for `outcome` of a run that was attempt number `attempt` of `maxAttempts`.
    public static func decide(jobID: Int64, attempt: Int, maxAttempts: Int, outcome: JobOutcome,
                              backoff: Backoff, unit: Double = Double.random(in: 0..<1)) -> Finish {
        switch outcome {
        case .completed(let result):
            return Finish(jobID: jobID, attempt: attempt, state: .completed, result: result)
        case .snoozed(let seconds):
            return Finish(jobID: jobID, attempt: attempt, state: .scheduled, delayMilliseconds: milliseconds(seconds))
        case .failed(let message, let permanent):
            if permanent || attempt >= maxAttempts {
                return Finish(jobID: jobID, attempt: attempt, state: .discarded, errorMessage: message)
            }
            let delay = backoff.delay(afterAttempt: attempt, unit: unit)
            return Finish(jobID: jobID, attempt: attempt, state: .retryable, delayMilliseconds: milliseconds(delay), errorMessage: message)
        }
    }

    /// The same outcome without the result and message the database refused (a `\\u0000` in
    /// jsonb, say): the job still ends as decided, with a note of why its details are missing.
    public func withoutRefusedPayload(_ reason: String) -> Finish {
        let note = "the database refused this outcome's details: \(reason)"
        return Finish(jobID: jobID, attempt: attempt, state: state, result: result == nil ? nil : JSON.object(["refused": .string(note)]),
                      delayMilliseconds: delayMilliseconds, errorMessage: errorMessage == nil ? nil : note)
    }

    /// Seconds as whole milliseconds, never negative.
    public static func milliseconds(_ seconds: TimeInterval) -> Int64 {
        Int64(max(0, (seconds * 1000).rounded()))
    }
}
