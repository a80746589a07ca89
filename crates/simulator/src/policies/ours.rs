//! This project's policy, decided and carried out by the `planner` functions the Lambdas call.
//!
//! Every rule is the planner's; this module only plays the Lambdas' plumbing in simulated time:
//! * alarms: `planner::alarm_specs` for the live count (bytes, records, throttling), written at
//!   the start and re-armed after every reshard (reset to `OK` after a scale-up only, as
//!   `reconciler::rearm` is told to);
//! * a notification: `planner::admit` (stale / cooldown / act; a cooldown sets the alarm back to
//!   `OK`), the load from `Window::for_scale_up` and `LoadSnapshot::for_alarms` with the quoted
//!   datapoints of every stream-level alarm in `ALARM` no scaling answered yet (what the Lambda
//!   reads with `DescribeAlarms`), `plan_scale_up`, the scaling recorded with
//!   `ScalingState::record` before acting; a throttle quoting minutes from before the last resize
//!   that plans nothing sets its alarm back to `OK`, as the Lambda does;
//! * with shard-level metrics on (`PolicyKind::OursShardMetrics`, the same policy with
//!   `shard_level_metrics: true`): the per-shard alarms of `planner::shard_alarm_specs`, re-armed
//!   with the rest, and each open shard's peak (`LoadSeries::peak`) in the scale-up's
//!   `LoadSnapshot` and its series in the sweep's `shard_load`, as `reconciler::scale_up::load`
//!   and the sweep read them; a per-shard alarm names its shard as the hot one;
//! * execution: `planner::Execution` asked for the next step against the live tiling once the
//!   stream is `ACTIVE`, no step with less than the step budget left;
//! * every 36 h the sweep's decision: `Window::ending_at`, `young_shards` from the shards whose
//!   parent is still listed, `plan_scale_down`;
//! * with `scaleUp.predictive` set (`PolicyKind::OursPredictive`), every hour on the hour the
//!   pre-scaling pass: the gate `admit` as for a capacity alarm raised now (the cooldown; anything
//!   but `Act` skips the pass), the stream's 5-minute sums over the look-back, `plan_pre_scale`,
//!   and its plan recorded and executed exactly as an alarm's scale-up.
//!
//! One simplification: invocations for one stream run one after another (a concurrent real
//! invocation would wait for `ACTIVE` and then plan from the same state).

use std::collections::{BTreeMap, VecDeque};

use planner::{
    Admission, AlarmEvidence, AlarmKind, AlarmSpec, Execution, LoadSeries, LoadSnapshot, Metric, NextStep,
    Policy, PreScale, PreScaleInput, ReadHistory, ReadStatus, ScaleDownAction, ScaleDownInput, ScaleUpAction,
    ScaleUpInput, ScalingState, SeriesRead, Step, Throttling, Tiling, Window, admit, alarm_specs,
    plan_pre_scale, plan_scale_down, plan_scale_up, shard_alarm_specs, young_shards,
};

use super::{Controller, Env, evaluate_alarms};
use crate::SimError;
use crate::assumptions::{
    LAMBDA_DEADLINE_SECS, MAX_SHARDS, MIN_SHARDS, PRE_SCALE_EVERY_SECS, SCALE_DOWN_EVERY_SECS,
    STEP_BUDGET_SECS, at, secs,
};
use crate::cloudwatch::{Alarm, Metrics, Notification, State};

pub const PARAMETERS: &str = "planner::Policy::default() (scale up at 80 % to a 60 % target, 60 s period, \
1 evaluation period, 5 min cooldown, throttling alarm bypasses it; every alarm of one evaluation sized together; \
scale down every 36 h when every 5-minute point of 24 h is under 50 %: an even stream to the fewest shards that \
carry the peak at 60 % by chained halving calls, else adjacent pairs merged to at most 60 %, shared reads \
held to 60 % of their limit too, nothing merged while a consumer's iterator age passed 600 s in the look-back), \
shards within [1, 256]";

pub const SHARD_METRICS_PARAMETERS: &str = "the same, with shardLevelMetrics: true: Kinesis enhanced \
monitoring of IncomingBytes and IncomingRecords per shard, a bytes and a records alarm per open shard at \
80 % of one shard, each shard's measured load in both decisions; billed per shard-month as CloudWatch \
custom metrics and standard alarms";

