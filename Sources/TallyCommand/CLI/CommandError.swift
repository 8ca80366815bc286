/// How a command fails: exit 2 for bad usage, 1 when the operation failed or what it names
/// does not exist. The message is one line on stderr.
enum CommandError: Error, CustomStringConvertible {
    case usage(String)
    case failure(String)

    var description: String {
        switch self {
        case .usage(let m), .failure(let m): m
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage: 2
        case .failure: 1
        }
    }
}
