import Dispatch
import Foundation
import Postgres
import Queue
import Support
import Synchronization

/// Requests waiting for jobs to finish (`Prefer: wait`), woken by one shared LISTEN connection
/// on `tally_job_finished`: no connection per waiter and no polling.
///
/// A waiter registers for its job id *before* reading the job's state once: a notification that
/// arrives between the commit and the registration is not lost, because the read then sees the
/// job finished; one that arrives after the registration wakes it. When the LISTEN connection
/// is re-established (notifications may have been missed while it was down) every waiter is
/// woken to read its job again.
public final class JobWaiters: Sendable {
    public struct Token: Sendable, Hashable {
        let jobID: Int64
        let serial: UInt64
    }

    private struct Entry {
        /// Woken since the last `wait` returned.
        var fired = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    private struct State {
        var entries: [Int64: [UInt64: Entry]] = [:]
        var serial: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func register(_ jobID: Int64) -> Token {
        state.withLock { s in
            s.serial += 1
            s.entries[jobID, default: [:]][s.serial] = Entry()
            return Token(jobID: jobID, serial: s.serial)
        }
    }

    public func cancel(_ token: Token) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            let c = s.entries[token.jobID]?[token.serial]?.continuation
            s.entries[token.jobID]?[token.serial] = nil
            if s.entries[token.jobID]?.isEmpty == true { s.entries[token.jobID] = nil }
            return c
        }
        c?.resume()
    }

    /// Returns when the job is notified (or the listener reconnected), or at `deadline`.
    public func wait(_ token: Token, until deadline: DispatchTime) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                guard var e = s.entries[token.jobID]?[token.serial] else { return true }
                if e.fired {
                    e.fired = false
                    s.entries[token.jobID]![token.serial] = e
                    return true
                }
                e.continuation = continuation
                s.entries[token.jobID]![token.serial] = e
                return false
            }
            if resumeNow {
                continuation.resume()
                return
            }
            DispatchQueue.global().asyncAfter(deadline: deadline) { [self] in
                let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    let c = s.entries[token.jobID]?[token.serial]?.continuation
                    s.entries[token.jobID]?[token.serial]?.continuation = nil
                    return c
                }
                c?.resume()
            }
        }
    }

    /// A `tally_job_finished` payload: `<id>:<state>`.
    public func notified(_ payload: String) {
        guard let colon = payload.firstIndex(of: ":"), let id = Int64(payload[..<colon]) else { return }
        wake { $0 == id }
    }

    /// After a (re)connection of the listener: everyone reads again.
    public func wakeAll() { wake { _ in true } }

    public var count: Int { state.withLock { $0.entries.values.reduce(0) { $0 + $1.count } } }

    private func wake(_ which: (Int64) -> Bool) {
        let continuations = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            var out: [CheckedContinuation<Void, Never>] = []
            for id in s.entries.keys where which(id) {
                for serial in s.entries[id]!.keys {
                    if let c = s.entries[id]![serial]!.continuation {
                        out.append(c)
                        s.entries[id]![serial]!.continuation = nil
                    } else {
                        s.entries[id]![serial]!.fired = true
                    }
                }
            }
            return out
        }
        for c in continuations { c.resume() }
    }
}
