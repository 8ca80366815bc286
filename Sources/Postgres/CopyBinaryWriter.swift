import Foundation

/// Rows in PostgreSQL's binary COPY format, for `Connection.copyIn` (`COPY … FROM STDIN
/// (FORMAT binary)`). PostgreSQL's COPY reference, "Binary Format":
///
///     header   11 bytes "PGCOPY\n\377\r\n\0", int32 flags (0: no OIDs), int32 length of the
///              header extension (0) and the extension itself (none)
///     tuple    int16 field count, then per field an int32 length (-1: NULL) and that many bytes
///     trailer  int16 -1
///
/// Every integer is in network byte order. Each field carries its type's binary "send" form:
/// `text` and enum labels their UTF-8 bytes, `jsonb` a version byte 1 then the JSON text,
/// `int2`/`int4`/`int8` big-endian integers, `bool` one byte 0 or 1, `timestamptz` an int64
/// of microseconds since 2000-01-01 00:00 UTC. The column types are the COPY's, in its column
/// order: the writer only counts fields, the server checks the bytes against the types.
///
/// Nothing here traps: a field longer than an int32 length, an integer out of its column's
/// range, a date that is not a finite timestamp, a tuple with too few or too many fields all
/// throw a `PostgresError` of kind `.usage`, and leave the bytes written so far as they were.
public struct CopyBinaryWriter: Sendable {
    /// The 11-byte signature that opens every binary COPY stream.
    public static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
    /// Seconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC).
    public static let postgresEpochUnixSeconds: Int64 = 946_684_800

    /// Fields per tuple.
    public let columnCount: Int
    /// The encoded bytes not yet taken by `drain` (the header first, then tuples).
    public private(set) var bytes: [UInt8]
    /// Tuples begun so far.
    public private(set) var tupleCount = 0
    /// Fields the open tuple still owes; 0 between tuples.
    private var fieldsLeft = 0
    private var inTuple = false
    private var finished = false

    /// Starts a stream of tuples of `columnCount` fields (1 to 32,767) with the header.
    /// `reservingCapacity`: bytes to reserve up front (a chunk's worth).
    public init(columnCount: Int, reservingCapacity: Int = 0) throws {
        guard columnCount >= 1, columnCount <= Int(Int16.max) else {
            throw PostgresError(kind: .usage, message: "a binary COPY tuple has 1 to 32767 fields, not \(columnCount)")
        }
        self.columnCount = columnCount
        bytes = []
        bytes.reserveCapacity(max(reservingCapacity, 64))
        bytes.append(contentsOf: CopyBinaryWriter.signature)
        append(Int32(0))  // flags: no OIDs
        append(Int32(0))  // header extension: none
    }

    /// The byte count waiting in `bytes`.
    public var byteCount: Int { bytes.count }

    // MARK: Tuples

    /// Opens the next tuple (its field count).
    public mutating func beginTuple() throws {
        guard !finished else { throw usage("a tuple after the trailer") }
        guard !inTuple else { throw usage("tuple \(tupleCount) has \(columnCount - fieldsLeft) of its \(columnCount) fields") }
        append(Int16(columnCount))  // checked in init: fits
        inTuple = true
        fieldsLeft = columnCount
        tupleCount += 1
    }

    /// Closes the open tuple; throws when it lacks fields.
    public mutating func endTuple() throws {
        guard inTuple else { throw usage("endTuple without beginTuple") }
        guard fieldsLeft == 0 else { throw usage("tuple \(tupleCount) has \(columnCount - fieldsLeft) of its \(columnCount) fields") }
        inTuple = false
    }

    /// Writes the trailer: nothing may follow.
    public mutating func finish() throws {
        guard !finished else { return }
        guard !inTuple else { throw usage("tuple \(tupleCount) has \(columnCount - fieldsLeft) of its \(columnCount) fields") }
        append(Int16(-1))
        finished = true
    }

