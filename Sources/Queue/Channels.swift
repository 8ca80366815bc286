/// The NOTIFY channels of the queue. Payloads are small: a queue name, a job id, a command.
public enum Channels {
    /// Jobs became available in a queue (payload: the queue name). Wakes idle producers.
    public static let jobs = "tally_jobs"
    /// A job someone waits on finished (payload: `<id>:<state>`). Only `notify_finish` jobs send it.
    public static let jobFinished = "tally_job_finished"
    /// Operator commands for workers (payload: `cancel:<id>`, `pause:<queue>`, `resume:<queue>`).
    public static let control = "tally_control"
    /// Balance and purchase changes for apps (payload: JSON `{id, user_id, type}`).
    public static let events = "tally_events"
}
