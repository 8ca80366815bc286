import Dispatch
import Foundation
import Synchronization

/// Runs services until they return, and is the one place that handles SIGTERM and SIGINT:
/// the first signal asks every service to shut down gracefully; a second one exits at once.
public enum ServiceRunner {
    public static func run(_ services: [any Service]) async throws {
        let sources = installSignalHandlers(services)
        defer { for s in sources { s.cancel() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services {
                group.addTask {
                    do {
                        try await service.run()
                    } catch {
                        // One part failing stops the others: a half-running process helps nobody.
                        Log.error("service failed, stopping the others", ["service": service.name, "error": error])
                        for s in services { s.shutdown() }
                        throw error
                    }
                }
            }
            try await group.waitForAll()
        }
        Log.flush()
    }

    private static let signalCount = Atomic<Int>(0)

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
                    for s in services { s.shutdown() }
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
