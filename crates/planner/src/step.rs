//! Carrying a plan out, one step at a time, each step derived afresh from the live stream.
//!
//! A plan says *where the stream should end up* (boundaries to create, pairs to merge, a uniform
//! count); nothing ever replays a list of calls. Before each step the executor (the Lambdas in
//! `reconciler`, and the simulator, which runs this very code) reads the open shards and asks
//! [`Execution::next`] for the next call that is still needed. A crash halfway, a duplicate trigger
//! or another actor's reshard leaves nothing to undo: the next run finds only what is left.
//!
//! The scaler's memory on the stream ([`ScalingState`]) is written before the first step, by
//! [`ScalingState::record`], with what [`Execution::update_shard_count_calls`] says it will spend.

use std::fmt;

use serde::Serialize;

use crate::{
    HashKey, PlannedMerge, ScaleDownAction, ScaleDownPlan, ScaleUpAction, ScaleUpPlan, ShardId, Tiling,
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
    /// The plan no longer fits the stream (a uniform count planned from another shard count).
    Stale(String),
}

/// A plan being carried out: what is left of it, whatever the live stream looks like.
#[derive(Debug, Clone, PartialEq)]
pub enum Execution {
    Nothing,
    /// Splits until every boundary exists, in the plan's order (see [`ScaleUpPlan::boundaries`]).
    Split {
        boundaries: Vec<HashKey>,
    },
    /// Merges in the plan's order; `next` is the cursor past the pairs already merged or skipped.
    Merge {
        merges: Vec<PlannedMerge>,
        next: usize,
    },
    /// One `UpdateShardCount` from `from` open shards to `target`.
    Uniform {
        from: u32,
        target: u32,
    },
}

impl Execution {
    pub fn of_scale_up(plan: &ScaleUpPlan) -> Execution {
        match &plan.action {
            ScaleUpAction::None => Execution::Nothing,
            ScaleUpAction::Split { .. } => Execution::Split { boundaries: plan.boundaries() },
            ScaleUpAction::UpdateShardCount { target } => {
                Execution::Uniform { from: plan.open_shards, target: *target }
            }
        }
    }

    pub fn of_scale_down(plan: &ScaleDownPlan) -> Execution {
        match &plan.action {
            ScaleDownAction::None => Execution::Nothing,
            ScaleDownAction::Merge { merges } => Execution::Merge { merges: merges.clone(), next: 0 },
            ScaleDownAction::UpdateShardCount { target } => {
                Execution::Uniform { from: plan.open_shards, target: *target }
            }
        }
    }

    /// `UpdateShardCount` calls this execution makes (Kinesis allows 10 per stream per rolling
    /// day), for [`ScalingState::record`](crate::ScalingState::record).
    pub fn update_shard_count_calls(&self) -> u32 {
        u32::from(matches!(self, Execution::Uniform { .. }))
    }

    /// The next call `live` still needs. Level-triggered: a split is asked of whichever shard owns
    /// the boundary now; a merge whose shards are no longer open and adjacent is skipped, never
    /// forced; a uniform count is done once the stream has reached it (someone else scaled it), and
    /// stale if planned from a different count.
    pub fn next(&mut self, live: &Tiling) -> NextStep {
        match self {
            Execution::Nothing => NextStep::Done,
            Execution::Split { boundaries } => boundaries
                .iter()
                .find_map(|&key| {
                    let owner = live.owner_of(key);
                    owner.range.can_split_at(key).then(|| Step::Split { shard: owner.id.clone(), at: key })
                })
                .map_or(NextStep::Done, NextStep::Step),
            Execution::Merge { merges, next } => {
                let found =
                    merges[*next..].iter().position(|m| match (live.get(&m.low), live.get(&m.high)) {
                        (Some(low), Some(high)) => low.range.is_followed_by(&high.range),
                        _ => false,
                    });
                let Some(at) = found else {
                    *next = merges.len();
                    return NextStep::Done;
                };
                let merge = &merges[*next + at];
                *next += at + 1;
                NextStep::Step(Step::Merge { low: merge.low.clone(), high: merge.high.clone() })
            }
            Execution::Uniform { from, target } => {
                let open = live.len();
                let reached = if *target >= *from { open >= *target } else { open <= *target };
                if reached {
                    NextStep::Done
                } else if open != *from {
                    NextStep::Stale(format!(
                        "planned from {from} open shards, found {open} (target {target})"
                    ))
                } else {
                    NextStep::Step(Step::UpdateShardCount { target: *target })
                }
            }
        }
    }
}
