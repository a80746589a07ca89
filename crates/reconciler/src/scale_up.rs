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

use chrono::{DateTime, Utc};
use planner::{
    Admission, AlarmEvidence, AlarmKind, Execution, LoadSnapshot, Metric, POLICY_TAG, Policy, ScaleUpAction,
    ScaleUpInput, ScaleUpPlan, ScalingState, Step, UPDATE_SHARD_COUNT_CALLS_PER_DAY, Window, decode_policy,
    plan_scale_up,
};
use serde::Serialize;
use tokio::time::Instant;

use crate::alarm_message::AlarmMessage;
use crate::ports::{ActiveStream, AlarmPort, AlarmState, ErrorKind, MetricsPort, Resharder};
use crate::rearm::{Reset, rearm, set_ok};
use crate::{
    ExecuteSettings, Jitter, ReconcileError, execute, load_series, peak_rate, retry, shard_load_series,
    wait_for_active,
};

/// Where and when the handler runs: one invocation's facts.
#[derive(Debug, Clone)]
pub struct Invocation {
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
    cx: &Invocation,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
) -> Result<Record, ReconcileError>
where
    K: Resharder + Sync,
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
    cx: &Invocation,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
) -> Result<Decision, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let (stream, metric) = match gate(message, stream, cx) {
        Ok(trigger) => trigger,
        Err(reason) => return Ok(Decision::Ignored { reason }),
    };
    let (active, policy) = match read(kinesis, stream, cx, settings, jitter).await? {
        Ok(read) => read,
        Err(reason) => return Ok(Decision::Ignored { reason }),
    };
    let mut state = ScalingState::from_tags(&active.tags);
    let admission = planner::admit(message.state_change_time, AlarmKind::of(metric), &state, &policy, cx.now);
    match admission {
        Admission::Act => {}
        Admission::Stale { .. } => return Ok(Decision::Held { admission }),
        Admission::Cooldown { until } => {
            // Re-evaluate after the cooldown: back to OK, CloudWatch fires again if still hot.
            let reason = format!("kinesis-autoscaler: in cooldown until {until}; re-evaluating");
            set_ok(cloudwatch, &message.name, &reason, &settings.backoff, jitter).await?;
            return Ok(Decision::Held { admission });
        }
    }
    let load = load(cloudwatch, message, metric, &active, &policy, cx.now, &settings.backoff, jitter).await?;
    let plan_with = |update_calls_last_24h| {
        plan_scale_up(ScaleUpInput {
            tiling: active.tiling(),
            load: &load,
            policy: &policy,
            update_calls_last_24h,
        })
    };
    let plan = plan_with(state.update_calls_last_24h(cx.now));
    if plan.action == ScaleUpAction::None {
        // Left in ALARM: at maxShards nothing would change, and a cool stream's alarm returns to
        // OK by itself at the next evaluation.
        return Ok(Decision::NoChange { plan });
    }
    let execution = Execution::of_scale_up(&plan);
    // Record before acting: the cooldown starts now, and a concurrent delivery sees it.
    state.record(cx.now, execution.update_shard_count_calls());
    match act(kinesis, cloudwatch, message, &active, &policy, plan, execution, &state, cx, settings, jitter)
        .await
    {
        // Kinesis says the daily UpdateShardCount quota is spent (calls this tool never recorded):
        // plan again as Kinesis counts, which splits instead, and record the quota as spent so the
        // next alarm plans splits at once. Any other quota (the account's shard limit) is reported.
        Err(ReconcileError::Port(e))
            if e.kind == ErrorKind::QuotaExceeded && e.call == "UpdateShardCount" =>
        {
            tracing::warn!(stream, "UpdateShardCount quota reached, splitting instead: {}", e.message);
            let plan = plan_with(UPDATE_SHARD_COUNT_CALLS_PER_DAY);
            let execution = Execution::of_scale_up(&plan);
            if execution.update_shard_count_calls() > 0 || plan.action == ScaleUpAction::None {
                return Err(e.into());
            }
            state.record(
                cx.now,
                UPDATE_SHARD_COUNT_CALLS_PER_DAY.saturating_sub(state.update_calls_last_24h(cx.now)),
            );
            act(kinesis, cloudwatch, message, &active, &policy, plan, execution, &state, cx, settings, jitter)
                .await
        }
        other => other,
    }
}

/// The checks that need no AWS call: an `ALARM` of this account and region, on a stream within
/// `STREAM_NAME_PREFIX`, on a metric this tool alarms on. `Err` says why it is ignored.
fn gate<'m>(
    message: &AlarmMessage,
    stream: Option<&'m str>,
    cx: &Invocation,
) -> Result<(&'m str, Metric), String> {
    if message.new_state != AlarmState::Alarm {
        return Err(format!("state changed to {}, not ALARM", message.new_state.as_str()));
    }
    if message.account != cx.account || message.region != cx.region {
        return Err(format!(
            "alarm is for account {} in {}; this function serves {} in {}",
            message.account, message.region, cx.account, cx.region
        ));
    }
    let Some(stream) = stream else { return Err("the alarm has no StreamName dimension".into()) };
    if !stream.starts_with(&cx.stream_prefix) {
        return Err(format!("stream {stream} is outside STREAM_NAME_PREFIX {:?}", cx.stream_prefix));
    }
    match message.metric_name().and_then(Metric::parse) {
        Some(metric) => Ok((stream, metric)),
        None => Err(format!("metric {:?} is not one this tool alarms on", message.metric_name())),
    }
}

