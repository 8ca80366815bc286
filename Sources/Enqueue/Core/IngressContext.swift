import Dispatch
import Foundation
import HTTPServer
import JobRuntime
import Jobs
import Postgres
import Queue
import Support

/// What endpoints share: the database, the enqueue batcher, the waiters, the webhook secrets,
/// and the helpers that give every endpoint the same idempotency, rate limit, waiting and
/// error rules.
public final class IngressContext: Sendable {
    public static let maxWaitSeconds = 30

    public let pool: ConnectionPool
    /// `TALLY_READ_DATABASE_URL`'s pool (a streaming replica), for the GET endpoints; nil: the
    /// primary serves them.
    public let replica: ConnectionPool?
    public let batcher: EnqueueBatcher
    public let waiters: JobWaiters
    public let apiKeys: APIKeyCache
    public let rateLimiter: RateLimiter
    public let metrics: Metrics
    public let stripeSecrets: [String]
    public let bitgoSecrets: [String]
    /// `TALLY_METRICS_TOKEN` (nil: `/metrics` answers loopback clients only).
    public let metricsToken: String?
    /// The stream-token key cache (`POST /v1/accounts/{user_id}/stream-tokens`, `/v1/stream`).
    public let streamKeys: StreamTokenKeys
    /// Every open `/v1/stream` of this process.
    public let streams: StreamHub
    /// `TALLY_CORS_ORIGINS`.
    public let corsOrigins: Set<String>
    /// The credit statistics `/metrics` shows.
    public let ledgerStats = LedgerStatsCache()

    public init(pool: ConnectionPool, replica: ConnectionPool? = nil, batcher: EnqueueBatcher, waiters: JobWaiters, apiKeys: APIKeyCache, rateLimiter: RateLimiter,
                metrics: Metrics, stripeSecrets: [String], bitgoSecrets: [String], metricsToken: String? = nil,
                streamKeys: StreamTokenKeys? = nil, streamSettings: StreamHub.Settings = StreamHub.Settings(),
                corsOrigins: Set<String> = []) {
        self.pool = pool
        self.replica = replica
        self.batcher = batcher
        self.waiters = waiters
        self.apiKeys = apiKeys
        self.rateLimiter = rateLimiter
        self.metrics = metrics
        self.stripeSecrets = stripeSecrets
        self.bitgoSecrets = bitgoSecrets
        self.metricsToken = metricsToken
        let keys = streamKeys ?? StreamTokenKeys(pool: pool, refresh: 5)
        self.streamKeys = keys
        self.streams = StreamHub(pool: pool, settings: streamSettings, keys: keys)
        self.corsOrigins = corsOrigins
    }

    /// Runs a read on a pooled connection; PostgreSQL down → 503. `fromReplica`: a GET
    /// endpoint's read, which may lag the primary by the replication delay; it goes to the
    /// replica when there is one, and to the primary while the replica is unreachable.
    public func read<T: Sendable>(fromReplica: Bool = false, _ body: @escaping @Sendable (Connection) throws -> T) async throws(APIError) -> T {
        do {
            if fromReplica, let replica {
                do {
                    return try await replica.withConnection(body)
                } catch let error as PostgresError where error.isUnavailable {
                    Log.warn("the read replica is unreachable; reading from the primary", ["error": error])
                }
            }
            return try await pool.withConnection(body)
        } catch let error as APIError {
            throw error
        } catch let error as PostgresError where error.isUnavailable {
            throw .unavailable("the database is unreachable; retry later")
        } catch {
            Log.error("ingress read failed", ["error": error])
            throw APIError(status: 500, code: "internal_error", message: "the request failed unexpectedly; it was logged")
        }
    }

    // MARK: Enqueue

    /// What `submit` did.
    public struct Submitted: Sendable {
        public let jobID: Int64
        /// False for a replay: a job with this idempotency key existed.
        public let inserted: Bool
        /// The existing job's args, for a replay.
        public let existingArgs: JSON?
    }

