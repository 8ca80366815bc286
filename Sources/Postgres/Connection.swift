import CLibPQ
import Dispatch
import Foundation
import Support

/// One libpq connection with a blocking API.
///
/// libpq calls block, so a `Connection` is never used on Swift's cooperative pool (two threads
/// here: two blocking queries there stalled every other task for the length of the query).
/// `tally` commands use it directly on the main thread (their `run` is `@MainActor`, and so
/// is `CommandContext.connect`); other async code borrows one from a `ConnectionPool`, which
/// runs the caller's closure on the connection's own serial queue.
///
/// `@unchecked Sendable`: the `PGconn` is not thread-safe, and is only touched by one thread at
/// a time. The pool hands a connection to one borrower, whose closure runs on the connection's
/// serial `queue`; code that creates a connection directly owns it alone. The two exceptions,
/// `requestCancel()` and `abort()`, are meant for other threads and touch no `PGconn` state:
/// the first uses the `PGcancel` object made at connect time (libpq documents `PQcancel` as
/// thread-safe), the second a duplicate of the socket owned by this object (see `abortSocket`).
public final class Connection: @unchecked Sendable {
    let handle: OpaquePointer
    /// Names of statements prepared on this connection.
    private var prepared: Set<String> = []
    /// The serial queue the pool runs borrowers' closures on.
    let queue: DispatchQueue
    public let url: String
    /// For `requestCancel()`: made once, right after connecting, on the connecting thread.
    private let cancelHandle: OpaquePointer?
    /// A `dup` of the connection's socket, for `abort()`. libpq closes its own descriptor when
    /// the connection breaks, and the number may then be reused by another socket; this one
    /// stays open until `deinit`, so shutting it down can never hit anything but this connection.
    private let abortSocket: Int32

    /// Behind a transaction-pooling PgBouncer (`SessionLimits.preparedStatements` false): the
    /// session settings (the limits, a pool's `settings`) as `set_config(name, value, true)`,
    /// sent with the first statement of every transaction (see `sendingLocalSettings`). Empty
    /// otherwise: then they are set once, for the session, at connect time.
    private let localSettings: [(name: String, value: String)]
    /// False: no statement is prepared by name (`TALLY_DB_PREPARED=off`).
    private let preparesStatements: Bool

    private init(handle: OpaquePointer, url: String, localSettings: [(name: String, value: String)] = [], preparesStatements: Bool = true) {
        self.handle = handle
        self.url = url
        self.localSettings = localSettings
        self.preparesStatements = preparesStatements
        self.queue = DispatchQueue(label: "tally.postgres.connection")
        self.cancelHandle = PQgetCancel(handle)
        self.serverProcessID = PQbackendPID(handle)
        let socket = PQsocket(handle)
        self.abortSocket = socket >= 0 ? dup(socket) : -1
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        PQfinish(handle)
        if abortSocket >= 0 { close(abortSocket) }
    }

    /// How long a connection attempt may take, in seconds, unless the URL's `connect_timeout`
    /// or `PGCONNECT_TIMEOUT` says otherwise. libpq's own default is to wait for ever, and a
    /// server that accepts the connection and never answers (a hung host, a network dropping
    /// packets) then holds a pool slot, a reconnect loop or a shutdown for good.
    public static let defaultConnectTimeout = 5

