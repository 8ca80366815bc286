import Enqueue
import Foundation
import Postgres
import Support
import TestSupport
import XCTest

/// Stream tokens (DESIGN.md, "Stream tokens"): minted by the app's backend, bound to one user,
/// expiring, verified without a database round trip, all revoked by `tally stream-tokens
/// revoke-all`; and polling by `seq`.
final class StreamTokenTests: XCTestCase {
    let key = StreamToken.Key(generation: 3, secret: "0123456789abcdef0123456789abcdef")

    func testATokenVerifiesOnlyForItsUserUntilItExpiresAndOnlyWithItsKey() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let token = StreamToken.mint(userID: "u1@example.com", expiresAt: now.addingTimeInterval(900), key: key)
        let claims = try StreamToken.verify(token, key: key, now: now)
        XCTAssertEqual(claims.userID, "u1@example.com")
        XCTAssertEqual(claims.generation, 3)
        XCTAssertEqual(claims.expiresAt, now.addingTimeInterval(900))

        func refusal(_ token: String, key: StreamToken.Key? = nil, at: Date? = nil) -> StreamToken.Refusal? {
            do { _ = try StreamToken.verify(token, key: key ?? self.key, now: at ?? now); return nil } catch { return error }
        }
        XCTAssertEqual(refusal(token, at: now.addingTimeInterval(900)), .expired)
        XCTAssertEqual(refusal(token, key: .init(generation: 4, secret: key.secret)), .revoked, "an older generation")
        XCTAssertEqual(refusal(token, key: .init(generation: 2, secret: key.secret)), .newerGeneration(3))
        XCTAssertEqual(refusal(token, key: .init(generation: 3, secret: "another secret, same generation")), .badSignature)
        // Another user's name in a token signed for u1: the signature no longer matches.
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = StreamToken.mint(userID: "u2", expiresAt: now, key: key).split(separator: ".")[1].description
        XCTAssertEqual(refusal(parts.joined(separator: ".")), .badSignature)
        // A later expiry written in: the same.
        parts = token.split(separator: ".").map(String.init)
        parts[2] = String(Int64(now.timeIntervalSince1970) + 999_999)
        XCTAssertEqual(refusal(parts.joined(separator: ".")), .badSignature)
        for junk in ["", "tst1", "tst1.a.b.c.d", "tst2." + token.dropFirst(5), String(repeating: "x", count: 5000), token + ".x"] {
            XCTAssertEqual(refusal(String(junk)), .malformed, junk)
        }
    }

    func testTheEndpointMintsTokensTheIngressAcceptsUntilRevokeAll() async throws {
        let h = try IngressHarness(environment: ["TALLY_APIKEY_REFRESH": "100ms"])
        let minted = try await h.postAsync("/v1/accounts/u1/stream-tokens", #"{"ttl_seconds": 60}"#)
        XCTAssertEqual(minted.status, 201, minted.text)
        let token = try XCTUnwrap(minted.json?["token"]?.string)
        XCTAssertEqual(minted.json?["user_id"], "u1")
        let expires = try XCTUnwrap(minted.json?["expires_at"]?.string.flatMap(Timestamp.parse))
        XCTAssertEqual(expires.timeIntervalSinceNow, 60, accuracy: 2)
        let verified = try await h.ingress.context.streamKeys.verify(token)
        XCTAssertEqual(verified.userID, "u1")
        let byDefault = try await h.postAsync("/v1/accounts/u1/stream-tokens", "")
        XCTAssertEqual(byDefault.status, 201)
        XCTAssertEqual(try XCTUnwrap(byDefault.json?["expires_at"]?.string.flatMap(Timestamp.parse)).timeIntervalSinceNow, 900, accuracy: 2)
        for bad in [#"{"ttl_seconds": 86401}"#, #"{"ttl_seconds": 0}"#, #"{"ttl": 5}"#, "[]"] {
            let r = try await h.postAsync("/v1/accounts/u1/stream-tokens", bad)
            XCTAssertEqual(r.status, 400, "\(bad): \(r.text)")
        }
        let badUser = try await h.postAsync("/v1/accounts/a:b/stream-tokens", "")
        XCTAssertEqual(badUser.status, 400)

        let run = try TallyRun.run(["stream-tokens", "revoke-all", "--actor", "ops", "--json"], environment: ["DATABASE_URL": h.db.url])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try JSON.parse(run.stdout)["generation"]?.int64, 2)
        XCTAssertEqual(try h.db.scalar("SELECT action FROM audit_log"), "stream-tokens.revoke-all")
        try await waitUntil("the ingress refuses the old token") {
            do { _ = try await h.ingress.context.streamKeys.verify(token); return false } catch { return "\(error)".contains("revoked") }
        }
        let fresh = try await h.postAsync("/v1/accounts/u1/stream-tokens", "")
        let renewed = try await h.ingress.context.streamKeys.verify(try XCTUnwrap(fresh.json?["token"]?.string))
        XCTAssertEqual(renewed.generation, 2)
    }
}