    /// How a replay (an existing job with the same idempotency key) is told from a conflict.
    public enum Replay: Sendable {
        /// The same request when the args are equal, compared parsed (key order, spacing and
        /// number spelling do not matter).
        case sameArgs
        /// The same request when this says so of the existing job's args.
        case custom(@Sendable (JSON) -> Bool)
        /// Never a conflict (webhooks: a redelivery need not be byte-identical).
        case neverConflicts
    }

    /// Enqueues one job for a request, checking in DESIGN.md's order after validation:
    /// 409 (same idempotency key, different fields), 429 (rate limit), 503 (database down).
    /// `companion` (a Stripe event for the inbox) is written in the same transaction.
    public func submit(_ job: NewJob, for request: EndpointRequest, replay: Replay = .sameArgs,
                       companion: (any EnqueueCompanion)? = nil) async throws(APIError) -> Submitted {
        var job = job
        let isSame: (@Sendable (JSON) -> Bool)?
        switch replay {
        case .sameArgs:
            // Parsed only for a replay, never on the common path.
            isSame = { [argsJSON = job.argsJSON] existing in existing == (try? JSON.parse(argsJSON)) }
        case .custom(let f): isSame = f
        case .neverConflicts: isSame = nil
        }
        if let key = request.apiKeyID, let retryAfter = rateLimiter.take(key) {
            // 409 comes before 429: a refused request whose key names a different job says so.
            if let uniqueKey = job.uniqueKey, let isSame,
               let existing = try? await pool.withConnection({ c in try c.query(IngressQueries.jobByKey, [uniqueKey]).first?.json("args") }),
               !isSame(existing) {
                throw Self.conflict
            }
            throw .rateLimited(retryAfter: retryAfter)
        }
        if request.preferWait > 0 { job.notifyOnFinish = true }
        let result: EnqueueResult
        do {
            result = try await batcher.submit(EnqueueBatcher.Item(job: job, companion: companion))
        } catch let error as PostgresError where error.isUnavailable {
            throw .unavailable("the database is unreachable, nothing was enqueued; retry later")
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            // A data exception: a value PostgreSQL cannot store (jsonb refuses \u0000, ...).
            // The request is at fault and retrying it cannot help.
            throw .invalid("the request holds a value the database cannot store: \(error.message.prefix(120))")
        } catch {
            Log.error("enqueue failed", ["kind": job.kind, "error": error])
            throw APIError(status: 500, code: "internal_error", message: "the request could not be enqueued; it was logged")
        }
        if result.inserted {
            metrics.enqueued(kind: job.kind)
        } else if let isSame, result.existingKind != job.kind || !isSame(result.existingArgs ?? .null) {
            throw Self.conflict
        }
        return Submitted(jobID: result.id, inserted: result.inserted, existingArgs: result.existingArgs)
    }

    private static let conflict = APIError.idempotencyConflict(
        "this idempotency key was already used with different fields; use a new key for a new request")

    /// The whole tail of a plain enqueue endpoint: enqueue a `J` job with `args` (and its key),
    /// then answer 202 `{job_id}` or, with `Prefer: wait`, the outcome.
    public func enqueue<J: Job>(_ request: EndpointRequest, _ kind: J.Type, _ args: J.Args,
                                uniqueKey: String? = nil) async throws(APIError) -> HTTPResponse {
        let submitted = try await submit(try Self.job(kind, args, uniqueKey: uniqueKey), for: request)
        return await accepted(request, submitted, body: ["job_id": .int(submitted.jobID)])
    }

    /// A `J` job with `args` on its queue with its attempt limit (`Job.newJob`).
    public static func job<J: Job>(_ kind: J.Type, _ args: J.Args, uniqueKey: String? = nil,
                                   uniqueWhileActive: Bool = false) throws(APIError) -> NewJob {
        do { return try J.newJob(args, uniqueKey: uniqueKey, uniqueWhileActive: uniqueWhileActive) } catch {
            Log.error("job args did not encode", ["kind": J.kind, "error": error])
            throw APIError(status: 500, code: "internal_error", message: "the request failed unexpectedly; it was logged")
        }
    }

