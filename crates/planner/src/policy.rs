//! A stream's scaling policy: the numbers `streams.yaml` sets and every decision reads.
//!
//! The defaults are the design's figures (scale up at 80 % of provisioned capacity, scale down when
//! every 5-minute point of the last 24 h is under 50 %); `streams.yaml` may override each one.

use serde::Serialize;

use crate::Ratio;

pub mod bounds {
    //! The bounds on every setting, in the policy's units: the one home of the rules that
    //! `streams.yaml` reports with file positions and the policy-tag decoder enforces on tags
    //! anyone with `AddTagsToStream` can write. Each is a limit of AWS (quoted) or of this tool's
    //! design; a value outside them is a typo or an attack, never a configuration.

    use super::MAX_SHARDS_PER_STREAM;

    /// `minShards` may equal `maxShards` (a fixed-size stream) but not exceed it.
    pub fn shards_ordered(min: u32, max: u32) -> bool {
        min <= max
    }

    /// A shard count: at least one, at most the account quota.
    pub fn is_shard_count(n: u32) -> bool {
        (1..=MAX_SHARDS_PER_STREAM).contains(&n)
    }

    /// The periods CloudWatch alarms accept: 10, 30 or a multiple of 60 seconds, at most a day.
    pub fn is_alarm_period(secs: u32) -> bool {
        secs == 10 || secs == 30 || (secs > 0 && secs <= MAX_ALARM_SECS && secs.is_multiple_of(60))
    }

    /// Consecutive breaching periods before an alarm fires.
    pub fn is_evaluation_periods(n: u32) -> bool {
        (1..=100).contains(&n)
    }

    /// A CloudWatch alarm evaluates at most one day of periods.
    pub const MAX_ALARM_SECS: u32 = 86_400;

    /// Whether `periods` periods of `secs` fit the day an alarm can evaluate.
    pub fn alarm_span_fits(periods: u32, secs: u32) -> bool {
        u64::from(periods) * u64::from(secs) <= u64::from(MAX_ALARM_SECS)
    }

    /// Whole minutes from none to one day.
    pub fn is_cooldown(secs: u32) -> bool {
        secs <= 86_400 && secs.is_multiple_of(60)
    }

    /// Kinesis publishes stream-level metrics every minute; 5-minute multiples up to an hour keep
    /// the look-back's datapoint count (look-back / period) within one query.
    pub fn is_scale_down_period(secs: u32) -> bool {
        secs == 60 || (secs > 0 && secs <= 3_600 && secs.is_multiple_of(300))
    }

    /// A scale-down window compressed for the demo and the emulator tests ([`Windows::Compressed`]):
    /// periods of 10 s to an hour in steps of 10 s, look-backs of 30 s to a week. Still bounded,
    /// so a sweep reads at most a week of 10-second datapoints.
    pub fn is_compressed_window(period_secs: u32, lookback_secs: u32) -> bool {
        (10..=3_600).contains(&period_secs)
            && period_secs.is_multiple_of(10)
            && (30..=168 * 3_600).contains(&lookback_secs)
            && lookback_secs >= period_secs
    }

    /// Whole hours from one to a week (168 h), which bounds the datapoints a sweep reads.
    pub fn is_lookback(secs: u32) -> bool {
        (3_600..=168 * 3_600).contains(&secs) && secs.is_multiple_of(3_600)
    }

    /// The iterator-age bound: whole seconds from one to 365 days (the longest retention; an age
    /// past it means records expired unread, not a bound anyone sets).
    pub fn is_max_iterator_age(secs: u32) -> bool {
        (1..=MAX_ITERATOR_AGE_SECS).contains(&secs)
    }

    /// 365 days in seconds: Kinesis's longest retention.
    pub const MAX_ITERATOR_AGE_SECS: u32 = 365 * 86_400;

    /// A predictive look-back: three days (the fewest a daily rhythm shows in) to four weeks. The
    /// forecast reads 5-minute datapoints, which CloudWatch keeps 63 days; four weeks of them per
    /// stream (8,064 a series) keep an hourly read to a dozen series a `GetMetricData` call.
    pub fn is_predictive_lookback(days: u32) -> bool {
        (3..=28).contains(&days)
    }

    /// A predictive lead: 5 minutes (the metrics' resolution) to 2 hours (beyond it the capacity
    /// stands idle longer than most peaks last).
    pub fn is_predictive_lead(minutes: u32) -> bool {
        (5..=120).contains(&minutes)
    }

    /// Shares compared in any one unit (ratios or percentages): scaling up must leave the load
    /// below the alarm threshold.
    pub fn target_below_threshold(target: f64, threshold: f64) -> bool {
        target < threshold
    }

    /// Scaling down must stay below the scale-up target, or a merged stream could be split again
    /// at once.
    pub fn down_below_target(down: f64, target: f64) -> bool {
        down < target
    }
}

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
    /// Neither Lambda reshards the stream (an incident, a migration, a load test), and each says
    /// so in its decision record. Its alarms stay written for the live count, so the first alarm
    /// or sweep after un-pausing acts at once, with nothing to re-create.
    pub paused: bool,
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
    /// Also alarm on `ReadProvisionedThroughputExceeded > 0` and size a scale-up from the shared
    /// readers' demand as well as the writers'. Off by default: a stream whose consumers poll too
    /// often throttles on the 5 `GetRecords` calls a second per shard, which more shards do not
    /// lift, so the alarm only helps where reads are bound by bytes; the stream's owner knows.
    pub read_throttle_alarm: bool,
    /// Scale up ahead of a recurring peak the stream's own history forecasts
    /// ([`plan_pre_scale`](crate::plan_pre_scale)). Off by default: it costs an hourly read of
    /// weeks of metrics, and only a stream with a rhythm gains from it.
    pub predictive: Option<Predictive>,
}

