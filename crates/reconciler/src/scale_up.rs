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

use chrono::{DateTime, Utc};
use planner::{
    ALARM_NAME_PREFIX, Admission, AlarmEvidence, AlarmKind, Execution, KINESIS_NAMESPACE, LoadSnapshot,
    Metric, POLICY_TAG, Policy, ScaleUpAction, ScaleUpInput, ScaleUpPlan, ScalingState, ShardId, Step,
    Throttling, UPDATE_SHARD_COUNT_CALLS_PER_DAY, Window, decode_policy, plan_scale_up,
};
use serde::Serialize;

use crate::alarm_message::{AlarmMessage, Quoted};
use crate::ports::{
    ActiveStream, AlarmPort, AlarmState, AlarmSummary, ErrorKind, MetricsPort, PortError, Resharder,
    StreamReader, StreamSnapshot,
};
use crate::rearm::{Reset, Rewrite, rearm, set_ok, stream_alarms};
use crate::{Context, ReconcileError, Scope, execute, load_series, settle, shard_load_series};

/// The scale-up function stops starting work this long before its deadline: time to re-arm and
/// report.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// What happened to one alarm, as logged in the one-line decision record.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    /// Not ours to act on (not `ALARM`, another account or region, no stream, unmanaged stream),
    /// or a stream skipped until its tags are fixed or its pause is lifted (`skip` says so, for a
    /// metric filter).
    Ignored {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        skip: Option<SkipCode>,
    },
    /// Stale or in cooldown; the alarm may have been set back to `OK` to re-evaluate later.
    Held { admission: Admission },
    /// Enough capacity already, or at `maxShards`.
    NoChange { plan: ScaleUpPlan },
    /// The predictive pass ([`crate::predict`]): no recurring peak in the coming window, or the
    /// open shards carry it; the reason says which, with the forecast's figures.
    NoPreScale { reason: String },
    /// The predictive pass in dry run (`streams status`): the scale-up it would carry out.
    WouldScale { plan: ScaleUpPlan },
    Scaled {
        plan: ScaleUpPlan,
        steps: Vec<String>,
        from: u32,
        to: u32,
        complete: bool,
        why_incomplete: Option<String>,
    },
}

/// Why a stream is skipped, as a code a CloudWatch Logs metric filter can count
/// (`{ $.skip = "invalid_tag" }`); the record's `reason` says it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipCode {
    /// A policy or state tag fails validation (forged, corrupt or hand-edited): the stream is left
    /// alone until `streams apply` rewrites it.
    InvalidTag,
    /// The policy says `paused`: the stream is left alone, its alarms as they are. One in `ALARM`
    /// is reported so by every resync, and acted on by the first one after the pause is lifted.
    Paused,
}

/// Why a paused stream is left alone: one sentence for both Lambdas' records.
pub(crate) fn paused_reason(stream: &str) -> String {
    format!(
        "stream {stream} is paused (paused: true in streams.yaml): not resharded, its alarms kept; \
         set paused: false and run `streams apply` to resume"
    )
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
///
/// The message only says *which* alarm to look at: the alarm is confirmed with CloudWatch before
/// anything acts ([`confirm`]), and its definition, not the message, supplies the threshold and
/// period. Only the quoted datapoints are taken from the message, bounded by what the stream can
/// physically accept ([`planner::max_plausible_sum`]).
pub async fn handle<K, C>(cx: &Context<K, C>, message: &AlarmMessage) -> Result<Record, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let started = cx.now();
    let stream = message.stream().map(str::to_owned);
    let decision = match gate(message, stream.as_deref(), &cx.scope) {
        Err(reason) => Decision::Ignored { reason, skip: None },
        Ok(stream) => {
            let alarm = cx.cloudwatch().describe_alarm(&message.name).await?;
            match alarm.as_ref().ok_or_else(|| format!("alarm {} does not exist", message.name)).and_then(
                |a| {
                    confirm(a, &cx.scope, message.state_change_time, message.quoted())
                        .and_then(|t| same_stream(t, stream))
                },
            ) {
                Err(reason) => Decision::Ignored { reason, skip: None },
                Ok(trigger) => decide(cx, &trigger).await?,
            }
        }
    };
    Ok(Record {
        alarm: message.name.clone(),
        trigger: message.trigger_key(),
        stream,
        metric: message.metric_name().map(str::to_owned),
        decision,
        elapsed_ms: cx.millis_since(started),
    })
}

