//! Whether an alarm may act now: staleness, cooldown and the scaler's state tags.
//!
//! SNS delivers at least once, and the bytes and records alarms often fire together, so every
//! trigger passes this gate. The stream itself carries the scaler's state in two tags (epoch
//! seconds, since Kinesis tag values allow no `:`): when it last scaled, and the `UpdateShardCount`
//! calls of the last 24 h (Kinesis allows 10 per rolling day). An alarm whose state changed before
//! the last scaling is stale: that scaling already answered it, and the re-armed alarm will fire
//! afresh if the stream is still hot.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::tags::STATE_TAG_PREFIX;
use crate::{Metric, PlannerError, Policy};

/// Epoch seconds of the last scaling action on the stream.
pub const LAST_SCALED_TAG: &str = "kinesis-autoscaler/state-last-scaled";
/// Space-separated epoch seconds of `UpdateShardCount` calls in the last 24 h.
pub const UPDATE_CALLS_TAG: &str = "kinesis-autoscaler/state-update-calls";

const _: () = assert!(LAST_SCALED_TAG.len() > STATE_TAG_PREFIX.len());

/// The scaler's memory of a stream, read from and written to its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScalingState {
    pub last_scaled_at: Option<DateTime<Utc>>,
    pub update_calls: Vec<DateTime<Utc>>,
}

/// How far in the future a state tag's time may lie: the clocks of the Lambdas and the CLI that
/// write the tags may differ from the reader's by this much (and [`ScalingState::record`] rounds up
/// to the next second). Beyond it the time is forged or corrupt: read as it stands, a
/// `state-last-scaled` in the year 3000 would hold the stream in cooldown forever.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::seconds(60);

impl ScalingState {
    /// Reads the state tags as of `now`. A tag that is not epoch seconds, or names a time after
    /// `now` plus [`CLOCK_SKEW_ALLOWANCE`], is an error: the callers skip the stream with one log
    /// line until `streams apply` rewrites it, rather than guess (read as absent, a forged tag
    /// would lift the cooldown; read as it stands, it would hold the stream forever).
    pub fn from_tags(
        tags: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<ScalingState, PlannerError> {
        let latest = now.checked_add_signed(CLOCK_SKEW_ALLOWANCE).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let time = |key: &str, value: &str, word: &str| {
            let bad = |reason: &str| PlannerError::InvalidStateTag {
                key: key.to_owned(),
                value: value.to_owned(),
                reason: reason.to_owned(),
            };
            let secs = word.parse::<i64>().map_err(|_| bad("it is not whole epoch seconds"))?;
            let t =
                DateTime::from_timestamp(secs, 0).ok_or_else(|| bad("it is out of the range of dates"))?;
            if secs < 0 {
                return Err(bad("it is before 1970"));
            }
            if t > latest {
                return Err(bad(&format!("it is in the future (after {latest})")));
            }
            Ok(t)
        };
        let last_scaled_at = match tags.get(LAST_SCALED_TAG) {
            Some(v) => Some(time(LAST_SCALED_TAG, v, v)?),
            None => None,
        };
        let update_calls = match tags.get(UPDATE_CALLS_TAG) {
            Some(v) => {
                v.split_whitespace().map(|w| time(UPDATE_CALLS_TAG, v, w)).collect::<Result<_, _>>()?
            }
            None => Vec::new(),
        };
        Ok(ScalingState { last_scaled_at, update_calls })
    }

    /// The tags that record this state.
    pub fn to_tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        if let Some(t) = self.last_scaled_at {
            tags.insert(LAST_SCALED_TAG.to_owned(), t.timestamp().to_string());
        }
        if !self.update_calls.is_empty() {
            let calls: Vec<String> = self.update_calls.iter().map(|t| t.timestamp().to_string()).collect();
            tags.insert(UPDATE_CALLS_TAG.to_owned(), calls.join(" "));
        }
        tags
    }

    /// `UpdateShardCount` calls within the rolling day before `now`.
    pub fn update_calls_last_24h(&self, now: DateTime<Utc>) -> u32 {
        self.update_calls.iter().filter(|t| **t > now - Duration::hours(24)).count() as u32
    }

    /// Records a scaling action at `now` (with `update_calls` uniform calls), forgetting calls
    /// older than a day so the tag stays short. The one rule for both directions: the tags keep
    /// whole seconds, so the time is rounded *up*; an alarm that changed state earlier in this same
    /// second (a duplicate delivery, the twin alarm) must read as stale, not as fresh.
    pub fn record(&mut self, now: DateTime<Utc>, update_calls: u32) {
        let now = whole_second_at_or_after(now);
        self.last_scaled_at = Some(now);
        self.update_calls.retain(|t| *t > now - Duration::hours(24));
        self.update_calls.extend(std::iter::repeat_n(now, update_calls as usize));
    }
}

/// `t` rounded up to a whole second (what the scaling-state tags can hold).
fn whole_second_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp().saturating_add(i64::from(t.timestamp_subsec_nanos() > 0));
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

/// What kind of alarm fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AlarmKind {
    /// Incoming bytes or records reached the scale-up threshold.
    Capacity,
    /// Writes were throttled (`WriteProvisionedThroughputExceeded`).
    Throttle,
}

impl AlarmKind {
    /// The kind of an alarm on `metric`: throttling, or one of the load metrics.
    pub fn of(metric: Metric) -> AlarmKind {
        match metric {
            Metric::WriteProvisionedThroughputExceeded => AlarmKind::Throttle,
            Metric::IncomingBytes | Metric::IncomingRecords => AlarmKind::Capacity,
        }
    }
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Admission {
    Act,
    /// The alarm's state changed before the last scaling: a duplicate, or already answered.
    Stale {
        changed_at: DateTime<Utc>,
        last_scaled_at: DateTime<Utc>,
    },
    /// Within the cooldown after the last scaling.
    Cooldown {
        until: DateTime<Utc>,
    },
}

/// Decides whether an alarm that changed state at `changed_at` may scale the stream at `now`.
pub fn admit(
    changed_at: DateTime<Utc>,
    kind: AlarmKind,
    state: &ScalingState,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Admission {
    let Some(last) = state.last_scaled_at else { return Admission::Act };
    if changed_at <= last {
        return Admission::Stale { changed_at, last_scaled_at: last };
    }
    // A forged or corrupt time near the last representable date must not panic: a cooldown that
    // ends past it never ends.
    let until = last
        .checked_add_signed(Duration::seconds(i64::from(policy.scale_up.cooldown_secs)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let bypass = kind == AlarmKind::Throttle && policy.scale_up.throttle_bypasses_cooldown;
    if now < until && !bypass { Admission::Cooldown { until } } else { Admission::Act }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalings_are_recorded_at_the_next_whole_second() {
        let at = |ms: i64| DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap();
        for (t, expected) in [(0, 0), (1, 1_000), (999, 1_000)] {
            let mut state = ScalingState::default();
            state.record(at(t), 0);
            assert_eq!(state.last_scaled_at, Some(at(expected)));
        }
    }
}
