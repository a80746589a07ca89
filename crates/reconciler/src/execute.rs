//! Carrying out a plan: one reshard at a time, each step derived afresh from the live stream.
//!
//! Before every step the executor waits for the stream to be `ACTIVE`, re-reads the open shards and
//! asks the planner's [`Execution`] for the next call that is still needed (the same function the
//! simulator runs). So a crash halfway, a duplicate trigger or another actor's reshard leaves
//! nothing to undo: the next run finds only what is left. A step the live stream refuses as invalid
//! (its shard was closed under us) is re-read once and re-derived; the same refusal twice is an
//! error.
//!
//! Time is bounded: no step starts unless `step_budget` remains before the deadline, so a Lambda
//! stops cleanly and the next trigger picks up the rest.

use std::time::Duration;

use planner::{Execution, NextStep, Step};
use tokio::time::Instant;

use crate::ports::{ActiveStream, ErrorKind, PortError, Resharder};
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

/// What an execution did and where it left the stream.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub steps: Vec<Step>,
    /// Whether the plan's end state was reached; `false` when the deadline (or a stale plan)
    /// stopped it, which `why_incomplete` explains.
    pub complete: bool,
    pub why_incomplete: Option<String>,
    /// The stream as last read.
    pub last: ActiveStream,
}

/// Carries `execution` out against the live stream until it is done, stale, or out of time.
pub async fn execute<P: Resharder + Sync>(
    port: &P,
    stream: &str,
    mut execution: Execution,
    settings: &ExecuteSettings,
    jitter: &mut impl Jitter,
    deadline: Instant,
) -> Result<Outcome, ReconcileError> {
    let mut steps = Vec::new();
    let mut refused: Option<Step> = None;
    loop {
        let wait = settings.wait_timeout.min(deadline.saturating_duration_since(Instant::now()));
        let last = wait_for_active(port, stream, wait, settings.poll, |_, _| {}).await?;
        let incomplete = |why: String, steps| Outcome {
            steps,
            complete: false,
            why_incomplete: Some(why),
            last: last.clone(),
        };
        let step = match execution.next(last.tiling()) {
            NextStep::Done => return Ok(Outcome { steps, complete: true, why_incomplete: None, last }),
            NextStep::Stale(why) => return Ok(incomplete(format!("plan is stale: {why}"), steps)),
            NextStep::Step(step) => step,
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

async fn call<P: Resharder>(port: &P, stream: &str, step: &Step) -> Result<(), PortError> {
    match step {
        Step::Split { shard, at } => port.split_shard(stream, shard, *at).await,
        Step::Merge { low, high } => port.merge_shards(stream, low, high).await,
        Step::UpdateShardCount { target } => port.update_shard_count(stream, *target).await,
    }
}