/// The alarms the scheduled resync re-drives: every alarm of this deployment (the tool's prefix
/// and `STREAM_NAME_PREFIX`) in `ALARM` now, one `DescribeAlarms` page per 100 of them.
///
/// Why a resync: CloudWatch notifies only on a state *change*, so an alarm left in `ALARM` (at
/// `maxShards`, or because the Lambda stopped between a reshard and the re-arm) never wakes the
/// scaler again while the stream stays hot. Like a controller's periodic requeue, the resync
/// hands each such alarm to [`handle_resync`] every few minutes (`ResyncSchedule`, 5 minutes by
/// default). Its cost, counted by `crates/reconciler/tests/scale_up.rs`: a quiet tick is one
/// `DescribeAlarms` call (one page per 100 alarms in `ALARM`), 12 an hour, 8,760 a month
/// (730 h × 12): inside CloudWatch's free 1,000,000 API requests a month, US$0.09 beyond it at
/// US$0.01 per 1,000; plus 8,760 invocations of well under a second. Each alarm found in `ALARM`
/// and not acted on (at `maxShards`) adds 5 calls a tick: the stream's reads
/// (`DescribeStreamSummary`, `ListShards`, `ListTagsForStream`), one `GetMetricData` of 2
/// metrics, one `DescribeAlarms` to check the definitions: 43,800 calls and 17,520 metrics
/// requested a month, about US$0.18 of `GetMetricData` (US$0.01 per 1,000 metrics); a stream at
/// `maxShards` with its three alarms in `ALARM` three times that.
pub async fn alarms_to_resync<K, C: AlarmPort + Sync>(
    cx: &Context<K, C>,
) -> Result<Vec<AlarmSummary>, ReconcileError> {
    let prefix = format!("{ALARM_NAME_PREFIX}{}", cx.scope.stream_prefix);
    Ok(cx.cloudwatch().alarms_in_alarm(&prefix).await?)
}

/// The resync as the Lambda runs it on each tick: every alarm [`alarms_to_resync`] lists, handed to
/// [`handle_resync`] in turn until the deadline (what is left waits for the next tick, minutes
/// away). `each` sees every alarm's outcome as it is decided; the count of alarms found is
/// returned. `Err` only when the listing itself failed.
pub async fn resync<K, C>(
    cx: &Context<K, C>,
    mut each: impl FnMut(&AlarmSummary, Result<Record, ReconcileError>),
) -> Result<usize, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let alarms = alarms_to_resync(cx).await?;
    for alarm in &alarms {
        if cx.now() >= cx.deadline() {
            tracing::warn!(alarm = %alarm.name, "resync stopped at the deadline; the next tick continues");
            break;
        }
        each(alarm, handle_resync(cx, alarm).await);
    }
    Ok(alarms.len())
}

/// Handles one alarm found in `ALARM` by the resync as a fresh trigger: its trigger time is the
/// tick's ([`Context::started`]), so it passes the same gate as a message (cooldown, `maxShards`)
/// but is stale against a scaling recorded since the tick began (its twin alarm, handled a
/// moment before). What it quotes comes from its state reason, as a notification's from the
/// message: a throttling alarm still in `ALARM` on minutes from before the last resize must not
/// size the stream as if writes were refused now.
pub async fn handle_resync<K, C>(cx: &Context<K, C>, alarm: &AlarmSummary) -> Result<Record, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let started = cx.now();
    let quoted = Quoted::from_reason(&alarm.state_reason);
    let decision = match confirm(alarm, &cx.scope, cx.started(), quoted) {
        Err(reason) => Decision::Ignored { reason, skip: None },
        Ok(trigger) => decide(cx, &trigger).await?,
    };
    Ok(Record {
        alarm: alarm.name.clone(),
        trigger: RESYNC.to_owned(),
        stream: alarm.stream().map(str::to_owned),
        metric: alarm.definition.metric.clone(),
        decision,
        elapsed_ms: cx.millis_since(started),
    })
}

