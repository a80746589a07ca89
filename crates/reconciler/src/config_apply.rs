//! The imperative half of `streams plan` / `streams apply`: observe an account into the planner's
//! [`Observed`], and carry out a [`SyncPlan`].
//!
//! Apply order per stream is chosen so an interruption at any point leaves a state the next
//! `plan` converges from: create and wait for `ACTIVE`; bring the shard count into bounds (one
//! `UpdateShardCount` of at most 2× / ½ at a time, each recorded in the scaling-state tags first
//! as the Lambdas record theirs, waiting between); retention; tags in one call,
//! before any alarm, so the policy the Lambdas read is in place by the time an alarm can fire;
//! alarms last, computed for the count the stream ends with. Every call is retried by the one
//! error policy.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::{
    ALARM_NAME_PREFIX, Change, Observed, ObservedAlarm, ObservedStream, POLICY_TAG, ScalingState, StreamPlan,
    SyncPlan, decode_policy,
};

use crate::ports::{
    ActiveStream, AlarmPort, AlarmSummary, ErrorKind, PortError, StreamAdmin, StreamReader, StreamSnapshot,
};
use crate::{Backoff, Jitter, ReconcileError, converge_shard_level, retry, wait_for_active};

/// What an apply is doing, for progress output.
#[derive(Debug)]
pub enum ApplyEvent<'a> {
    /// A change is about to be made.
    Change { stream: &'a str, change: &'a Change },
    /// Still waiting for the stream to become `ACTIVE`.
    Waiting { stream: &'a str, status: &'a str, elapsed: Duration },
    /// A managed stream absent from the file is being deleted (`--prune`).
    DeleteStream { stream: &'a str },
    /// Alarms under the tool's prefix that no stream wants are being deleted.
    DeleteAlarms { names: &'a [String] },
}

/// How long apply waits for a stream to become `ACTIVE`, how often it looks, and its clock.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    pub backoff: Backoff,
    pub wait_timeout: Duration,
    pub poll: Duration,
    /// The time each `UpdateShardCount` is recorded at (the wall clock; fixed in tests).
    pub clock: fn() -> DateTime<Utc>,
}

impl Default for ApplySettings {
    fn default() -> Self {
        ApplySettings {
            backoff: Backoff::DEFAULT,
            wait_timeout: Duration::from_secs(600),
            poll: Duration::from_secs(2),
            clock: Utc::now,
        }
    }
}

/// The alarm as the planner compares it with what it wants.
pub fn observed_alarm(a: &AlarmSummary) -> ObservedAlarm {
    ObservedAlarm {
        name: a.name.clone(),
        stream: a.stream().map(str::to_owned),
        per_shard: a.dimensions.iter().any(|d| d.name == "ShardId"),
        definition: a.definition.clone(),
    }
}

fn observed_stream(s: &StreamSnapshot) -> ObservedStream {
    ObservedStream {
        name: s.name.clone(),
        status: s.status,
        open_shards: s.tiling().map(|t| t.len()),
        retention_hours: s.retention_hours,
        tags: s.tags.clone(),
        shard_level_metrics: s.shard_level_metrics.clone(),
    }
}

