import Foundation
import Support
import Synchronization

/// Balance alerts (DESIGN.md, "Balance alerts and auto top-up"; sql/0019): once per crossing,
/// never per entry. The ledger book applies `transition` to every account it moved, at commit,
/// in the same transaction.
public enum BalanceAlert {
    public enum State: String, Sendable {
        case ok, low, depleted
    }

    /// `TALLY_LOW_BALANCE` (10): the threshold of accounts without their own. Set once when
    /// the worker's registry is built (`JobRegistry.standard`); atomic because every book reads
    /// it from whatever thread its transaction runs on.
    static let defaultThreshold = Atomic<Int64>(10)

    public static func configure(defaultThreshold value: Int64) {
        defaultThreshold.store(value, ordering: .relaxed)
    }

    /// Where an account goes from `state` with `balance` (spendable), and what to tell the user.
    /// `refused`: a charge was refused for lack of credits in this transaction.
    public static func transition(from state: State, balance: Int64, threshold: Int64, refused: Bool) -> (State, NotificationType?) {
        if refused || balance <= 0 { return (.depleted, state == .depleted ? nil : .balanceDepleted) }
        if balance < threshold { return (.low, state == .ok ? .balanceLow : nil) }
        return (.ok, state == .ok ? nil : .balanceRecovered)
    }
}
