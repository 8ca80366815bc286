import Foundation

// `tally-simulate`: the randomized fault simulation (issue 16; DESIGN.md, "Faults, failover
// and scale"). ops/simulate starts the database, builds, and runs this; see SimulationOptions.

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("-h") || arguments.contains("--help") {
    print(SimulationOptions.usage)
    exit(0)
}
do {
    let options = try SimulationOptions.parse(arguments, environment: ProcessInfo.processInfo.environment)
    let status = try await Simulation(options: options).run()
    exit(status)
} catch {
    FileHandle.standardError.write(Data("tally-simulate: \(error)\n".utf8))
    exit(2)
}