/// Reads what exists: every stream named in `names`, every other stream the tool manages (its
/// policy tag), and every alarm under the tool's prefix except those of a stream that exists but
/// that the tool neither manages nor is told about (they are not orphans: their stream exists).
/// Streams it does not manage and the file does not name are not read beyond their tags.
///
/// Alarms are read first: `apply` creates a stream before its alarms, so every alarm read belongs
/// to a stream the listing that follows includes, unless that stream is gone. Read the other way
/// round, a stream created by a concurrent apply between the two reads would make its alarms look
/// orphaned.
pub async fn observe<S, A>(
    streams: &S,
    alarms: &A,
    names: &[String],
    backoff: &Backoff,
    jitter: &mut impl Jitter,
) -> Result<Observed, PortError>
where
    S: StreamReader + Sync,
    A: AlarmPort + Sync,
{
    let summaries = retry(backoff, jitter, || alarms.describe_alarms(ALARM_NAME_PREFIX)).await?;
    let mut observed = Observed::default();
    let existing = retry(backoff, jitter, || streams.list_streams()).await?;
    for name in existing.iter().cloned() {
        let listed = names.contains(&name);
        if !listed {
            let tags = match retry(backoff, jitter, || streams.tags(&name)).await {
                Err(e) if e.kind == ErrorKind::NotFound => continue, // deleted since the listing
                other => other?,
            };
            if !tags.contains_key(planner::POLICY_TAG) {
                continue;
            }
        }
        match retry(backoff, jitter, || streams.describe(&name)).await {
            Ok(snapshot) => {
                observed.streams.insert(name, observed_stream(&snapshot));
            }
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    observed.alarms = summaries
        .iter()
        .map(observed_alarm)
        .filter(|a| {
            a.stream.as_ref().is_none_or(|s| observed.streams.contains_key(s) || !existing.contains(s))
        })
        .collect();
    Ok(observed)
}

/// Carries out `plan`, reporting each step through `progress`. Stops at the first error; what was
/// done stays done, and the next `plan` shows what is left.
pub async fn apply<S, A>(
    streams: &S,
    alarms: &A,
    plan: &SyncPlan,
    settings: &ApplySettings,
    jitter: &mut impl Jitter,
    mut progress: impl FnMut(ApplyEvent<'_>),
) -> Result<(), ReconcileError>
where
    S: StreamAdmin + Sync,
    A: AlarmPort + Sync,
{
    for stream_plan in &plan.streams {
        apply_stream(streams, alarms, stream_plan, settings, jitter, &mut progress).await?;
    }
    for unlisted in plan.unlisted.iter().filter(|u| u.deletes()) {
        progress(ApplyEvent::DeleteStream { stream: &unlisted.name });
        if !unlisted.alarms.is_empty() {
            retry(&settings.backoff, jitter, || alarms.delete_alarms(&unlisted.alarms)).await?;
        }
        retry(&settings.backoff, jitter, || streams.delete_stream(&unlisted.name)).await?;
    }
    if !plan.orphan_alarms.is_empty() {
        progress(ApplyEvent::DeleteAlarms { names: &plan.orphan_alarms });
        retry(&settings.backoff, jitter, || alarms.delete_alarms(&plan.orphan_alarms)).await?;
    }
    Ok(())
}

async fn apply_stream<S, A>(
    streams: &S,
    alarms: &A,
    plan: &StreamPlan,
    settings: &ApplySettings,
    jitter: &mut impl Jitter,
    progress: &mut impl FnMut(ApplyEvent<'_>),
) -> Result<(), ReconcileError>
where
    S: StreamAdmin + Sync,
    A: AlarmPort + Sync,
{
    let name = plan.name.as_str();
    let backoff = &settings.backoff;
    let touches_stream = plan.changes.iter().any(|c| {
        matches!(c, Change::CreateStream { .. } | Change::Reshard { .. } | Change::Retention { .. })
            || matches!(c, Change::SetTag { .. } | Change::RemoveTag { .. })
    });
    // An existing stream may be mid-reshard by the autoscaler: wait before changing it.
    if touches_stream && plan.observed.is_some() {
        settle(streams, name, settings, progress).await?;
    }
    let mut set_tags = BTreeMap::new();
    let mut remove_tags = Vec::new();
    let mut delete_alarms = Vec::new();
    let mut shard_level_actions = None;
    for change in &plan.changes {
        progress(ApplyEvent::Change { stream: name, change });
        match change {
            Change::CreateStream { shards } => {
                retry(backoff, jitter, || streams.create_stream(name, *shards)).await?;
                settle(streams, name, settings, progress).await?;
            }
            Change::Reshard { from, to, .. } => {
                let mut count = *from;
                while count != *to {
                    count = if to > &count { (*to).min(count * 2) } else { (*to).max(count.div_ceil(2)) };
                    record_update_shard_count(streams, name, (settings.clock)(), backoff, jitter).await?;
                    retry(backoff, jitter, || streams.update_shard_count(name, count)).await?;
                    settle(streams, name, settings, progress).await?;
                }
            }
            Change::Retention { from, to } => {
                retry(backoff, jitter, || streams.set_retention(name, *from, *to)).await?;
                settle(streams, name, settings, progress).await?;
            }
            Change::SetTag { key, to, .. } => {
                set_tags.insert(key.clone(), to.clone());
            }
            Change::RemoveTag { key, .. } => remove_tags.push(key.clone()),
            Change::CreateAlarm { spec } | Change::UpdateAlarm { spec, .. } => {
                flush_tags(streams, name, &mut set_tags, &mut remove_tags, backoff, jitter).await?;
                retry(backoff, jitter, || alarms.put_alarm(spec)).await?;
            }
            Change::DeleteAlarm { name: alarm } => delete_alarms.push(alarm.clone()),
            Change::ShardLevel { alarm_actions, .. } => shard_level_actions = Some(alarm_actions),
        }
    }
    flush_tags(streams, name, &mut set_tags, &mut remove_tags, backoff, jitter).await?;
    if !delete_alarms.is_empty() {
        retry(backoff, jitter, || alarms.delete_alarms(&delete_alarms)).await?;
    }
    // Last: it follows the policy tag just written and the shards that exist once the stream is
    // ACTIVE (the autoscaler may reshard at any time; the Lambdas converge again after each).
    if let Some(actions) = shard_level_actions {
        let snapshot = settle(streams, name, settings, progress).await?;
        let tag = snapshot.tags.get(POLICY_TAG).map(String::as_str).unwrap_or_default();
        let policy = decode_policy(tag)
            .map_err(|source| ReconcileError::InvalidPolicy { stream: name.to_owned(), source })?;
        converge_shard_level(streams, alarms, &snapshot, &policy, actions, backoff, jitter).await?;
    }
    Ok(())
}

/// Records one `UpdateShardCount` in the stream's scaling-state tags before it is made, as the
/// Lambdas do ([`ScalingState::record`]): Kinesis allows 10 per stream per rolling 24 h, and the
/// Lambdas plan with what the tags say is left. It also starts the scale-up cooldown.
async fn record_update_shard_count<S: StreamAdmin + Sync>(
    streams: &S,
    name: &str,
    now: DateTime<Utc>,
    backoff: &Backoff,
    jitter: &mut impl Jitter,
) -> Result<(), PortError> {
    // A tag of its own per call, merged by AddTagsToStream: nothing to read first, nothing lost.
    let mut state = ScalingState::default();
    let nonce = (jitter.fraction(0) * u64::MAX as f64) as u64;
    let mut tags = state.record_update_call(now, nonce);
    state.record(now);
    tags.extend(state.to_tags());
    retry(backoff, jitter, || streams.add_tags(name, &tags)).await
}

/// Tag changes go out together, before the first alarm: the policy tag the Lambdas read is in
/// place by the time an alarm can fire for the stream.
async fn flush_tags<S: StreamAdmin + Sync>(
    streams: &S,
    name: &str,
    set: &mut BTreeMap<String, String>,
    remove: &mut Vec<String>,
    backoff: &Backoff,
    jitter: &mut impl Jitter,
) -> Result<(), PortError> {
    if !set.is_empty() {
        retry(backoff, jitter, || streams.add_tags(name, set)).await?;
        set.clear();
    }
    if !remove.is_empty() {
        retry(backoff, jitter, || streams.remove_tags(name, remove)).await?;
        remove.clear();
    }
    Ok(())
}

async fn settle<S: StreamReader + Sync>(
    streams: &S,
    name: &str,
    settings: &ApplySettings,
    progress: &mut impl FnMut(ApplyEvent<'_>),
) -> Result<ActiveStream, ReconcileError> {
    wait_for_active(streams, name, settings.wait_timeout, settings.poll, |status, elapsed| {
        progress(ApplyEvent::Waiting { stream: name, status: status.as_str(), elapsed })
    })
    .await
}

#[cfg(test)]
mod tests {
    use planner::{Policy, alarm_specs};

    use super::*;
    use crate::memory::{InMemoryCloudWatch, InMemoryStreams};
    use crate::{Resharder, SeededJitter};

    /// Which streams' alarms `observe` reports, with `managed` tagged as the tool's, `unmanaged`
    /// not, and each of `alarmed` given the tool's alarms.
    async fn alarmed_streams(alarmed: &[&str]) -> BTreeMap<String, usize> {
        let streams = InMemoryStreams::new().with_stream("managed", 1, Utc::now()).with_stream(
            "unmanaged",
            1,
            Utc::now(),
        );
        let policy = BTreeMap::from([(planner::POLICY_TAG.to_owned(), "v1".to_owned())]);
        streams.add_tags("managed", &policy).await.expect("tag");
        let cloudwatch = InMemoryCloudWatch::new();
        for stream in alarmed {
            for spec in alarm_specs(stream, 1, &Policy::default(), &[]) {
                cloudwatch.put_alarm(&spec).await.expect("put alarm");
            }
        }
        let observed = observe(&streams, &cloudwatch, &[], &Backoff::DEFAULT, &mut SeededJitter::new(1))
            .await
            .expect("observe");
        let mut counts = BTreeMap::new();
        for alarm in &observed.alarms {
            *counts.entry(alarm.stream.clone().unwrap_or_default()).or_default() += 1;
        }
        counts
    }

    fn at_noon() -> chrono::DateTime<Utc> {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("in range")
    }

    #[tokio::test(start_paused = true)]
    async fn every_update_shard_count_apply_makes_is_recorded_in_the_scaling_state_tags() {
        let streams = InMemoryStreams::new().with_stream("orders", 1, at_noon());
        // A call the scale-up Lambda made an hour ago stays on record.
        let mut earlier = ScalingState::default();
        let mut tags = earlier.record_update_call(at_noon() - chrono::Duration::hours(1), 9);
        earlier.record(at_noon() - chrono::Duration::hours(1));
        tags.extend(earlier.to_tags());
        streams.add_tags("orders", &tags).await.expect("tag");
        let plan = SyncPlan {
            streams: vec![StreamPlan {
                name: "orders".into(),
                observed: None,
                changes: vec![Change::Reshard { from: 1, to: 4, reason: "minShards".into() }],
            }],
            unlisted: vec![],
            orphan_alarms: vec![],
        };
        let settings = ApplySettings { clock: at_noon, ..ApplySettings::default() };
        apply(&streams, &InMemoryCloudWatch::new(), &plan, &settings, &mut SeededJitter::new(1), |_| {})
            .await
            .expect("apply");
        let calls = streams.calls();
        let updates = calls.iter().filter(|c| c.starts_with("UpdateShardCount")).count();
        assert_eq!(updates, 2, "1 -> 2 -> 4: {calls:?}");
        let tags = streams.describe("orders").await.expect("describe").tags;
        let state = ScalingState::from_tags(&tags, at_noon()).expect("valid state tags");
        assert_eq!(state.update_calls_last_24h(at_noon()), 3, "the Lambda's call and both of apply's");
        assert_eq!(state.last_scaled_at, Some(at_noon()));
        // Recorded before each call, as the Lambdas do: the tag write precedes the reshard.
        let first_tag = calls.iter().position(|c| c.starts_with("AddTagsToStream")).expect("tagged");
        let first_update = calls.iter().position(|c| c.starts_with("UpdateShardCount")).expect("updated");
        assert!(first_tag < first_update, "{calls:?}");
    }

    #[tokio::test]
    async fn alarms_of_a_stream_that_exists_unmanaged_are_not_taken_for_orphans() {
        let counts = alarmed_streams(&["managed", "unmanaged", "gone"]).await;
        assert_eq!(counts, BTreeMap::from([("gone".to_owned(), 3), ("managed".to_owned(), 3)]));
    }
}