pub const PREDICTIVE_PARAMETERS: &str = "the same, with scaleUp.predictive {lookbackDays: 21, leadMinutes: 15} (the stream's own settings in `streams whatif`): every hour, on the hour, the forecast of the next 75 min (the hour to the next pass plus the lead) from the 5-minute sums of the last 21 days (`planner::plan_pre_scale`), and a scale-up to carry it at the 60 % target when it needs more shards than are open, through the same cooldown gate, plan recording and executor as an alarm's";

pub const WITHOUT_SCALE_DOWN_PARAMETERS: &str = "the same, never scaling down: the counterfactual \
the readers target compares this project's iterator age with";

/// The stream's name in alarm names; nothing depends on it.
const STREAM: &str = "simulated";

/// The policy the report runs: the defaults, with the simulator's shard bounds.
pub fn policy() -> Policy {
    Policy { min_shards: MIN_SHARDS, max_shards: MAX_SHARDS, ..Policy::default() }
}

/// A plan being carried out by one (simulated) invocation.
#[derive(Debug)]
struct Run {
    execution: Execution,
    deadline: i64,
    /// A scale-up re-arms its alarms back to `OK`; a scale-down leaves their state.
    up: bool,
}

#[derive(Debug)]
pub struct Ours {
    policy: Policy,
    alarms: Vec<Alarm>,
    metrics_of: Vec<Metric>,
    queue: VecDeque<Notification>,
    state: ScalingState,
    run: Option<Run>,
    next_sweep: i64,
    /// The next pre-scaling pass (never, without `scaleUp.predictive`).
    next_pre_scale: i64,
}

impl Ours {
    /// `policy` on a stream of `tiling`, with its scale-down sweep or (the readers target's
    /// counterfactual) without.
    pub fn new(tiling: &Tiling, policy: Policy, scale_down: bool) -> Ours {
        let specs = specs(tiling, &policy);
        let next_pre_scale = if policy.scale_up.predictive.is_some() { 0 } else { i64::MAX };
        Ours {
            alarms: specs.iter().map(Alarm::from_spec).collect(),
            metrics_of: specs.iter().map(|s| s.metric).collect(),
            policy,
            queue: VecDeque::new(),
            state: ScalingState::default(),
            run: None,
            next_sweep: if scale_down { SCALE_DOWN_EVERY_SECS } else { i64::MAX },
            next_pre_scale,
        }
    }

    /// `scale_up::decide` from the gate on.
    fn handle(&mut self, n: Notification, now: i64, env: &mut Env<'_>) {
        // The alarm as it is now: a per-shard alarm deleted by a re-arm is ignored, as the Lambda
        // ignores an alarm that no longer exists.
        let Some(i) = self.alarms.iter().position(|a| a.watch == n.watch && a.shard == n.shard) else {
            return;
        };
        let metric = self.metrics_of[i];
        match admit(at(n.changed_at), AlarmKind::of(metric), &self.state, &self.policy, at(now)) {
            Admission::Act => {}
            Admission::Stale { .. } => return,
            Admission::Cooldown { .. } => {
                self.alarms[i].reset(now);
                return;
            }
        }
        let tiling = env.kinesis.tiling().clone();
        let window = Window::for_scale_up(at(now), &self.policy);
        let recent =
            load_series(env.metrics, i64::from(window.period_secs), secs(window.start), secs(window.end));
        // The triggering alarm's quoted datapoints, and those of the stream's other alarms in
        // `ALARM` that no scaling answered yet, as the Lambda reads them with `DescribeAlarms`.
        let siblings = self.alarms.iter().enumerate().filter(|(j, a)| {
            *j != i && a.shard.is_none() && a.state == State::Alarm && !self.state.answered(at(a.changed_at))
        });
        let evidence: Vec<AlarmEvidence> = [(i, &n.reason)]
            .into_iter()
            .chain(siblings.map(|(j, a)| (j, &a.reason)))
            .map(|(j, reason)| {
                AlarmEvidence {
                    metric: self.metrics_of[j],
                    period_secs: window.period_secs,
                    datapoints: reason.datapoints.clone(),
                    threshold: Some(self.alarms[j].threshold),
                    newest_period_start: reason.newest_period_start.map(at),
                }
                .within_capacity(tiling.len())
            })
            .collect();
        let per_shard = if self.policy.shard_level_metrics {
            shard_series(env, &tiling, &window).map(|(id, s)| (id, s.peak())).collect()
        } else {
            BTreeMap::new()
        };
        let load = LoadSnapshot::for_alarms(&recent, &evidence, per_shard, n.shard.clone(), &self.state);
        let plan = plan_scale_up(ScaleUpInput {
            tiling: &tiling,
            load: &load,
            policy: &self.policy,
            update_calls_last_24h: self.state.update_calls_last_24h(at(now)),
        });
        if plan.action == ScaleUpAction::None {
            // Throttling quoted from before the last scaling, on a stream now big enough: back to
            // `OK`, to fire again on the next minute if the live tiling throttles too.
            if load.throttling == Throttling::BeforeLastResize {
                self.alarms[i].reset(now);
            }
            return;
        }
        self.state.record(at(now));
        self.start(Execution::of_scale_up(&plan, &self.policy), true, now);
    }

