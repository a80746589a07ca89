//! The CloudWatch alarms that wake the scale-up Lambda.
//!
//! [`alarm_specs`] is the single source of truth for alarm definitions: `streams apply` writes
//! exactly what it returns, and the scale-up Lambda re-arms with it after every reshard, so the
//! two can never disagree about a threshold. Thresholds are `Sum` per period, derived from the
//! stream's *live* open shard count: `threshold × shards × per-shard limit × period`.

use serde::{Deserialize, Serialize};

use crate::{ObservedAlarm, Policy, SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC, ShardId};

/// Every alarm this tool manages starts with this, so least-privilege IAM can scope
/// `cloudwatch:PutMetricAlarm` / `DeleteAlarms` to it and so we only ever delete our own.
pub const ALARM_NAME_PREFIX: &str = "kinesis-autoscaler-";

/// The CloudWatch namespace of Kinesis Data Streams metrics.
pub const KINESIS_NAMESPACE: &str = "AWS/Kinesis";

/// The stream-level metrics the scaler alarms on or reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    IncomingBytes,
    IncomingRecords,
    WriteProvisionedThroughputExceeded,
    /// `GetRecords.Bytes`: what the shared-throughput consumers read (read, never alarmed on).
    GetRecordsBytes,
    /// `GetRecords.IteratorAgeMilliseconds`: how far behind the slowest consumer is (read with
    /// `Maximum`, never alarmed on).
    GetRecordsIteratorAge,
    /// `ReadProvisionedThroughputExceeded`: `GetRecords` calls refused.
    ReadProvisionedThroughputExceeded,
}

impl Metric {
    /// Every metric, in declaration order.
    pub const ALL: [Metric; 6] = [
        Metric::IncomingBytes,
        Metric::IncomingRecords,
        Metric::WriteProvisionedThroughputExceeded,
        Metric::GetRecordsBytes,
        Metric::GetRecordsIteratorAge,
        Metric::ReadProvisionedThroughputExceeded,
    ];

    /// The name CloudWatch knows it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::IncomingBytes => "IncomingBytes",
            Metric::IncomingRecords => "IncomingRecords",
            Metric::WriteProvisionedThroughputExceeded => "WriteProvisionedThroughputExceeded",
            Metric::GetRecordsBytes => "GetRecords.Bytes",
            Metric::GetRecordsIteratorAge => "GetRecords.IteratorAgeMilliseconds",
            Metric::ReadProvisionedThroughputExceeded => "ReadProvisionedThroughputExceeded",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// The comparison operators this tool uses (named as CloudWatch names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Comparison::GreaterThanThreshold => "GreaterThanThreshold",
        }
    }
}

/// One complete `PutMetricAlarm` request, free of SDK types. The statistic is always `Sum` and
/// missing data is always `notBreaching` (an idle stream has nothing to scale up for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub metric: Metric,
    /// The `StreamName` dimension.
    pub stream: String,
    /// The `ShardId` dimension of a per-shard alarm (Kinesis enhanced metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardId>,
    pub period_secs: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison: Comparison,
    /// The SNS topic(s) that deliver the alarm to the scale-up Lambda.
    pub alarm_actions: Vec<String>,
}

impl AlarmSpec {
    pub const NAMESPACE: &'static str = KINESIS_NAMESPACE;
    pub const STATISTIC: &'static str = "Sum";
    pub const TREAT_MISSING_DATA: &'static str = "notBreaching";
}

/// The name of the alarm on `metric` for `stream`.
pub fn alarm_name(stream: &str, metric: Metric) -> String {
    format!("{ALARM_NAME_PREFIX}{stream}-{}", metric.as_str())
}

/// The name of the alarm on `metric` for one shard of `stream`.
pub fn shard_alarm_name(stream: &str, shard: &ShardId, metric: Metric) -> String {
    format!("{ALARM_NAME_PREFIX}{stream}-{shard}-{}", metric.as_str())
}

/// Every per-shard alarm of `stream` starts with this (shard ids start `shardId-`).
pub fn shard_alarm_prefix(stream: &str) -> String {
    format!("{ALARM_NAME_PREFIX}{stream}-shardId-")
}

