import Foundation

/// What `tally-simulate` was asked to do (ops/simulate passes the flags through and sets the
/// environment: DATABASE_URL, TALLY_BIN, TALLY_SIM_PG_RESTART).
struct SimulationOptions: Sendable {
    var seed: UInt64 = 1
    var operations = 2_000
    var faults: [FaultKind] = FaultKind.allCases
    var ingresses = 2
    var workers = 3
    /// Sets TALLY_SIMULATE_PLANTED_BUG=usage-idempotency in the ingresses: the run must fail.
    var plantedBug = false
    var tallyBinary = ""
    var databaseURL = ""
    /// A shell command that restarts PostgreSQL with `-m immediate` (the wrapper knows the
    /// data directory and the cluster's owner).
    var postgresRestart = ""
    var logDirectory = ""

    static let usage = """
        Usage: tally-simulate [--seed S] [--ops N] [--faults LIST] [--ingresses N] [--workers N] [--planted-bug]

        Runs a seeded random workload against real tally processes while injecting faults,
        then checks every account against the simulator's own model. Exit 0: no violation;
        1: violations (the seed is printed); 2: bad usage or set-up. Run it through ops/simulate.
        Faults (LIST, comma-separated, or all, none): \(FaultKind.allCases.map(\.rawValue).joined(separator: ", ")).
        Environment: DATABASE_URL, TALLY_BIN, TALLY_SIM_PG_RESTART, TALLY_SIM_LOG_DIR.
        """

    /// The flags that replay this run.
    var replayArguments: String {
        var words = ["--seed", String(seed), "--ops", String(operations)]
        if faults != FaultKind.allCases { words += ["--faults", faults.isEmpty ? "none" : faults.map(\.rawValue).joined(separator: ",")] }
        if ingresses != 2 { words += ["--ingresses", String(ingresses)] }
        if workers != 3 { words += ["--workers", String(workers)] }
        if plantedBug { words.append("--planted-bug") }
        return words.joined(separator: " ")
    }

    static func parse(_ arguments: [String], environment: [String: String]) throws -> SimulationOptions {
        var o = SimulationOptions()
        var words = arguments
        func value(_ flag: String) throws -> String {
            guard !words.isEmpty else { throw SimulationError("\(flag) needs a value") }
            return words.removeFirst()
        }
        while !words.isEmpty {
            let word = words.removeFirst()
            switch word {
            case "--seed":
                let text = try value(word)
                guard let s = UInt64(text) else { throw SimulationError("--seed takes an unsigned integer, got \(text)") }
                o.seed = s
            case "--ops":
                let text = try value(word)
                guard let n = Int(text), n > 0 else { throw SimulationError("--ops takes a positive integer, got \(text)") }
                o.operations = n
            case "--faults": o.faults = try FaultKind.parse(try value(word))
            case "--ingresses":
                guard let n = Int(try value(word)), (1...4).contains(n) else { throw SimulationError("--ingresses takes 1 to 4") }
                o.ingresses = n
            case "--workers":
                guard let n = Int(try value(word)), (1...8).contains(n) else { throw SimulationError("--workers takes 1 to 8") }
                o.workers = n
            case "--planted-bug": o.plantedBug = true
            default: throw SimulationError("unknown option \(word)\n\(usage)")
            }
        }
        guard let url = environment["DATABASE_URL"], !url.isEmpty else { throw SimulationError("DATABASE_URL is not set (run ops/simulate)") }
        guard let bin = environment["TALLY_BIN"], !bin.isEmpty else { throw SimulationError("TALLY_BIN is not set (run ops/simulate)") }
        o.databaseURL = url
        o.tallyBinary = bin
        o.postgresRestart = environment["TALLY_SIM_PG_RESTART"] ?? ""
        if o.faults.contains(.postgresRestart) && o.postgresRestart.isEmpty {
            throw SimulationError("pg-restart needs TALLY_SIM_PG_RESTART (ops/simulate sets it)")
        }
        o.logDirectory = environment["TALLY_SIM_LOG_DIR"] ?? FileManager.default.temporaryDirectory.appendingPathComponent("tally-simulate").path
        return o
    }
}
