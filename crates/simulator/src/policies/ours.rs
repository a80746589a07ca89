//! This project's policy, decided by the `planner` crate exactly as the Lambdas decide.
//!
//! What is mirrored from `crates/reconciler`, step by step:
//! * alarms: `planner::alarm_specs` for the live count (bytes, records, throttling), written at
//!   the start and re-armed after every scale-up (thresholds for the new count, state `OK`);
//! * a notification: `planner::admit` (stale / cooldown / act; a cooldown sets the alarm back to
//!   `OK`), then the load as `scale_up::decide` builds it: `estimate_rate` over the last
//!   `max(period × (evaluation periods + 3), 300 s)` of published 1-minute datapoints raised to
//!   the alarm's quoted datapoints (capacity alarms only), `throttled` for the throttling alarm,
//!   no hot shards (the alarms are stream-level); `plan_scale_up`; the scaling recorded on the
//!   stream before acting (`ScalingState::record`);
//! * execution as `execute_scale_up` / `execute_scale_down`: wait for `ACTIVE`, ask `next_split`
//!   (or `next_merge`) against the live tiling, no step with less than the step budget left;
//! * every 36 h the sweep's `decide`: 24 h of 5-minute datapoints, `young_shards` from the shards
//!   whose parent is still listed, `plan_scale_down`.
//!
//! One simplification: invocations for one stream run one after another (a concurrent real
//! invocation would wait for `ACTIVE` and then plan from the same state).

use std::collections::{BTreeMap, VecDeque};

use planner::{
    Admission, AlarmEvidence, AlarmKind, HashKey, LoadSeries, LoadSnapshot, Metric, PlannedMerge, Policy,
    ScaleDownAction, ScaleDownInput, ScaleDownPlan, ScaleUpAction, ScaleUpInput, ScaleUpPlan, ScalingState,
    Window, admit, alarm_specs, estimate_rate, next_merge, next_split, plan_scale_down, plan_scale_up,
    young_shards,
};

use super::{Controller, Env, evaluate_alarms};
use crate::SimError;
use crate::cloudwatch::{Alarm, Metrics, Notification};
use crate::model::{
    LAMBDA_DEADLINE_SECS, MAX_SHARDS, MIN_SHARDS, SCALE_DOWN_EVERY_SECS, STEP_BUDGET_SECS, at, secs,
};

pub const PARAMETERS: &str = "planner::Policy::default() (scale up at 80 % to a 60 % target, 60 s period, \
1 evaluation period, 5 min cooldown, throttling alarm bypasses it; scale down every 36 h when every \
5-minute point of 24 h is under 50 %, merged pairs at most 60 %), shards within [1, 256]";

/// The stream's name in alarm names; nothing depends on it.
const STREAM: &str = "simulated";

/// The policy every run uses: the defaults, with the simulator's shard bounds.
pub fn policy() -> Policy {
    Policy { min_shards: MIN_SHARDS, max_shards: MAX_SHARDS, ..Policy::default() }
}

#[derive(Debug)]
enum Run {
    Up { plan: ScaleUpPlan, boundaries: Vec<HashKey>, deadline: i64 },
    Down { plan: ScaleDownPlan, remaining: Vec<PlannedMerge>, deadline: i64 },
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
}

enum Next {
    Split(planner::ShardId, HashKey),
    Merge(planner::ShardId, planner::ShardId),
    Update(u32),
    Done,
}

impl Ours {
    pub fn new(open: u32) -> Ours {
        let policy = policy();
        let specs = alarm_specs(STREAM, open, &policy, &[]);
        Ours {
            alarms: specs.iter().map(Alarm::from_spec).collect(),
            metrics_of: specs.iter().map(|s| s.metric).collect(),
            policy,
            queue: VecDeque::new(),
            state: ScalingState::default(),
            run: None,
            next_sweep: SCALE_DOWN_EVERY_SECS,
        }
    }

    /// `scale_up::decide` from the gate on.
    fn handle(&mut self, n: Notification, now: i64, env: &mut Env<'_>) {
        let metric = self.metrics_of[n.alarm];
        let kind = match metric {
            Metric::WriteProvisionedThroughputExceeded => AlarmKind::Throttle,
            _ => AlarmKind::Capacity,
        };
        match admit(at(n.changed_at), kind, &self.state, &self.policy, at(now)) {
            Admission::Act => {}
            Admission::Stale { .. } => return,
            Admission::Cooldown { .. } => {
                self.alarms[n.alarm].reset(now);
                return;
            }
        }
        let tiling = env.kinesis.tiling().clone();
        let period = self.policy.scale_up.period_secs;
        let window = i64::from(period * (self.policy.scale_up.evaluation_periods + 3)).max(300);
        let recent = load_series(env.metrics, i64::from(period), now - window, now);
        let evidence = AlarmEvidence {
            metric,
            period_secs: period,
            datapoints: n.datapoints.clone(),
            threshold: Some(self.alarms[n.alarm].threshold),
        };
        let load = LoadSnapshot {
            stream: estimate_rate(&recent, Some(&evidence)),
            throttled: kind == AlarmKind::Throttle,
            ..LoadSnapshot::default()
        };
        let plan = plan_scale_up(ScaleUpInput {
            tiling: &tiling,
            load: &load,
            policy: &self.policy,
            update_calls_last_24h: self.state.update_calls_last_24h(at(now)),
        });
        if plan.action == ScaleUpAction::None {
            return;
        }
        let uniform = u32::from(matches!(plan.action, ScaleUpAction::UpdateShardCount { .. }));
        self.state.record(at(now), uniform);
        let boundaries = plan.boundaries();
        self.run = Some(Run::Up { plan, boundaries, deadline: now + LAMBDA_DEADLINE_SECS });
    }

