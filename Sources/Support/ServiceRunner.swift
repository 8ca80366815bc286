import Dispatch
import Foundation
import Synchronization

/// Runs services until they return, and is the one place that handles SIGTERM and SIGINT:
/// the first signal asks every service to shut down gracefully; a second one exits at once.
/// A service whose stop outlasts its `stopDeadline` has the process exit with status 1 (as a
/// second signal does), after logging what it abandons.
public enum ServiceRunner {
    public static func run(_ services: [any Service]) async throws {
        let sources = installSignalHandlers(services)
        defer { for s in sources { s.cancel() } }
        defer { finished.store(true, ordering: .releasing) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services {
                group.addTask {
                    do {
                        try await service.run()
                    } catch {
                        // One part failing stops the others: a half-running process helps nobody.
                        Log.error("service failed, stopping the others", ["service": service.name, "error": error])
                        stopAll(services)
                        throw error
                    }
                }
            }
            try await group.waitForAll()
        }
        Log.flush()
    }

    private static let signalCount = Atomic<Int>(0)
    private static let stopping = Atomic<Bool>(false)
    private static let finished = Atomic<Bool>(false)

    /// Asks every service to stop, and arms each one's hard deadline.
    nonisolated private static func stopAll(_ services: [any Service]) {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for s in services { s.shutdown() }
        for s in services {
            guard let seconds = s.stopDeadline else { continue }
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(seconds * 1e9))) { @Sendable in
                guard !finished.load(ordering: .acquiring) else { return }
                Log.error("stop took longer than its deadline, exiting now", [
                    "service": s.name, "deadline_s": seconds, "abandoned": s.abandoned(),
                ])
                Log.flush()
                exit(1)
            }
        }
    }

    /// Created outside any actor: a handler closure inferred @MainActor and run on another
    /// queue crashes (SWIFT-ON-LINUX.md, Signals).
    nonisolated private static func installSignalHandlers(_ services: [any Service]) -> [any DispatchSourceSignal] {
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
            source.setEventHandler { @Sendable in
                let n = signalCount.add(1, ordering: .relaxed).newValue
                if n == 1 {
                    Log.info("signal received, shutting down gracefully", ["signal": sig == SIGTERM ? "SIGTERM" : "SIGINT"])
                    stopAll(services)
                } else {
                    Log.warn("second signal, exiting now", [:])
                    Log.flush()
                    exit(1)
                }
            }
            source.resume()
            sources.append(source)
        }
        return sources
    }
}
