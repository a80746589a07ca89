//! Carrying a plan out, one step at a time, each step derived afresh from the live stream.
//!
//! A plan says *where the stream should end up* (boundaries to create, pairs to merge, a uniform
//! count); nothing ever replays a list of calls. Before each step the executor (the Lambdas in
//! `reconciler`, and the simulator, which runs this very code) re-reads the open shards and the
//! scaler's state tags and asks [`Execution::next`] for the next call that is still needed. A crash
//! halfway, a duplicate trigger or another actor's reshard leaves nothing to undo: the next run
//! finds only what is left.
//!
//! **Concurrency.** A tag is not a lock: the bytes, records and throttle alarms of one evaluation
//! arrive as concurrent invocations, and the sweep may run beside them. What Kinesis serialises is
//! the reshard itself (one at a time, `ResourceInUse` otherwise), so every step is re-derived from
//! what the previous one, whoever made it, left:
//!
//! * a scale-up stops once the stream has the count it needed or `maxShards`, whoever added the
//!   shards; a cut is made only where it still divides a shard of the plan into pieces of the
//!   planned width (never a sliver next to someone else's cut); when the live tiling has diverged
//!   from the plan (a concurrent `UpdateShardCount`, another plan's cuts), the rest is planned
//!   again from the live tiling with the same demand. So concurrent scale-ups end at the larger
//!   needed count, never above it;
//! * a merge plan is stale as soon as anyone has recorded a scaling after it did, so no pair is
//!   merged right after a split;
//! * a uniform count is re-checked against the live count and the rolling quota before the call.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    HashKey, HashRange, LoadSnapshot, PlannedMerge, Policy, Rate, ScaleDownAction, ScaleDownPlan,
    ScaleUpAction, ScaleUpInput, ScaleUpPlan, ScalingState, ShardId, SharedReads, Tiling,
    UPDATE_SHARD_COUNT_CALLS_PER_DAY, plan_scale_up,
};

/// One reshard call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Step {
    Split { shard: ShardId, at: HashKey },
    Merge { low: ShardId, high: ShardId },
    UpdateShardCount { target: u32 },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Split { shard, at } => write!(f, "SplitShard {shard} at {at}"),
            Step::Merge { low, high } => write!(f, "MergeShards {low} + {high}"),
            Step::UpdateShardCount { target } => write!(f, "UpdateShardCount to {target}"),
        }
    }
}

/// What the live stream needs next to reach the plan's end state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    Step(Step),
    /// The end state is reached, or nothing of the plan can still be done.
    Done,
    /// The plan no longer fits the stream and cannot be re-derived here (a merge plan after
    /// someone else's scaling, a uniform halving planned from another count).
    Stale(String),
}

/// One planned boundary: where, and the shard range it was planned in, cut into `parts` equal
/// children, which tells a cut of this plan from a sliver next to someone else's.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCut {
    pub at: HashKey,
    pub parent: HashRange,
    pub parts: u32,
}

impl PlannedCut {
    /// Whether cutting `owner` (the live shard holding `at`) here makes pieces of the planned
    /// width: `owner` lies within the planned parent and neither piece is under three quarters of
    /// a planned child. A plan carried out alone always passes (its pieces are whole children);
    /// after a concurrent plan's cuts it may not.
    fn fits(&self, owner: &HashRange) -> bool {
        if owner.start() < self.parent.start() || owner.end() > self.parent.end() {
            return false;
        }
        let child = (self.parent.last_offset() as f64 + 1.0) / f64::from(self.parts.max(1));
        let low = (self.at.0 - owner.start().0) as f64;
        let high = (owner.end().0 - self.at.0) as f64 + 1.0;
        low.min(high) >= child * 0.75
    }
}

/// What a scale-up must reach, kept so that a plan the live tiling has diverged from is planned
/// again from the live tiling. Only the stream's demand is kept: per-shard evidence (measured
/// rates, shard alarms, the throttled floor) names shards of the tiling it was read on.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub rate: Rate,
    /// The shared readers' demand the plan was sized for too, in bytes per second, with what a
    /// read-throttling alarm proved already in it (the floor is of the tiling it fired on).
    pub read_bytes_per_sec: f64,
    pub policy: Policy,
    /// The original plan's count: a plan made again never goes past it, so concurrent scale-ups
    /// end at the larger plan's count however their steps interleave.
    pub ceiling: u32,
}

