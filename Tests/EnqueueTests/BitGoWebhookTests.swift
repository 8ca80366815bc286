import Enqueue
import Foundation
import Support
import TestSupport
import XCTest

/// POST /webhooks/bitgo (DESIGN.md, "Crypto").
final class BitGoWebhookTests: XCTestCase {
    func send(_ h: IngressHarness, _ body: String, signature: String?) throws -> RawHTTPClient.Response {
        var headers: [String: String] = [:]
        if let signature { headers["X-Signature-SHA256"] = signature }
        return try h.request("POST", "/webhooks/bitgo", json: body, headers: headers, auth: false)
    }

    func sign(_ body: String, _ secret: String = IngressHarness.bitgoSecret) -> String {
        Crypto.hmacSHA256Hex(key: secret, message: Array(body.utf8))
    }

    func testTransferNotificationEnqueuesOneActiveCheck() throws {
        let h = try IngressHarness()
        let body = #"{"hash":"abc","transfer":"59cd72485007a239fb00282ed480da1f","coin":"btc","type":"transfer","state":"confirmed","wallet":"w1"}"#
        let a = try send(h, body, signature: sign(body))
        XCTAssertEqual(a.status, 200, a.text)
        // Redelivered while the first check has not run: the same job.
        let b = try send(h, body, signature: sign(body))
        XCTAssertEqual(b.json?["job_id"], a.json?["job_id"])
        XCTAssertEqual(try h.jobCount("crypto.check"), 1)
        let args = try JSON.parse(XCTUnwrap(h.db.scalar("SELECT args::text FROM jobs")))
        XCTAssertEqual(args, ["coin": "btc", "transfer_id": "59cd72485007a239fb00282ed480da1f", "wallet": "w1"])
        XCTAssertEqual(try h.db.scalar("SELECT queue FROM jobs"), "payments")
        // Once that check finished, a later webhook for the transfer is checked again.
        try h.finishJob(try XCTUnwrap(a.json?["job_id"]?.int64), result: "{}")
        let c = try send(h, body, signature: sign(body))
        XCTAssertEqual(c.status, 200)
        XCTAssertNotEqual(c.json?["job_id"], a.json?["job_id"])
        XCTAssertEqual(try h.jobCount("crypto.check"), 2)
    }

    func testFixturesAndRefusals() throws {
        let h = try IngressHarness()
        for file in ["webhook.transfer.btc.json", "webhook.transfer.eth.json"] {
            let body = try Fixture.text("bitgo/" + file)
            XCTAssertEqual(try send(h, body, signature: sign(body)).status, 200, file)
        }
        let before = try h.jobCount()
        let body = #"{"transfer":"t1","coin":"btc","type":"transfer"}"#
        let cases: [(String, String, String?, Int, String)] = [
            ("missing signature", body, nil, 401, "unauthorized"),
            ("wrong signature", body, sign(body, "other"), 401, "unauthorized"),
            ("not hex", body, "zz", 401, "unauthorized"),
            ("tampered", body.replacingOccurrences(of: "t1", with: "t2"), sign(body), 401, "unauthorized"),
            ("not a transfer", #"{"type":"pendingapproval","coin":"btc"}"#, sign(#"{"type":"pendingapproval","coin":"btc"}"#), 400, "invalid_request"),
            ("not JSON", "transfer", sign("transfer"), 400, "invalid_request"),
        ]
        for (name, b, signature, status, code) in cases {
            let r = try send(h, b, signature: signature)
            XCTAssertEqual(r.status, status, "\(name): \(r.text)")
            XCTAssertEqual(r.errorCode, code, name)
        }
        XCTAssertEqual(try h.jobCount(), before)
    }
}
