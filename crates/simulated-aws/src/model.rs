//! How this simulated AWS behaves in time: every latency and duration it assumes, each with where
//! it comes from. The simulator's report prints them; unit tests take [`Model::instant`], where
//! everything happens at once, and the simulator and the soak take [`Model::aws`].

use std::time::Duration;

/// CloudWatch publishes a 1-minute datapoint this long after its minute ends (AWS documents
/// "typically within a minute or two"; we take the middle, 90 s).
pub const METRIC_DELAY_SECS: i64 = 90;

/// An alarm's state change reaching a Lambda through SNS, plus a warm invocation (seconds in
/// practice; we use 5 s).
pub const NOTIFY_LATENCY_SECS: i64 = 5;

/// One `SplitShard` or `MergeShards`: the stream is `UPDATING` for this long and the children
/// open when it is done (AWS: "may take a few seconds"; peers observe tens of seconds: 30 s).
pub const RESHARD_SECS: i64 = 30;

/// One `UpdateShardCount` (AWS: "a few minutes"; it re-creates every shard, so we let it grow
/// with the larger of the two counts): 60 s plus 4 s per shard. 4 → 8 takes 92 s, 32 → 64 316 s.
pub fn update_shard_count_secs(from: u32, to: u32) -> i64 {
    60 + 4 * i64::from(from.max(to))
}

/// CloudWatch evaluates an alarm once a minute, on the minute.
pub const EVALUATION_SECS: i64 = 60;

/// When the datapoint of minute `m` (counted in minutes from any origin on a minute) becomes
/// readable, in seconds from that origin: the minute's end plus the metric delay.
pub fn published_at(m: i64) -> i64 {
    (m + 1) * 60 + METRIC_DELAY_SECS
}

/// The first alarm evaluation at or after `t` (seconds from an origin on a minute).
pub fn next_evaluation(t: i64) -> i64 {
    -(-t).div_euclid(EVALUATION_SECS) * EVALUATION_SECS
}

/// The account and region the simulated services answer for.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The simulated AWS's behaviour in time and its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub account: String,
    pub region: String,
    /// `SplitShard` / `MergeShards` leave the stream `UPDATING` this long.
    pub reshard: Duration,
    /// `UpdateShardCount` leaves it `UPDATING` for `update_base` plus `update_per_shard` per
    /// shard of the larger count.
    pub update_base: Duration,
    pub update_per_shard: Duration,
    /// `CreateStream` leaves the stream `CREATING` this long.
    pub create: Duration,
    /// A datapoint is readable (by `GetMetricData` and alarms) this long after its minute ends;
    /// `None`: as soon as it is written, whatever its time (tests write back-dated datapoints).
    pub metric_delay: Option<Duration>,
    /// From an alarm's change of state to its SNS delivery.
    pub notify_latency: Duration,
    /// The chance that SNS delivers a message twice (it delivers at least once).
    pub duplicate_deliveries: f64,
    /// Each read (`describe`, `status`, `tags`) takes this long.
    pub read_latency: Duration,
    /// Each call first waits a seeded random time below this, so concurrent callers interleave
    /// differently for each seed and the same for the same seed.
    pub call_jitter: Duration,
    pub seed: u64,
}

impl Model {
    /// Everything at once: what the handlers' unit tests want, as the in-memory fakes did.
    pub fn instant() -> Model {
        Model {
            account: ACCOUNT.to_owned(),
            region: REGION.to_owned(),
            reshard: Duration::ZERO,
            update_base: Duration::ZERO,
            update_per_shard: Duration::ZERO,
            create: Duration::ZERO,
            metric_delay: None,
            notify_latency: Duration::ZERO,
            duplicate_deliveries: 0.0,
            read_latency: Duration::ZERO,
            call_jitter: Duration::ZERO,
            seed: 1,
        }
    }

    /// AWS as the constants above describe it: the simulator's and the soak's.
    pub fn aws() -> Model {
        let secs = |s: i64| Duration::from_secs(s.unsigned_abs());
        Model {
            reshard: secs(RESHARD_SECS),
            update_base: secs(update_shard_count_secs(0, 0)),
            update_per_shard: secs(update_shard_count_secs(0, 1) - update_shard_count_secs(0, 0)),
            metric_delay: Some(secs(METRIC_DELAY_SECS)),
            notify_latency: secs(NOTIFY_LATENCY_SECS),
            ..Model::instant()
        }
    }

    /// Reshards take `time` (split, merge and `UpdateShardCount` alike).
    pub fn with_reshard_time(mut self, time: Duration) -> Model {
        (self.reshard, self.update_base, self.update_per_shard) = (time, time, Duration::ZERO);
        self
    }

    /// How long `UpdateShardCount` from `from` to `to` open shards leaves the stream `UPDATING`.
    pub fn update_time(&self, from: u32, to: u32) -> Duration {
        self.update_base + self.update_per_shard * from.max(to)
    }
}

impl Default for Model {
    fn default() -> Self {
        Model::instant()
    }
}