/// A plan being carried out: what is left of it, whatever the live stream looks like.
#[derive(Debug, Clone, PartialEq)]
pub enum Execution {
    Nothing,
    /// Splits until every cut exists, in the plan's order (see [`ScaleUpPlan::boundaries`]), or the
    /// stream has `target` shards.
    Split {
        cuts: Vec<PlannedCut>,
        target: u32,
        demand: Demand,
    },
    /// Merges in the plan's order; `next` is the cursor past the pairs already merged or skipped.
    /// `recorded` is when this plan's scaling was recorded on the stream: a later record is
    /// another actor's, and makes the rest stale.
    Merge {
        merges: Vec<PlannedMerge>,
        next: usize,
        recorded: DateTime<Utc>,
    },
    /// `UpdateShardCount` from `from` open shards to `target`; a scale-up's demand lets it be
    /// re-derived when the count has moved, and chains the next round while the count is under
    /// the demand's ceiling (one call at most doubles it). A scale-down below half the count
    /// chains halving calls (one call at most halves it): each sets `from` to the count it asks
    /// for, so a count that moved otherwise is still another actor's doing.
    Uniform {
        from: u32,
        target: u32,
        demand: Option<Demand>,
        recorded: DateTime<Utc>,
    },
}

impl Execution {
    /// The execution of `plan`, made under `policy`.
    pub fn of_scale_up(plan: &ScaleUpPlan, policy: &Policy) -> Execution {
        let demand = Demand {
            rate: plan.demand,
            read_bytes_per_sec: plan.read_demand,
            policy: policy.clone(),
            ceiling: plan.target_shards,
        };
        Execution::for_demand(plan, demand)
    }

    fn for_demand(plan: &ScaleUpPlan, demand: Demand) -> Execution {
        let ceiling = demand.ceiling;
        match &plan.action {
            ScaleUpAction::None => Execution::Nothing,
            ScaleUpAction::Split { splits } => {
                let parts = |range: &HashRange| {
                    splits.iter().find(|s| &s.range == range).map_or(1, |s| s.cuts.len() as u32 + 1)
                };
                let cuts = plan
                    .boundaries()
                    .into_iter()
                    .filter_map(|at| {
                        let parent = splits.iter().find(|s| s.range.can_split_at(at))?.range;
                        Some(PlannedCut { at, parent, parts: parts(&parent) })
                    })
                    .collect();
                Execution::Split { cuts, target: plan.target_shards.min(ceiling), demand }
            }
            // A scale-up's uniform count is re-derived, not made stale, by someone else's scaling.
            ScaleUpAction::UpdateShardCount { target } => Execution::Uniform {
                from: plan.open_shards,
                target: (*target).min(ceiling).max(plan.open_shards + 1),
                demand: Some(demand),
                recorded: DateTime::<Utc>::MIN_UTC,
            },
        }
    }

    /// The execution of `plan`, whose scaling was recorded on the stream at `recorded`.
    pub fn of_scale_down(plan: &ScaleDownPlan, recorded: DateTime<Utc>) -> Execution {
        match &plan.action {
            ScaleDownAction::None => Execution::Nothing,
            ScaleDownAction::Merge { merges } => {
                Execution::Merge { merges: merges.clone(), next: 0, recorded }
            }
            ScaleDownAction::UpdateShardCount { target } => {
                Execution::Uniform { from: plan.open_shards, target: *target, demand: None, recorded }
            }
        }
    }

    /// The next call `live` still needs, given the scaler's state as read with it. Level-triggered:
    /// a split is asked of whichever shard owns the boundary now; a merge whose shards are no
    /// longer open and adjacent is skipped, never forced; a uniform count is done once the stream
    /// has reached it; see the module doc for what concurrent actors change.
    pub fn next(&mut self, live: &Tiling, state: &ScalingState, now: DateTime<Utc>) -> NextStep {
        match self.next_once(live, state, now) {
            Some(next) => next,
            // Diverged: plan the rest from the live tiling, once.
            None => match self.replanned(live, state, now) {
                Some(replanned) => {
                    *self = replanned;
                    self.next_once(live, state, now).unwrap_or(NextStep::Done)
                }
                None => NextStep::Done,
            },
        }
    }

