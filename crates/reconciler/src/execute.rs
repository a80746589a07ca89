//! Carrying out a plan: one reshard at a time, each step derived afresh from the live stream.
//!
//! Before every step the executor waits for the stream to be `ACTIVE`, re-reads the open shards and
//! asks the planner's [`Execution`] for the next call that is still needed (the same function the
//! simulator runs). So a crash halfway, a duplicate trigger or another actor's reshard leaves
//! nothing to undo: the next run finds only what is left. A step the live stream refuses as invalid
//! (its shard was closed under us) is re-read once and re-derived; the same refusal twice is an
//! error.
//!
//! Every step reads the scaler's state tags with the shards, so the planner's step function sees
//! another actor's scaling and quota use, and each `UpdateShardCount` is recorded on the stream
//! under a tag of its own right before the call (expired records are removed at the same time):
//! concurrent actors add records, they never overwrite each other's.
//!
//! Time is bounded: no step starts unless `step_budget` remains before the context's deadline, so
//! a Lambda stops cleanly and the next trigger picks up the rest. The reshard calls themselves are
//! made once each (the I/O layer never resends them); a refusal worth waiting out is waited out
//! here, and the step derived again.

use std::time::Duration;

use planner::{Execution, NextStep, ScalingState, Step};

use crate::ports::{ActiveStream, ErrorKind, PortError, Resharder};
use crate::{Backoff, Context, ReconcileError, Retry, classify, wait_for_active};

/// How the executor paces itself. The defaults suit a Lambda with a 15-minute limit on real AWS,
/// where a split or merge takes seconds to tens of seconds to settle.
#[derive(Debug, Clone)]
pub struct ExecuteSettings {
    /// How long to wait before re-deriving a step Kinesis refused for a retryable reason (another
    /// actor's reshard, a throttle), and how many refusals in a row end the run.
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
    /// The stream as last read `ACTIVE`.
    pub last: ActiveStream,
    /// A step of this run Kinesis was still carrying out when the deadline ended the wait for it
    /// (an `UpdateShardCount` takes minutes): `last` is the stream before it, and its alarms are
    /// for a count it is leaving, so the caller leaves re-arming to the next run that finds the
    /// stream `ACTIVE` (the resync, for alarms left in `ALARM`).
    pub in_flight: Option<Step>,
}

/// Waits for `stream` to be `ACTIVE` (no longer than the executor's wait or the deadline allow)
/// and reads it whole: how every flow re-reads a stream after a reshard, its own or another's.
pub async fn settle<K: Resharder + Sync, C>(
    cx: &Context<K, C>,
    stream: &str,
) -> Result<ActiveStream, ReconcileError> {
    let wait = cx.execute.wait_timeout.min(cx.left());
    wait_for_active(cx.kinesis(), cx.policy().clock(), stream, wait, cx.execute.poll, |_, _| {}).await
}