/// The `trigger` of a decision the resync made, in its log line.
pub const RESYNC: &str = "resync";

/// An alarm confirmed with CloudWatch, and what it says: the one input `decide` acts on.
struct Trigger<'a> {
    alarm: &'a AlarmSummary,
    stream: &'a str,
    metric: Metric,
    /// The `ShardId` dimension of a per-shard alarm, from the alarm itself.
    shard: Option<ShardId>,
    /// When its state changed: the message's time, or `now` for the resync.
    changed_at: DateTime<Utc>,
    /// What the message quotes (nothing from the resync), not yet bounded.
    quoted: Quoted,
}

/// Whether `alarm`, as CloudWatch describes it now, is one this tool acts on: named with the
/// tool's prefix, on a Kinesis metric this tool alarms on, with a `StreamName` within
/// `STREAM_NAME_PREFIX`, and in `ALARM` now. `Err` says why it is ignored. A forged message can
/// name any alarm; only one that passes here acts.
fn confirm<'a>(
    alarm: &'a AlarmSummary,
    scope: &Scope,
    changed_at: DateTime<Utc>,
    quoted: Quoted,
) -> Result<Trigger<'a>, String> {
    let name = &alarm.name;
    if !name.starts_with(ALARM_NAME_PREFIX) {
        return Err(format!("alarm {name} is not named {ALARM_NAME_PREFIX}…: not this tool's"));
    }
    if alarm.definition.namespace.as_deref() != Some(KINESIS_NAMESPACE) {
        return Err(format!(
            "alarm {name} watches {:?}, not {KINESIS_NAMESPACE}",
            alarm.definition.namespace
        ));
    }
    let alarmed = |m: &Metric| AlarmKind::of(*m) != AlarmKind::NotAlarmed;
    let Some(metric) = alarm.definition.metric.as_deref().and_then(Metric::parse).filter(alarmed) else {
        return Err(format!(
            "alarm {name} watches {:?}, not a metric this tool alarms on",
            alarm.definition.metric
        ));
    };
    let Some(stream) = alarm.stream() else {
        return Err(format!("alarm {name} has no StreamName dimension"));
    };
    if !stream.starts_with(&scope.stream_prefix) {
        return Err(format!("stream {stream} is outside STREAM_NAME_PREFIX {:?}", scope.stream_prefix));
    }
    if alarm.state != Some(AlarmState::Alarm) {
        let state = alarm.state.map_or("unknown", AlarmState::as_str);
        return Err(format!("alarm {name} is not in ALARM now ({state})"));
    }
    let shard = alarm.dimensions.iter().find(|d| d.name == "ShardId").map(|d| ShardId::new(&d.value));
    Ok(Trigger { alarm, stream, metric, shard, changed_at, quoted })
}

/// A message about `stream` must name an alarm on that stream.
fn same_stream<'a>(trigger: Trigger<'a>, stream: &str) -> Result<Trigger<'a>, String> {
    if trigger.stream == stream {
        return Ok(trigger);
    }
    Err(format!(
        "alarm {} watches stream {}, not {stream} as the message says",
        trigger.alarm.name, trigger.stream
    ))
}