    /// `None` when the live tiling has diverged from a scale-up plan and it must be re-derived.
    fn next_once(&mut self, live: &Tiling, state: &ScalingState, now: DateTime<Utc>) -> Option<NextStep> {
        match self {
            Execution::Nothing => Some(NextStep::Done),
            Execution::Split { cuts, target, demand } => {
                let open = live.len();
                if open >= *target || open >= demand.policy.max_shards {
                    return Some(NextStep::Done);
                }
                let mut diverged = false;
                for cut in cuts.iter() {
                    let owner = live.owner_of(cut.at);
                    if !owner.range.can_split_at(cut.at) {
                        continue; // this boundary exists already
                    }
                    if cut.fits(&owner.range) {
                        return Some(NextStep::Step(Step::Split { shard: owner.id.clone(), at: cut.at }));
                    }
                    diverged = true;
                }
                (!diverged).then_some(NextStep::Done)
            }
            Execution::Merge { merges, next, recorded } => {
                if let Some(last) = state.last_scaled_at.filter(|last| last > recorded) {
                    return Some(NextStep::Stale(format!(
                        "another actor scaled the stream at {last}, after this plan was recorded at {recorded}"
                    )));
                }
                let found =
                    merges[*next..].iter().position(|m| match (live.get(&m.low), live.get(&m.high)) {
                        (Some(low), Some(high)) => low.range.is_followed_by(&high.range),
                        _ => false,
                    });
                let Some(at) = found else {
                    *next = merges.len();
                    return Some(NextStep::Done);
                };
                let merge = &merges[*next + at];
                *next += at + 1;
                Some(NextStep::Step(Step::Merge { low: merge.low.clone(), high: merge.high.clone() }))
            }
            Execution::Uniform { from, target, demand, recorded } => {
                let open = live.len();
                let up = *target >= *from;
                if up && open >= *target && demand.as_ref().is_some_and(|d| open < d.ceiling) {
                    return None; // one round of several done: the next is planned from the live count
                }
                if (up && open >= *target) || (!up && open <= *target) {
                    return Some(NextStep::Done);
                }
                let spent = state.update_calls_last_24h(now) >= UPDATE_SHARD_COUNT_CALLS_PER_DAY;
                let moved = open != *from;
                let overtaken = !up && state.last_scaled_at.is_some_and(|last| last > *recorded);
                match (moved || spent || overtaken, demand.is_some()) {
                    (false, _) if up => Some(NextStep::Step(Step::UpdateShardCount { target: *target })),
                    (false, _) => {
                        *from = open.div_ceil(2).max(*target);
                        Some(NextStep::Step(Step::UpdateShardCount { target: *from }))
                    }
                    (true, true) => None,
                    (true, false) if spent => Some(NextStep::Stale(format!(
                        "the {UPDATE_SHARD_COUNT_CALLS_PER_DAY} UpdateShardCount calls of the rolling day are spent"
                    ))),
                    (true, false) if overtaken => Some(NextStep::Stale(
                        "another actor scaled the stream after this plan was recorded".into(),
                    )),
                    (true, false) => Some(NextStep::Stale(format!(
                        "planned from {from} open shards, found {open} (target {target})"
                    ))),
                }
            }
        }
    }

    /// A scale-up planned again from `live` for the same demand (`None`: not a scale-up).
    fn replanned(&self, live: &Tiling, state: &ScalingState, now: DateTime<Utc>) -> Option<Execution> {
        let demand = match self {
            Execution::Split { demand, .. } | Execution::Uniform { demand: Some(demand), .. } => demand,
            _ => return None,
        };
        let reads = SharedReads { bytes_per_sec: demand.read_bytes_per_sec, throttled: false };
        let load = LoadSnapshot { stream: demand.rate, reads, ..LoadSnapshot::default() };
        let plan = plan_scale_up(ScaleUpInput {
            tiling: live,
            load: &load,
            policy: &demand.policy,
            update_calls_last_24h: state.update_calls_last_24h(now),
        });
        if live.len() >= demand.ceiling {
            return None;
        }
        match Execution::for_demand(&plan, demand.clone()) {
            Execution::Nothing => None,
            replanned => Some(replanned),
        }
    }
}
