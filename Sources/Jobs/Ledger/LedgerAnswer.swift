import JobRuntime
import Support

/// One request's answer in a batch of ledger operations (holds, transfers): the job's result,
/// or `.deferred` when its account is held by another transaction and the batch may come back
/// for it (`BatchContext.mayDefer`). Nothing was done for a deferred request.
public enum LedgerAnswer: Sendable, Equatable {
    case result(JSON)
    case deferred
    /// The request cannot be done as asked (a hold of 0 credits: units of a free agent);
    /// nothing changed. Its job fails permanently; the batch's others go on.
    case failed(String)

    /// The result of a request that could not be deferred (a job run alone, `mayDefer` false).
    public func json() throws -> JSON {
        switch self {
        case .result(let json): return json
        case .failed(let message): throw LedgerError.invalid(message)
        case .deferred: throw LedgerError.invalid("a request was deferred where it could not be")
        }
    }

    var outcome: BatchOutcome {
        switch self {
        case .result(let json): .completed(json)
        case .deferred: .deferred
        case .failed(let message): .failed(message, permanent: true)
        }
    }

    /// A batch job's outcomes: each job's args checked (`request`: a `JobError` fails that job
    /// alone, as `run` would), the rest answered together by `answer`, in the jobs' order.
    static func outcomes<Args, Request>(_ jobs: [BatchItem<Args>], request: (Args) throws -> Request,
                                        answer: ([Request]) throws -> [LedgerAnswer]) throws -> [BatchOutcome] {
        var outcomes = [BatchOutcome?](repeating: nil, count: jobs.count)
        var requests: [Request] = []
        var positions: [Int] = []
        for (i, job) in jobs.enumerated() {
            do {
                requests.append(try request(job.args))
                positions.append(i)
            } catch let error as JobError {
                outcomes[i] = .failed(error.description, permanent: true)
            }
        }
        if !requests.isEmpty {
            let answers = try answer(requests)
            guard answers.count == requests.count else { throw LedgerError.invalid("\(answers.count) answers for \(requests.count) requests") }
            for (p, a) in zip(positions, answers) { outcomes[p] = a.outcome }
        }
        return try outcomes.map { try $0.orThrow("a job of the batch was left without an outcome") }
    }
}