/// What to do about a confirmed alarm, and doing it.
///
/// Every path leaves the stream's alarms either armed for its live count or in `ALARM` for the
/// resync to re-drive, never stuck:
/// - *Stale* (a duplicate, a Lambda retry after a failure, the twin alarm): if the alarm is still
///   in `ALARM` now (asked again: the twin's scaling may have reset it meanwhile), a scaling
///   answered its trigger but the re-arm did not happen or did not help, so re-arm for the live
///   count and reset to `OK`: CloudWatch re-evaluates and fires afresh if the stream is still hot.
///   At most one re-fire per delivery, which the cooldown then holds.
/// - *Cooldown*: the alarm alone back to `OK`, to fire again after the cooldown.
/// - *No change*: if an alarm's definition is not what the live count wants (a re-arm that never
///   ran), re-arm and reset; else leave it in `ALARM`. At `maxShards` a reset would only re-fire
///   every evaluation period; left in `ALARM`, the resync re-drives it and scales once `maxShards`
///   is raised.
/// - *Scaled*, or an error after the scaling was recorded: re-arm and reset, the error path
///   within what is left of the deadline; if even that fails, Lambda's retry arrives as *stale*
///   (above), and the resync within minutes.
async fn decide<K, C>(cx: &Context<K, C>, trigger: &Trigger<'_>) -> Result<Decision, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let (active, policy, state) = match read(cx, trigger.stream).await? {
        Ok(read) => read,
        Err((reason, skip)) => return Ok(Decision::Ignored { reason, skip }),
    };
    let name = trigger.alarm.name.as_str();
    let shard_alarm = trigger.shard.as_ref().map(|_| name);
    let now = cx.now();
    let admission = planner::admit(trigger.changed_at, AlarmKind::of(trigger.metric), &state, &policy, now);
    match admission {
        Admission::Act => {}
        Admission::Stale { .. } => {
            if cx.cloudwatch().describe_alarm(name).await?.is_some_and(|a| a.state == Some(AlarmState::Alarm))
            {
                let reason =
                    format!("kinesis-autoscaler: {name} stayed in ALARM after a scaling; re-evaluating");
                let alarms = stream_alarms(cx, trigger.stream).await?;
                rearm_for(
                    cx,
                    &Rearm { live: &active, policy: &policy, shard_alarm, alarms: &alarms },
                    &reason,
                )
                .await?;
            }
            return Ok(Decision::Held { admission });
        }
        Admission::Cooldown { until } => {
            // Re-evaluate after the cooldown: back to OK, CloudWatch fires again if still hot.
            let reason = format!("kinesis-autoscaler: in cooldown until {until}; re-evaluating");
            set_ok(cx, name, &reason).await?;
            return Ok(Decision::Held { admission });
        }
    }
    let read = Read { active: &active, policy: &policy, state: &state, now };
    let (load, alarms) = load(cx, trigger, &read).await?;
    let plan_with = |update_calls_last_24h| {
        plan_scale_up(ScaleUpInput {
            tiling: active.tiling(),
            load: &load,
            policy: &policy,
            update_calls_last_24h,
        })
    };
    let plan = plan_with(state.update_calls_last_24h(now));
    if plan.action == ScaleUpAction::None {
        let reason = format!("kinesis-autoscaler: alarms of {} re-armed for the live count", trigger.stream);
        rearm(cx, &active, &policy, &Reset::ToOk { reason }, Rewrite::IfDrifted, &alarms).await?;
        // Throttling quoted from before the last resize, on a stream now big enough for what it
        // shows: back to `OK`, to fire on the next fresh minute if the live tiling throttles too.
        if load.throttling == Throttling::BeforeLastResize {
            let reason = format!(
                "kinesis-autoscaler: {name} quoted minutes from before the last resize; re-evaluating"
            );
            set_ok(cx, name, &reason).await?;
        }
        return Ok(Decision::NoChange { plan });
    }
    let replan = |calls| Some(plan_with(calls));
    let target = Rearm { live: &active, policy: &policy, shard_alarm, alarms: &alarms };
    scale_up_and_rearm(cx, &target, plan, replan, state).await
}