/// Reads the stream and its policy tag, waiting out another actor's reshard so the decision is
/// made from what it left. The inner `Err` says why the alarm is ignored.
async fn read<K: Resharder + Sync>(
    kinesis: &K,
    stream: &str,
    cx: &Invocation,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
) -> Result<Result<(ActiveStream, Policy), String>, ReconcileError> {
    let snapshot = match retry(&settings.backoff, jitter, || kinesis.describe(stream)).await {
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(Err(format!("stream {stream} does not exist"))),
        other => other?,
    };
    let Some(policy_tag) = snapshot.tags.get(POLICY_TAG) else {
        return Ok(Err(format!(
            "stream {stream} is not managed by kinesis-autoscaler (no {POLICY_TAG} tag)"
        )));
    };
    let policy = match decode_policy(policy_tag) {
        Ok(policy) => policy,
        Err(e) => return Ok(Err(format!("stream {stream}: {e}; run `streams apply` to rewrite it"))),
    };
    let active = match snapshot.into_active() {
        Ok(active) => active,
        Err(_) => {
            let left = cx.deadline.saturating_duration_since(Instant::now());
            wait_for_active(kinesis, stream, left.min(settings.wait_timeout), settings.poll, |_, _| {})
                .await?
        }
    };
    Ok(Ok((active, policy)))
}

/// The load to size from: recent metrics at the alarm's period, raised to what the alarm itself
/// proves, with each shard's own peak where shard-level metrics are on.
#[allow(clippy::too_many_arguments)] // each is one input of the estimate; a struct would only rename them
async fn load<C: MetricsPort + Sync>(
    cloudwatch: &C,
    message: &AlarmMessage,
    metric: Metric,
    active: &ActiveStream,
    policy: &Policy,
    now: DateTime<Utc>,
    backoff: &crate::Backoff,
    jitter: &mut impl Jitter,
) -> Result<LoadSnapshot, ReconcileError> {
    let stream = active.name.as_str();
    let window = Window::for_scale_up(now, policy);
    let recent = retry(backoff, jitter, || {
        load_series(cloudwatch, stream, window.period_secs, window.start, window.end)
    })
    .await?;
    // A throttling alarm's datapoints count rejected records: demand the metrics never show.
    let evidence = AlarmEvidence {
        metric,
        period_secs: message.trigger.period_secs.unwrap_or(window.period_secs),
        datapoints: message.reason_datapoints(),
        threshold: message.trigger.threshold,
    };
    let per_shard = if policy.shard_level_metrics {
        let ids = active.tiling().ids();
        let (series, _) = retry(backoff, jitter, || {
            shard_load_series(cloudwatch, stream, &ids, window.period_secs, window.start, window.end)
        })
        .await?;
        series.iter().map(|(id, s)| (id.clone(), peak_rate(&s.series))).collect()
    } else {
        BTreeMap::new()
    };
    Ok(LoadSnapshot::for_alarm(&recent, &evidence, per_shard, message.shard().map(planner::ShardId::new)))
}

/// Records the scaling on the stream, executes within the deadline, and re-arms every alarm for
/// the new count, back to `OK` so it fires again while the stream is still hot.
#[allow(clippy::too_many_arguments)] // the decision's inputs, passed on unchanged from `decide`
async fn act<K, C>(
    kinesis: &K,
    cloudwatch: &C,
    message: &AlarmMessage,
    active: &ActiveStream,
    policy: &Policy,
    plan: ScaleUpPlan,
    execution: Execution,
    state: &ScalingState,
    cx: &Invocation,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
) -> Result<Decision, ReconcileError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let (stream, backoff) = (active.name.as_str(), &settings.backoff);
    let from = active.tiling().len();
    let state_tags = state.to_tags();
    retry(backoff, jitter, || kinesis.add_tags(stream, &state_tags)).await?;
    let outcome = execute(kinesis, stream, execution, settings, jitter, cx.deadline).await?;
    let to = outcome.last.tiling().len();
    let reason = format!("kinesis-autoscaler: scaled {stream} from {from} to {to} shards; re-evaluating");
    rearm(
        kinesis,
        cloudwatch,
        &outcome.last,
        policy,
        &Reset::ToOk { reason: reason.clone() },
        backoff,
        jitter,
    )
    .await?;
    // A shard-level trigger is not among the stream's alarms; it must fire again too (a closed
    // shard's alarm is gone by now, which `set_ok` tolerates).
    if message.shard().is_some() {
        set_ok(cloudwatch, &message.name, &reason, backoff, jitter).await?;
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
