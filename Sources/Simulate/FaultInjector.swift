import DevFakes
import Foundation
import Support
#if canImport(Glibc)
import Glibc
#endif

/// Carries out the fault schedule: which fault, when, is drawn from the seed (its own stream,
/// so the faults never change the operations). Faults that end later (a stopped worker
/// continued, a killed ingress started again) are due at a time and carried out by `tick`,
/// which the simulation calls between operations and while it waits.
@MainActor
final class FaultInjector {
    private let system: SystemUnderTest
    private let services: [(name: String, server: FakeHTTPServer)]
    private let kinds: [FaultKind]
    private var rng: SplitMix64
    /// The first faults, one of each kind in a seeded order, so even a short run has them all.
    private var firstRound: [FaultKind]
    private let every: Int
    private var later: [(due: Date, what: String, action: () throws -> Void)] = []
    private(set) var counts: [FaultKind: Int] = [:]
    /// Which fault before which operation: the same for every run of a seed.
    private(set) var schedule = ScheduleDigest()
    private(set) var failures: [String] = []

    init(system: SystemUnderTest, services: [(String, FakeHTTPServer)], kinds: [FaultKind], seed: UInt64, operations: Int) {
        self.system = system
        self.services = services.map { (name: $0.0, server: $0.1) }
        self.kinds = kinds
        rng = SplitMix64(seed: seed, stream: 2)
        var shuffled = kinds
        for i in shuffled.indices.reversed() where i > 0 { shuffled.swapAt(i, rng.below(i + 1)) }
        firstRound = shuffled
        // About three faults of each kind per run, at least every 40 operations, at most every 400.
        every = kinds.isEmpty ? Int.max : max(40, min(400, operations / max(1, kinds.count * 3)))
    }

    /// Called before operation `index`: maybe injects the fault scheduled there.
    func beforeOperation(_ index: Int) {
        tick()
        guard !kinds.isEmpty, index > 0, index % every == 0 else { return }
        let kind = firstRound.isEmpty ? rng.pick(kinds) : firstRound.removeFirst()
        schedule.add("\(index):\(kind.rawValue)")
        inject(kind)
    }

    /// Carries out what is due (continues stopped workers, starts killed ingresses).
    func tick() {
        let now = Date()
        let due = later.filter { $0.due <= now }
        later.removeAll { $0.due <= now }
        for d in due {
            do { try d.action() } catch { failures.append("\(d.what): \(error)") }
        }
    }

    /// Ends every fault still in force (before the final check).
    func endAll() {
        for d in later {
            do { try d.action() } catch { failures.append("\(d.what): \(error)") }
        }
        later.removeAll()
    }

    var pending: Bool { !later.isEmpty }

    private func inject(_ kind: FaultKind) {
        counts[kind, default: 0] += 1
        switch kind {
        case .workerKill:
            let i = rng.below(system.workers.count)
            if let pid = system.workerPID(i) { kill(pid, SIGCONT); kill(pid, SIGKILL) }
            // A supervisor (systemd, Kubernetes) starts a new one at once.
            let system = self.system
            later.append((Date(), "start worker \(i)", { try system.startWorker(i) }))
        case .workerStop:
            let i = rng.below(system.workers.count)
            // Past the 2 s lease and the rescue that follows it: its jobs run elsewhere meanwhile.
            let pause = Double(rng.between(3_000, 6_000)) / 1000
            guard let pid = system.workerPID(i) else { return }
            kill(pid, SIGSTOP)
            later.append((Date().addingTimeInterval(pause), "continue worker \(i)", { kill(pid, SIGCONT) }))
        case .ingressRestart:
            let i = rng.below(system.ports.count)
            system.signalIngress(i, SIGKILL)
            let system = self.system
            let down = Double(rng.between(200, 1_500)) / 1000
            later.append((Date().addingTimeInterval(down), "start ingress \(i)", {
                // Its port is free once the killed process is gone (it may take a moment to be reaped).
                let deadline = Date().addingTimeInterval(10)
                while system.isIngressRunning(i) && Date() < deadline { usleep(5_000) }  // poll until it exited
                try system.startIngress(i)
            }))
        case .postgresRestart:
            do {
                let status = try system.shell(system.options.postgresRestart)
                if status != 0 { failures.append("the PostgreSQL restart exited \(status)") }
            } catch { failures.append("the PostgreSQL restart: \(error)") }
        case .service500, .serviceHang, .serviceClose:
            let s = rng.pick(services)
            let n = Int(rng.between(1, 3))
            let response: FakeHTTPServer.Response
            switch kind {
            case .service500: response = .init(status: 500, body: #"{"error":"injected by the simulation"}"#)
            // Longer than the workers' 2 s HTTP timeout: they give up and retry.
            case .serviceHang: response = .init(status: 500, body: "{}", delay: 3)
            default: response = .init(closesConnection: true)
            }
            s.server.failNext(Array(repeating: response, count: n))
        }
    }
}