/// What a re-arm after a scale-up needs besides the context: the stream (as read before, or
/// live after the reshard), its policy, the per-shard alarm that triggered it if any (not among
/// the stream's alarms), and the stream's alarms as [`stream_alarms`] read them (their actions
/// are the trusted ones).
pub(crate) struct Rearm<'a> {
    pub(crate) live: &'a ActiveStream,
    pub(crate) policy: &'a Policy,
    pub(crate) shard_alarm: Option<&'a str>,
    pub(crate) alarms: &'a [AlarmSummary],
}

/// Carries out a scale-up plan the way every scale-up trigger does, an alarm or a forecast
/// ([`crate::predict`]): record the scaling on the stream *before* acting (the cooldown starts
/// now, and a concurrent delivery sees it), execute within the deadline, re-arm the stream's
/// alarms for the new count and back to `OK` (and the per-shard alarm that triggered it, if
/// any). An `UpdateShardCount` refused for its daily quota is planned again with `replan` as
/// Kinesis counts (quota spent: splits) and carried out; `replan` giving `None`, or another
/// uniform plan, reports the refusal.
pub(crate) async fn scale_up_and_rearm<K, C>(
    cx: &Context<K, C>,
    target: &Rearm<'_>,
    plan: ScaleUpPlan,
    replan: impl Fn(u32) -> Option<ScaleUpPlan>,
    mut state: ScalingState,
) -> Result<Decision, ReconcileError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let execution = Execution::of_scale_up(&plan, target.policy);
    state.record(cx.now());
    match act(cx, target, plan, execution, &state).await {
        // Kinesis says the daily UpdateShardCount quota is spent (calls this tool never recorded):
        // plan again as Kinesis counts, which splits instead. Any other quota (the account's shard
        // limit) is reported.
        Err(ReconcileError::Port(e))
            if e.kind == ErrorKind::QuotaExceeded && e.call == "UpdateShardCount" =>
        {
            tracing::warn!(
                stream = target.live.name.as_str(),
                "UpdateShardCount quota reached, splitting instead: {}",
                e.message
            );
            let Some(plan) = replan(UPDATE_SHARD_COUNT_CALLS_PER_DAY) else { return Err(e.into()) };
            let execution = Execution::of_scale_up(&plan, target.policy);
            if matches!(execution, Execution::Uniform { .. } | Execution::Nothing) {
                return Err(e.into());
            }
            act(cx, target, plan, execution, &state).await
        }
        other => other,
    }
}

/// The checks of a message that need no AWS call: an `ALARM` of this account and region, named
/// with the tool's prefix, on a stream within `STREAM_NAME_PREFIX`. `Err` says why it is ignored.
fn gate<'m>(message: &AlarmMessage, stream: Option<&'m str>, scope: &Scope) -> Result<&'m str, String> {
    if message.new_state != AlarmState::Alarm {
        return Err(format!("state changed to {}, not ALARM", message.new_state.as_str()));
    }
    if message.account != scope.account || message.region != scope.region {
        return Err(format!(
            "alarm is for account {} in {}; this function serves {} in {}",
            message.account, message.region, scope.account, scope.region
        ));
    }
    if !message.name.starts_with(ALARM_NAME_PREFIX) {
        return Err(format!("alarm {} is not named {ALARM_NAME_PREFIX}…: not this tool's", message.name));
    }
    let Some(stream) = stream else { return Err("the alarm has no StreamName dimension".into()) };
    if !stream.starts_with(&scope.stream_prefix) {
        return Err(format!("stream {stream} is outside STREAM_NAME_PREFIX {:?}", scope.stream_prefix));
    }
    Ok(stream)
}

