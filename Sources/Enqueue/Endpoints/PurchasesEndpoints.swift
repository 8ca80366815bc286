import Foundation
import HTTPServer
import Jobs
import Postgres
import Queue
import Support

/// `POST /v1/purchases/crypto {user_id, product, coin, idempotency_key?}` → `crypto.quote` with a
/// purchase id made here (a UUID), so the app can follow the purchase before the quote exists.
/// With a key (`crypto.quote:<user_id>:<key>`), a replay answers the first request's
/// purchase id; the same key with another product or coin is a 409. A product that does not
/// exist, a subscription (crypto pays one-off products only) or a coin Tally does not take is
/// a 400 naming the field, before anything is enqueued.
struct CreateCryptoPurchaseEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/v1/purchases/crypto"
    static let coins = Coin.allCases.map(\.rawValue)

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        var f = try request.fields()
        let userID = try f.userID()
        let product = try f.name("product")
        let coin = try f.oneOf("coin", Self.coins)
        let key = try f.optionalIdempotencyKey()
        try f.finish()
        try await Self.checkProduct(product, context)
        let purchaseID = UUID().uuidString.lowercased()
        let args = CryptoQuoteJob.Args(purchase_id: purchaseID, user_id: userID, product: product, coin: coin)
        let job = try IngressContext.job(CryptoQuoteJob.self, args, uniqueKey: key.map { "crypto.quote:\(userID):\($0)" })
        // The purchase id differs on every request: compare the caller's fields only.
        let submitted = try await context.submit(job, for: request, replay: .custom { existing in
            guard let before = try? CryptoQuoteJob.decode(existing.serialized) else { return false }
            return before.user_id == args.user_id && before.product == args.product && before.coin == args.coin
        })
        let answeredID = submitted.inserted ? purchaseID : (submitted.existingArgs?["purchase_id"]?.string ?? purchaseID)
        return await context.accepted(request, submitted, body: ["purchase_id": .string(answeredID), "job_id": .int(submitted.jobID)])
    }

    /// The product must exist and be one-off: what `crypto.quote` would otherwise refuse after
    /// the app was told 202.
    static func checkProduct(_ name: String, _ context: IngressContext) async throws(APIError) {
        let monthly = try await context.read { c in try c.query(IngressQueries.productIsMonthly, [name]).first.map { try $0.bool("monthly") } }
        guard let monthly else { throw .invalid("product \"\(name)\" does not exist") }
        guard !monthly else { throw .invalid("product \"\(name)\" is a subscription, which crypto cannot pay") }
    }
}

/// `GET /v1/purchases/{id}` → `{purchase_id, user_id, product, coin, status, address,
/// amount_base_units, expires_at, credits}` (`CryptoQueries.apiView`).
struct ShowPurchaseEndpoint: Endpoint {
    static let method = "GET"
    static let path = "/v1/purchases/{id}"

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let text = request.parameter("id")
        // Purchase ids are UUIDs; anything else names no purchase (and must not reach a ::uuid cast).
        guard let id = UUID(uuidString: text) else { throw .notFound("no purchase \(text.prefix(40))") }
        let key = id.uuidString.lowercased()
        guard let purchase = try await context.read(fromReplica: true, { c in try c.query(CryptoQueries.apiView, [key]).first?.json("purchase") }) else {
            throw .notFound("no purchase \(key)")
        }
        return .json(200, purchase)
    }
}