    /// Connects to `url` (a `postgresql://` URL or a libpq key=value string). Blocks, at most
    /// `defaultConnectTimeout` seconds per host unless the URL says otherwise.
    /// `settings` are session settings (name → value) applied right after connecting.
    /// `limits`: the session's timeouts and TCP keepalives (see `SessionLimits`); what the URL
    /// itself sets wins.
    public static func connect(_ url: String, applicationName: String = "tally", settings: [String: String] = [:],
                               limits: SessionLimits = .defaults) throws -> Connection {
        // The URL comes after the defaults so that what it says wins over them (libpq keeps the
        // last value of a repeated keyword); the environment's PGCONNECT_TIMEOUT only fills in
        // what is not given, so the default is left out when it is set.
        var keywords: [String?] = [], values: [String?] = []
        if ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"] == nil {
            keywords.append("connect_timeout")
            values.append(String(defaultConnectTimeout))
        }
        for (keyword, value) in limits.keepaliveParameters() {
            keywords.append(keyword)
            values.append(value)
        }
        keywords.append("dbname")
        values.append(url)
        // `options` is one keyword holding every -c: it comes after the URL and carries the
        // URL's own options (or PGOPTIONS), with the limits they do not set added in front.
        let given = SessionLimits.parameters(of: url)
        let existing = given?["options"] ?? ProcessInfo.processInfo.environment["PGOPTIONS"]
        // Pooled (TALLY_DB_PREPARED=off): no startup `options` — PgBouncer 1.18 (Debian 12)
        // refuses the connection for them, later ones apply only the few they track — and the
        // limits go with every transaction instead (`localSettings`).
        let pooled = !limits.preparedStatements
        if !pooled, let options = limits.startupOptions(existing: existing) {
            keywords.append("options")
            values.append(options)
        }
        keywords.append(nil)
        values.append(nil)
        let opened = withCStrings(keywords) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let handle = opened else {
            throw PostgresError(kind: .connection, message: "could not allocate a PostgreSQL connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(handle)
            throw PostgresError(kind: .connection, message: "could not connect to PostgreSQL: \(message)")
        }
        // Notices ("relation already exists, skipping") would go to stderr unasked.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        let sortedSettings = settings.sorted(by: { $0.key < $1.key }).map { (name: $0.key, value: $0.value) }
        var local: [(name: String, value: String)] = []
        if pooled {
            let fromURL = SessionLimits.settingNames(inOptions: existing ?? "")
            local = limits.serverSettings.filter { !fromURL.contains($0.name) }.map { (name: $0.name, value: String($0.milliseconds)) }
            local += sortedSettings
        }
        let connection = Connection(handle: handle, url: url, localSettings: local, preparesStatements: !pooled)
        // Every timestamp this code reads is UTC in PostgreSQL's ISO format. Both are
        // reported parameters (GUC_REPORT), which PgBouncer tracks per client and sets again on
        // every server connection it lends this one: safe as session settings even when pooled.
        _ = try connection.query("SELECT set_config('TimeZone', 'UTC', false), set_config('application_name', $1, false)", [applicationName])
        if !pooled {
            for (name, value) in sortedSettings {
                _ = try connection.query("SELECT set_config($1, $2, false)", [name, value])
            }
        }
        return connection
    }

