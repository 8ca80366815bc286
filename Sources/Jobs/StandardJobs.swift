import BenchJobs
import JobRuntime
import Queue
import Support

extension JobRegistry {
    /// Every kind Tally runs and its cron schedules: the one place a new kind is added. The
    /// settings are read here, once: a bad value throws (`ConfigurationError`, naming it), so a
    /// worker refuses to start instead of failing jobs later.
    public static func standard(environment: Environment = Environment()) throws -> JobRegistry {
        let ledger = try LedgerSettings(environment)
        BalanceAlert.configure(defaultThreshold: ledger.lowBalance)
        let stripe = try StripeSettings(environment)
        let rewards = try RewardsSettings(environment)
        let notify = try NotifySettings(environment)
        let crypto = try CryptoSettings(environment)
        let prune = try PruneSettings(environment)
        var r = JobRegistry()
        // Benchmarks and tests.
        r.register(NoopJob())
        r.register(EffectJob())
        r.register(FailJob())
        // The ledger (docs/ledger.md).
        r.register(AccountOpenJob(settings: ledger))
        r.register(UsageRecordJob())
        r.register(AdminAdjustJob())
        r.register(AccountAlertsJob())
        r.register(CreditsExpireJob(settings: ledger))
        try r.schedule(CreditsExpireJob.self, cron: "@hourly")
        // Holds (docs/ledger.md, "Holds").
        r.register(HoldCreateJob())
        r.register(HoldCaptureJob())
        r.register(HoldVoidJob())
        r.register(HoldsExpireJob())
        try r.schedule(HoldsExpireJob.self, cron: "* * * * *")
        // Transfers (docs/ledger.md, "Transfers").
        r.register(TransferCreateJob(settings: ledger))
        r.register(TransferReleaseJob())
        r.register(TransferRefundJob())
        r.register(TransfersExpireJob())
        try r.schedule(TransfersExpireJob.self, cron: "* * * * *")
        // Rewards, streaks, referrals and rollover (docs/rewards-and-notifications.md).
        r.register(RewardsActionJob())
        r.register(StreaksEvaluateJob(settings: rewards))
        // A few minutes past midnight UTC: the day just ended, once its last actions are in.
        try r.schedule(StreaksEvaluateJob.self, cron: "5 0 * * *")
        r.register(ReferralRewardJob(settings: rewards))
        r.register(CreditsRolloverJob(settings: ledger))
        try r.schedule(CreditsRolloverJob.self, cron: "@hourly")
        // Notifications.
        r.register(NotifyDeliverJob(settings: notify))
        r.register(NotifyReadJob())
        r.register(NotifyPruneJob(settings: notify))
        try r.schedule(NotifyPruneJob.self, cron: "@hourly")
        // Payments.
        r.register(StripeEventJob(settings: stripe))
        // Auto top-up (docs/ledger.md, "Auto top-up").
        r.register(AccountAutoTopupJob())
        r.register(TopupChargeJob())
        // Crypto purchases (docs/crypto.md).
        r.register(PricesRefreshJob())
        r.register(CryptoQuoteJob(settings: crypto))
        r.register(CryptoCheckJob(settings: crypto))
        r.register(CryptoPollJob(settings: crypto))
        r.register(CryptoConfirmManualJob(settings: crypto))
        try r.schedule(PricesRefreshJob.self, cron: "* * * * *")
        try r.schedule(CryptoPollJob.self, cron: "* * * * *")
        // The queue's own upkeep.
        r.register(PruneJobsJob(settings: prune))
        try r.schedule(PruneJobsJob.self, cron: "@hourly")
        try r.applyScheduleOverrides(environment)
        return r
    }

    /// Settings that turn every standard schedule off (tests that run the dates they name).
    public static func schedulesOff() throws -> [String: String] {
        try standard(environment: Environment([:])).schedulesOffSettings
    }
}
