/// When a queue's producer claims, and how many: a plain value, tested without a database.
///
/// It claims when there is room and reason to expect work: a NOTIFY arrived, the last claim
/// came back full (more are probably waiting), or the fallback poll is due. While jobs are
/// running it waits until a quarter of the slots are free, so a busy queue claims in batches
/// (one statement per ~limit/4 jobs) instead of one claim per finished job.
struct ProducerState: Sendable {
    enum Action: Equatable, Sendable {
        case claim(Int)
        /// Wait for a wake-up or until `seconds` pass (nil: only a wake-up).
        case wait(seconds: Double?)
        case stop
    }

    let limit: Int
    let maxBatch: Int
    let pollInterval: Double
    private(set) var running = 0
    private var expectWork = true
    private var lastClaimAt: Double = -.infinity
    private var retryAt: Double = -.infinity
    private var failureBackoff: Double = 0
    private(set) var stopping = false
    /// Finished jobs not yet written by the completer; past a limit, claiming pauses.
    private(set) var backlog = 0

    init(limit: Int, maxBatch: Int, pollInterval: Double) {
        precondition(limit > 0 && maxBatch > 0)
        self.limit = limit
        self.maxBatch = maxBatch
        self.pollInterval = pollInterval
    }

    var free: Int { limit - running }

    mutating func next(now: Double) -> Action {
        if stopping { return .stop }
        if now < retryAt { return .wait(seconds: retryAt - now) }
        let threshold = running == 0 ? 1 : max(1, min(limit, maxBatch) / 4)
        guard free >= threshold else { return .wait(seconds: nil) }
        if backlog > 4 * max(limit, maxBatch) { return .wait(seconds: 0.005) }
        let pollDue = now - lastClaimAt >= pollInterval
        guard expectWork || pollDue else { return .wait(seconds: lastClaimAt + pollInterval - now) }
        expectWork = false
        lastClaimAt = now
        return .claim(min(free, maxBatch))
    }

    mutating func claimed(_ count: Int, asked: Int) {
        running += count
        failureBackoff = 0
        if count >= asked { expectWork = true }
    }

    /// The claim failed (database unreachable): back off 0.1 s doubling to 5 s.
    mutating func claimFailed(now: Double) {
        failureBackoff = failureBackoff == 0 ? 0.1 : min(failureBackoff * 2, 5)
        retryAt = now + failureBackoff
        expectWork = true
    }

    /// A job ended; true when that freed enough slots for the producer to act.
    mutating func jobFinished() -> Bool {
        running -= 1
        let threshold = running == 0 ? 1 : max(1, min(limit, maxBatch) / 4)
        return running == 0 || free == threshold || stopping
    }

    mutating func woken() { expectWork = true }

    mutating func setBacklog(_ n: Int) { backlog = n }

    mutating func stop() { stopping = true }
}