    /// False once the server has closed the connection (restart, terminate) or a call broke it.
    /// Reads pending input without blocking, so a connection the server dropped while it sat
    /// idle in a pool is noticed before it is used, not by failing a request.
    public var isUsable: Bool {
        guard PQstatus(handle) == CONNECTION_OK else { return false }
        // Left in pipeline mode by a pipeline that broke halfway (`sendingLocalSettings`).
        guard PQpipelineStatus(handle) == PQ_PIPELINE_OFF else { return false }
        // A terminated backend sends an error and then closes: the first read takes the
        // message (parsed by PQisBusy), the second sees the end of the stream.
        guard PQconsumeInput(handle) == 1 else { return false }
        _ = PQisBusy(handle)
        guard PQconsumeInput(handle) == 1 else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// The server process serving this connection (read once at connect time, so other
    /// threads may read it too).
    public let serverProcessID: Int32

    /// The value libpq uses for a connection parameter (`keepalives_idle`, `options`, …), as
    /// `PQconninfo` reports it; nil when unset or unknown.
    public func connectionOption(_ keyword: String) -> String? {
        guard let info = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(info) }
        var option = info
        while let k = option.pointee.keyword {
            if String(cString: k) == keyword { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
    }

    // MARK: Cancelling from another thread

    /// Asks the server to cancel what this connection is running (`PQcancel`): the statement
    /// then fails with SQLSTATE 57014 and the connection stays usable; when nothing runs, the
    /// request does nothing. Safe from any thread while the owner is inside a call, but it
    /// blocks (it opens a connection to the server and waits for it to close): never call it
    /// on Swift's cooperative pool. Returns false when the request could not be sent.
    @discardableResult
    public func requestCancel() -> Bool {
        guard let cancelHandle else { return false }
        var buffer = [CChar](repeating: 0, count: 256)
        return PQcancel(cancelHandle, &buffer, Int32(buffer.count)) == 1
    }

    /// Cuts the connection at once (`shutdown` of its socket): a call blocked on it returns
    /// with a connection error and the connection is broken for good. For a server that does
    /// not answer even a cancel request (stopped, or behind a network that drops everything).
    /// Safe from any thread; does not block.
    public func abort() {
        if abortSocket >= 0 { _ = shutdown(abortSocket, Int32(SHUT_RDWR)) }
    }

    // MARK: Queries

    /// Runs one statement with parameters and returns its rows.
    @discardableResult
    public func query(_ query: Query, _ params: [any PostgresEncodable] = []) throws -> Rows {
        let texts = params.map { $0.postgresText }
        if !localSettings.isEmpty && !isInTransaction {
            // Pooled, and a statement on its own: its implicit transaction gets the settings.
            return try sendingLocalSettings(before: query, texts)
        }
        return try withCStrings(texts) { values in
            let result: OpaquePointer?
            if preparesStatements, let name = query.name {
                if !prepared.contains(name) {
                    let prep = PQprepare(handle, name, query.text, Int32(texts.count), nil)
                    try check(prep, query: query)
                    PQclear(prep)
                    prepared.insert(name)
                }
                result = PQexecPrepared(handle, name, Int32(texts.count), values, nil, nil, 0)
            } else {
                result = PQexecParams(handle, query.text, Int32(texts.count), nil, values, nil, nil, 0)
            }
            return try rows(from: result, query: query)
        }
    }

    /// Runs SQL text with no parameters through the simple protocol: several statements may
    /// be sent at once (migrations). Never pass text built from input.
    public func execute(_ sql: String) throws {
        let result = PQexec(handle, sql)
        _ = try rows(from: result, query: Query(adHoc: sql))
    }

    // MARK: COPY

    /// The bytes handed to libpq per `PQputCopyData` call by `copyIn` (one CopyData message).
    /// Measured with batches of 10,000 jobs by `Enqueuer` (`TALLY_BENCH_COPY_SWEEP=1 ops/bench
    /// --only queue`: release build, one connection, fsync on, this shared 2-core machine;
    /// jobs/s over 2 s runs, two sweeps, 5 runs a size unless said): 8 KiB 245–317k (3 runs),
    /// 16 KiB 223–346k (mean 286k), 32 KiB 223–326k (3 runs), 64 KiB 203–330k (277k),
    /// 256 KiB 248–317k (297k), 1 MiB 290–319k (302k), 4 MiB 301–306k (2 runs). No size beats
    /// another beyond the machine's noise; from 256 KiB up the runs are steadier, and the
    /// server, not the client, is the limit (a psql `\copy` of the same 10,000 rows takes
    /// ~33 ms of server time: ~300k/s). 256 KiB keeps the buffers small.
    public static let defaultCopyChunkBytes = 256 << 10

    /// Runs `sql`, a `COPY … FROM STDIN (FORMAT binary)`, and streams `rows` to it: each row is
    /// one tuple of `columns` fields, which `encode` appends to the writer in the COPY's column
    /// order. Bytes go to the server in messages of about `chunkBytes`. Returns the row count
    /// the server reports. Blocks, like `query`.
    ///
    /// All or nothing: a row the server refuses (a constraint, invalid jsonb, a value out of
    /// range) fails the whole COPY with the server's `PostgresError` and SQLSTATE, and nothing
    /// of it stays; so does an error thrown by `encode` or the writer (a tuple with the wrong
    /// field count, a value that does not fit), which ends the COPY with a failure first and
    /// is rethrown. Either way the connection is left usable (out of COPY mode); inside a
    /// transaction, the transaction is aborted as by any failed statement.
    /// `sql` is sent as text through the simple protocol: never build it from input.
    @discardableResult
    public func copyIn<Rows: Sequence>(_ sql: String, columns: Int, rows: Rows, chunkBytes: Int = Connection.defaultCopyChunkBytes,
                                       encode: (inout CopyBinaryWriter, Rows.Element) throws -> Void) throws -> Int {
        let chunk = min(max(chunkBytes, 1 << 10), 1 << 30)
        var writer = try CopyBinaryWriter(columnCount: columns, reservingCapacity: chunk + (chunk >> 2))
        let query = Query(adHoc: sql)
        let start = PQexec(handle, sql)
        guard let start else {
            throw PostgresError(kind: .connection, message: "PostgreSQL connection failed: \(errorMessage)")
        }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            // Not a COPY FROM STDIN, or refused (a missing table, no INSERT privilege).
            let status = PQresultStatus(start)
            let error = status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR
                ? makeError(start, query: query)
                : PostgresError(kind: .usage, message: "not a COPY FROM STDIN: \(String(sql.prefix(60)))")
            PQclear(start)
            _ = finishCopyResults(query: query)
            throw error
        }
        PQclear(start)
        do {
            for row in rows {
                try writer.beginTuple()
                try encode(&writer, row)
                try writer.endTuple()
                if writer.byteCount >= chunk { try sendCopyData(&writer) }
            }
            try writer.finish()
            try sendCopyData(&writer)
        } catch {
            // Ends the COPY with a failure (the server rolls it back) before rethrowing.
            _ = PQputCopyEnd(handle, "tally: the client stopped the COPY: \(error)")
            _ = finishCopyResults(query: query)
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            let message = errorMessage
            _ = finishCopyResults(query: query)
            throw PostgresError(kind: .connection, message: "could not end the COPY: \(message)")
        }
        switch finishCopyResults(query: query) {
        case .success(let count): return count
        case .failure(let error): throw error
        }
    }

    /// Runs `sql`, a `COPY … TO STDOUT`, and returns every byte it sent (for a binary COPY,
    /// the whole stream from header to trailer). For small outputs: tests, checks.
    public func copyOut(_ sql: String) throws -> [UInt8] {
        let query = Query(adHoc: sql)
        guard let start = PQexec(handle, sql) else {
            throw PostgresError(kind: .connection, message: "PostgreSQL connection failed: \(errorMessage)")
        }
        guard PQresultStatus(start) == PGRES_COPY_OUT else {
            let status = PQresultStatus(start)
            let error = status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR
                ? makeError(start, query: query)
                : PostgresError(kind: .usage, message: "not a COPY TO STDOUT: \(String(sql.prefix(60)))")
            PQclear(start)
            _ = finishCopyResults(query: query)
            throw error
        }
        PQclear(start)
        var out: [UInt8] = []
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(handle, &buffer, 0)
            if n > 0, let buffer {
                buffer.withMemoryRebound(to: UInt8.self, capacity: Int(n)) {
                    out.append(contentsOf: UnsafeBufferPointer(start: $0, count: Int(n)))
                }
                PQfreemem(buffer)
            } else {
                if let buffer { PQfreemem(buffer) }
                break  // -1: done (the result follows); -2: failed (the error follows)
            }
        }
        switch finishCopyResults(query: query) {
        case .success: return out
        case .failure(let error): throw error
        }
    }