/// The complete set of stream-level alarms for a stream with `open_shards` open shards.
pub fn alarm_specs(
    stream: &str,
    open_shards: u32,
    policy: &Policy,
    alarm_actions: &[String],
) -> Vec<AlarmSpec> {
    let mut specs = capacity_specs(stream, None, open_shards, policy, alarm_actions);
    let up = &policy.scale_up;
    let throttles = [
        (up.throttle_alarm, Metric::WriteProvisionedThroughputExceeded, "writes"),
        (up.read_throttle_alarm, Metric::ReadProvisionedThroughputExceeded, "reads"),
    ];
    for (_, metric, what) in throttles.into_iter().filter(|(on, ..)| *on) {
        specs.push(AlarmSpec {
            threshold: 0.0,
            comparison: Comparison::GreaterThanThreshold,
            ..spec(
                stream,
                None,
                metric,
                policy,
                alarm_actions,
                format!("Scale up {stream}: {what} are being throttled"),
            )
        });
    }
    specs
}

/// The per-shard alarms: incoming bytes and records of each open shard at the scale-up threshold
/// of one shard's capacity. None unless the policy turns shard-level metrics on.
pub fn shard_alarm_specs(
    stream: &str,
    open: &[ShardId],
    policy: &Policy,
    alarm_actions: &[String],
) -> Vec<AlarmSpec> {
    if !policy.shard_level_metrics {
        return Vec::new();
    }
    open.iter().flat_map(|id| capacity_specs(stream, Some(id), 1, policy, alarm_actions)).collect()
}

/// The per-shard alarm writes and deletions that turn `existing` (this stream's alarms named under
/// [`shard_alarm_prefix`]) into `desired` ([`shard_alarm_specs`]): new shards get alarms, closed
/// shards lose theirs, and unchanged alarms are not rewritten.
pub fn shard_alarm_changes(desired: Vec<AlarmSpec>, existing: &[ObservedAlarm]) -> ShardAlarmChanges {
    let delete = existing
        .iter()
        .filter(|e| !desired.iter().any(|d| d.name == e.name))
        .map(|e| e.name.clone())
        .collect();
    let put = desired
        .into_iter()
        .filter(|d| !existing.iter().any(|e| e.name == d.name && e.definition == d.definition()))
        .collect();
    ShardAlarmChanges { put, delete }
}

/// What [`shard_alarm_changes`] decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardAlarmChanges {
    pub put: Vec<AlarmSpec>,
    pub delete: Vec<String>,
}

/// The shard-level metrics the scaler reads and alarms on (Kinesis enhanced monitoring).
pub const SHARD_METRICS: [Metric; 2] = [Metric::IncomingBytes, Metric::IncomingRecords];

/// The bytes and records alarms at the threshold of `shards` shards' capacity: the stream's
/// (`shard` none, its open count) or one shard's (`shards` = 1).
fn capacity_specs(
    stream: &str,
    shard: Option<&ShardId>,
    shards: u32,
    policy: &Policy,
    alarm_actions: &[String],
) -> Vec<AlarmSpec> {
    let up = &policy.scale_up;
    let capacity = f64::from(shards.max(1)) * f64::from(up.period_secs) * up.threshold.get();
    let pct = up.threshold.percent();
    let of = match shard {
        Some(id) => format!("shard {id}"),
        None => format!("{shards} shard(s)"),
    };
    [(SHARD_METRICS[0], "bytes", SHARD_BYTES_PER_SEC), (SHARD_METRICS[1], "records", SHARD_RECORDS_PER_SEC)]
        .into_iter()
        .map(|(metric, what, limit)| AlarmSpec {
            threshold: (capacity * limit).round(),
            ..spec(
                stream,
                shard,
                metric,
                policy,
                alarm_actions,
                format!("Scale up {stream}: incoming {what} at {pct:.0}% of {of}"),
            )
        })
        .collect()
}

/// An alarm on `metric` with everything but its threshold and comparison decided.
fn spec(
    stream: &str,
    shard: Option<&ShardId>,
    metric: Metric,
    policy: &Policy,
    alarm_actions: &[String],
    description: String,
) -> AlarmSpec {
    let up = &policy.scale_up;
    AlarmSpec {
        name: match shard {
            Some(id) => shard_alarm_name(stream, id, metric),
            None => alarm_name(stream, metric),
        },
        description: format!(
            "{description}. Managed by kinesis-autoscaler: edit streams.yaml, not this alarm."
        ),
        metric,
        stream: stream.to_owned(),
        shard: shard.cloned(),
        period_secs: up.period_secs,
        evaluation_periods: up.evaluation_periods,
        datapoints_to_alarm: up.evaluation_periods,
        threshold: 0.0,
        comparison: Comparison::GreaterThanOrEqualToThreshold,
        alarm_actions: alarm_actions.to_vec(),
    }
}