/// Reads the stream and its policy tag, waiting out another actor's reshard so the decision is
/// made from what it left. The inner `Err` says why the alarm is ignored: among others, a paused
/// policy, which leaves the alarm in whatever state it is in (no reset: one in `ALARM` would only
/// fire again every period while paused; left there, the resync acts once the pause is lifted).
pub(crate) async fn read<K: Resharder + Sync, C>(
    cx: &Context<K, C>,
    stream: &str,
) -> Result<Result<(ActiveStream, Policy, ScalingState), (String, Option<SkipCode>)>, ReconcileError> {
    let snapshot = match cx.kinesis().describe(stream).await {
        Err(e) if e.kind == ErrorKind::NotFound => {
            return Ok(Err((format!("stream {stream} does not exist"), None)));
        }
        other => other?,
    };
    let Some(policy_tag) = snapshot.tags.get(POLICY_TAG) else {
        let reason = format!("stream {stream} is not managed by kinesis-autoscaler (no {POLICY_TAG} tag)");
        return Ok(Err((reason, None)));
    };
    let invalid = |e: planner::PlannerError| {
        Err((format!("stream {stream}: {e}; run `streams apply` to rewrite it"), Some(SkipCode::InvalidTag)))
    };
    let policy = match decode_policy(policy_tag) {
        Ok(policy) => policy,
        Err(e) => return Ok(invalid(e)),
    };
    // Before any wait or metric read: a paused stream costs the resync only this read.
    if policy.paused {
        return Ok(Err((paused_reason(stream), Some(SkipCode::Paused))));
    }
    let active = match snapshot.into_active() {
        Ok(active) => active,
        Err(_) => settle(cx, stream).await?,
    };
    // Read after any wait, so another actor's scaling just made is seen.
    let state = match ScalingState::from_tags(&active.tags, cx.now()) {
        Ok(state) => state,
        Err(e) => return Ok(invalid(e)),
    };
    Ok(Ok((active, policy, state)))
}

/// The stream as a decision read it: what [`load`] sizes from.
struct Read<'a> {
    active: &'a ActiveStream,
    policy: &'a Policy,
    state: &'a ScalingState,
    now: DateTime<Utc>,
}

/// The load to size from: recent metrics at the alarm's period, raised to what the alarms
/// themselves prove (their thresholds, and the quoted datapoints a stream of this size could have
/// produced), with each shard's own peak where shard-level metrics are on; and the stream's
/// alarms, read once here for the evidence of its siblings and handed back for the re-arm.
///
/// The evidence is the triggering alarm's and that of the stream's other alarms that
/// CloudWatch's own evaluation put in `ALARM` and no scaling has answered yet
/// ([`ScalingState::answered`]): the bytes and throttling alarms of one evaluation arrive as two
/// notifications, and the first one handled must not size the stream from capped, accepted bytes
/// alone while the rejected count that measures the demand sits in its twin
/// ([`LoadSnapshot::for_alarms`]). A state someone set with `SetAlarmState` carries that
/// caller's words, not a datapoint: it proves nothing about the metric.
async fn load<K, C: MetricsPort + AlarmPort + Sync>(
    cx: &Context<K, C>,
    trigger: &Trigger<'_>,
    read: &Read<'_>,
) -> Result<(LoadSnapshot, Vec<AlarmSummary>), ReconcileError> {
    let Read { active, policy, state, now } = *read;
    let stream = active.name.as_str();
    let window = Window::for_scale_up(now, policy).holding(trigger.quoted.newest_period_start);
    // The shared readers' bytes ride in the same call where the policy weighs reads.
    let reads = policy.scale_up.read_throttle_alarm;
    let (recent, read_bytes) =
        load_series(cx.cloudwatch(), stream, window.period_secs, window.start, window.end, reads).await?;
    let alarms = stream_alarms(cx, stream).await?;
    let open = active.tiling().len();
    let evidence_of = |alarm: &AlarmSummary, metric: Metric, quoted: &Quoted| {
        AlarmEvidence {
            metric,
            period_secs: alarm.definition.period_secs.unwrap_or(window.period_secs),
            datapoints: quoted.values.clone(),
            threshold: alarm.definition.threshold,
            newest_period_start: quoted.newest_period_start,
        }
        .within_capacity(open)
    };
    let mut evidence = vec![evidence_of(trigger.alarm, trigger.metric, &trigger.quoted)];
    // At `maxShards` no evidence changes the plan.
    let siblings = alarms.iter().filter(|a| {
        a.name != trigger.alarm.name && open < policy.max_shards && a.state_reason.starts_with(EVALUATED)
    });
    // The stream's other stream-level alarms in ALARM that no scaling answered: confirmed by the
    // rule that confirms a trigger, so a sibling is evidence exactly when it could be a trigger.
    for alarm in siblings {
        let Some(changed_at) = alarm.state_updated_at else { continue };
        let Ok(sibling) = confirm(alarm, &cx.scope, changed_at, Quoted::from_reason(&alarm.state_reason))
        else {
            continue;
        };
        if sibling.stream == stream && sibling.shard.is_none() && !state.answered(changed_at) {
            evidence.push(evidence_of(alarm, sibling.metric, &sibling.quoted));
        }
    }
    let per_shard = if policy.shard_level_metrics {
        let ids = active.tiling().ids();
        let (series, _) =
            shard_load_series(cx.cloudwatch(), stream, &ids, window.period_secs, window.start, window.end)
                .await?;
        series.iter().map(|(id, s)| (id.clone(), s.series.peak())).collect()
    } else {
        BTreeMap::new()
    };
    let load = LoadSnapshot::for_alarms(&recent, &evidence, per_shard, trigger.shard.clone(), state)
        .with_read_bytes(read_bytes);
    Ok((load, alarms))
}