    /// Sends what the writer holds as CopyData messages and empties it.
    private func sendCopyData(_ writer: inout CopyBinaryWriter) throws {
        let sent: Bool = writer.drain { buffer in
            guard let base = buffer.baseAddress else { return true }
            var offset = 0
            // One message per call; the writer holds at most a chunk plus one row, but a
            // single field may be up to 2 GiB: cut so that each length fits libpq's int.
            while offset < buffer.count {
                let n = min(buffer.count - offset, 1 << 30)
                let ok = UnsafeRawPointer(base + offset).withMemoryRebound(to: CChar.self, capacity: n) {
                    PQputCopyData(handle, $0, Int32(n)) == 1
                }
                guard ok else { return false }
                offset += n
            }
            return true
        }
        guard sent else {
            throw PostgresError(kind: .connection, message: "could not send COPY data: \(errorMessage)")
        }
    }

    /// Reads every result of a COPY until libpq has none left (PQgetResult gives NULL), so the
    /// connection is ready for the next statement: the row count of the command's success, or
    /// its first error.
    private func finishCopyResults(query: Query) -> Result<Int, PostgresError> {
        var count: Int?
        var failure: PostgresError?
        // A bounded loop: a connection stuck in COPY mode must not spin for ever.
        for _ in 0..<64 {
            guard let result = PQgetResult(handle) else { break }
            let status = PQresultStatus(result)
            if status == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if status == PGRES_COPY_IN {
                // Still in COPY IN (only after an error of ours): end it with a failure.
                _ = PQputCopyEnd(handle, "tally: the COPY was abandoned")
            } else if status == PGRES_COPY_OUT {
                // Read and drop the rest of the copy-out stream.
                var buffer: UnsafeMutablePointer<CChar>?
                while PQgetCopyData(handle, &buffer, 0) > 0 {
                    if let b = buffer { PQfreemem(b) }
                    buffer = nil
                }
            } else if failure == nil {
                failure = makeError(result, query: query)
            }
            PQclear(result)
        }
        if let failure { return .failure(failure) }
        if let count { return .success(count) }
        return .failure(PostgresError(kind: .connection, message: "the COPY got no answer: \(errorMessage)"))
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    /// Nested calls use a savepoint, so an inner failure undoes only the inner work.
    @discardableResult
    public func transaction<T>(_ body: (Connection) throws -> T) throws -> T {
        if isInTransaction { return try savepoint(body) }
        if localSettings.isEmpty {
            try execute("BEGIN")
        } else {
            do {
                try sendingLocalSettings(before: nil, [])
            } catch {
                // BEGIN may have opened a transaction the settings then aborted.
                if PQstatus(handle) == CONNECTION_OK && isInTransaction { try? execute("ROLLBACK") }
                throw error
            }
        }
        do {
            let value = try body(self)
            try execute("COMMIT")
            runAfterCommit()
            return value
        } catch {
            afterCommit.removeAll()
            if PQstatus(handle) == CONNECTION_OK && isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Actions waiting for the open transaction's COMMIT (dropped at ROLLBACK).
    private var afterCommit: [() -> Void] = []

    /// Runs `action` once what this connection has written so far is committed: at once when
    /// no transaction is open (the last statement committed on its own), otherwise after the
    /// COMMIT of `transaction`; never if it rolls back. Only transactions opened with
    /// `transaction` run these (a hand-written `BEGIN`/`COMMIT` would not), and a savepoint
    /// rolled back keeps them: meant for wake-ups, where one too many costs nothing.
    public func onCommit(_ action: @escaping () -> Void) {
        if isInTransaction { afterCommit.append(action) } else { action() }
    }

    private func runAfterCommit() {
        let actions = afterCommit
        afterCommit.removeAll()
        for action in actions { action() }
    }

    private var savepointDepth = 0

    /// Runs `body` inside `SAVEPOINT`; a throw rolls back to it and rethrows, leaving the
    /// surrounding transaction usable.
    public func savepoint<T>(_ body: (Connection) throws -> T) throws -> T {
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let name = "sp\(savepointDepth)"
        try execute("SAVEPOINT \(name)")
        do {
            let value = try body(self)
            try execute("RELEASE SAVEPOINT \(name)")
            return value
        } catch {
            if PQstatus(handle) == CONNECTION_OK { try? execute("ROLLBACK TO SAVEPOINT \(name)") }
            throw error
        }
    }

    // MARK: Transaction pooling

    /// One round trip, one pipeline with one Sync: `BEGIN` (when `query` is nil) or nothing,
    /// then `SELECT set_config(name, value, true), …` with `localSettings`, then `query` when
    /// given. Statements before one Sync share one transaction — the explicit one BEGIN opens,
    /// or the implicit one of the pipeline — so the settings hold for exactly that transaction
    /// on whichever server connection the pooler lends it, and never leak to another client.
    /// Returns `query`'s rows (or the BEGIN's, empty).
    @discardableResult
    private func sendingLocalSettings(before query: Query?, _ texts: [String?]) throws -> Rows {
        var statements: [(text: String, params: [String?])] = []
        if query == nil { statements.append(("BEGIN", [])) }
        let calls = localSettings.indices.map { "set_config($\($0 * 2 + 1), $\($0 * 2 + 2), true)" }
        statements.append(("SELECT " + calls.joined(separator: ", "), localSettings.flatMap { [$0.name, $0.value] }))
        if let query { statements.append((query.text, texts)) }
        let last = query ?? Query(adHoc: "BEGIN")

        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError(kind: .connection, message: "could not enter pipeline mode: \(errorMessage)")
        }
        defer { _ = PQexitPipelineMode(handle) }
        for statement in statements {
            let sent = withCStrings(statement.params) { values in
                PQsendQueryParams(handle, statement.text, Int32(statement.params.count), nil, values, nil, nil, 0)
            }
            guard sent == 1 else { throw PostgresError(kind: .connection, message: "PostgreSQL connection failed: \(errorMessage)") }
        }
        guard PQpipelineSync(handle) == 1 else {
            throw PostgresError(kind: .connection, message: "PostgreSQL connection failed: \(errorMessage)")
        }
        // One result per statement, each followed by a NULL, then the Sync's. Bounded: a
        // broken connection answers NULL for ever.
        var results: [OpaquePointer] = []
        defer { for r in results { PQclear(r) } }
        var nulls = 0
        while nulls < 3 {
            guard let result = PQgetResult(handle) else {
                nulls += 1
                continue
            }
            nulls = 0
            if PQresultStatus(result) == PGRES_PIPELINE_SYNC {
                PQclear(result)
                break
            }
            results.append(result)
        }
        guard results.count == statements.count else {
            throw PostgresError(kind: .connection, message: "PostgreSQL connection failed: \(errorMessage)")
        }
        // The first failure is the one to report (those after it are PGRES_PIPELINE_ABORTED).
        for (index, result) in results.enumerated().dropLast() where PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK {
            throw makeError(result, query: index == 0 && query == nil ? Query(adHoc: "BEGIN") : Query(adHoc: statements[index].text))
        }
        let final = results.removeLast()
        return try rows(from: final, query: last)
    }

    // MARK: LISTEN / NOTIFY support (see Listener)

    var socket: Int32 { PQsocket(handle) }

    /// Reads what the server sent and returns the notifications received, without blocking.
    func drainNotifications() throws -> [PostgresNotification] {
        guard PQconsumeInput(handle) == 1 else {
            throw PostgresError(kind: .connection, message: "lost the LISTEN connection: \(errorMessage)")
        }
        var out: [PostgresNotification] = []
        while let n = PQnotifies(handle) {
            let channel = String(cString: n.pointee.relname)
            let payload = String(cString: n.pointee.extra)
            out.append(PostgresNotification(channel: channel, payload: payload))
            PQfreemem(n)
        }
        return out
    }

    // MARK: Internals

    var errorMessage: String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func check(_ result: OpaquePointer?, query: Query) throws {
        guard let result else {
            throw PostgresError(kind: .connection, message: "PostgreSQL connection failed: \(errorMessage)")
        }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return }
        let error = makeError(result, query: query)
        PQclear(result)
        throw error
    }

    private func rows(from result: OpaquePointer?, query: Query) throws -> Rows {
        try check(result, query: query)
        let result = result!
        defer { PQclear(result) }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        columns.reserveCapacity(columnCount)
        for c in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(c)))) }
        var cells: [String?] = []
        cells.reserveCapacity(rowCount * columnCount)
        for r in 0..<rowCount {
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                    let ptr = PQgetvalue(result, Int32(r), Int32(c))!
                    cells.append(ptr.withMemoryRebound(to: UInt8.self, capacity: length) {
                        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                    })
                }
            }
        }
        let affectedText = String(cString: PQcmdTuples(result))
        let affected = Int(affectedText) ?? rowCount
        return Rows(columns: columns, cells: cells, affected: affected)
    }

    private func makeError(_ result: OpaquePointer, query: Query) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            guard let p = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: p)
        }
        let sqlState = field(UInt8(ascii: "C"))
        let primary = field(UInt8(ascii: "M")) ?? errorMessage
        let broken = PQstatus(handle) != CONNECTION_OK
        return PostgresError(
            kind: broken ? .connection : .server,
            sqlState: sqlState,
            message: "\(primary) [in \(query.name ?? String(query.text.prefix(60)))]",
            detail: field(UInt8(ascii: "D")),
            constraint: field(UInt8(ascii: "n")))
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings` (nil stays NULL).
func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for p in copies { free(p) } }
    return try body(copies.map { $0.map { UnsafePointer($0) } })
}
