import Queue
import Support

extension CryptoConfirmManualJob {
    /// The job that confirms `purchaseID` by hand for `actor` (`tally purchases confirm`, the
    /// console): one waits at a time per purchase (its unique key), so a second click is a no-op.
    public static func request(purchaseID: String, actor: String, note: String?) -> NewJob {
        NewJob(kind: kind, args: ["purchase_id": .string(purchaseID), "actor": .string(actor), "note": .optional(note)],
               queue: queue, uniqueKey: "crypto.confirm_manual:\(purchaseID)", uniqueWhileActive: true)
    }
}