    // MARK: Answers

    /// The answer to an enqueue: 202 with `body` (which has `job_id`), or, with `Prefer: wait=N`,
    /// the job's outcome once it finishes (200, or 402/404 for a refused usage) or 202 when the
    /// time runs out.
    public func accepted(_ request: EndpointRequest, _ submitted: Submitted, body: [String: JSON]) async -> HTTPResponse {
        let wait = request.preferWait
        guard wait > 0 else { return .json(202, .object(body)) }
        guard let outcome = await waitForOutcome(submitted, seconds: wait) else { return .json(202, .object(body)) }
        return Self.outcomeResponse(outcome, extra: body)
    }

    /// Waits up to `seconds` for the job to finish; nil when it has not.
    func waitForOutcome(_ submitted: Submitted, seconds: Int) async -> JobRecord? {
        let jobID = submitted.jobID
        let deadline = DispatchTime.now() + .seconds(seconds)
        let token = waiters.register(jobID)
        defer { waiters.cancel(token) }
        if !submitted.inserted {
            // A replay of a job enqueued without a waiter: its end sends no notification.
            let notifies = try? await read { c in try c.query(IngressQueries.jobNotifies, [jobID]).first?.bool("notify_finish") }
            if notifies != true {
                let job = try? await readJob(jobID)
                return job?.state.isFinished == true ? job : nil
            }
        }
        while true {
            guard let job = try? await readJob(jobID) else { return nil }
            if job.state.isFinished { return job }
            if DispatchTime.now() >= deadline { return nil }
            await waiters.wait(token, until: deadline)
        }
    }

    /// `fromReplica`: for `GET /v1/jobs/{id}`; a waiting request reads the primary, which the
    /// notification that woke it speaks of.
    public func readJob(_ id: Int64, fromReplica: Bool = false) async throws(APIError) -> JobRecord? {
        try await read(fromReplica: fromReplica) { c in try JobStore.job(id: id, on: c) }
    }

    /// The status and message a waiting request gets for a refusal its job recorded.
    static func answer(_ refusal: LedgerRefusal) -> (status: Int, message: String) {
        switch refusal {
        case .insufficientCredits: (402, "the balance does not cover the usage")
        case .accountNotFound: (404, "no account for this user_id; open it with POST /v1/accounts first")
        case .unknownAgent: (404, "no such agent; operators set prices with `tally agents set`")
        case .invalidUnits: (400, "units × the agent's price is more than 10^12 credits, the most one charge may move; send at most max_units per request")
        case .captureExceedsHold: (400, "the capture is more than the hold holds (held); capture at most that")
        case .holdNotFound: (404, "no such hold")
        case .transferNotFound: (404, "no such transfer")
        }
    }

    static func outcomeResponse(_ job: JobRecord, extra: [String: JSON]) -> HTTPResponse {
        if job.state == .completed, let result = job.result, let refusal = LedgerRefusal(result: result) {
            var body = extra
            body["job_id"] = .int(job.id)
            for field in ["balance", "required", "max_units", "held", "hold_id", "transfer_id", "side", "user_id"] { if let v = result[field] { body[field] = v } }
            let answer = answer(refusal)
            return APIError(status: answer.status, code: refusal.rawValue, message: answer.message, extra: body).response
        }
        var body = extra
        body["job_id"] = .int(job.id)
        body["state"] = .string(job.state.rawValue)
        body["result"] = job.result ?? .null
        body["errors"] = jobErrors(job)
        return .json(200, .object(body))
    }

    /// A job's failed attempts as the API shows them.
    public static func jobErrors(_ job: JobRecord) -> JSON {
        .array(job.errors.map { ["at": .string($0.at), "attempt": .int($0.attempt), "message": .string($0.message)] })
    }
}
