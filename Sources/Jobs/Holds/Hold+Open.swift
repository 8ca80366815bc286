import Postgres

extension Hold {
    /// The user's open holds, soonest to expire first (the console's account page; holds_user_idx).
    public static func open(userID: String, limit: Int = 100, on c: Connection) throws -> [Hold] {
        try c.query(openOfUser, [userID, limit]).map(Hold.init(row:))
    }

    static let openOfUser = Query("holds_open_of_user", """
        SELECT \(HoldQueries.columns) FROM holds WHERE user_id = $1 AND status = 'held' ORDER BY expires_at, id LIMIT $2::int
        """)
}
