import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// `CopyBinaryWriter` against the bytes PostgreSQL itself writes, and `Connection.copyIn`'s
/// all-or-nothing errors.
final class CopyBinaryTests: XCTestCase {
    /// One tuple of every type the job table needs, encoded by the writer, is byte for byte what
    /// `COPY (SELECT …) TO STDOUT (FORMAT binary)` sends for the same values (header, tuple,
    /// trailer).
    func testTupleOfEachTypeMatchesWhatPostgreSQLWrites() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.execute("CREATE TYPE mood AS ENUM ('sad', 'scheduled', 'ünï')")
        // jsonb is written in PostgreSQL's normal form (a space after ':' and ','), so the text
        // given here is in that form already; what the server does with other spellings is
        // checked by the round trip below.
        let json = #"{"a": [1, "x\"y", 12345678901234567890.5], "é": null}"#
        let stamp = "2024-02-29 12:34:56.789012+00"
        let fromServer = try c.copyOut("""
            COPY (SELECT 'héllo ✓'::text, '\(json)'::jsonb, (-2)::int2, 123456::int4, (-9007199254740993)::int8,
                         true, false, '\(stamp)'::timestamptz, '2000-01-01 00:00:00+00'::timestamptz,
                         '1999-12-31 23:59:59.999999+00'::timestamptz, 'ünï'::mood, NULL::text, ''::text,
                         (-32768)::int2, 2147483647::int4)
            TO STDOUT (FORMAT binary)
            """)
        var w = try CopyBinaryWriter(columnCount: 15)
        try w.beginTuple()
        try w.text("héllo ✓")
        try w.jsonb(json)
        try w.int2(-2)
        try w.int4(123_456)
        try w.int8(-9_007_199_254_740_993)
        try w.bool(true)
        try w.bool(false)
        // 2024-02-29 12:34:56.789012 UTC, from a Date (rounded to the microsecond).
        try w.timestamptz(Date(timeIntervalSince1970: 1_709_210_096.789012))
        try w.timestamptz(microsSincePostgresEpoch: 0)
        try w.timestamptz(microsSincePostgresEpoch: -1)
        try w.enumLabel("ünï")
        try w.null()
        try w.text("")
        try w.int2(-32768)
        try w.int4(Int(Int32.max))
        try w.endTuple()
        try w.finish()
        XCTAssertEqual(w.bytes, fromServer, "\n\(hex(w.bytes))\n\(hex(fromServer))")
        // The layout spelled out for the start of the stream: signature, flags, extension,
        // field count 15, then the text field's length and bytes.
        XCTAssertEqual(Array(w.bytes.prefix(11)), Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00])
        XCTAssertEqual(Array(w.bytes[11..<19]), [0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(w.bytes[19..<21]), [0, 15])
        XCTAssertEqual(Array(w.bytes[21..<25]), [0, 0, 0, UInt8("héllo ✓".utf8.count)])
        XCTAssertEqual(Array(w.bytes.suffix(2)), [0xFF, 0xFF], "trailer -1")
    }

    /// The same types through `copyIn` and back as text: the server reads what the writer wrote.
    func testCopyInRoundTripsEveryType() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.execute("""
            CREATE TYPE mood AS ENUM ('sad', 'scheduled');
            CREATE TABLE t (id int8 PRIMARY KEY, s text, j jsonb, a int2, b int4, ok bool, at timestamptz, m mood)
            """)
        struct Row { let id: Int64; let s: String?; let j: String; let a: Int; let b: Int; let ok: Bool; let at: Int64; let m: String }
        var rows: [Row] = []
        for i in 0..<1000 {
            let s: String? = i % 3 == 0 ? nil : "row \(i) \u{1F600} \"q\" \\ \t\n"
            let j: String = #"{"i":\#(i),"n":1.000000000000000000001,"u":"\u00e9\ud83d\ude00","e":"a\"b\\c\n"}"#
            let a: Int = i % 2 == 0 ? Int(Int16.min) : i
            let at: Int64 = Int64(i) * 86_400_000_000 - 1
            let m: String = i % 2 == 0 ? "sad" : "scheduled"
            rows.append(Row(id: Int64(i) - 500, s: s, j: j, a: a, b: -i * 1000, ok: i % 2 == 0, at: at, m: m))
        }
        let n = try c.copyIn("COPY t (id, s, j, a, b, ok, at, m) FROM STDIN (FORMAT binary)", columns: 8, rows: rows, chunkBytes: 4096) { w, r in
            try w.int8(r.id)
            if let s = r.s { try w.text(s) } else { try w.null() }
            try w.jsonb(r.j)
            try w.int2(r.a)
            try w.int4(r.b)
            try w.bool(r.ok)
            try w.timestamptz(microsSincePostgresEpoch: r.at)
            try w.enumLabel(r.m)
        }
        XCTAssertEqual(n, 1000)
        let back = try c.query("""
            SELECT id, s, j->>'u' AS u, j->>'e' AS e, (j->'n')::text AS n, a, b, ok,
                   ((EXTRACT(EPOCH FROM at) - 946684800) * 1000000)::bigint AS at, m::text AS m
            FROM t ORDER BY id
            """)
        XCTAssertEqual(back.count, 1000)
        for (row, r) in zip(back, rows) {
            XCTAssertEqual(try row.int64("id"), r.id)
            XCTAssertEqual(try row.optString("s"), r.s)
            XCTAssertEqual(try row.string("u"), "é\u{1F600}")
            XCTAssertEqual(try row.string("e"), "a\"b\\c\n")
            XCTAssertEqual(try row.string("n"), "1.000000000000000000001", "numbers stay exact")
            XCTAssertEqual(try row.int("a"), r.a)
            XCTAssertEqual(try row.int("b"), r.b)
            XCTAssertEqual(try row.bool("ok"), r.ok)
            XCTAssertEqual(try row.int64("at"), r.at)
            XCTAssertEqual(try row.string("m"), r.m)
        }
    }

    /// A row the server refuses fails the whole COPY with its SQLSTATE; so does an error of the
    /// encoder. Nothing is inserted, and the connection is ready for the next statement.
    func testABadRowFailsTheWholeCopyAndTheConnectionStaysUsable() throws {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try c.execute("CREATE TABLE t (id int8 PRIMARY KEY, n int4 NOT NULL CHECK (n >= 0), j jsonb)")
        let copy = "COPY t (id, n, j) FROM STDIN (FORMAT binary)"
        // A CHECK violation in row 2,500 of 5,000, after several chunks were sent.
        XCTAssertThrowsError(try c.copyIn(copy, columns: 3, rows: 0..<5000, chunkBytes: 1024) { w, i in
            try w.int8(Int64(i))
            try w.int4(i == 2500 ? -1 : i)
            try w.jsonb("{}")
        }) { error in
            let e = error as? PostgresError
            XCTAssertEqual(e?.kind, .server)
            XCTAssertEqual(e?.sqlState, "23514", "\(error)")
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM t"), 0)
        XCTAssertTrue(c.isUsable)
        XCTAssertFalse(c.isInTransaction)
        // jsonb the server cannot store (\u0000), NULL in a NOT NULL column, a duplicate key.
        for (bad, state) in [("\u{0}json", "22P05"), ("null", "23502"), ("dup", "23505")] {
            XCTAssertThrowsError(try c.copyIn(copy, columns: 3, rows: 0..<10) { w, i in
                try w.int8(bad == "dup" && i == 9 ? 0 : Int64(i))
                if bad == "null" && i == 5 { try w.null() } else { try w.int4(i) }
                try w.jsonb(bad == "\u{0}json" && i == 7 ? #"{"s": "a\u0000b"}"# : "{}")
            }) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, state, "\(bad): \(error)")
                XCTAssertEqual((error as? PostgresError)?.isRefusedData, true)
            }
        }
        // The encoder's own errors: a value out of its column's range, a missing field, an
        // error of the caller's. Each ends the COPY with a failure and is rethrown as it was.
        struct Stop: Error {}
        XCTAssertThrowsError(try c.copyIn(copy, columns: 3, rows: 0..<10) { w, i in
            try w.int8(Int64(i))
            try w.int4(i == 3 ? Int(Int32.max) + 1 : i)
            try w.jsonb("{}")
        }) { XCTAssertEqual(($0 as? PostgresError)?.kind, .usage, "\($0)") }
        XCTAssertThrowsError(try c.copyIn(copy, columns: 3, rows: 0..<10) { w, i in
            try w.int8(Int64(i))
            try w.int4(i)
            if i != 4 { try w.jsonb("{}") }
        }) { XCTAssertEqual(($0 as? PostgresError)?.kind, .usage, "\($0)") }
        XCTAssertThrowsError(try c.copyIn(copy, columns: 3, rows: 0..<10) { w, i in
            if i == 6 { throw Stop() }
            try w.int8(Int64(i))
            try w.int4(i)
            try w.jsonb("{}")
        }) { XCTAssertTrue($0 is Stop, "\($0)") }
        XCTAssertEqual(try db.int("SELECT count(*) FROM t"), 0)
        // Not a COPY, and a COPY of a table that does not exist.
        XCTAssertThrowsError(try c.copyIn("SELECT 1", columns: 1, rows: [1]) { w, _ in try w.int4(1) }) {
            XCTAssertEqual(($0 as? PostgresError)?.kind, .usage, "\($0)")
        }
        XCTAssertThrowsError(try c.copyIn("COPY missing (x) FROM STDIN (FORMAT binary)", columns: 1, rows: [1]) { w, _ in try w.int4(1) }) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, "42P01", "\($0)")
        }
        // Still usable, outside a transaction and inside one.
        XCTAssertEqual(try c.copyIn(copy, columns: 3, rows: 0..<3) { w, i in
            try w.int8(Int64(i)); try w.int4(i); try w.jsonb("[]")
        }, 3)
        try c.transaction { tx in
            XCTAssertEqual(try tx.copyIn(copy, columns: 3, rows: 3..<5) { w, i in
                try w.int8(Int64(i)); try w.int4(i); try w.null()
            }, 2)
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM t"), 5)
        XCTAssertEqual(try c.query("SELECT 1 AS one").first?.int("one"), 1)
    }

    /// What the writer refuses, it refuses without trapping and without writing half a field.
    func testWriterRefusesWhatDoesNotFit() throws {
        XCTAssertThrowsError(try CopyBinaryWriter(columnCount: 0))
        XCTAssertThrowsError(try CopyBinaryWriter(columnCount: 40_000))
        var w = try CopyBinaryWriter(columnCount: 2)
        XCTAssertThrowsError(try w.int4(1), "a field outside a tuple")
        try w.beginTuple()
        let before = w.bytes
        XCTAssertThrowsError(try w.int2(40_000))
        XCTAssertThrowsError(try w.int2(-40_000))
        XCTAssertThrowsError(try w.int4(Int(Int32.min) - 1))
        XCTAssertThrowsError(try w.timestamptz(Date(timeIntervalSince1970: 1e300)))
        XCTAssertThrowsError(try w.timestamptz(Date(timeIntervalSince1970: -1e300)))
        XCTAssertThrowsError(try w.timestamptz(Date(timeIntervalSince1970: .nan)))
        XCTAssertThrowsError(try w.timestamptz(Date(timeIntervalSince1970: .infinity)))
        XCTAssertEqual(w.bytes, before, "nothing written by a refused field")
        XCTAssertThrowsError(try w.endTuple(), "a tuple without its fields")
        XCTAssertThrowsError(try w.finish(), "a trailer inside a tuple")
        try w.int8(1)
        try w.bool(true)
        XCTAssertThrowsError(try w.text("third"), "more fields than columns")
        XCTAssertThrowsError(try w.beginTuple(), "the open tuple is not ended")
        try w.endTuple()
        try w.finish()
        XCTAssertThrowsError(try w.beginTuple(), "nothing after the trailer")
        XCTAssertEqual(try CopyBinaryWriter.postgresMicros(Date(timeIntervalSince1970: 946_684_800.000001)), 1)
        XCTAssertEqual(try CopyBinaryWriter.postgresMicros(Date(timeIntervalSince1970: 0)), -946_684_800_000_000)
    }

    private func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
}
