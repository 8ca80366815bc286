import Foundation
import TestSupport
import XCTest

/// ops/lib/common.sh installs only the Debian packages that are missing, never upgrading one
/// that is there (an upgrade of postgresql-15 under a running cluster breaks it). Run through
/// bash with stub `dpkg`, `apt-get` and `sudo` first on PATH: apt-get never really runs here.
final class OpsInstallTests: XCTestCase {
    var stubs: URL!

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    override func setUpWithError() throws {
        stubs = FileManager.default.temporaryDirectory.appendingPathComponent("ops-stubs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: stubs, withIntermediateDirectories: true)
        // dpkg -s PKG: installed unless PKG is in $STUB_MISSING (not known) or $STUB_REMOVED
        // (removed, its configuration left: dpkg answers, with another status).
        try stub("dpkg", """
            [ "$1" = -s ] || exit 2
            for m in $STUB_MISSING; do [ "$m" = "$2" ] && { echo "dpkg-query: package '$2' is not installed" >&2; exit 1; }; done
            for m in $STUB_REMOVED; do [ "$m" = "$2" ] && { printf 'Package: %s\\nStatus: deinstall ok config-files\\n' "$2"; exit 0; }; done
            printf 'Package: %s\\nStatus: install ok installed\\nVersion: 1\\n' "$2"
            """)
        try stub("apt-get", #"printf '%s\n' "$*" >> "$STUB_LOG""#)
        try stub("sudo", #"exec "$@""#)
    }

    override func tearDown() {
        if let stubs { try? FileManager.default.removeItem(at: stubs) }
    }

    func stub(_ name: String, _ body: String) throws {
        let url = stubs.appendingPathComponent(name)
        try Data("#!/bin/sh\n\(body)\n".utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    }

    /// Runs `script` after sourcing common.sh; returns the exit status, stderr and each apt-get call.
    func run(_ script: String, missing: [String] = [], removed: [String] = []) throws -> (status: Int32, stderr: String, aptGet: [String]) {
        let log = stubs.appendingPathComponent("apt-get.log")
        try? FileManager.default.removeItem(at: log)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "source ops/lib/common.sh; \(script)"]
        p.currentDirectoryURL = Self.root
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = stubs.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["STUB_MISSING"] = missing.joined(separator: " ")
        env["STUB_REMOVED"] = removed.joined(separator: " ")
        env["STUB_LOG"] = log.path
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let calls = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        return (p.terminationStatus, String(decoding: e, as: UTF8.self), calls)
    }

    func testOnlyTheMissingPackageIsInstalledWithoutUpgrades() throws {
        let r = try run("tally_install_packages", missing: ["libcurl4-openssl-dev"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.aptGet, ["install -y -q --no-upgrade libcurl4-openssl-dev"], "only what is missing, never the whole list")
        XCTAssertTrue(r.stderr.contains("ops: installing missing packages: libcurl4-openssl-dev\n"), r.stderr)
    }

    func testNothingIsInstalledWhenNothingIsMissing() throws {
        let r = try run("tally_install_packages")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.aptGet, [])
        XCTAssertFalse(r.stderr.contains("installing"), r.stderr)
    }

    func testTheHelperChecksEachPackageAndCountsARemovedOneAsMissing() throws {
        let r = try run("tally_install_missing postgresql libpq-dev wrk libssl-dev", missing: ["wrk"], removed: ["libssl-dev"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.aptGet, ["install -y -q --no-upgrade wrk libssl-dev"])
        XCTAssertTrue(r.stderr.contains("ops: installing missing packages: wrk libssl-dev\n"), r.stderr)
        XCTAssertEqual(try run("tally_install_missing postgresql wrk").aptGet, [])
    }

    /// No ops/ script calls apt-get but the helper.
    func testEveryInstallGoesThroughTheHelper() throws {
        let ops = Self.root.appendingPathComponent("ops")
        let files = try XCTUnwrap(FileManager.default.enumerator(at: ops, includingPropertiesForKeys: nil)?.allObjects as? [URL])
        var callers: [String] = []
        for file in files where !file.hasDirectoryPath {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.contains("apt-get install") && !line.contains("tally_die")
                && !line.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
                callers.append("\(file.lastPathComponent): \(line)")
            }
        }
        XCTAssertEqual(callers.count, 2, "only tally_install_missing's two attempts: \(callers)")
        XCTAssertTrue(callers.allSatisfy { $0.hasPrefix("common.sh:") && $0.contains("--no-upgrade") }, "\(callers)")
    }
}
