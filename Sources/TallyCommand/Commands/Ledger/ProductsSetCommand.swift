import Foundation
import Jobs
import Postgres
import Support

struct ProductsSetCommand: Command {
    static let name = "products set"
    static let summary = "Create or change a product"
    static let usage = "NAME --credits N --usd-cents C [--stripe-price ID] [--monthly | --one-time]"
    static let audited = true
    static let options: Set<String> = ["credits", "usd-cents", "stripe-price"]
    static let flags: Set<String> = ["monthly", "one-time"]
    static let details = """
        Options:
          --credits N        credits it grants (a month's, for a monthly product)
          --usd-cents C      its price in cents (a month's, for a monthly product)
          --stripe-price ID  the Stripe price id that buys it: a checkout without metadata.credits
                             grants this product's credits; kept when not given
          --monthly          a subscription product (invoice.paid grants its credits each month)
          --one-time         a top-up (the default for a new product)
        """

    static func run(_ args: Arguments, _ context: CommandContext) async throws -> Int32 {
        let product = try args.expect(["NAME"], command: name)[0]
        let credits = try Arguments.credits(try args.required("credits", command: name), "--credits", minimum: 1)
        guard let cents = Int64(try args.required("usd-cents", command: name)), cents >= 0 else {
            throw CommandError.usage("--usd-cents must be a whole number of cents, 0 or more")
        }
        if args.flag("monthly") && args.flag("one-time") { throw CommandError.usage("--monthly or --one-time, not both") }
        let monthly: Bool? = args.flag("monthly") ? true : (args.flag("one-time") ? false : nil)
        let row: Row
        do {
            row = try context.connect().transaction { tx in
                guard let row = try tx.query(LedgerQueries.setProduct, [product, credits, cents, args.option("stripe-price"), monthly]).first else {
                    throw CommandError.failure("the product was not stored")
                }
                try context.audit(target: "product:\(product)", details: ["credits": .int(credits), "usd_cents": .int(cents),
                                                                         "stripe_price": .optional(args.option("stripe-price")),
                                                                         "monthly": monthly.map { JSON.bool($0) } ?? .null], on: tx)
                return row
            }
        } catch let error as PostgresError where error.sqlState == "23514" {
            throw CommandError.usage("NAME may use lowercase letters, digits, _ . - (starting with a letter or digit), at most 64")
        } catch let error as PostgresError where error.isUniqueViolation {
            throw CommandError.failure("another product already has Stripe price \(args.option("stripe-price") ?? "")")
        }
        let json = try ProductsListCommand.json(row)
        if context.json {
            context.print(json: json)
        } else {
            context.print("product \(product): \(credits) credits for \(cents) cents\(json["monthly"]!.bool! ? " a month" : "")"
                          + (json["stripe_price_id"]?.string.map { ", Stripe price \($0)" } ?? ""))
        }
        return 0
    }
}