/// How a state reason starts when CloudWatch's evaluation wrote it (AWS and the emulator alike).
const EVALUATED: &str = "Threshold Crossed";

/// Records the scaling on the stream, executes within the deadline, and re-arms every alarm for
/// the new count, back to `OK` so it fires again while the stream is still hot. An error after
/// the recording still re-arms for the live count (within the deadline) before it is returned.
async fn act<K, C>(
    cx: &Context<K, C>,
    target: &Rearm<'_>,
    plan: ScaleUpPlan,
    execution: Execution,
    state: &ScalingState,
) -> Result<Decision, ReconcileError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let stream = target.live.name.as_str();
    let from = target.live.tiling().len();
    cx.kinesis().add_tags(stream, &state.to_tags()).await?;
    let outcome = match execute(cx, stream, execution).await {
        Ok(outcome) => outcome,
        Err(error) => {
            let reason = format!("kinesis-autoscaler: scaling {stream} failed ({error}); re-evaluating");
            if let Ok(Ok(live)) = cx.kinesis().describe(stream).await.map(StreamSnapshot::into_active) {
                let rearmed = rearm_for(cx, &Rearm { live: &live, ..*target }, &reason).await;
                if let Err(e) = rearmed {
                    tracing::warn!(stream, "re-arming after a failed scaling failed too: {e}");
                }
            }
            return Err(error);
        }
    };
    let to = outcome.last.tiling().len();
    // A step still in flight leaves the alarms in `ALARM`: the resync re-drives them once the
    // stream is `ACTIVE` at its new count, which is when re-arming means something.
    if outcome.in_flight.is_none() {
        let reason = format!("kinesis-autoscaler: scaled {stream} from {from} to {to} shards; re-evaluating");
        rearm_for(cx, &Rearm { live: &outcome.last, ..*target }, &reason).await?;
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

/// The stream's alarms re-armed for the live count and back to `OK`, and the triggering per-shard
/// alarm too (not among the stream's alarms; a closed shard's alarm is gone by now, which
/// `set_ok` tolerates).
async fn rearm_for<K, C>(cx: &Context<K, C>, target: &Rearm<'_>, reason: &str) -> Result<(), PortError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let reset = Reset::ToOk { reason: reason.to_owned() };
    rearm(cx, target.live, target.policy, &reset, Rewrite::Always, target.alarms).await?;
    if let Some(alarm) = target.shard_alarm {
        set_ok(cx, alarm, reason).await?;
    }
    Ok(())
}
