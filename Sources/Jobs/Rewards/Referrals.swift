import Foundation
import Postgres
import Queue
import Support

/// Referral codes and the hook that notices a referred user's first payment.
public enum Referrals {
    /// Codes are capitals and digits without look-alikes (no 0/O, 1/I/L), 8 long: 31⁸ ≈ 850
    /// billion, so a random one is all but never taken (a collision just draws again).
    static let alphabet = Array("ABCDEFGHJKMNPQRSTUVWXYZ23456789".utf8)

    public static func randomCode() -> String {
        // 256 is not a multiple of 31: draw again above 247 so every letter is equally likely.
        var out: [UInt8] = []
        while out.count < 8 {
            for b in Crypto.randomBytes(16) where b < 248 && out.count < 8 { out.append(alphabet[Int(b) % alphabet.count]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A code as stored: capitals; nil unless it is 4 to 64 of A-Z, 0-9, `_`, `-`.
    public static func normalized(_ code: String) -> String? {
        let upper = code.uppercased()
        let b = Array(upper.utf8)
        guard (4...64).contains(b.count),
              b.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45 }) else { return nil }
        return upper
    }

    public struct Code: Sendable, Equatable {
        public let code: String
        public let userID: String
        public let maxUses: Int
        public let uses: Int
        public let createdAt: Date
    }

    public enum CreateError: Error, Equatable, CustomStringConvertible {
        case accountNotFound(String)
        case taken(String)
        case invalid(String)

        public var description: String {
            switch self {
            case .accountNotFound(let u): "no account for user \(u): codes belong to existing accounts (account.open first)"
            case .taken(let c): "the referral code \(c) is taken: choose another or let Tally draw one"
            case .invalid(let m): m
            }
        }
    }

    /// Creates a referral code owned by `userID` (`tally referrals create USER`): `code` if
    /// given (stored in capitals), else a random one. A user may own several codes.
    public static func create(userID: String, code: String? = nil, maxUses: Int, on c: Connection) throws -> Code {
        guard maxUses >= 0 else { throw CreateError.invalid("max uses must be 0 or more, got \(maxUses)") }
        guard try c.query(RewardsQueries.accountExists, [userID]).count == 1 else { throw CreateError.accountNotFound(userID) }
        var chosen: String?
        if let code {
            guard let n = normalized(code) else {
                throw CreateError.invalid("a referral code is 4 to 64 letters, digits, _ or - (got \"\(code)\")")
            }
            chosen = n
        }
        for _ in 0..<5 {
            let candidate = chosen ?? randomCode()
            if let row = try c.query(RewardsQueries.createCode, [candidate, userID, maxUses]).first {
                return Code(code: try row.string("code"), userID: try row.string("user_id"), maxUses: try row.int("max_uses"),
                            uses: try row.int("uses"), createdAt: try row.date("created_at"))
            }
            if chosen != nil { throw CreateError.taken(candidate) }
        }
        throw CreateError.invalid("could not draw a free referral code in 5 tries; try again")
    }

    /// The hook in `LedgerBook.commit`: `users` were just granted a payment (top-up,
    /// subscription or crypto) in this transaction, `grants` the grant ids (same order). Each
    /// one who signed up with a referral code and was not rewarded yet gets one
    /// `referral.reward` job, enqueued in the same transaction (key `referral.reward:<user>`: a
    /// second payment before it runs adds nothing). One indexed query; nothing when `users` is
    /// empty, which is every usage debit.
    public static func paymentsGranted(users: [String], grants: [Int64], on tx: Connection) throws {
        guard !users.isEmpty else { return }
        let referred = Set(try tx.query(RewardsQueries.referredUnrewarded, [Array(Set(users))]).map { try $0.string("user_id") })
        guard !referred.isEmpty else { return }
        var firstGrant: [String: Int64] = [:]
        for (u, g) in zip(users, grants) where referred.contains(u) && firstGrant[u] == nil { firstGrant[u] = g }
        let jobs = firstGrant.sorted { $0.key < $1.key }.map { user, grant in
            NewJob(kind: ReferralRewardJob.kind, args: ["user_id": .string(user), "grant_id": .int(grant)],
                   queue: ReferralRewardJob.queue, uniqueKey: "referral.reward:\(user)")
        }
        try Enqueuer().enqueue(jobs, on: tx)
    }
}

extension GrantSource {
    /// Credits someone paid for: the first of these rewards a referral.
    public var isPayment: Bool {
        switch self {
        case .topup, .subscription, .crypto: true
        default: false
        }
    }
}