    /// `scale_down::decide` for this one stream.
    fn sweep(&mut self, now: i64, env: &mut Env<'_>) {
        let window = Window::ending_at(at(now), &self.policy);
        let load =
            load_series(env.metrics, i64::from(window.period_secs), secs(window.start), secs(window.end));
        let young =
            young_shards(&env.kinesis.with_listed_parent(now), self.state.last_scaled_at, window.start);
        let tiling = env.kinesis.tiling().clone();
        let plan = plan_scale_down(ScaleDownInput {
            stream: STREAM,
            tiling: &tiling,
            policy: &self.policy,
            now: at(now),
            stream_load: &load,
            shard_load: &BTreeMap::new(),
            young: &young,
            last_scaled_at: self.state.last_scaled_at,
            created_at: at(-30 * 24 * 3600),
            update_calls_last_24h: self.state.update_calls_last_24h(at(now)),
        });
        let remaining = match &plan.action {
            ScaleDownAction::None => return,
            ScaleDownAction::Merge { merges } => merges.clone(),
            ScaleDownAction::UpdateShardCount { .. } => Vec::new(),
        };
        let uniform = u32::from(matches!(plan.action, ScaleDownAction::UpdateShardCount { .. }));
        self.state.record(at(now), uniform);
        self.run = Some(Run::Down { plan, remaining, deadline: now + LAMBDA_DEADLINE_SECS });
    }

    /// One executor step: `Done` when the plan is carried out, stale, or out of time.
    fn next(run: &mut Run, env: &Env<'_>, now: i64) -> Next {
        let live = env.kinesis.tiling();
        let (next, deadline) = match run {
            Run::Up { plan, boundaries, deadline } => {
                let next = match &plan.action {
                    ScaleUpAction::None => Next::Done,
                    ScaleUpAction::Split { .. } => {
                        next_split(live, boundaries).map_or(Next::Done, |(s, at)| Next::Split(s, at))
                    }
                    ScaleUpAction::UpdateShardCount { target } if live.len() >= *target => Next::Done,
                    ScaleUpAction::UpdateShardCount { .. } if live.len() != plan.open_shards => Next::Done,
                    ScaleUpAction::UpdateShardCount { target } => Next::Update(*target),
                };
                (next, *deadline)
            }
            Run::Down { plan, remaining, deadline } => {
                let next = match &plan.action {
                    ScaleDownAction::None => Next::Done,
                    ScaleDownAction::Merge { .. } => match next_merge(live, remaining) {
                        Some(m) => {
                            let (low, high) = (m.low.clone(), m.high.clone());
                            let i =
                                remaining.iter().position(|r| r.low == low && r.high == high).expect("found");
                            remaining.drain(..=i);
                            Next::Merge(low, high)
                        }
                        None => Next::Done,
                    },
                    ScaleDownAction::UpdateShardCount { target } if live.len() <= *target => Next::Done,
                    ScaleDownAction::UpdateShardCount { .. } if live.len() != plan.open_shards => Next::Done,
                    ScaleDownAction::UpdateShardCount { target } => Next::Update(*target),
                };
                (next, *deadline)
            }
        };
        if !matches!(next, Next::Done) && now + STEP_BUDGET_SECS > deadline { Next::Done } else { next }
    }

    /// Re-arms the alarms for the live count; after a scale-up every alarm goes back to `OK`.
    fn rearm(&mut self, open: u32, reset: bool, now: i64) {
        let specs = alarm_specs(STREAM, open, &self.policy, &[]);
        for (alarm, spec) in self.alarms.iter_mut().zip(&specs) {
            let mut fresh = Alarm::from_spec(spec);
            if reset {
                fresh.changed_at =
                    if alarm.state == crate::cloudwatch::State::Ok { alarm.changed_at } else { now };
            } else {
                (fresh.state, fresh.changed_at) = (alarm.state, alarm.changed_at);
            }
            *alarm = fresh;
        }
    }
}

impl Controller for Ours {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        evaluate_alarms(&mut self.alarms, now, env.metrics, &mut self.queue);
        if let Some(run) = &mut self.run {
            if !env.kinesis.is_active() {
                return Ok(());
            }
            match Ours::next(run, env, now) {
                Next::Split(shard, key) => drop(env.kinesis.split(now, &shard, key)?),
                Next::Merge(low, high) => drop(env.kinesis.merge(now, &low, &high)?),
                Next::Update(target) => drop(env.kinesis.update_shard_count(now, target)?),
                Next::Done => {
                    let up = matches!(run, Run::Up { .. });
                    self.run = None;
                    self.rearm(env.kinesis.open(), up, now);
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
        if self.queue.front().is_some_and(|n| n.deliver_at <= now) {
            let n = self.queue.pop_front().expect("checked");
            self.handle(n, now, env);
        }
        Ok(())
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
