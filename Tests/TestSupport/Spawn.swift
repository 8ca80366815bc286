import Foundation

/// Child processes started with `posix_spawn` and reaped with `waitpid` by the caller, for the
/// PostgreSQL tools and PgBouncer, which run through `runuser` as root. Foundation's `Process`
/// left such a `runuser` a zombie that `waitUntilExit` waited on for ever (seen with
/// `pg_ctl start`: its SIGCHLD never reached Foundation's monitor); these pids are not
/// Foundation's, so nothing else reaps them.
public enum Spawn {
    /// Starts `path args…` in `directory` with stdout and stderr appended to `output` (a file
    /// path); the environment is this process's. Returns the pid. The default folder is /tmp,
    /// which the postgres user may enter (the checkout may not be).
    public static func start(_ path: String, _ args: [String], output: String, directory: String = "/tmp") throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The folder through a shell (Glibc's posix_spawn_file_actions_addchdir_np is not
        // visible from Swift here): `cd DIR && exec PATH ARGS…`, each word its own argument.
        let shell = ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", directory, path] + args
        let argv: [UnsafeMutablePointer<CChar>?] = shell.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        guard rc == 0 else { throw WaitTimeout(description: "posix_spawn \(path) failed: \(rc)") }
        return pid
    }

    /// Waits for `pid` to exit; its exit status (128 + signal when killed).
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let low = status & 0x7f
        return low == 0 ? (status >> 8) & 0xff : 128 + low
    }

    /// Runs `path args…` to its end; its exit status and everything it printed.
    public static func run(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("spawn-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let status = wait(try start(path, args, output: output))
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }
}
