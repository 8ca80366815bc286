/// The words after a command's name: positionals, `--name value` / `--name=value` options,
/// and `--flag` switches. Only the options a command declares are accepted (anything else is
/// a usage error, exit 2); `--json` and `--help` are always accepted.
struct Arguments {
    private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    init(_ words: [String], options: Set<String>, flags allowedFlags: Set<String>, command: String) throws {
        var i = 0
        var onlyPositionals = false
        while i < words.count {
            let word = words[i]
            i += 1
            if onlyPositionals || !word.hasPrefix("--") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            var name = String(word.dropFirst(2))
            var inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if name == "json" || name == "help" || allowedFlags.contains(name) {
                guard inline == nil else { throw CommandError.usage("--\(name) takes no value (tally \(command) --help)") }
                flags.insert(name)
            } else if options.contains(name) {
                if let inline {
                    values[name, default: []].append(inline)
                } else {
                    guard i < words.count else { throw CommandError.usage("--\(name) needs a value (tally \(command) --help)") }
                    values[name, default: []].append(words[i])
                    i += 1
                }
            } else {
                throw CommandError.usage("unknown option --\(name) for 'tally \(command)' (tally \(command) --help lists them)")
            }
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value of `--name` (the last one when given several times).
    func option(_ name: String) -> String? { values[name]?.last }

    func int(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = option(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw CommandError.usage("--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return n
    }

    func required(_ name: String, command: String) throws -> String {
        guard let v = option(name) else { throw CommandError.usage("--\(name) is required (tally \(command) --help)") }
        return v
    }

    /// Exactly `count` positionals named by `names`, for messages.
    func expect(_ names: [String], command: String) throws -> [String] {
        guard positionals.count == names.count else {
            if positionals.count < names.count {
                throw CommandError.usage("missing \(names[positionals.count]) (usage: tally \(command) \(names.joined(separator: " ")))")
            }
            throw CommandError.usage("unexpected argument \"\(positionals[names.count])\" (usage: tally \(command) \(names.joined(separator: " ")))")
        }
        return positionals
    }
}
