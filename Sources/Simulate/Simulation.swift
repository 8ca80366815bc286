import DevFakes
import Foundation
import Support

/// One run: the fakes, the processes, the workload with its faults, the final check, the report.
@MainActor
final class Simulation {
    let options: SimulationOptions

    init(options: SimulationOptions) { self.options = options }

    /// The exit status: 0 no violation, 1 violations.
    func run() async throws -> Int32 {
        let started = Date()
        guard let fixtures = FixtureDirectory.locate() else { throw SimulationError("cannot find Tests/Fixtures above the binary or here") }
        let stripe = try FakeStripe(fixtures: fixtures)
        let bitgo = try FakeBitGo(fixtures: fixtures)
        let coingecko = try FakeCoinGecko(fixtures: fixtures)
        let fakes = stripe.environment.merging(bitgo.environment) { a, _ in a }.merging(coingecko.environment) { a, _ in a }
        let system = try SystemUnderTest(options: options, fakes: fakes)

        let migrate = try system.run(["migrate"])
        guard migrate.status == 0 else { throw SimulationError("tally migrate exited \(migrate.status): \(migrate.stderr.suffix(500))") }
        let created = try system.run(["apikey", "create", "simulate"])
        guard created.status == 0, let key = created.stdout.split(separator: "\n").last.map(String.init), !key.isEmpty else {
            throw SimulationError("tally apikey create exited \(created.status): \(created.stderr.suffix(500))")
        }
        try system.startAll()
        defer { system.stopAll() }
        let api = TallyAPI(baseURLs: system.baseURLs, apiKey: key)
        for i in system.ports.indices {
            guard let h = await api.get("/healthz"), h.status == 200 else { throw SimulationError("ingress \(i) did not answer /healthz") }
        }

        let faults = FaultInjector(system: system, services: [("stripe", stripe.server), ("bitgo", bitgo.server), ("coingecko", coingecko.server)],
                                   kinds: options.faults, seed: options.seed, operations: options.operations)
        api.whileWaiting = { faults.tick() }
        let workload = Workload(api: api, system: system, bitgo: bitgo, seed: options.seed, operations: options.operations)
        var lastReport = Date()
        for i in 0..<options.operations {
            faults.beforeOperation(i)
            await workload.step()
            if Date().timeIntervalSince(lastReport) > 30 {
                lastReport = Date()
                Self.say("simulate: \(i + 1) of \(options.operations) operations, \(Int(Date().timeIntervalSince(started))) s, \(workload.violations.count) violations so far")
            }
        }
        faults.endAll()
        await workload.settleAll()
        let workloadSeconds = Date().timeIntervalSince(started)
        var violations = workload.violations + faults.failures
        violations += await FinalCheck(api: api, system: system, model: workload.model).run()

        let model = workload.model
        let rate = Int(Double(options.operations) / max(workloadSeconds, 0.001))
        var report = "simulate: seed \(options.seed), \(options.operations) operations in \(Int(workloadSeconds)) s (\(rate)/s), "
            + "checked in \(Int(Date().timeIntervalSince(started) - workloadSeconds)) s\n"
        report += "  operations:   " + Self.list(workload.counts) + "\n"
        report += "  faults:       " + (faults.counts.isEmpty ? "none" : Self.list(Dictionary(uniqueKeysWithValues: faults.counts.map { ($0.key.rawValue, $0.value) }))) + "\n"
        report += "  schedule:     operations \(workload.schedule.hex), faults \(faults.schedule.hex) (the same for every run of this seed)\n"
        report += "  requests sent again after a lost answer: \(api.resent)\n"
        report += "  model:        \(model.accounts.count) accounts, \(model.holds.count) holds, \(model.transfers.count) transfers, "
            + "\(model.payments.count) card payments, \(model.purchases.count) crypto purchases, "
            + "\(model.accounts.values.reduce(0) { $0 + $1.balance }) credits spendable\n"
        if options.plantedBug { report += "  planted bug:  TALLY_SIMULATE_PLANTED_BUG=usage-idempotency (the run must fail)\n" }
        report += "  violations:   \(violations.count)\n"
        for v in violations.prefix(25) { report += "    - \(v)\n" }
        if violations.count > 25 { report += "    … and \(violations.count - 25) more\n" }
        report += "  logs:         \(options.logDirectory)\n"
        if !violations.isEmpty { report += "FAILED: seed \(options.seed) (replay: ops/simulate \(options.replayArguments))\n" }
        Self.say(report)
        return violations.isEmpty ? 0 : 1
    }

    static func list(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}