    /// Hands the bytes encoded so far to `body` and forgets them (keeping the buffer), so a
    /// stream is sent in chunks without growing.
    public mutating func drain<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        defer { bytes.removeAll(keepingCapacity: true) }
        return try bytes.withUnsafeBufferPointer { try body($0) }
    }

    // MARK: Fields

    /// SQL NULL (length -1).
    public mutating func null() throws {
        try openField()
        append(Int32(-1))
    }

    /// A `text` (or `varchar`) value: its UTF-8 bytes.
    public mutating func text(_ value: String) throws {
        let length = value.utf8.count
        try field(length: length)
        bytes.append(contentsOf: value.utf8)
    }

    /// An enum value (`job_state`): its label, as text.
    public mutating func enumLabel(_ label: String) throws { try text(label) }

    /// A `jsonb` value from JSON text: version 1, then the text (PostgreSQL parses it, and
    /// refuses the whole COPY when it is not valid jsonb).
    public mutating func jsonb(_ json: String) throws {
        let length = json.utf8.count
        guard length < Int(Int32.max) else { throw tooLong(length + 1) }
        try field(length: length + 1)
        bytes.append(1)
        bytes.append(contentsOf: json.utf8)
    }

    /// A `smallint`; throws when `value` does not fit in 16 bits.
    public mutating func int2(_ value: Int) throws {
        guard let v = Int16(exactly: value) else { throw usage("\(value) does not fit a smallint") }
        try field(length: 2)
        append(v)
    }

    /// An `integer`; throws when `value` does not fit in 32 bits.
    public mutating func int4(_ value: Int) throws {
        guard let v = Int32(exactly: value) else { throw usage("\(value) does not fit an integer") }
        try field(length: 4)
        append(v)
    }

    /// A `bigint`.
    public mutating func int8(_ value: Int64) throws {
        try field(length: 8)
        append(value)
    }

    /// A `boolean`: one byte, 1 or 0.
    public mutating func bool(_ value: Bool) throws {
        try field(length: 1)
        bytes.append(value ? 1 : 0)
    }

    /// A `timestamptz` given as microseconds since 2000-01-01 00:00 UTC (PostgreSQL's own form).
    public mutating func timestamptz(microsSincePostgresEpoch micros: Int64) throws {
        try field(length: 8)
        append(micros)
    }

    /// A `timestamptz` from a `Date`, rounded to the microsecond as the text parameters are
    /// (`Timestamp.iso8601Micros`).
    public mutating func timestamptz(_ date: Date) throws {
        try timestamptz(microsSincePostgresEpoch: CopyBinaryWriter.postgresMicros(date))
    }

    /// `date` as microseconds since 2000-01-01 00:00 UTC, rounded like the text parameters;
    /// throws for a date out of Int64's range (or NaN) rather than trapping.
    public static func postgresMicros(_ date: Date) throws -> Int64 {
        let unixMicros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        // Int64(exactly:) is nil for NaN, infinities and anything beyond ±2^63.
        guard let unix = Int64(exactly: unixMicros) else {
            throw PostgresError(kind: .usage, message: "the date \(date.timeIntervalSince1970) s since 1970 is out of timestamptz range")
        }
        let (micros, overflow) = unix.subtractingReportingOverflow(postgresEpochUnixSeconds * 1_000_000)
        guard !overflow else {
            throw PostgresError(kind: .usage, message: "the date \(date.timeIntervalSince1970) s since 1970 is out of timestamptz range")
        }
        return micros
    }

    // MARK: Internals

    private mutating func openField() throws {
        guard inTuple else { throw usage("a field outside a tuple (call beginTuple first)") }
        guard fieldsLeft > 0 else { throw usage("tuple \(tupleCount) has more than its \(columnCount) fields") }
        fieldsLeft -= 1
    }

    /// Opens a field of `length` bytes (its length word); the caller appends the bytes.
    private mutating func field(length: Int) throws {
        guard let n = Int32(exactly: length) else { throw tooLong(length) }
        try openField()
        append(n)
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private func usage(_ what: String) -> PostgresError {
        PostgresError(kind: .usage, message: "binary COPY: \(what)")
    }

    private func tooLong(_ length: Int) -> PostgresError {
        usage("a field of \(length) bytes is longer than the format's limit of \(Int32.max)")
    }
}
