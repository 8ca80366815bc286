/// The quote's maths (DESIGN.md, "Payments" → Crypto): the product's USD price ÷ the coin's
/// USD price, in the coin's base units, ROUNDED UP so the user never pays less than the price.
///
///     amount = ⌈ usd_cents × 10^decimals × 10^scale ÷ (100 × mantissa) ⌉
///
/// where the coin price is `mantissa ÷ 10^scale`. One exact integer division: no floating
/// point and no intermediate rounding anywhere. $19.99 at $63,968/BTC is exactly 31,250 sat;
/// at $63,968.123456789 it is 31,249.94… → 31,250 sat.
public enum CryptoQuote {
    public static func baseUnits(usdCents: Int64, price: CoinPrice, coin: Coin) -> BaseUnits {
        precondition(usdCents >= 0, "a price in cents is never negative")
        let numerator = BaseUnits(UInt64(usdCents)) * BaseUnits.power10(coin.decimals + price.scale)
        let denominator = BaseUnits(100) * price.mantissa
        return numerator.dividedRoundingUp(by: denominator)
    }
}
