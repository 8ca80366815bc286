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
        r.schedule(CronSchedule(name: "credits.expire", expression: try CronExpression("@hourly"), kind: CreditsExpireJob.kind,
                                queue: CreditsExpireJob.queue))
        // Rewards, streaks, referrals and rollover (docs/rewards-and-notifications.md).
        r.register(RewardsActionJob())
        r.register(StreaksEvaluateJob())
        // A few minutes past midnight UTC: the day just ended, once its last actions are in.
        r.schedule(CronSchedule(name: "streaks.evaluate", expression: try CronExpression("5 0 * * *"), kind: StreaksEvaluateJob.kind,
                                queue: StreaksEvaluateJob.queue))
        r.register(ReferralRewardJob())
        r.register(CreditsRolloverJob())
        r.schedule(CronSchedule(name: "credits.rollover", expression: try CronExpression("@hourly"), kind: CreditsRolloverJob.kind,
                                queue: CreditsRolloverJob.queue))
        // Notifications.
        r.register(NotifyDeliverJob())
        r.register(NotifyReadJob())
        r.register(NotifyPruneJob())
        r.schedule(CronSchedule(name: "notify.prune", expression: try CronExpression("@hourly"), kind: NotifyPruneJob.kind,
                                queue: NotifyPruneJob.queue))
        // Payments.
        r.register(StripeEventJob())
        // Crypto purchases (docs/crypto.md).
        r.register(PricesRefreshJob())
        r.register(CryptoQuoteJob())
        r.register(CryptoCheckJob())
        r.register(CryptoPollJob())
        r.register(CryptoConfirmManualJob())
        r.schedule(CronSchedule(name: "prices.refresh", expression: try CronExpression("* * * * *"), kind: PricesRefreshJob.kind,
                                queue: PricesRefreshJob.queue))
        r.schedule(CronSchedule(name: "crypto.poll", expression: try CronExpression("* * * * *"), kind: CryptoPollJob.kind,
                                queue: CryptoPollJob.queue))
        // The queue's own upkeep.
        r.register(PruneJobsJob())
        r.schedule(CronSchedule(name: "jobs.prune", expression: try CronExpression("@hourly"), kind: PruneJobsJob.kind, queue: PruneJobsJob.queue))
        try r.applyScheduleOverrides(environment)
        return r
    }
}
