//! The scale-up Lambda's work for one alarm: wake up, re-read, decide, act, re-arm.
//!
//! The alarm is only a wake-up call. Everything is decided from fresh state: the stream's open
//! shards and its policy (tags written by `streams apply`), its recent metrics and what the alarm
//! quotes. The trigger gate ([`planner::admit`]) drops stale and duplicate deliveries and holds
//! back alarms during the cooldown; the cooldown starts when the scaling is *recorded* on the
//! stream, before the first reshard call, so a concurrent delivery sees it. After acting (or
//! stopping at the deadline) the stream's alarms are rewritten with [`planner::alarm_specs`] for
//! the new count and set back to `OK`, so CloudWatch re-evaluates them and fires again while the
//! stream is still hot: the loop is level-triggered, and nothing left undone is lost. Where the
//! policy turns shard-level metrics on, each shard's measured load replaces the uniform-key
//! estimate, and the per-shard alarms follow the reshard ([`crate::converge_shard_level`]).

use std::collections::BTreeMap;
use std::time::Instant as StdInstant;

use chrono::{DateTime, Duration, Utc};
use planner::{
    Admission, AlarmEvidence, AlarmKind, LoadSnapshot, Metric, POLICY_TAG, ScaleUpAction, ScaleUpInput,
    ScaleUpPlan, ScalingState, alarm_specs, decode_policy, estimate_rate, plan_scale_up,
};
use serde::Serialize;
use tokio::time::Instant;

use crate::alarm::AlarmMessage;
use crate::ports::{AlarmPort, AlarmState, ErrorKind, MetricsPort, StreamPort, StreamStatus};
use crate::{
    ExecuteSettings, Jitter, ReconcileError, Step, converge_shard_level, execute_scale_up, load_series,
    peak_rate, retry, shard_load_series, wait_for_active,
};

/// Where and when the handler runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The account and region this function serves; alarms from elsewhere are ignored.
    pub account: String,
    pub region: String,
    /// Only streams whose names start with this are served (`STREAM_NAME_PREFIX`; empty: all),
    /// matching the deployment's IAM scope, so an alarm outside it is ignored, not a failure.
    pub stream_prefix: String,
    /// Wall-clock time, for the cooldown and the metrics window.
    pub now: DateTime<Utc>,
    /// When the invocation must have returned (the Lambda deadline minus a margin).
    pub deadline: Instant,
}

/// What happened to one alarm, as logged in the one-line decision record.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    /// Not ours to act on (not `ALARM`, another account or region, no stream, unmanaged stream).
    Ignored { reason: String },
    /// Stale or in cooldown; the alarm may have been set back to `OK` to re-evaluate later.
    Held { admission: Admission },
    /// Enough capacity already, or at `maxShards`.
    NoChange { plan: ScaleUpPlan },
    Scaled {
        plan: ScaleUpPlan,
        steps: Vec<String>,
        from: u32,
        to: u32,
        complete: bool,
        why_incomplete: Option<String>,
    },
}

/// The whole record, for the structured log line.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub alarm: String,
    pub trigger: String,
    pub stream: Option<String>,
    pub metric: Option<String>,
    #[serde(flatten)]
    pub decision: Decision,
    pub elapsed_ms: u64,
}