/// How a predictive stream forecasts (`scaleUp.predictive` in `streams.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Predictive {
    /// Days of history the forecast reads.
    pub lookback_days: u32,
    /// How long before the expected peak the capacity must be in place: a resize of a large step
    /// takes minutes, and the forecast's time is only as exact as the history's rhythm.
    pub lead_minutes: u32,
}

impl Default for Predictive {
    fn default() -> Self {
        Predictive { lookback_days: 14, lead_minutes: 15 }
    }
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
    /// Merge nothing while the consumers are behind: no merge when the stream's
    /// `GetRecords.IteratorAgeMilliseconds` (maximum) passed this many seconds at any period of
    /// the look-back. `None` turns the guard off. See [`DEFAULT_MAX_ITERATOR_AGE_SECS`].
    pub max_iterator_age_secs: Option<u32>,
}

/// The iterator-age bound by default: 10 minutes. A consumer that keeps up reads records
/// milliseconds to seconds old; the slowest healthy one, a Lambda with the longest batching window
/// (300 s) on a one-second poll, a little over five minutes. Ten minutes is clear of both, and a
/// consumer that far behind is one a merge (which halves the merged pair's read throughput and
/// its Lambda's concurrent batches) would push further behind.
pub const DEFAULT_MAX_ITERATOR_AGE_SECS: u32 = 600;

impl Policy {
    /// The first rule of [`bounds`] this policy breaks, as a sentence naming the tag's field, or
    /// `Ok`. `streams.yaml` reports the same rules with positions; this is for values that come
    /// from anywhere else.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_with(Windows::File)
    }

    /// [`Policy::validate`], with the scale-down window held to `windows`.
    pub fn validate_with(&self, windows: Windows) -> Result<(), String> {
        use bounds::*;
        let (up, down) = (&self.scale_up, &self.scale_down);
        let field = |ok: bool, name: &str, value: u32, allowed: &str| {
            if ok { Ok(()) } else { Err(format!("{name}={value} is not {allowed}")) }
        };
        let shards = format!("1 to {MAX_SHARDS_PER_STREAM} shards");
        field(is_shard_count(self.min_shards), "min", self.min_shards, &shards)?;
        field(is_shard_count(self.max_shards), "max", self.max_shards, &shards)?;
        if !shards_ordered(self.min_shards, self.max_shards) {
            return Err(format!("min={} is greater than max={}", self.min_shards, self.max_shards));
        }
        field(
            is_alarm_period(up.period_secs),
            "period",
            up.period_secs,
            "10, 30 or a multiple of 60 seconds",
        )?;
        field(
            is_evaluation_periods(up.evaluation_periods),
            "evals",
            up.evaluation_periods,
            "1 to 100 periods",
        )?;
        if !alarm_span_fits(up.evaluation_periods, up.period_secs) {
            return Err(format!(
                "evals={} times period={} is more than the one day an alarm evaluates",
                up.evaluation_periods, up.period_secs
            ));
        }
        field(is_cooldown(up.cooldown_secs), "cooldown", up.cooldown_secs, "whole minutes up to one day")?;
        match windows {
            Windows::File => {
                field(
                    is_scale_down_period(down.period_secs),
                    "downperiod",
                    down.period_secs,
                    "60 seconds or a multiple of 300 up to 3600",
                )?;
                field(
                    is_lookback(down.lookback_secs),
                    "lookback",
                    down.lookback_secs,
                    "whole hours from 1 to 168",
                )?;
            }
            Windows::Compressed if !is_compressed_window(down.period_secs, down.lookback_secs) => {
                return Err(format!(
                    "downperiod={} and lookback={} are not a compressed window (10 s steps up to an hour, \
                     30 s to a week)",
                    down.period_secs, down.lookback_secs
                ));
            }
            Windows::Compressed => {}
        }
        if let Some(p) = up.predictive {
            field(
                is_predictive_lookback(p.lookback_days),
                "predict lookback",
                p.lookback_days,
                "3 to 28 days",
            )?;
            field(is_predictive_lead(p.lead_minutes), "predict lead", p.lead_minutes, "5 to 120 minutes")?;
        }
        if let Some(age) = down.max_iterator_age_secs {
            field(is_max_iterator_age(age), "maxage", age, "whole seconds from 1 to 31536000 (365 days)")?;
        }
        if !target_below_threshold(up.target.get(), up.threshold.get()) {
            return Err(format!("target={} is not below up={}", up.target.percent(), up.threshold.percent()));
        }
        if !down_below_target(down.threshold.get(), up.target.get()) {
            return Err(format!(
                "down={} is not below target={}",
                down.threshold.percent(),
                up.target.percent()
            ));
        }
        Ok(())
    }
}

/// Which scale-down windows a policy may have. `File` is `streams.yaml`'s (whole minutes and
/// hours), for every deployment. `Compressed` lets the demo and the emulator tests, which cannot
/// back-date a stream's history, compress a day into seconds; only a deployer sets it
/// (`COMPRESSED_WINDOWS` on the scale-down function), never a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Windows {
    #[default]
    File,
    Compressed,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_shards: 1,
            max_shards: 64,
            scale_up: ScaleUp::default(),
            scale_down: ScaleDown::default(),
            shard_level_metrics: false,
            paused: false,
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
            read_throttle_alarm: false,
            predictive: None,
        }
    }
}

impl Default for ScaleDown {
    fn default() -> Self {
        ScaleDown {
            threshold: Ratio::from_percent(50.0).expect("50% is a valid ratio"),
            period_secs: 300,
            lookback_secs: 24 * 3600,
            max_iterator_age_secs: Some(DEFAULT_MAX_ITERATOR_AGE_SECS),
        }
    }
}
