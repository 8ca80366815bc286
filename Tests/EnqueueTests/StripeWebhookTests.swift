import Enqueue
import Foundation
import Support
import TestSupport
import XCTest

/// POST /webhooks/stripe against a running ingress (DESIGN.md, "Payments").
final class StripeWebhookTests: XCTestCase {
    func event(_ id: String, type: String = "checkout.session.completed") -> [UInt8] {
        Array(#"{"id":"\#(id)","object":"event","type":"\#(type)","created":1756300000,"api_version":"2025-08-27.basil","data":{"object":{}}}"#.utf8)
    }

    static func send(_ h: IngressHarness, _ body: [UInt8], signature: String?) throws -> RawHTTPClient.Response {
        var headers = ["Content-Type": "application/json"]
        if let signature { headers["Stripe-Signature"] = signature }
        let client = try h.client()
        try client.send(RawHTTPClient.format("POST", "/webhooks/stripe", headers: headers, body: body))
        return try client.readResponse()
    }

    func testEventDeliveredThreeTimesAtOnceIsEnqueuedOnce() async throws {
        let h = try IngressHarness()
        let body = event("evt_three_at_once")
        let signature = IngressHarness.stripeSignature(body)
        // Three deliveries in flight together, each on its own connection.
        let answers = try await withThrowingTaskGroup(of: RawHTTPClient.Response.self) { group in
            for _ in 0..<3 {
                group.addTask { try await RawHTTPClient.run { try Self.send(h, body, signature: signature) } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(answers.map(\.status), [200, 200, 200], answers.map(\.text).joined(separator: "\n"))
        let jobIDs = Set(answers.compactMap { $0.json?["job_id"]?.int64 })
        XCTAssertEqual(jobIDs.count, 1, "every delivery answers the same job")
        XCTAssertEqual(try h.jobCount("stripe.event"), 1)
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM stripe_events WHERE id = 'evt_three_at_once'"), 1)
        XCTAssertEqual(try h.db.int("SELECT job_id FROM stripe_events WHERE id = 'evt_three_at_once'"), jobIDs.first)
        XCTAssertEqual(try h.db.scalar("SELECT args->>'event_id' FROM jobs WHERE kind = 'stripe.event'"), "evt_three_at_once")
        XCTAssertEqual(try h.db.scalar("SELECT queue FROM jobs WHERE kind = 'stripe.event'"), "payments")
        XCTAssertEqual(try h.db.scalar("SELECT unique_key FROM jobs WHERE kind = 'stripe.event'"), "stripe:evt_three_at_once")
    }

    func testRedeliveryThatIsNotByteIdenticalIsAnswered200NotApplied() throws {
        let h = try IngressHarness()
        let first = event("evt_redelivered")
        let again = Array(#"{"api_version":"2025-08-27.basil","created":1756300000,"data":{"object":{}},"id":"evt_redelivered","object":"event","type":"checkout.session.completed"}"#.utf8)
        let a = try Self.send(h, first, signature: IngressHarness.stripeSignature(first))
        let b = try Self.send(h, again, signature: IngressHarness.stripeSignature(again))
        XCTAssertEqual([a.status, b.status], [200, 200], b.text)
        XCTAssertEqual(a.json?["job_id"], b.json?["job_id"])
        XCTAssertEqual(try h.jobCount(), 1)
    }

    func testRotatedSecretsAndSeveralSignaturesAreAccepted() throws {
        let h = try IngressHarness(environment: ["STRIPE_WEBHOOK_SECRET": "whsec_old_one, whsec_new_one"])
        let a = event("evt_old_secret"), b = event("evt_new_secret"), c = event("evt_two_v1")
        XCTAssertEqual(try Self.send(h, a, signature: IngressHarness.stripeSignature(a, secret: "whsec_old_one")).status, 200)
        XCTAssertEqual(try Self.send(h, b, signature: IngressHarness.stripeSignature(b, secret: "whsec_new_one")).status, 200)
        // Several v1 values (Stripe sends one per active secret), a v0 and an unknown scheme.
        let t = Int(Date().timeIntervalSince1970)
        let good = Crypto.hmacSHA256Hex(key: "whsec_new_one", message: Array("\(t).".utf8) + c)
        let header = "t=\(t),v1=\(String(repeating: "ab", count: 32)),v0=deadbeef,v1=\(good),v9=zz"
        XCTAssertEqual(try Self.send(h, c, signature: header).status, 200)
        XCTAssertEqual(try h.jobCount("stripe.event"), 3)
    }

    func testBadDeliveriesAreRejectedAndNothingIsEnqueued() throws {
        let h = try IngressHarness()
        let body = event("evt_bad")
        let now = Int(Date().timeIntervalSince1970)
        var tampered = body
        tampered[tampered.count - 3] = UInt8(ascii: "7")  // `{}` → `7}`: still signed as the original
        let malformed = Array(#"{"id":"evt_bad","type":"x","created":1,"#.utf8)
        let cases: [(String, [UInt8], String?, String)] = [
            ("stale timestamp", body, IngressHarness.stripeSignature(body, timestamp: now - 301), "invalid_signature"),
            ("wrong secret", body, IngressHarness.stripeSignature(body, secret: "whsec_someone_else"), "invalid_signature"),
            ("tampered body", tampered, IngressHarness.stripeSignature(body), "invalid_signature"),
            ("no header", body, nil, "invalid_signature"),
            ("no v1", body, "t=\(now),v0=\(String(repeating: "00", count: 32))", "invalid_signature"),
            ("malformed JSON, correctly signed", malformed, IngressHarness.stripeSignature(malformed), "invalid_request"),
            ("a value jsonb cannot store", Array(#"{"id":"evt_nul","type":"x","created":1,"data":"a\u0000b"}"#.utf8),
             IngressHarness.stripeSignature(Array(#"{"id":"evt_nul","type":"x","created":1,"data":"a\u0000b"}"#.utf8)), "invalid_request"),
            ("event without id", Array(#"{"type":"x","created":1}"#.utf8), IngressHarness.stripeSignature(Array(#"{"type":"x","created":1}"#.utf8)), "invalid_request"),
        ]
        for (name, b, signature, code) in cases {
            let r = try Self.send(h, b, signature: signature)
            XCTAssertEqual(r.status, 400, "\(name): \(r.text)")
            XCTAssertEqual(r.errorCode, code, name)
            XCTAssertNotNil(r.json?["message"]?.string, name)
        }
        // Just inside the tolerance is fine: the 300 s edge is the stale case above.
        XCTAssertEqual(try Self.send(h, body, signature: IngressHarness.stripeSignature(body, timestamp: now - 290)).status, 200)
        XCTAssertEqual(try h.jobCount(), 1)
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM stripe_events"), 1)
    }

    /// A signature dated ten minutes ahead would stay replayable for fifteen: refused like a
    /// stale one, nothing stored or enqueued; a clock a little ahead is fine.
    func testTimestampFromTheFutureIsRefusedAndNothingIsStored() throws {
        let h = try IngressHarness()
        let body = event("evt_from_the_future")
        let now = Int(Date().timeIntervalSince1970)
        let r = try Self.send(h, body, signature: IngressHarness.stripeSignature(body, timestamp: now + 600))
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertEqual(r.errorCode, "invalid_signature")
        XCTAssertTrue(r.json?["message"]?.string?.contains("out of tolerance") ?? false, r.text)
        XCTAssertEqual(try h.jobCount(), 0)
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM stripe_events"), 0)

        let slightlyAhead = try Self.send(h, body, signature: IngressHarness.stripeSignature(body, timestamp: now + 100))
        XCTAssertEqual(slightlyAhead.status, 200, slightlyAhead.text)
        XCTAssertEqual(try h.jobCount("stripe.event"), 1)
    }

    /// Signatures made by OpenSSL's command line (an independent HMAC implementation) over the
    /// shared Stripe fixtures are accepted by the ingress, byte for byte.
    func testFixturesSignedByOpenSSLAreAccepted() throws {
        let fixtures = try Fixtures.stripeEvents()
        XCTAssertGreaterThan(fixtures.count, 5)
        let h = try IngressHarness()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stripe-sign-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var ids: Set<String> = []
        for (name, body) in fixtures {
            let t = Int(Date().timeIntervalSince1970)
            let file = dir.appendingPathComponent(name)
            try Data(Array("\(t).".utf8) + body).write(to: file)
            let openssl = try Self.openssl(["dgst", "-sha256", "-hmac", IngressHarness.stripeSecret, file.path])
            // "HMAC-SHA2-256(file)= <hex>" (the label varies across OpenSSL versions).
            let hex = String(openssl.split(separator: " ").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(hex.count, 64, "openssl printed \(openssl)")
            XCTAssertEqual(hex, Crypto.hmacSHA256Hex(key: IngressHarness.stripeSecret, message: Array("\(t).".utf8) + body), name)
            let r = try Self.send(h, body, signature: "t=\(t),v1=\(hex)")
            XCTAssertEqual(r.status, 200, "\(name): \(r.text)")
            ids.insert(try XCTUnwrap(JSON.parse(body)["id"]?.string))
        }
        XCTAssertEqual(try h.jobCount("stripe.event"), Int64(ids.count))
        XCTAssertEqual(try h.db.int("SELECT count(*) FROM stripe_events"), Int64(ids.count))
        // The inbox keeps the event as sent (compared parsed: jsonb normalises spacing).
        let (name, body) = fixtures[0]
        let id = try XCTUnwrap(JSON.parse(body)["id"]?.string)
        XCTAssertEqual(try JSON.parse(XCTUnwrap(h.db.scalar("SELECT payload::text FROM stripe_events WHERE id = $1", [id]))), try JSON.parse(body), name)
    }

    func testUnsetSecretAnswers503() throws {
        let h = try IngressHarness(environment: ["STRIPE_WEBHOOK_SECRET": ""])
        let body = event("evt_unset")
        let r = try Self.send(h, body, signature: IngressHarness.stripeSignature(body))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.errorCode, "unavailable")
        XCTAssertEqual(try h.jobCount(), 0)
    }

    static func openssl(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("openssl is not installed") }
        return String(decoding: data, as: UTF8.self)
    }
}

