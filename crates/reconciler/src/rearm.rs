//! Re-arming a stream's alarms after a reshard: the one place both Lambdas rewrite them.
//!
//! Thresholds follow the open shard count ([`planner::alarm_specs`]), so every reshard rewrites
//! the stream's alarms, and its per-shard alarms follow the shards ([`converge_shard_level`]).
//! The alarm actions come from one trusted source: the stream's own alarms as `streams apply`
//! wrote them, never from an incoming message, which anyone allowed to publish to the topic can
//! forge. Whether the alarms go back to `OK` is the caller's explicit choice ([`Reset`]).

use planner::{ALARM_NAME_PREFIX, Policy, alarm_specs};

use crate::ports::{ActiveStream, AlarmPort, AlarmState, ErrorKind, PortError, Resharder};
use crate::{Backoff, Jitter, converge_shard_level, retry};

/// What happens to the alarms' state when they are rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    /// Back to `OK`, with this reason: CloudWatch notifies only on a state *change*, so after a
    /// scale-up an alarm left in `ALARM` would never fire again while the stream stays hot.
    ToOk { reason: String },
    /// As they are: after a merge the alarms re-evaluate against the new thresholds on their own.
    Keep,
}

/// Rewrites `stream`'s alarms for its open shards, with the actions its alarms already have, and
/// its per-shard alarms where the policy turns them on. A stream with no alarms of its own (never
/// applied, or deleted by hand) is left alone: `streams apply` writes them. Returns whether there
/// were alarms to re-arm.
pub async fn rearm<K, C>(
    kinesis: &K,
    cloudwatch: &C,
    stream: &ActiveStream,
    policy: &Policy,
    reset: &Reset,
    backoff: &Backoff,
    jitter: &mut impl Jitter,
) -> Result<bool, PortError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let name = stream.name.as_str();
    let prefix = format!("{ALARM_NAME_PREFIX}{name}-");
    let existing = retry(backoff, jitter, || cloudwatch.describe_alarms(&prefix)).await?;
    // The prefix of `orders` also covers `orders-eu`'s alarms: the dimension says whose they are.
    let Some(actions) =
        existing.iter().find(|a| a.stream() == Some(name)).map(|a| a.definition.actions.clone())
    else {
        return Ok(false);
    };
    for spec in alarm_specs(name, stream.tiling().len(), policy, &actions) {
        retry(backoff, jitter, || cloudwatch.put_alarm(&spec)).await?;
        if let Reset::ToOk { reason } = reset {
            set_ok(cloudwatch, &spec.name, reason, backoff, jitter).await?;
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
) -> Result<(), PortError> {
    match retry(backoff, jitter, || cloudwatch.set_alarm_state(name, AlarmState::Ok, reason)).await {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
