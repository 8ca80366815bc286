import Enqueue
import Foundation
import Jobs
import Support
import TestSupport
import XCTest

/// The holds endpoints: validation, the job each enqueues with its key, replays, reads.
final class HoldEndpointTests: XCTestCase {
    func testHoldEndpointsValidateEnqueueAndRead() throws {
        let h = try IngressHarness()
        let created = try h.post("/v1/holds", #"{"user_id":"u1","credits":25,"idempotency_key":"run-1","expires_in":600}"#)
        XCTAssertEqual(created.status, 202, created.text)
        let holdID = try XCTUnwrap(created.json?["hold_id"]?.string)
        XCTAssertEqual(holdID, Hold.id(userID: "u1", idempotencyKey: "run-1"))
        let replay = try h.post("/v1/holds", #"{"user_id":"u1","credits":25,"idempotency_key":"run-1","expires_in":600}"#)
        XCTAssertEqual(replay.json?["job_id"], created.json?["job_id"], "the same key is the same hold")
        XCTAssertEqual(try h.post("/v1/holds", #"{"user_id":"u1","credits":26,"idempotency_key":"run-1","expires_in":600}"#).status, 409)
        for bad in [#"{"user_id":"u1","idempotency_key":"k"}"#, #"{"user_id":"u1","credits":5,"agent":"gpu","units":1,"idempotency_key":"k"}"#,
                    #"{"user_id":"u1","agent":"gpu","idempotency_key":"k"}"#, #"{"user_id":"u1","credits":1000000000001,"idempotency_key":"k"}"#,
                    #"{"user_id":"u1","credits":5,"idempotency_key":"k","expires_in":86401}"#] {
            XCTAssertEqual(try h.post("/v1/holds", bad).status, 400, bad)
        }
        XCTAssertEqual(try h.post("/v1/holds", #"{"user_id":"u1","agent":"gpu","units":3,"idempotency_key":"run-2"}"#).status, 202)

        let capture = try h.post("/v1/holds/\(holdID)/capture", #"{"credits":12,"idempotency_key":"c1"}"#)
        XCTAssertEqual(capture.status, 202, capture.text)
        XCTAssertEqual(try h.post("/v1/holds/\(holdID)/capture", #"{"credits":1,"units":1,"idempotency_key":"c2"}"#).status, 400)
        XCTAssertEqual(try h.post("/v1/holds/\(holdID)/void", "").status, 202)
        XCTAssertEqual(try h.post("/v1/holds/nothold/void", "").status, 404)
        let kinds = try h.db.connect().query("SELECT kind, unique_key FROM jobs ORDER BY id").map { "\(try $0.string("kind")) \(try $0.optString("unique_key") ?? "")" }
        XCTAssertEqual(kinds, ["hold.create hold:u1:run-1", "hold.create hold:u1:run-2", "hold.capture hold.capture:\(holdID):c1",
                               "hold.void hold.void:\(holdID)"])
        XCTAssertEqual(try h.request("GET", "/v1/holds/\(holdID)").status, 404, "no hold until its job has run")
        XCTAssertEqual(try h.request("GET", "/v1/holds/hold_xyz").status, 404)
    }
}

/// The transfers endpoints: validation and the jobs they enqueue.
final class TransferEndpointTests: XCTestCase {
    func testTransferEndpointsValidateAndEnqueue() throws {
        let h = try IngressHarness()
        let created = try h.post("/v1/transfers", #"{"from_user_id":"a","to_user_id":"b","credits":5,"idempotency_key":"k1"}"#)
        XCTAssertEqual(created.status, 202, created.text)
        let id = try XCTUnwrap(created.json?["transfer_id"]?.string)
        XCTAssertEqual(id, Transfers.id(fromUserID: "a", idempotencyKey: "k1"))
        for bad in [#"{"from_user_id":"a","to_user_id":"a","credits":5,"idempotency_key":"k"}"#,
                    #"{"from_user_id":"a","to_user_id":"b","credits":0,"idempotency_key":"k"}"#,
                    #"{"from_user_id":"a","to_user_id":"b","credits":5,"idempotency_key":"k","expires_in":60}"#,
                    #"{"from_user_id":"a","to_user_id":"b","credits":5,"idempotency_key":"k","escrow":"yes"}"#] {
            XCTAssertEqual(try h.post("/v1/transfers", bad).status, 400, bad)
        }
        let escrow = try h.post("/v1/transfers", #"{"from_user_id":"a","to_user_id":"b","credits":5,"idempotency_key":"k2","escrow":true,"expires_in":60,"memo":"a trade"}"#)
        XCTAssertEqual(escrow.status, 202, escrow.text)
        let escrowID = try XCTUnwrap(escrow.json?["transfer_id"]?.string)
        XCTAssertEqual(try h.post("/v1/transfers/\(escrowID)/release", "").status, 202)
        XCTAssertEqual(try h.post("/v1/transfers/\(escrowID)/refund", "").status, 202)
        XCTAssertEqual(try h.post("/v1/transfers/\(escrowID)/steal", "").status, 404)
        XCTAssertEqual(try h.request("GET", "/v1/transfers/\(id)").status, 404, "no row until its job ran")
        let kinds = try h.db.connect().query("SELECT kind FROM jobs ORDER BY id").map { try $0.string("kind") }
        XCTAssertEqual(kinds, ["transfer.create", "transfer.create", "transfer.release", "transfer.refund"])
    }
}

/// `PUT /v1/accounts/{user_id}/alerts`.
final class AlertsEndpointTests: XCTestCase {
    func testAlertsEndpointEnqueuesTheThreshold() throws {
        let h = try IngressHarness()
        XCTAssertEqual(try h.request("PUT", "/v1/accounts/u1/alerts", json: #"{"low_balance": 25}"#).status, 202)
        XCTAssertEqual(try h.request("PUT", "/v1/accounts/u1/alerts", json: #"{"low_balance": null}"#).status, 202)
        XCTAssertEqual(try h.request("PUT", "/v1/accounts/u1/alerts", json: #"{"low_balance": -1}"#).status, 400)
        XCTAssertEqual(try h.request("PUT", "/v1/accounts/u1/alerts", json: #"{"threshold": 5}"#).status, 400)
        let args = try h.db.connect().query("SELECT args FROM jobs WHERE kind = 'account.alerts' ORDER BY id").map { try $0.json("args") }
        XCTAssertEqual(args, [["user_id": "u1", "low_balance": 25], ["user_id": "u1", "low_balance": .null]])
    }
}
