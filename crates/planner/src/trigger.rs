//! Whether an alarm may act now: staleness, cooldown and the scaler's state tags.
//!
//! SNS delivers at least once, and the bytes and records alarms often fire together, so every
//! trigger passes this gate. The stream itself carries the scaler's state in tags (epoch seconds,
//! since Kinesis tag values allow no `:`): when it last scaled, and each `UpdateShardCount` call of
//! the last 24 h (Kinesis allows 10 per rolling day) under a key of its own, so two actors recording
//! calls at once add keys rather than overwrite each other's list. An alarm whose state changed
//! before the last scaling is stale: that scaling already answered it, and the re-armed alarm will
//! fire afresh if the stream is still hot.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::tags::STATE_TAG_PREFIX;
use crate::{Metric, PlannerError, Policy};

/// Epoch seconds of the last scaling action on the stream.
pub const LAST_SCALED_TAG: &str = "kinesis-autoscaler/state-last-scaled";
/// Space-separated epoch seconds of `UpdateShardCount` calls in the last 24 h, as versions before
/// [`UPDATE_CALL_TAG_PREFIX`] wrote them: still read, no longer written.
pub const UPDATE_CALLS_TAG: &str = "kinesis-autoscaler/state-update-calls";
/// One `UpdateShardCount` call: this prefix, its epoch second and the recording actor's nonce as
/// the key, the epoch second as the value. A key per call makes the record lossless under
/// concurrency (`AddTagsToStream` merges keys), and the nonce lets an actor whose call Kinesis
/// refused take back its own record and no one else's.
pub const UPDATE_CALL_TAG_PREFIX: &str = "kinesis-autoscaler/state-update-call-";

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
        // The old list tag's calls and one per per-call tag.
        let listed = tags
            .get(UPDATE_CALLS_TAG)
            .into_iter()
            .flat_map(|v| v.split_whitespace().map(|w| time(UPDATE_CALLS_TAG, v, w)));
        let own =
            tags.iter().filter(|(k, _)| k.starts_with(UPDATE_CALL_TAG_PREFIX)).map(|(k, v)| time(k, v, v));
        let mut update_calls = listed.chain(own).collect::<Result<Vec<_>, _>>()?;
        update_calls.sort();
        Ok(ScalingState { last_scaled_at, update_calls })
    }

    /// Whether a scaling recorded since answered an alarm whose state changed at `changed_at`:
    /// the gate's test for a stale trigger ([`admit`]), and which of a stream's other alarms in
    /// `ALARM` still add their evidence to a decision.
    pub fn answered(&self, changed_at: DateTime<Utc>) -> bool {
        self.last_scaled_at.is_some_and(|last| changed_at <= last)
    }

    /// The tag that records the last scaling (the `UpdateShardCount` calls have their own; see
    /// [`ScalingState::record_update_call`]).
    pub fn to_tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        if let Some(t) = self.last_scaled_at {
            tags.insert(LAST_SCALED_TAG.to_owned(), t.timestamp().to_string());
        }
        tags
    }

    /// `UpdateShardCount` calls within the rolling day before `now`.
    pub fn update_calls_last_24h(&self, now: DateTime<Utc>) -> u32 {
        self.update_calls.iter().filter(|t| **t > now - Duration::hours(24)).count() as u32
    }

    /// Records a scaling action at `now`. The one rule for both directions: the tags keep whole
    /// seconds, so the time is rounded *up*; an alarm that changed state earlier in this same
    /// second (a duplicate delivery, the twin alarm) must read as stale, not as fresh.
    /// Returns the time recorded.
    pub fn record(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let at = whole_second_at_or_after(now);
        self.last_scaled_at = Some(at);
        at
    }

    /// Records an `UpdateShardCount` call about to be made at `now` by the actor `nonce` names,
    /// forgetting calls older than a day, and returns the tag to add for it. Written right before
    /// each call, so no actor's call is lost to another's write.
    pub fn record_update_call(&mut self, now: DateTime<Utc>, nonce: u64) -> BTreeMap<String, String> {
        let now = whole_second_at_or_after(now);
        self.update_calls.retain(|t| *t > now - Duration::hours(24));
        self.update_calls.push(now);
        let secs = now.timestamp().to_string();
        BTreeMap::from([(format!("{UPDATE_CALL_TAG_PREFIX}{secs}-{nonce:016x}"), secs)])
    }

    /// The keys among `tags` that record nothing of the rolling day before `now`: per-call tags of
    /// older calls, and the old list tag once all of it has aged out. Removing them keeps a stream
    /// well under Kinesis's 50 tags.
    pub fn expired_tags(tags: &BTreeMap<String, String>, now: DateTime<Utc>) -> Vec<String> {
        let fresh = |t: &DateTime<Utc>| *t > now - Duration::hours(24);
        tags.iter()
            .filter(|(key, value)| match key.strip_prefix(UPDATE_CALL_TAG_PREFIX) {
                Some(_) => epoch(value).is_none_or(|t| !fresh(&t)),
                None => {
                    key.as_str() == UPDATE_CALLS_TAG
                        && !value.split_whitespace().filter_map(epoch).any(|t| fresh(&t))
                }
            })
            .map(|(key, _)| key.clone())
            .collect()
    }
}

fn epoch(text: &str) -> Option<DateTime<Utc>> {
    text.parse::<i64>().ok().and_then(|secs| DateTime::from_timestamp(secs, 0))
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
    /// Reads were throttled (`ReadProvisionedThroughputExceeded`): the scale-up sizes from the
    /// shared readers' demand too.
    ReadThrottle,
    /// A metric this tool reads but writes no alarm on (`GetRecords.Bytes`,
    /// `GetRecords.IteratorAgeMilliseconds`): an alarm on it is not this tool's to act on.
    NotAlarmed,
}

impl AlarmKind {
    /// The kind of an alarm on `metric`: throttling, or one of the load metrics.
    pub fn of(metric: Metric) -> AlarmKind {
        match metric {
            Metric::WriteProvisionedThroughputExceeded => AlarmKind::Throttle,
            Metric::ReadProvisionedThroughputExceeded => AlarmKind::ReadThrottle,
            Metric::IncomingBytes | Metric::IncomingRecords => AlarmKind::Capacity,
            Metric::GetRecordsBytes | Metric::GetRecordsIteratorAge => AlarmKind::NotAlarmed,
        }
    }

    /// Whether the alarm reports refused calls, which may act during the cooldown.
    pub fn is_throttle(self) -> bool {
        matches!(self, AlarmKind::Throttle | AlarmKind::ReadThrottle)
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
    if state.answered(changed_at) {
        return Admission::Stale { changed_at, last_scaled_at: last };
    }
    // A forged or corrupt time near the last representable date must not panic: a cooldown that
    // ends past it never ends.
    let until = last
        .checked_add_signed(Duration::seconds(i64::from(policy.scale_up.cooldown_secs)))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let bypass = kind.is_throttle() && policy.scale_up.throttle_bypasses_cooldown;
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
            state.record(at(t));
            assert_eq!(state.last_scaled_at, Some(at(expected)));
        }
    }
}
