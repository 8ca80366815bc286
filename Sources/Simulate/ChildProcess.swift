import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, every descriptor above stderr closed in it, and
/// reaped with waitpid. Foundation's `Process` is not used: on Linux it learns of an exit
/// through a descriptor the child inherits, and a daemon started below it (the postmaster
/// that `pg_ctl restart` forks) or a sibling started later keeps that descriptor open, so
/// `waitUntilExit` never returns and `isRunning` stays true after a `kill -9`.
@MainActor
final class ChildProcess {
    let pid: pid_t
    private(set) var exitStatus: Int32?

    /// Starts `path args…` with `environment`, its output appended to `log`, its errors too
    /// unless `errors` names another file (stdin: /dev/null).
    init(_ path: String, _ args: [String], environment: [String: String], log: String, errors: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errors {
            posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        _ = spawnCloseFrom(&actions, 3)
        let argv = ([path] + args).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw SimulationError("cannot start \(path): errno \(rc)") }
        pid = child
    }

    /// Reaps the child if it has exited (never blocks).
    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid || r < 0 {
            exitStatus = r < 0 ? -1 : ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            return false
        }
        return true
    }

    func signal(_ sig: Int32) { if isRunning { kill(pid, sig) } }

    /// Waits for the exit (polling, up to `timeout`); the status, or nil if it still runs.
    func wait(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning && Date() < deadline { usleep(5_000) }  // poll interval until exit or deadline
        return exitStatus
    }

    /// Runs `path args…` to completion (at most `timeout`): its status, stdout and stderr.
    static func run(_ path: String, _ args: [String], environment: [String: String], timeout: TimeInterval = 120) throws
        -> (status: Int32, stdout: String, stderr: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tally-simulate-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("out").path, err = dir.appendingPathComponent("err").path
        for f in [out, err] { _ = FileManager.default.createFile(atPath: f, contents: nil) }
        let child = try ChildProcess(path, args, environment: environment, log: out, errors: err)
        guard let status = child.wait(timeout: timeout) else {
            kill(child.pid, SIGKILL)
            _ = child.wait(timeout: 5)
            throw SimulationError("\(path) \(args.joined(separator: " ")) did not finish within \(Int(timeout)) s")
        }
        let o = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let e = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return (status, o, e)
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Glibc module does not
/// import (it is behind _GNU_SOURCE): its C signature is (posix_spawn_file_actions_t *, int).
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
