//! Shard-level monitoring of one stream: Kinesis enhanced metrics and an alarm on each open shard.
//!
//! Shards come and go with every reshard, so their alarms are converged from what exists rather
//! than patched: `streams apply` after writing a stream, the scale-up Lambda after every split and
//! the scale-down Lambda after every merge all call [`converge_shard_level`], which writes the
//! planner's [`shard_alarm_specs`] for the open shards and deletes the alarms of closed ones. One
//! definition, so the three never disagree.
//!
//! Turning the policy off deletes the alarms but leaves enhanced monitoring on: the stream may
//! have had it before this tool, and switching it off is one `DisableEnhancedMonitoring` away.

use planner::{
    Metric, Policy, SHARD_METRICS, Tiling, shard_alarm_changes, shard_alarm_prefix, shard_alarm_specs,
};
use serde::Serialize;

use crate::ports::{AlarmPort, PortError, Resharder, StreamSnapshot};
use crate::{Context, observed_alarm};

/// What [`converge_shard_level`] changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShardLevelChanges {
    /// Metrics for which enhanced monitoring was turned on.
    pub enabled_metrics: Vec<&'static str>,
    pub alarms_written: usize,
    pub alarms_deleted: usize,
}

impl ShardLevelChanges {
    pub fn is_empty(&self) -> bool {
        self == &ShardLevelChanges::default()
    }
}

/// Brings `snapshot`'s shard-level monitoring in line with `policy`: enhanced metrics on where
/// the policy wants them, one bytes and one records alarm (notifying `alarm_actions`) per open
/// shard, none for closed shards. A stream whose shards cannot be listed right now is left alone.
pub async fn converge_shard_level<K, C>(
    cx: &Context<K, C>,
    snapshot: &StreamSnapshot,
    policy: &Policy,
    alarm_actions: &[String],
) -> Result<ShardLevelChanges, PortError>
where
    K: Resharder + Sync,
    C: AlarmPort + Sync,
{
    let mut changes = ShardLevelChanges::default();
    let Some(tiling) = snapshot.tiling() else { return Ok(changes) };
    let stream = snapshot.name.as_str();
    if policy.shard_level_metrics {
        let missing: Vec<Metric> = SHARD_METRICS
            .into_iter()
            .filter(|m| !snapshot.shard_level_metrics.contains(m.as_str()))
            .collect();
        if !missing.is_empty() {
            cx.kinesis().enable_shard_metrics(stream, &missing).await?;
            changes.enabled_metrics = missing.iter().map(|m| m.as_str()).collect();
        }
    }
    let prefix = shard_alarm_prefix(stream);
    let existing: Vec<_> = cx
        .cloudwatch()
        .describe_alarms(&prefix)
        .await?
        .iter()
        .filter(|a| a.stream() == Some(stream))
        .map(observed_alarm)
        .collect();
    let planned = shard_alarm_changes(
        shard_alarm_specs(stream, &Tiling::ids(tiling), policy, alarm_actions),
        &existing,
    );
    for spec in &planned.put {
        cx.cloudwatch().put_alarm(spec).await?;
    }
    if !planned.delete.is_empty() {
        cx.cloudwatch().delete_alarms(&planned.delete).await?;
    }
    changes.alarms_written = planned.put.len();
    changes.alarms_deleted = planned.delete.len();
    Ok(changes)
}
