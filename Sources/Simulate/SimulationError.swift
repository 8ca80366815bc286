/// Why the simulation could not run (set-up, a process that would not start); a violation of
/// Tally's contract is not an error but a finding (`Violations`).
struct SimulationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