/// Handles one alarm message. `Err` only for failures worth retrying the whole invocation for
/// (a throttled or unreachable AWS after the backoff gave up); everything else is a `Decision`.
pub async fn handle<K, C>(
    kinesis: &K,
    cloudwatch: &C,
    message: &AlarmMessage,
    cx: &Context,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
) -> Result<Record, ReconcileError>
where
    K: StreamPort + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let started = StdInstant::now();
    let stream = message.stream().map(str::to_owned);
    let decision = decide(kinesis, cloudwatch, message, stream.as_deref(), cx, settings, jitter).await?;
    Ok(Record {
        alarm: message.name.clone(),
        trigger: message.trigger_key(),
        stream,
        metric: message.metric_name().map(str::to_owned),
        decision,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

async fn decide<K, C>(
    kinesis: &K,
    cloudwatch: &C,
    message: &AlarmMessage,
    stream: Option<&str>,
    cx: &Context,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
) -> Result<Decision, ReconcileError>
where
    K: StreamPort + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let ignore = |reason: String| Ok(Decision::Ignored { reason });
    if message.new_state != AlarmState::Alarm {
        return ignore(format!("state changed to {}, not ALARM", message.new_state.as_str()));
    }
    if message.account != cx.account || message.region != cx.region {
        return ignore(format!(
            "alarm is for account {} in {}; this function serves {} in {}",
            message.account, message.region, cx.account, cx.region
        ));
    }
    let Some(stream) = stream else { return ignore("the alarm has no StreamName dimension".into()) };
    if !stream.starts_with(&cx.stream_prefix) {
        return ignore(format!("stream {stream} is outside STREAM_NAME_PREFIX {:?}", cx.stream_prefix));
    }
    let kind = match message.metric_name().and_then(Metric::parse) {
        Some(Metric::WriteProvisionedThroughputExceeded) => AlarmKind::Throttle,
        Some(_) => AlarmKind::Capacity,
        None => return ignore(format!("metric {:?} is not one this tool alarms on", message.metric_name())),
    };
    let backoff = &settings.backoff;
    let mut snapshot = match retry(backoff, jitter, || kinesis.describe(stream)).await {
        Err(e) if e.kind == ErrorKind::NotFound => return ignore(format!("stream {stream} does not exist")),
        other => other?,
    };
    let Some(policy_tag) = snapshot.tags.get(POLICY_TAG) else {
        return ignore(format!("stream {stream} is not managed by kinesis-autoscaler (no {POLICY_TAG} tag)"));
    };
    let policy = match decode_policy(policy_tag) {
        Ok(policy) => policy,
        Err(e) => return ignore(format!("stream {stream}: {e}; run `streams apply` to rewrite it")),
    };
    // Another actor is resharding: wait, then decide from what it left (its tags included).
    if snapshot.status != StreamStatus::Active {
        let left = cx.deadline.saturating_duration_since(Instant::now());
        snapshot =
            wait_for_active(kinesis, stream, left.min(settings.wait_timeout), settings.poll, |_, _| {})
                .await?;
    }
    let mut state = ScalingState::from_tags(&snapshot.tags);
    let admission = planner::admit(message.state_change_time, kind, &state, &policy, cx.now);
    match admission {
        Admission::Act => {}
        Admission::Stale { .. } => return Ok(Decision::Held { admission }),
        Admission::Cooldown { until } => {
            // Re-evaluate after the cooldown: back to OK, CloudWatch fires again if still hot.
            let reason = format!("kinesis-autoscaler: in cooldown until {until}; re-evaluating");
            reset(cloudwatch, &message.name, &reason, backoff, jitter).await?;
            return Ok(Decision::Held { admission });
        }
    }
    let tiling = snapshot.tiling().expect("an ACTIVE stream lists its shards").clone();
    let from = tiling.len();

    // The load: recent metrics at the alarm's period, raised to what the alarm itself proves.
    let period = policy.scale_up.period_secs;
    let window = Duration::seconds(i64::from(period * (policy.scale_up.evaluation_periods + 3)).max(300));
    let recent =
        retry(backoff, jitter, || load_series(cloudwatch, stream, period, cx.now - window, cx.now)).await?;
    // A throttling alarm's datapoints count rejected records: demand the metrics never show.
    let evidence = AlarmEvidence {
        metric: message.metric_name().and_then(Metric::parse).expect("checked above"),
        period_secs: message.trigger.period_secs.unwrap_or(period),
        datapoints: message.reason_datapoints(),
        threshold: message.trigger.threshold,
    };
    // Where shard-level metrics are on, each shard's own peak replaces the uniform-key estimate.
    let per_shard = if policy.shard_level_metrics {
        let ids = tiling.ids();
        let (series, _) = retry(backoff, jitter, || {
            shard_load_series(cloudwatch, stream, &ids, period, cx.now - window, cx.now)
        })
        .await?;
        series.iter().map(|(id, s)| (id.clone(), peak_rate(s))).collect()
    } else {
        BTreeMap::new()
    };
    let load = LoadSnapshot {
        stream: estimate_rate(&recent, Some(&evidence)),
        per_shard,
        hot: message.shard().map(planner::ShardId::new).into_iter().collect(),
        throttled: kind == AlarmKind::Throttle,
    };
    let plan = plan_scale_up(ScaleUpInput {
        tiling: &tiling,
        load: &load,
        policy: &policy,
        update_calls_last_24h: state.update_calls_last_24h(cx.now),
    });
    if plan.action == ScaleUpAction::None {
        // Left in ALARM: at maxShards nothing would change, and a cool stream's alarm returns to
        // OK by itself at the next evaluation.
        return Ok(Decision::NoChange { plan });
    }

    // Record before acting: the cooldown starts now, and a concurrent delivery sees it. The tag
    // keeps whole seconds, so round up: an alarm that changed state earlier in this same second
    // (a duplicate delivery, the twin alarm) must read as stale, not as fresh.
    let uniform_calls = u32::from(matches!(plan.action, ScaleUpAction::UpdateShardCount { .. }));
    state.record(whole_second_at_or_after(cx.now), uniform_calls);
    let state_tags = state.to_tags();
    retry(backoff, jitter, || kinesis.add_tags(stream, &state_tags)).await?;
    let outcome = execute_scale_up(kinesis, stream, &plan, settings, jitter, cx.deadline).await?;
    let to = outcome.last.tiling().map_or(from, |t| t.len());

    // Re-arm: thresholds for the new count, actions as the alarm already had them (what
    // `streams apply` wrote), and every stream alarm back to OK so it can fire again.
    let reason = format!("kinesis-autoscaler: scaled {stream} from {from} to {to} shards; re-evaluating");
    let specs = alarm_specs(stream, to, &policy, &message.alarm_actions);
    for spec in &specs {
        retry(backoff, jitter, || cloudwatch.put_alarm(spec)).await?;
        reset(cloudwatch, &spec.name, &reason, backoff, jitter).await?;
    }
    // Alarms for the new shards, none for the closed ones.
    converge_shard_level(
        kinesis,
        cloudwatch,
        &outcome.last,
        &policy,
        &message.alarm_actions,
        backoff,
        jitter,
    )
    .await?;
    // A shard-level trigger is not among the stream's alarms; it must fire again too (a closed
    // shard's alarm is gone by now, which `reset` tolerates).
    if !specs.iter().any(|s| s.name == message.name) {
        reset(cloudwatch, &message.name, &reason, backoff, jitter).await?;
    }
    Ok(Decision::Scaled {
        plan,
        steps: outcome.steps.iter().map(Step::to_string).collect(),
        from,
        to,
        complete: outcome.complete,
        why_incomplete: outcome.why_incomplete,
    })
}

/// `t` rounded up to a whole second (what the scaling-state tags can hold).
fn whole_second_at_or_after(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0);
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

/// Sets an alarm back to `OK` so CloudWatch re-evaluates it. A missing alarm is not an error
/// (a shard-level alarm removed meanwhile).
async fn reset<C: AlarmPort + Sync>(
    cloudwatch: &C,
    name: &str,
    reason: &str,
    backoff: &crate::Backoff,
    jitter: &mut impl Jitter,
) -> Result<(), ReconcileError> {
    match retry(backoff, jitter, || cloudwatch.set_alarm_state(name, AlarmState::Ok, reason)).await {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalings_are_recorded_at_the_next_whole_second() {
        let at = |ms: i64| DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap();
        assert_eq!(whole_second_at_or_after(at(0)), at(0));
        assert_eq!(whole_second_at_or_after(at(1)), at(1_000));
        assert_eq!(whole_second_at_or_after(at(999)), at(1_000));
    }
}
