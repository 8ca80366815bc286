import HTTPServer
import Jobs
import Queue
import Support

/// `POST /webhooks/stripe`: verify `Stripe-Signature`, store the event in the `stripe_events`
/// inbox and enqueue `stripe.event {event_id}` (key `stripe:<event id>`) in one transaction.
/// A redelivery answers 200 with the first job and changes nothing (never 409).
struct StripeWebhookEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/webhooks/stripe"
    static let access = Access.open

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let secrets = try WebhookSignature.configured(context.stripeSecrets, setting: "STRIPE_WEBHOOK_SECRET")
        try WebhookSignature.verifyStripe(header: request.header("stripe-signature"), body: request.body, secrets: secrets)
        var f = try request.fields()
        let id = try f.string("id", maxBytes: 255)
        let type = try f.string("type", maxBytes: 255)
        let apiVersion = try f.optionalString("api_version", maxBytes: 64)
        let created = try f.positiveInt64("created")
        // Everything else in the event is the job's business; it reads the stored payload.
        let event = StripeInboxEvent(id: id, type: type, apiVersion: apiVersion, created: created,
                                     payload: String(decoding: request.body, as: UTF8.self))
        let job = try IngressContext.job(StripeEventJob.self, .init(event_id: id), uniqueKey: "stripe:\(id)")
        let submitted = try await context.submit(job, for: request, replay: .neverConflicts, companion: event)
        return .json(200, ["received": true, "job_id": .int(submitted.jobID)])
    }
}

/// `POST /webhooks/bitgo`: verify `X-Signature-SHA256` (401), accept only transfer
/// notifications (400), enqueue `crypto.check {coin, transfer_id, wallet?}` keyed
/// `crypto.check:<coin>:<transfer id>` unique among unfinished jobs only, so a later webhook for
/// the same transfer is checked again. The body's amounts and state are never trusted: the job
/// reads the transfer from BitGo.
struct BitGoWebhookEndpoint: Endpoint {
    static let method = "POST"
    static let path = "/webhooks/bitgo"
    static let access = Access.open

    func handle(_ request: EndpointRequest, _ context: IngressContext) async throws(APIError) -> HTTPResponse {
        let secrets = try WebhookSignature.configured(context.bitgoSecrets, setting: "BITGO_WEBHOOK_SECRET")
        try WebhookSignature.verifyBitGo(header: request.header("x-signature-sha256"), body: request.body, secrets: secrets)
        let body = try request.fields().all
        guard body["type"]?.string == "transfer",
              let coin = body["coin"]?.string, let transfer = body["transfer"]?.string else {
            throw .invalid("not a BitGo transfer notification (needs type \"transfer\", coin and transfer)")
        }
        try Fields.checkText(coin, name: "coin", maxBytes: 32)
        try Fields.checkText(transfer, name: "transfer", maxBytes: 128)
        let args = CryptoCheckJob.Args(coin: coin.lowercased(), transfer_id: transfer, wallet: body["wallet"]?.string)
        let job = try IngressContext.job(CryptoCheckJob.self, args, uniqueKey: "crypto.check:\(args.coin):\(transfer)",
                                         uniqueWhileActive: true)
        let submitted = try await context.submit(job, for: request, replay: .neverConflicts)
        return .json(200, ["received": true, "job_id": .int(submitted.jobID)])
    }
}
