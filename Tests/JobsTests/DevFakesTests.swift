import Foundation
@testable import Jobs
import Support
import TestSupport
import XCTest

/// The stand-ins for CoinGecko, BitGo and the Stripe API that the tests and ops/run share
/// (DevFakes, `tally-dev-fakes`): they answer in the fixtures' shapes, and the real clients
/// read those answers.
final class DevFakesTests: XCTestCase {
    func testTheCoinGeckoStandInAnswersTheFixturesShapeWithFreshPrices() async throws {
        let fake = try FakeCoinGecko()
        let fixture = try JSON.parse(try Fixture.text("coingecko/simple_price.btc_eth_usd.json"))
        let raw = try await HTTPClient(service: "CoinGecko", baseURL: URL(string: fake.baseURL)!)
            .getJSON("/api/v3/simple/price", query: [("ids", "bitcoin,ethereum"), ("vs_currencies", "usd"), ("include_last_updated_at", "true")])
        XCTAssertEqual(keys(raw), keys(fixture))
        XCTAssertEqual(keys(raw["bitcoin"]), keys(fixture["bitcoin"]))
        let prices = try await CoinGecko(Environment(fake.environment), purpose: "t").prices()
        XCTAssertEqual(prices[.btc]?.usd.description, "63968.12", "the fixture's price")
        XCTAssertEqual(prices[.eth]?.usd.description, "3187.45")
        XCTAssertEqual(try XCTUnwrap(prices[.btc]).lastUpdatedAt.timeIntervalSinceNow, 0, accuracy: 5, "fresh enough to quote")
    }

    func testTheBitGoStandInAnswersTheFixturesShapesAndTakesTransfersOverHTTP() async throws {
        let fake = try FakeBitGo()
        let bitgo = try BitGo(Environment(fake.environment), purpose: "t")
        let wallet = try bitgo.wallet(.btc, purpose: "t")
        let address = try await bitgo.createAddress(coin: .btc, wallet: wallet, purchaseID: "p1")
        let again = try await bitgo.createAddress(coin: .btc, wallet: wallet, purchaseID: "p2")
        XCTAssertNotEqual(address, again, "a fresh address each time")
        let addressAnswer = try JSON.parse(try XCTUnwrap(fake.requests("POST", "/api/v2/btc/wallet/\(wallet)/address").first).bodyText)
        XCTAssertEqual(addressAnswer["label"]?.string, "tally purchase p1")

        // What ops/run's sample flow does to pay: the stand-in's own route, then the real read.
        let control = HTTPClient(service: "BitGo stand-in", baseURL: URL(string: fake.baseURL)!)
        let set = try await control.postJSON("/_dev/transfers", body: ["id": "t-1", "coin": "btc", "address": .string(address),
                                                                       "amount": "31250", "confirmations": 1],
                                             idempotencyKey: "t-1")
        let fixture = try JSON.parse(try Fixture.text("bitgo/api.get_transfer.btc.confirmed.json"))
        XCTAssertEqual(keys(set), keys(fixture), "the transfer fixture's fields")
        let seen = try await bitgo.transfer(coin: .btc, wallet: wallet, id: "t-1")
        XCTAssertEqual(seen?.confirmations, 1)
        XCTAssertEqual(seen?.receipts, [address: BaseUnits(31250)])
        let listed = try await bitgo.receiveTransferIDs(coin: .btc, wallet: wallet, address: address)
        XCTAssertEqual(listed, ["t-1"])
        let unknown = try await bitgo.transfer(coin: .btc, wallet: wallet, id: "t-none")
        XCTAssertNil(unknown, "404 like BitGo")

        // Without BitGo's token, 401 as BitGo answers.
        var wrong = fake.environment
        wrong["BITGO_ACCESS_TOKEN"] = "not-the-token"
        do {
            _ = try await BitGo(Environment(wrong), purpose: "t").transfer(coin: .btc, wallet: wallet, id: "t-1")
            XCTFail("a wrong token is refused")
        } catch let error as HTTPError {
            XCTAssertEqual(error.status, 401)
        }
    }

    func testTheStripeStandInAnswersTheLineItemsFixture() async throws {
        let fake = try FakeStripe()
        let client = try StripeEventJob.stripeClient(Environment(fake.environment), purpose: "t")
        let items = try await client.getJSON("/v1/checkout/sessions/cs_1/line_items", query: [("expand[]", "data.price")])
        var fixture = try JSON.parse(try Fixture.text("stripe/api.checkout_session_line_items.topup.json"))
        guard case .object(var o) = fixture else { return XCTFail() }
        o["url"] = "/v1/checkout/sessions/cs_1/line_items"
        fixture = .object(o)
        XCTAssertEqual(items, fixture, "the fixture, for this session")
        XCTAssertEqual(items.at("data")?[0]?.at("price", "metadata", "credits")?.string, "500")
        let payments = try await client.getJSON("/v1/invoice_payments", query: [("invoice", "in_1")])
        XCTAssertEqual(payments["object"]?.string, "list")
        do {
            _ = try await client.getJSON("/v1/customers/cus_1")
            XCTFail("what it does not know is a 404")
        } catch let error as HTTPError {
            XCTAssertEqual(error.status, 404)
        }
    }

    func keys(_ json: JSON?) -> Set<String> { Set(json?.object?.keys.map { $0 } ?? []) }
}
