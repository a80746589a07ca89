//! Carrying out a plan: one reshard at a time, each step derived afresh from the live stream.
//!
//! The planner's plans say *where the stream should end up* (boundaries to create, pairs to merge,
//! a uniform count); the executor never replays a list of calls. Before every step it waits for
//! the stream to be `ACTIVE`, re-reads the open shards and asks the planner's step functions
//! ([`planner::next_split`], [`planner::next_merge`]) for the next call that is still needed. So a
//! crash halfway, a duplicate trigger or another actor's reshard leaves nothing to undo: the next
//! run finds only what is left. A step the live stream refuses as invalid (its shard was closed
//! under us) is re-read once and re-derived; the same refusal twice is an error.
//!
//! Time is bounded: no step starts unless `step_budget` remains before the deadline, so a Lambda
//! stops cleanly and the next trigger picks up the rest.

use std::time::Duration;

use planner::{
    HashKey, ScaleDownAction, ScaleDownPlan, ScaleUpAction, ScaleUpPlan, ShardId, Tiling, next_merge,
    next_split,
};
use tokio::time::Instant;

use crate::ports::{ErrorKind, PortError, StreamPort, StreamSnapshot};
use crate::{Backoff, Jitter, ReconcileError, retry, wait_for_active};

/// How the executor paces itself. The defaults suit a Lambda with a 15-minute limit on real AWS,
/// where a split or merge takes seconds to tens of seconds to settle.
#[derive(Debug, Clone)]
pub struct ExecuteSettings {
    /// Retries of each reshard call (throttles, `ResourceInUse` from another actor).
    pub backoff: Backoff,
    /// How often to poll for `ACTIVE` after a reshard.
    pub poll: Duration,
    /// Longest wait for `ACTIVE` after one reshard.
    pub wait_timeout: Duration,
    /// No step starts unless this much time remains before the deadline: one call plus its wait.
    pub step_budget: Duration,
}

impl Default for ExecuteSettings {
    fn default() -> Self {
        ExecuteSettings {
            backoff: Backoff::RESOURCE_IN_USE,
            poll: Duration::from_secs(1),
            wait_timeout: Duration::from_secs(300),
            step_budget: Duration::from_secs(45),
        }
    }
}

/// One reshard call the executor made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Split { shard: ShardId, at: HashKey },
    Merge { low: ShardId, high: ShardId },
    UpdateShardCount { target: u32 },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Split { shard, at } => write!(f, "SplitShard {shard} at {at}"),
            Step::Merge { low, high } => write!(f, "MergeShards {low} + {high}"),
            Step::UpdateShardCount { target } => write!(f, "UpdateShardCount to {target}"),
        }
    }
}

/// What an execution did and where it left the stream.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub steps: Vec<Step>,
    /// Whether the plan's end state was reached; `false` when the deadline (or a stale plan)
    /// stopped it, which `why_incomplete` explains.
    pub complete: bool,
    pub why_incomplete: Option<String>,
    /// The stream as last read, `ACTIVE`.
    pub last: StreamSnapshot,
}

/// Executes a scale-up plan against the live stream.
pub async fn execute_scale_up<P: StreamPort + Sync>(
    port: &P,
    stream: &str,
    plan: &ScaleUpPlan,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
    deadline: Instant,
) -> Result<Outcome, ReconcileError> {
    let boundaries = plan.boundaries();
    let next = |live: &Tiling| match &plan.action {
        ScaleUpAction::None => Next::Done,
        ScaleUpAction::Split { .. } => next_split(live, &boundaries)
            .map_or(Next::Done, |(shard, at)| Next::Step(Step::Split { shard, at })),
        // Level-triggered: if the stream already has the capacity (someone else scaled it), stop.
        ScaleUpAction::UpdateShardCount { target } if live.len() >= *target => Next::Done,
        ScaleUpAction::UpdateShardCount { target } if live.len() != plan.open_shards => {
            Next::Stale(format!("planned from {} open shards, found {}", plan.open_shards, live.len()))
        }
        ScaleUpAction::UpdateShardCount { target } => Next::Step(Step::UpdateShardCount { target: *target }),
    };
    drive(port, stream, settings, jitter, deadline, next).await
}

