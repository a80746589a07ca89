//! The imperative half of `streams plan` / `streams apply`: observe an account into the planner's
//! [`Observed`], and carry out a [`SyncPlan`].
//!
//! Apply order per stream is chosen so an interruption at any point leaves a state the next
//! `plan` converges from: create and wait for `ACTIVE`; bring the shard count into bounds (one
//! `UpdateShardCount` of at most 2× / ½ at a time from the live count, each recorded in the
//! scaling-state tags first as the Lambdas record theirs, waiting between); retention; tags in one call,
//! before any alarm, so the policy the Lambdas read is in place by the time an alarm can fire;
//! alarms last, computed for the count the stream ends with. Every call goes through the
//! context's I/O policy.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::{
    ALARM_NAME_PREFIX, Change, Observed, ObservedAlarm, ObservedStream, POLICY_TAG, ScalingState, StreamPlan,
    SyncPlan, decode_policy,
};

use crate::execute::wait_out;
use crate::ports::{
    ActiveStream, AlarmPort, AlarmSummary, ErrorKind, PortError, Resharder, StreamAdmin, StreamReader,
    StreamSnapshot,
};
use crate::{Context, ReconcileError, converge_shard_level, wait_for_active};

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

/// How long apply waits for a stream to become `ACTIVE`, and how often it looks.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    pub wait_timeout: Duration,
    pub poll: Duration,
}