    /// The pre-scaling pass for this one stream: gated as a capacity alarm raised now, then the
    /// forecast's plan, recorded and executed as an alarm's scale-up.
    fn pre_scale(&mut self, now: i64, env: &Env<'_>) {
        let Some(predictive) = self.policy.scale_up.predictive else { return };
        if admit(at(now), AlarmKind::Capacity, &self.state, &self.policy, at(now)) != Admission::Act {
            return;
        }
        let lookback = i64::from(predictive.lookback_days) * 86_400;
        let history = load_series(env.metrics, 300, now - lookback, now);
        let tiling = env.kinesis.tiling().clone();
        let decision = plan_pre_scale(PreScaleInput {
            tiling: &tiling,
            history: &history,
            policy: &self.policy,
            now: at(now),
            every: chrono::Duration::seconds(PRE_SCALE_EVERY_SECS),
            update_calls_last_24h: self.state.update_calls_last_24h(at(now)),
        });
        if let PreScale::Plan { plan, .. } = decision {
            self.state.record(at(now));
            self.start(Execution::of_scale_up(&plan, &self.policy), true, now);
        }
    }

    /// `scale_down::decide` for this one stream.
    fn sweep(&mut self, now: i64, env: &mut Env<'_>) {
        let window = Window::ending_at(at(now), &self.policy);
        let load =
            load_series(env.metrics, i64::from(window.period_secs), secs(window.start), secs(window.end));
        let young =
            young_shards(&env.kinesis.with_listed_parent(now), self.state.last_scaled_at, window.start);
        let tiling = env.kinesis.tiling().clone();
        let shard_load: BTreeMap<_, _> = if self.policy.shard_level_metrics {
            shard_series(env, &tiling, &window)
                .map(|(id, series)| (id, SeriesRead { series, status: ReadStatus::Complete }))
                .collect()
        } else {
            BTreeMap::new()
        };
        let plan = plan_scale_down(ScaleDownInput {
            stream: STREAM,
            tiling: &tiling,
            policy: &self.policy,
            now: at(now),
            stream_load: &load,
            stream_status: ReadStatus::Complete,
            shard_load: &shard_load,
            young: &young,
            last_scaled_at: self.state.last_scaled_at,
            created_at: at(-30 * 24 * 3600),
            update_calls_last_24h: self.state.update_calls_last_24h(at(now)),
            reads: &read_history(env.metrics, &window),
        });
        if plan.action == ScaleDownAction::None {
            return;
        }
        let recorded = self.state.record(at(now));
        self.start(Execution::of_scale_down(&plan, recorded), false, now);
    }

    /// The scaling is recorded on the stream before the first step, as both Lambdas do.
    fn start(&mut self, execution: Execution, up: bool, now: i64) {
        self.run = Some(Run { execution, deadline: now + LAMBDA_DEADLINE_SECS, up });
    }

    /// The executor's next step, as `reconciler::execute` takes it (an `UpdateShardCount` recorded
    /// right before it is made): `None` when the plan is carried out, stale, or out of time.
    fn next(run: &mut Run, state: &mut ScalingState, env: &Env<'_>, now: i64) -> Option<Step> {
        match run.execution.next(env.kinesis.tiling(), state, at(now)) {
            NextStep::Step(step) if now + STEP_BUDGET_SECS <= run.deadline => {
                if let Step::UpdateShardCount { .. } = step {
                    state.record_update_call(at(now), 0);
                }
                Some(step)
            }
            NextStep::Step(_) | NextStep::Done | NextStep::Stale(_) => None,
        }
    }

