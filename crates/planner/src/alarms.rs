//! The CloudWatch alarms that wake the scale-up Lambda.
//!
//! [`alarm_specs`] is the single source of truth for alarm definitions: `streams apply` writes
//! exactly what it returns, and the scale-up Lambda re-arms with it after every reshard, so the
//! two can never disagree about a threshold. Thresholds are `Sum` per period, derived from the
//! stream's *live* open shard count: `threshold × shards × per-shard limit × period`.

use serde::{Deserialize, Serialize};

use crate::{Policy, SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};

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
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::IncomingBytes => "IncomingBytes",
            Metric::IncomingRecords => "IncomingRecords",
            Metric::WriteProvisionedThroughputExceeded => "WriteProvisionedThroughputExceeded",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        [Metric::IncomingBytes, Metric::IncomingRecords, Metric::WriteProvisionedThroughputExceeded]
            .into_iter()
            .find(|m| m.as_str() == name)
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
    /// `StreamName` is the only dimension: these are stream-level metrics.
    pub stream: String,
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

/// The complete set of alarms for a stream with `open_shards` open shards under `policy`.
pub fn alarm_specs(
    stream: &str,
    open_shards: u32,
    policy: &Policy,
    alarm_actions: &[String],
) -> Vec<AlarmSpec> {
    let up = &policy.scale_up;
    let period = f64::from(up.period_secs);
    let shards = f64::from(open_shards.max(1));
    let pct = up.threshold.percent();
    let spec = |metric, threshold, comparison, description: String| AlarmSpec {
        name: alarm_name(stream, metric),
        description: format!(
            "{description}. Managed by kinesis-autoscaler: edit streams.yaml, not this alarm."
        ),
        metric,
        stream: stream.to_owned(),
        period_secs: up.period_secs,
        evaluation_periods: up.evaluation_periods,
        datapoints_to_alarm: up.evaluation_periods,
        threshold,
        comparison,
        alarm_actions: alarm_actions.to_vec(),
    };
    let mut specs = vec![
        spec(
            Metric::IncomingBytes,
            (up.threshold.get() * shards * SHARD_BYTES_PER_SEC * period).round(),
            Comparison::GreaterThanOrEqualToThreshold,
            format!("Scale up {stream}: incoming bytes at {pct:.0}% of {open_shards} shard(s)"),
        ),
        spec(
            Metric::IncomingRecords,
            (up.threshold.get() * shards * SHARD_RECORDS_PER_SEC * period).round(),
            Comparison::GreaterThanOrEqualToThreshold,
            format!("Scale up {stream}: incoming records at {pct:.0}% of {open_shards} shard(s)"),
        ),
    ];
    if up.throttle_alarm {
        specs.push(spec(
            Metric::WriteProvisionedThroughputExceeded,
            0.0,
            Comparison::GreaterThanThreshold,
            format!("Scale up {stream}: writes are being throttled"),
        ));
    }
    specs
}