/// Carries `execution` out against the live stream until it is done, stale, or out of time.
pub async fn execute<K: Resharder + Sync, C>(
    cx: &Context<K, C>,
    stream: &str,
    mut execution: Execution,
) -> Result<Outcome, ReconcileError> {
    let settings = &cx.execute;
    let mut steps: Vec<Step> = Vec::new();
    let mut refused: Option<Step> = None;
    // Failed attempts in a row: a retry re-derives its step from a fresh read, never re-sends it.
    let mut failures = 0u32;
    let mut settled: Option<ActiveStream> = None;
    loop {
        let last = match (settle(cx, stream).await, settled.take(), steps.last()) {
            (Ok(last), _, _) => last,
            // Our own step outlasted the invocation: Kinesis finishes it without us.
            (Err(ReconcileError::WaitTimedOut { .. }), Some(last), Some(step)) if cx.left().is_zero() => {
                let why = format!("deadline: {step} still in progress");
                let in_flight = Some(step.clone());
                return Ok(Outcome { complete: false, why_incomplete: Some(why), last, in_flight, steps });
            }
            (Err(e), _, _) => return Err(e),
        };
        let incomplete = |why: String, steps| Outcome {
            steps,
            complete: false,
            why_incomplete: Some(why),
            last: last.clone(),
            in_flight: None,
        };
        let now = cx.now();
        // A state tag turned invalid mid-run (edited by hand, forged): stop rather than guess.
        let state = match ScalingState::from_tags(&last.tags, now) {
            Ok(state) => state,
            Err(e) => return Ok(incomplete(format!("{e}; run `streams apply` to rewrite it"), steps)),
        };
        let step = match execution.next(last.tiling(), &state, now) {
            NextStep::Done => {
                return Ok(Outcome { steps, complete: true, why_incomplete: None, last, in_flight: None });
            }
            NextStep::Stale(why) => return Ok(incomplete(format!("plan is stale: {why}"), steps)),
            NextStep::Step(step) => step,
        };
        if !cx.has(settings.step_budget) {
            return Ok(incomplete(
                format!("deadline: less than {:?} left for {step}", settings.step_budget),
                steps,
            ));
        }
        let record = match step {
            Step::UpdateShardCount { .. } => Some(record_update_call(cx, &last, state, now).await?),
            _ => None,
        };
        let result = call(cx.kinesis(), stream, &step).await;
        if let (Some(key), Err(err)) = (&record, &result) {
            take_back(cx, stream, key, err).await;
        }
        match result {
            Ok(()) => {
                tracing::info!(stream, %step, "reshard step done");
                steps.push(step);
                (refused, failures, settled) = (None, 0, Some(last));
            }
            // Another actor's reshard in flight, a throttle, a blip: wait, then re-read and re-derive
            // (the stream the step was derived from may be gone: an `UpdateShardCount` to 5 planned
            // on 3 shards must not be re-sent once someone has made it 6).
            Err(err) if wait_out(cx, &err, failures).await => failures += 1,
            // The shard changed under us (closed by another actor): re-read and re-derive once.
            Err(err) if err.kind == ErrorKind::InvalidArgument && refused.as_ref() != Some(&step) => {
                tracing::warn!(stream, %step, "step refused, re-reading the stream: {}", err.message);
                refused = Some(step);
            }
            Err(mut err) => {
                err.attempts = failures + 1;
                return Err(err.into());
            }
        }
    }
}

/// Whether a reshard step Kinesis refused is worth deriving again from a fresh read, after
/// waiting as the error policy says (another actor's reshard in flight, a throttle); `failures`
/// is how many refusals in a row came before. A reshard call is never resent as it was: whoever
/// retries it re-reads the stream first ([`execute`], and `streams apply`'s count changes).
pub(crate) async fn wait_out<K, C>(cx: &Context<K, C>, err: &PortError, failures: u32) -> bool {
    if !err.is_retryable() || failures + 1 >= cx.execute.backoff.max_attempts {
        return false;
    }
    let mut jitter = |_| cx.policy().fraction();
    let delay = match classify(err) {
        Retry::After(backoff) => backoff.delay(failures, &mut jitter),
        Retry::Never => cx.execute.backoff.delay(failures, &mut jitter),
    };
    tracing::warn!(
        stream = err.stream.as_deref(),
        attempt = failures + 1,
        delay_ms = delay.as_millis() as u64,
        "re-deriving after: {err}"
    );
    cx.sleep_until(cx.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)).await;
    true
}

/// Records an `UpdateShardCount` about to be made under its own tag (returned), and removes the
/// records that have aged out of the rolling day, so the stream stays well under Kinesis's 50 tags.
async fn record_update_call<K: Resharder + Sync, C>(
    cx: &Context<K, C>,
    stream: &ActiveStream,
    mut state: ScalingState,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, PortError> {
    let name = stream.name.as_str();
    let tag = state.record_update_call(now, cx.policy().nonce());
    cx.kinesis().add_tags(name, &tag).await?;
    let expired = ScalingState::expired_tags(&stream.tags, now);
    if !expired.is_empty() {
        cx.kinesis().remove_tags(name, &expired).await?;
    }
    Ok(tag.into_keys().next().unwrap_or_default())
}

/// Takes back the record of an `UpdateShardCount` that Kinesis refused before doing anything (a
/// reshard in flight, a throttle, a quota, an invalid count), so a refused call spends no quota.
/// After a timeout or a 5xx the call may have happened: the record stays (counting one too many
/// is safe; one too few is not). Best effort: a failure here only over-counts.
async fn take_back<K: Resharder + Sync, C>(cx: &Context<K, C>, stream: &str, key: &str, err: &PortError) {
    let refused = matches!(
        err.kind,
        ErrorKind::ResourceInUse
            | ErrorKind::Throttled
            | ErrorKind::LimitExceeded
            | ErrorKind::QuotaExceeded
            | ErrorKind::InvalidArgument
    );
    if refused {
        let keys = [key.to_owned()];
        if let Err(e) = cx.kinesis().remove_tags(stream, &keys).await {
            tracing::warn!(stream, "a refused UpdateShardCount stays recorded: {e}");
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