    /// Re-arms the alarms for the live tiling; after a scale-up every alarm goes back to `OK`.
    /// Per-shard alarms follow the open shards: new shards get fresh alarms, closed ones lose theirs.
    fn rearm(&mut self, tiling: &Tiling, reset: bool, now: i64) {
        let specs = specs(tiling, &self.policy);
        let old = std::mem::take(&mut self.alarms);
        self.alarms = specs
            .iter()
            .map(|spec| {
                let mut fresh = Alarm::from_spec(spec);
                if let Some(alarm) = old.iter().find(|a| a.watch == fresh.watch && a.shard == fresh.shard) {
                    if reset {
                        fresh.changed_at = if alarm.state == State::Ok { alarm.changed_at } else { now };
                    } else {
                        (fresh.state, fresh.changed_at, fresh.reason) =
                            (alarm.state, alarm.changed_at, alarm.reason.clone());
                    }
                }
                fresh
            })
            .collect();
        self.metrics_of = specs.iter().map(|s| s.metric).collect();
    }
}

impl Controller for Ours {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        evaluate_alarms(&mut self.alarms, now, env, &mut self.queue);
        if let Some(run) = &mut self.run {
            if !env.kinesis.is_active() {
                return Ok(());
            }
            match Ours::next(run, &mut self.state, env, now) {
                Some(Step::Split { shard, at }) => drop(env.kinesis.split(now, &shard, at)?),
                Some(Step::Merge { low, high }) => drop(env.kinesis.merge(now, &low, &high)?),
                Some(Step::UpdateShardCount { target }) => drop(env.kinesis.update_shard_count(now, target)?),

                None => {
                    let up = run.up;
                    self.run = None;
                    let tiling = env.kinesis.tiling().clone();
                    self.rearm(&tiling, up, now);
                }
            }
            return Ok(());
        }
        if now >= self.next_sweep {
            self.next_sweep += SCALE_DOWN_EVERY_SECS;
            if env.kinesis.is_active() {
                self.sweep(now, env);
                return Ok(());
            }
        }
        if now >= self.next_pre_scale {
            self.next_pre_scale += PRE_SCALE_EVERY_SECS;
            if env.kinesis.is_active() {
                self.pre_scale(now, env);
                if self.run.is_some() {
                    return Ok(());
                }
            }
        }
        if self.queue.front().is_some_and(|n| n.deliver_at <= now) {
            let n = self.queue.pop_front().expect("checked");
            self.handle(n, now, env);
        }
        Ok(())
    }
}

/// The stream-level alarms and, where shard-level metrics are on, the per-shard ones, as
/// `streams apply` and the re-arm write them.
fn specs(tiling: &Tiling, policy: &Policy) -> Vec<AlarmSpec> {
    let mut specs = alarm_specs(STREAM, tiling.len(), policy, &[]);
    specs.extend(shard_alarm_specs(STREAM, &tiling.ids(), policy, &[]));
    specs
}

/// What `reconciler::shard_load_series` returns: every open shard's published datapoints in
/// `window` (none yet for a shard just opened).
fn shard_series<'a>(
    env: &'a Env<'_>,
    tiling: &'a Tiling,
    window: &'a Window,
) -> impl Iterator<Item = (planner::ShardId, LoadSeries)> + 'a {
    let (period, from, to) = (i64::from(window.period_secs), secs(window.start), secs(window.end));
    tiling.shards().iter().map(move |s| {
        let series = env.shard_metrics.of(&s.id).map_or_else(
            || LoadSeries { period_secs: window.period_secs, ..LoadSeries::default() },
            |m| load_series(m, period, from, to),
        );
        (s.id.clone(), series)
    })
}

/// What the sweep reads of the consumers over `window`, as the Lambda does in the same batched
/// `GetMetricData` calls: `GetRecords.Bytes` (Sum, as bytes per second) and
/// `GetRecords.IteratorAgeMilliseconds` (Maximum) per period.
fn read_history(metrics: &Metrics, window: &Window) -> ReadHistory {
    let period = i64::from(window.period_secs);
    let points = metrics.series(period, secs(window.start), secs(window.end), secs(window.end));
    ReadHistory {
        bytes_per_sec: points.iter().map(|(t, p)| (at(*t), p.read_bytes / period as f64)).collect(),
        max_iterator_age_ms: points.iter().map(|(t, p)| (at(*t), p.iterator_age_ms)).collect(),
        status: ReadStatus::Complete,
    }
}

/// What `reconciler::observe::load_series` returns: published `Sum` datapoints of both load
/// metrics for periods starting in `[from, to)`, as the planner's `LoadSeries`.
pub fn load_series(metrics: &Metrics, period_secs: i64, from: i64, to: i64) -> LoadSeries {
    let points = metrics.series(period_secs, from, to, to);
    LoadSeries::from_sums(
        period_secs as u32,
        points.iter().map(|(t, p)| (at(*t), p.bytes)),
        points.iter().map(|(t, p)| (at(*t), p.records)),
    )
}
