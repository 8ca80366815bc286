import Foundation
import Support
import TestSupport
import XCTest

/// `tally purchases list|show|confirm` against the real binary (and a real worker for confirm).
final class PurchasesCommandTests: CommandTestCase {
    let late = "6f1c2b3a-0000-4000-8000-000000000001"
    let paid = "6f1c2b3a-0000-4000-8000-000000000002"

    /// Two purchases as the crypto jobs would leave them: one late (held), one paid.
    func seed() throws {
        let c = try db.connect()
        try c.execute("""
            INSERT INTO accounts (user_id, opened_by) VALUES ('u-late', 'signup');
            INSERT INTO crypto_purchases (id, user_id, product, coin, status, credits, usd_cents, price_usd, amount_base_units,
                                          address, wallet_id, quoted_at, expires_at, received_base_units, confirmations, created_at)
            VALUES ('\(late)', 'u-late', 'topup_100', 'btc', 'late', 100, 499, 63968.12, 7801, 'bc1qlate', 'w', now() - interval '1 hour',
                    now() - interval '30 minutes', 7801, 4, now() - interval '1 hour'),
                   ('\(paid)', 'u-paid', 'topup_500', 'eth', 'paid', 500, 1999, 3187.45, 6271470925034119, '0xpaid', 'w', now(),
                    now() + interval '30 minutes', 6271470925034119, 64, now());
            INSERT INTO crypto_transfers (coin, transfer_id, address, purchase_id, state, live, amount_base_units, confirmations, first_seen_at)
            VALUES ('btc', 't-late', 'bc1qlate', '\(late)', 'confirmed', true, 7801, 4, now() - interval '20 minutes');
            """)
    }

    func testListAndShow() throws {
        try seed()
        let all = try json("purchases", "list")
        XCTAssertEqual(all["purchases"]?.array?.map { $0["purchase_id"]?.string ?? "" }, [paid, late], "newest first")
        XCTAssertEqual(all["purchases"]?[0]?["amount_base_units"]?.string, "6271470925034119", "base units as decimal strings")
        XCTAssertEqual(try json("purchases", "list", "--status", "late")["purchases"]?.array?.count, 1)
        XCTAssertEqual(try json("purchases", "list", "--coin", "eth")["purchases"]?[0]?["purchase_id"]?.string, paid)
        XCTAssertEqual(try json("purchases", "list", "--user", "nobody")["purchases"]?.array?.count, 0)
        let table = try tally("purchases", "list")
        XCTAssertTrue(table.stdout.contains("late") && table.stdout.contains("6271470925034119"), table.stdout)
        XCTAssertEqual(try tally("purchases", "list", "--user", "nobody").stdout, "No purchases match.\n")

        let show = try json("purchases", "show", late.uppercased())
        XCTAssertEqual(show["status"]?.string, "late")
        XCTAssertEqual(show["transfers"]?[0]?["transfer_id"]?.string, "t-late")
        XCTAssertEqual(show["confirmed_by_hand"]?.array?.count, 0)
        let text = try tally("purchases", "show", late)
        XCTAssertTrue(text.stdout.contains("status") && text.stdout.contains("t-late"), text.stdout)

        // Exit codes: 2 for bad usage, 1 for what does not exist.
        XCTAssertTrue(try tally("purchases", "show", "42", expect: 2).stderr.contains("must be a UUID"))
        XCTAssertTrue(try tally("purchases", "show", "6f1c2b3a-0000-4000-8000-00000000ffff", expect: 1).stderr.contains("no purchase"))
        try tally("purchases", "list", "--status", "lost", expect: 2)
        try tally("purchases", "list", "--coin", "doge", expect: 2)
        try tally("purchases", "list", "--colour", "red", expect: 2)
        XCTAssertTrue(try tally("purchases", "confirm", "--help").stdout.contains("--actor A"))
        XCTAssertTrue(try tally("--help").stdout.contains("purchases confirm"))
    }

    func testConfirmIsEnqueuedAppliedByAWorkerAndAudited() throws {
        try seed()
        try tally("purchases", "confirm", late, expect: 2)  // no --actor
        XCTAssertTrue(try tally("purchases", "confirm", paid, "--actor", "zoe", expect: 1).stderr.contains("granted already"))
        XCTAssertTrue(try tally("purchases", "confirm", "6f1c2b3a-0000-4000-8000-00000000ffff", "--actor", "zoe", expect: 1).stderr
            .contains("no purchase"))

        let worker = try TallyProcess(["worker", "--queues", "payments=1"], environment: [
            "DATABASE_URL": db.url, "TALLY_SCHEDULE_PRICES_REFRESH": "off", "TALLY_SCHEDULE_CRYPTO_POLL": "off",
        ])
        let run = try tally("purchases", "confirm", late, "--actor", "ops:zoe", "--note", "checked the chain by hand", "--wait")
        XCTAssertTrue(run.stdout.contains("confirmed by ops:zoe: late → paid, 100 credits granted"), run.stdout)
        worker.signal(SIGTERM)

        let show = try json("purchases", "show", late)
        XCTAssertEqual(show["status"]?.string, "paid")
        let audit = try XCTUnwrap(show["confirmed_by_hand"]?[0])
        XCTAssertEqual(audit["actor"]?.string, "ops:zoe")
        XCTAssertEqual(audit["note"]?.string, "checked the chain by hand")
        XCTAssertEqual(audit["previous_status"]?.string, "late")
        XCTAssertNotNil(audit["created_at"]?.string)
        XCTAssertEqual(try db.int("SELECT sum(amount) FROM ledger_entries WHERE user_id = 'u-late' AND reference = $1", ["crypto:" + late]), 100)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notifications WHERE user_id = 'u-late' AND type = 'purchase_update'"), 1)
        XCTAssertTrue(try tally("purchases", "confirm", late, "--actor", "ops:zoe", expect: 1).stderr.contains("granted already"))
    }
}
