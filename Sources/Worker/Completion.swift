import Queue

/// A finished run waiting to be written by the completer: the row change and the claim it
/// ends (released once written).
struct Completion: Sendable, Equatable {
    let finish: Finish
    let hold: Hold
}
