import BenchJobs
import JobRuntime
import Queue
import Support

extension JobRegistry {
    /// Every kind Tally runs and its cron schedules: the one place a new kind is added.
    public static func standard(environment: Environment = Environment()) throws -> JobRegistry {
        var r = JobRegistry()
        // Benchmarks and tests.
        r.register(NoopJob())
        r.register(EffectJob())
        r.register(FailJob())
        // The ledger (docs/ledger.md).
        r.register(AccountOpenJob())
        r.register(UsageRecordJob())
        r.register(AdminAdjustJob())
        r.register(CreditsExpireJob())
        try r.schedule(CreditsExpireJob.self, cron: "@hourly")
        // Rewards, streaks, referrals and rollover (docs/rewards-and-notifications.md).
        r.register(RewardsActionJob())
        r.register(StreaksEvaluateJob())
        // A few minutes past midnight UTC: the day just ended, once its last actions are in.
        try r.schedule(StreaksEvaluateJob.self, cron: "5 0 * * *")
        r.register(ReferralRewardJob())
        r.register(CreditsRolloverJob())
        try r.schedule(CreditsRolloverJob.self, cron: "@hourly")
        // Notifications.
        r.register(NotifyDeliverJob())
        r.register(NotifyReadJob())
        r.register(NotifyPruneJob())
        try r.schedule(NotifyPruneJob.self, cron: "@hourly")
        // Payments.
        r.register(StripeEventJob())
        // Crypto purchases (docs/crypto.md).
        r.register(PricesRefreshJob())
        r.register(CryptoQuoteJob())
        r.register(CryptoCheckJob())
        r.register(CryptoPollJob())
        r.register(CryptoConfirmManualJob())
        try r.schedule(PricesRefreshJob.self, cron: "* * * * *")
        try r.schedule(CryptoPollJob.self, cron: "* * * * *")
        // The queue's own upkeep.
        r.register(PruneJobsJob())
        try r.schedule(PruneJobsJob.self, cron: "@hourly")
        try r.applyScheduleOverrides(environment)
        return r
    }

    /// Settings that turn every standard schedule off (tests that run the dates they name).
    public static func schedulesOff() throws -> [String: String] {
        try standard(environment: Environment([:])).schedulesOffSettings
    }
}
