//! Re-arming a stream's alarms after a reshard: the one place both Lambdas rewrite them.
//!
//! Thresholds follow the open shard count ([`planner::alarm_specs`]), so every reshard rewrites
//! the stream's alarms, and its per-shard alarms follow the shards ([`converge_shard_level`]).
//! The alarm actions come from one trusted source: the stream's own alarms as `streams apply`
//! wrote them, never from an incoming message, which anyone allowed to publish to the topic can
//! forge. Whether the alarms go back to `OK` is the caller's explicit choice ([`Reset`]). Every
//! retry stops at the caller's deadline, so a Lambda never sleeps into its timeout here; what a
//! deadline cuts short, the next trigger (or the scale-up resync) re-arms.

use planner::{ALARM_NAME_PREFIX, AlarmSpec, Policy, alarm_specs};
use tokio::time::Instant;

use crate::ports::{ActiveStream, AlarmPort, AlarmState, AlarmSummary, ErrorKind, PortError, Resharder};
use crate::{Backoff, Jitter, converge_shard_level, retry_until};

/// What happens to the alarms' state when they are rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    /// Back to `OK`, with this reason: CloudWatch notifies only on a state *change*, so after a
    /// scale-up an alarm left in `ALARM` would never fire again while the stream stays hot.
    ToOk { reason: String },
    /// As they are: after a merge the alarms re-evaluate against the new thresholds on their own.
    Keep,
}

/// Whether to rewrite the alarms whatever they hold, or only when one drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// After a reshard: the count changed, so every threshold did.
    Always,
    /// Only if some alarm is not what the live count wants (a re-arm that failed or never ran,
    /// e.g. the Lambda stopped between the reshard and the re-arm); one `DescribeAlarms` call
    /// when nothing drifted.
    IfDrifted,
}

/// Rewrites `stream`'s alarms for its open shards, with the actions its alarms already have, and
/// its per-shard alarms where the policy turns them on. A stream with no alarms of its own (never
/// applied, or deleted by hand) is left alone: `streams apply` writes them. Returns whether it
/// re-armed. No retry sleeps past `deadline` ([`retry_until`]).
#[allow(clippy::too_many_arguments)] // the stream, what to do, and how to retry; a struct would only rename them
pub async fn rearm<K, C>(
    kinesis: &K,
    cloudwatch: &C,
    stream: &ActiveStream,
    policy: &Policy,
    reset: &Reset,
    rewrite: Rewrite,
    backoff: &Backoff,
    jitter: &mut impl Jitter,
    deadline: Instant,
) -> Result<bool, PortError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let prefix = format!("{ALARM_NAME_PREFIX}{}-", stream.name);
    let existing = retry_until(backoff, jitter, deadline, || cloudwatch.describe_alarms(&prefix)).await?;
    rearm_from(kinesis, cloudwatch, stream, policy, reset, rewrite, &existing, backoff, jitter, deadline)
        .await
}

/// [`rearm`], from the stream's alarms as `DescribeAlarms` with its prefix answered them in this
/// invocation (a scale-up that read them for its evidence need not ask again).
#[allow(clippy::too_many_arguments)] // rearm's inputs and the alarms it would have read
pub async fn rearm_from<K, C>(
    kinesis: &K,
    cloudwatch: &C,
    stream: &ActiveStream,
    policy: &Policy,
    reset: &Reset,
    rewrite: Rewrite,
    existing: &[AlarmSummary],
    backoff: &Backoff,
    jitter: &mut impl Jitter,
    deadline: Instant,
) -> Result<bool, PortError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let name = stream.name.as_str();
    // The prefix of `orders` also covers `orders-eu`'s alarms: the dimension says whose they are.
    let existing: Vec<&AlarmSummary> = existing.iter().filter(|a| a.stream() == Some(name)).collect();
    let Some(actions) = existing.first().map(|a| a.definition.actions.clone()) else {
        return Ok(false);
    };
    let specs = alarm_specs(name, stream.tiling().len(), policy, &actions);
    let as_wanted = |spec: &AlarmSpec| {
        existing.iter().any(|a| a.name == spec.name && a.definition.changes_to(&spec.definition()).is_empty())
    };
    if rewrite == Rewrite::IfDrifted && specs.iter().all(as_wanted) {
        return Ok(false);
    }
    for spec in specs {
        retry_until(backoff, jitter, deadline, || cloudwatch.put_alarm(&spec)).await?;
        if let Reset::ToOk { reason } = reset {
            set_ok(cloudwatch, &spec.name, reason, backoff, jitter, deadline).await?;
        }
    }
    converge_shard_level(kinesis, cloudwatch, stream, policy, &actions, backoff, jitter).await?;
    Ok(true)
}

/// Sets an alarm back to `OK` so CloudWatch re-evaluates it. A missing alarm is not an error (a
/// shard-level alarm removed meanwhile).
pub async fn set_ok<C: AlarmPort + Sync>(
    cloudwatch: &C,
    name: &str,
    reason: &str,
    backoff: &Backoff,
    jitter: &mut impl Jitter,
    deadline: Instant,
) -> Result<(), PortError> {
    match retry_until(backoff, jitter, deadline, || cloudwatch.set_alarm_state(name, AlarmState::Ok, reason))
        .await
    {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
