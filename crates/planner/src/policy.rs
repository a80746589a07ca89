//! A stream's scaling policy: the numbers `streams.yaml` sets and every decision reads.
//!
//! The defaults are the design's figures (scale up at 80 % of provisioned capacity, scale down when
//! every 5-minute point of the last 24 h is under 50 %); `streams.yaml` may override each one.

use serde::Serialize;

use crate::Ratio;

/// Kinesis's default per-account shard quota in most regions; a stream cannot exceed it without a
/// quota increase, so configurations above it are rejected as likely typos.
pub const MAX_SHARDS_PER_STREAM: u32 = 10_000;

/// How one stream is scaled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// Never merge below this many open shards.
    pub min_shards: u32,
    /// Never split above this many open shards.
    pub max_shards: u32,
    pub scale_up: ScaleUp,
    pub scale_down: ScaleDown,
    /// Kinesis enhanced (shard-level) metrics for incoming bytes and records, an alarm on each
    /// open shard, and per-shard load in every decision. A hot key makes one shard hot long before
    /// the stream-level average notices; this sees it at the threshold instead of at throttling.
    /// Off by default: CloudWatch bills each shard-level metric and alarm.
    pub shard_level_metrics: bool,
}

/// When and how far to scale up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleUp {
    /// The alarms fire when a period's load reaches this share of provisioned capacity.
    pub threshold: Ratio,
    /// Scale-up sizes the stream so the observed load sits at this share of the new capacity,
    /// leaving headroom for growth while the next alarm evaluates. Merges must also leave every
    /// merged shard at or under it, so a merge never creates a shard the next alarm would split.
    pub target: Ratio,
    /// Alarm period in seconds (CloudWatch accepts 10, 30 or a multiple of 60).
    pub period_secs: u32,
    /// Consecutive breaching periods before the alarm fires.
    pub evaluation_periods: u32,
    /// After a scaling action, further alarms for the stream are ignored for this long (a tag on
    /// the stream records when the last action happened).
    pub cooldown_secs: u32,
    /// Also alarm on `WriteProvisionedThroughputExceeded > 0`: throttling is the symptom that
    /// matters, and a hot shard can throttle while the stream as a whole is well under threshold.
    pub throttle_alarm: bool,
    /// Whether a throttling alarm may act during the cooldown.
    pub throttle_bypasses_cooldown: bool,
}

/// When and how far to scale down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleDown {
    /// Merge only when *every* datapoint of the look-back window is under this share of capacity.
    pub threshold: Ratio,
    /// Datapoint period in seconds (5 minutes: Kinesis's basic stream-level resolution).
    pub period_secs: u32,
    /// How far back the scale-down cycle looks, in seconds (24 h by default).
    pub lookback_secs: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_shards: 1,
            max_shards: 64,
            scale_up: ScaleUp::default(),
            scale_down: ScaleDown::default(),
            shard_level_metrics: false,
        }
    }
}

impl Default for ScaleUp {
    fn default() -> Self {
        ScaleUp {
            threshold: Ratio::from_percent(80.0).expect("80% is a valid ratio"),
            target: Ratio::from_percent(60.0).expect("60% is a valid ratio"),
            period_secs: 60,
            evaluation_periods: 1,
            cooldown_secs: 300,
            throttle_alarm: true,
            throttle_bypasses_cooldown: true,
        }
    }
}

impl Default for ScaleDown {
    fn default() -> Self {
        ScaleDown {
            threshold: Ratio::from_percent(50.0).expect("50% is a valid ratio"),
            period_secs: 300,
            lookback_secs: 24 * 3600,
        }
    }
}