/// Executes a scale-down plan against the live stream. Merges whose shards are no longer open and
/// adjacent are skipped; a uniform halving planned from a different shard count is not made.
pub async fn execute_scale_down<P: StreamPort + Sync>(
    port: &P,
    stream: &str,
    plan: &ScaleDownPlan,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
    deadline: Instant,
) -> Result<Outcome, ReconcileError> {
    let mut remaining: &[planner::PlannedMerge] = match &plan.action {
        ScaleDownAction::Merge { merges } => merges,
        _ => &[],
    };
    let next = move |live: &Tiling| match &plan.action {
        ScaleDownAction::None => Next::Done,
        ScaleDownAction::Merge { .. } => match next_merge(live, remaining) {
            Some(merge) => {
                let at = remaining.iter().position(|m| m == merge).expect("next_merge returns an element");
                remaining = &remaining[at + 1..];
                Next::Step(Step::Merge { low: merge.low.clone(), high: merge.high.clone() })
            }
            None => Next::Done,
        },
        ScaleDownAction::UpdateShardCount { target } if live.len() <= *target => Next::Done,
        ScaleDownAction::UpdateShardCount { target } if live.len() != plan.open_shards => Next::Stale(
            format!("planned from {} open shards, found {} (target {target})", plan.open_shards, live.len()),
        ),
        ScaleDownAction::UpdateShardCount { target } => {
            Next::Step(Step::UpdateShardCount { target: *target })
        }
    };
    drive(port, stream, settings, jitter, deadline, next).await
}

enum Next {
    Step(Step),
    Done,
    Stale(String),
}

async fn drive<P: StreamPort + Sync>(
    port: &P,
    stream: &str,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
    deadline: Instant,
    mut next: impl FnMut(&Tiling) -> Next,
) -> Result<Outcome, ReconcileError> {
    let mut steps = Vec::new();
    let mut refused: Option<Step> = None;
    loop {
        let wait = settings.wait_timeout.min(deadline.saturating_duration_since(Instant::now()));
        let last = wait_for_active(port, stream, wait, settings.poll, |_, _| {}).await?;
        let live = last.tiling().expect("wait_for_active returns a snapshot with its shards");
        let incomplete = |why: String, steps| Outcome {
            steps,
            complete: false,
            why_incomplete: Some(why),
            last: last.clone(),
        };
        let step = match next(live) {
            Next::Done => return Ok(Outcome { steps, complete: true, why_incomplete: None, last }),
            Next::Stale(why) => return Ok(incomplete(format!("plan is stale: {why}"), steps)),
            Next::Step(step) => step,
        };
        if Instant::now() + settings.step_budget > deadline {
            return Ok(incomplete(
                format!("deadline: less than {:?} left for {step}", settings.step_budget),
                steps,
            ));
        }
        match retry(&settings.backoff, jitter, || call(port, stream, &step)).await {
            Ok(()) => {
                tracing::info!(stream, %step, "reshard step done");
                steps.push(step);
                refused = None;
            }
            // The shard changed under us (closed by another actor): re-read and re-derive once.
            Err(err) if err.kind == ErrorKind::InvalidArgument && refused.as_ref() != Some(&step) => {
                tracing::warn!(stream, %step, "step refused, re-reading the stream: {}", err.message);
                refused = Some(step);
            }
            Err(err) => return Err(err.into()),
        }
    }
}

async fn call<P: StreamPort>(port: &P, stream: &str, step: &Step) -> Result<(), PortError> {
    match step {
        Step::Split { shard, at } => port.split_shard(stream, shard, *at).await,
        Step::Merge { low, high } => port.merge_shards(stream, low, high).await,
        Step::UpdateShardCount { target } => port.update_shard_count(stream, *target).await,
    }
}