impl Default for ApplySettings {
    fn default() -> Self {
        ApplySettings { wait_timeout: Duration::from_secs(600), poll: Duration::from_secs(2) }
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
pub async fn observe<S, A>(cx: &Context<S, A>, names: &[String]) -> Result<Observed, PortError>
where
    S: StreamReader + Sync,
    A: AlarmPort + Sync,
{
    let (streams, alarms) = (cx.kinesis(), cx.cloudwatch());
    let summaries = alarms.describe_alarms(ALARM_NAME_PREFIX).await?;
    let mut observed = Observed::default();
    let existing = streams.list_streams().await?;
    for name in existing.iter().cloned() {
        let listed = names.contains(&name);
        if !listed {
            let tags = match streams.tags(&name).await {
                Err(e) if e.kind == ErrorKind::NotFound => continue, // deleted since the listing
                other => other?,
            };
            if !tags.contains_key(planner::POLICY_TAG) {
                continue;
            }
        }
        match streams.describe(&name).await {
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
    cx: &Context<S, A>,
    plan: &SyncPlan,
    settings: &ApplySettings,
    mut progress: impl FnMut(ApplyEvent<'_>),
) -> Result<(), ReconcileError>
where
    S: StreamAdmin + Sync,
    A: AlarmPort + Sync,
{
    let (streams, alarms) = (cx.kinesis(), cx.cloudwatch());
    for stream_plan in &plan.streams {
        apply_stream(cx, stream_plan, settings, &mut progress).await?;
    }
    for unlisted in plan.unlisted.iter().filter(|u| u.deletes()) {
        progress(ApplyEvent::DeleteStream { stream: &unlisted.name });
        if !unlisted.alarms.is_empty() {
            alarms.delete_alarms(&unlisted.alarms).await?;
        }
        streams.delete_stream(&unlisted.name).await?;
    }
    if !plan.orphan_alarms.is_empty() {
        progress(ApplyEvent::DeleteAlarms { names: &plan.orphan_alarms });
        alarms.delete_alarms(&plan.orphan_alarms).await?;
    }
    Ok(())
}

async fn apply_stream<S, A>(
    cx: &Context<S, A>,
    plan: &StreamPlan,
    settings: &ApplySettings,
    progress: &mut impl FnMut(ApplyEvent<'_>),
) -> Result<(), ReconcileError>
where
    S: StreamAdmin + Sync,
    A: AlarmPort + Sync,
{
    let (streams, alarms) = (cx.kinesis(), cx.cloudwatch());
    let name = plan.name.as_str();
    let touches_stream = plan.changes.iter().any(|c| {
        matches!(c, Change::CreateStream { .. } | Change::Reshard { .. } | Change::Retention { .. })
            || matches!(c, Change::SetTag { .. } | Change::RemoveTag { .. })
    });
    // An existing stream may be mid-reshard by the autoscaler: wait before changing it.
    if touches_stream && plan.observed.is_some() {
        settle(cx, name, settings, progress).await?;
    }
    let mut set_tags = BTreeMap::new();
    let mut remove_tags = Vec::new();
    let mut delete_alarms = Vec::new();
    let mut shard_level_actions = None;
    for change in &plan.changes {
        progress(ApplyEvent::Change { stream: name, change });
        match change {
            Change::CreateStream { shards } => {
                streams.create_stream(name, *shards).await?;
                settle(cx, name, settings, progress).await?;
            }
            Change::Reshard { from, to, .. } => {
                // From the live count each round: a count the autoscaler moved meanwhile is
                // taken as it is, never fought back (done once on the target's side).
                let mut failures = 0;
                loop {
                    let live = settle(cx, name, settings, progress).await?.tiling().len();
                    if (to >= from && live >= *to) || (to < from && live <= *to) {
                        break;
                    }
                    let count = if *to > live { (*to).min(live * 2) } else { (*to).max(live.div_ceil(2)) };
                    record_update_shard_count(cx, name).await?;
                    match streams.update_shard_count(name, count).await {
                        Ok(()) => failures = 0,
                        Err(e) if wait_out(cx, &e, failures).await => failures += 1,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Change::Retention { from, to } => {
                streams.set_retention(name, *from, *to).await?;
                settle(cx, name, settings, progress).await?;
            }
            Change::SetTag { key, to, .. } => {
                set_tags.insert(key.clone(), to.clone());
            }
            Change::RemoveTag { key, .. } => remove_tags.push(key.clone()),
            Change::CreateAlarm { spec } | Change::UpdateAlarm { spec, .. } => {
                flush_tags(streams, name, &mut set_tags, &mut remove_tags).await?;
                alarms.put_alarm(spec).await?;
            }
            Change::DeleteAlarm { name: alarm } => delete_alarms.push(alarm.clone()),
            Change::ShardLevel { alarm_actions, .. } => shard_level_actions = Some(alarm_actions),
        }
    }
    flush_tags(streams, name, &mut set_tags, &mut remove_tags).await?;
    if !delete_alarms.is_empty() {
        alarms.delete_alarms(&delete_alarms).await?;
    }
    // Last: it follows the policy tag just written and the shards that exist once the stream is
    // ACTIVE (the autoscaler may reshard at any time; the Lambdas converge again after each).
    if let Some(actions) = shard_level_actions {
        let snapshot = settle(cx, name, settings, progress).await?;
        let tag = snapshot.tags.get(POLICY_TAG).map(String::as_str).unwrap_or_default();
        let policy = decode_policy(tag)
            .map_err(|source| ReconcileError::InvalidPolicy { stream: name.to_owned(), source })?;
        converge_shard_level(cx, &snapshot, &policy, actions).await?;
    }
    Ok(())
}

/// Records one `UpdateShardCount` in the stream's scaling-state tags before it is made, as the
/// Lambdas do ([`ScalingState::record`]): Kinesis allows 10 per stream per rolling 24 h, and the
/// Lambdas plan with what the tags say is left. It also starts the scale-up cooldown.
async fn record_update_shard_count<S: StreamAdmin + Sync, A>(
    cx: &Context<S, A>,
    name: &str,
) -> Result<(), PortError> {
    // A tag of its own per call, merged by AddTagsToStream: nothing to read first, nothing lost.
    let now: DateTime<Utc> = cx.now();
    let mut state = ScalingState::default();
    let mut tags = state.record_update_call(now, cx.policy().nonce());
    state.record(now);
    tags.extend(state.to_tags());
    cx.kinesis().add_tags(name, &tags).await
}

/// Tag changes go out together, before the first alarm: the policy tag the Lambdas read is in
/// place by the time an alarm can fire for the stream.
async fn flush_tags<S: StreamAdmin + Sync>(
    streams: &S,
    name: &str,
    set: &mut BTreeMap<String, String>,
    remove: &mut Vec<String>,
) -> Result<(), PortError> {
    if !set.is_empty() {
        streams.add_tags(name, set).await?;
        set.clear();
    }
    if !remove.is_empty() {
        streams.remove_tags(name, remove).await?;
        remove.clear();
    }
    Ok(())
}

async fn settle<S: StreamReader + Sync, A>(
    cx: &Context<S, A>,
    name: &str,
    settings: &ApplySettings,
    progress: &mut impl FnMut(ApplyEvent<'_>),
) -> Result<ActiveStream, ReconcileError> {
    let clock = cx.policy().clock();
    wait_for_active(cx.kinesis(), clock, name, settings.wait_timeout, settings.poll, |status, elapsed| {
        progress(ApplyEvent::Waiting { stream: name, status: status.as_str(), elapsed })
    })
    .await
}
