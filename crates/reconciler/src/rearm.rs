//! Re-arming a stream's alarms after a reshard: the one place both Lambdas rewrite them.
//!
//! Thresholds follow the open shard count ([`planner::alarm_specs`]), so every reshard rewrites
//! the stream's alarms, and its per-shard alarms follow the shards ([`converge_shard_level`]).
//! The alarm actions come from one trusted source: the stream's own alarms as `streams apply`
//! wrote them ([`stream_alarms`]), never from an incoming message, which anyone allowed to publish
//! to the topic can forge. Whether the alarms go back to `OK` is the caller's explicit choice
//! ([`Reset`]). Every call goes through the context's I/O policy, so nothing here sleeps past the
//! deadline; what a deadline cuts short, the next trigger (or the scale-up resync) re-arms.

use planner::{ALARM_NAME_PREFIX, AlarmSpec, Policy, alarm_specs};

use crate::ports::{ActiveStream, AlarmPort, AlarmState, AlarmSummary, ErrorKind, PortError, Resharder};
use crate::{Context, converge_shard_level};

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
    /// e.g. the Lambda stopped between the reshard and the re-arm).
    IfDrifted,
}

/// `stream`'s own alarms: one `DescribeAlarms` of the tool's prefix for it, kept to those whose
/// `StreamName` is `stream` (the prefix of `orders` also covers `orders-eu`'s). A flow reads them
/// once and hands them to whatever needs them: the scale-up's evidence and the [`rearm`].
pub async fn stream_alarms<K, C: AlarmPort + Sync>(
    cx: &Context<K, C>,
    stream: &str,
) -> Result<Vec<AlarmSummary>, PortError> {
    let prefix = format!("{ALARM_NAME_PREFIX}{stream}-");
    let mut alarms = cx.cloudwatch().describe_alarms(&prefix).await?;
    alarms.retain(|a| a.stream() == Some(stream));
    Ok(alarms)
}

/// Rewrites `stream`'s alarms for its open shards, with the actions its alarms (`existing`, as
/// [`stream_alarms`] read them) already have, and its per-shard alarms where the policy turns them
/// on. A stream with no alarms of its own (never applied, or deleted by hand) is left alone:
/// `streams apply` writes them. Returns whether it re-armed.
pub async fn rearm<K, C>(
    cx: &Context<K, C>,
    stream: &ActiveStream,
    policy: &Policy,
    reset: &Reset,
    rewrite: Rewrite,
    existing: &[AlarmSummary],
) -> Result<bool, PortError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let name = stream.name.as_str();
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
        cx.cloudwatch().put_alarm(&spec).await?;
        if let Reset::ToOk { reason } = reset {
            set_ok(cx, &spec.name, reason).await?;
        }
    }
    converge_shard_level(cx, stream, policy, &actions).await?;
    Ok(true)
}

/// Sets an alarm back to `OK` so CloudWatch re-evaluates it. A missing alarm is not an error (a
/// shard-level alarm removed meanwhile).
pub async fn set_ok<K, C: AlarmPort + Sync>(
    cx: &Context<K, C>,
    name: &str,
    reason: &str,
) -> Result<(), PortError> {
    match cx.cloudwatch().set_alarm_state(name, AlarmState::Ok, reason).await {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
