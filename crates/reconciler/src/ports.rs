//! The ports: the small traits through which reconcile logic talks to Kinesis and CloudWatch.
//!
//! The reconciler owns these traits and the plain data they exchange, so the executors, the CLI
//! and the Lambdas can be tested against in-memory fakes, and so `aws-adapters` stays the only
//! crate that knows about the AWS SDK. Every method reports failure as one [`PortError`] whose
//! [`ErrorKind`] is all the retry policy needs to decide what to do.
//!
//! The methods are declared as `fn … -> impl Future + Send` rather than `async fn` so that callers
//! can spawn the futures on a multi-threaded runtime; implementations still write `async fn`.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};
use planner::{AlarmDefinition, AlarmSpec, HashKey, Metric, ShardId, Tiling};
pub use planner::{ReadStatus, StreamStatus};

/// Everything the planner and the sync logic need to know about one stream, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSnapshot {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    /// The open shards, validated to tile the key space. `None` while the stream is `CREATING` or
    /// `DELETING` (Kinesis refuses to list shards then); always `Some` when `ACTIVE`.
    pub open: Option<Tiling>,
    /// Closed shards (split or merged parents) still listed until they age out of retention.
    pub closed: Vec<ShardId>,
    /// Open shards whose parent is among the listed shards: born by a reshard within the
    /// retention period (what [`planner::young_shards`] needs).
    pub with_listed_parent: BTreeSet<ShardId>,
    pub retention_hours: u32,
    pub tags: BTreeMap<String, String>,
    pub created: DateTime<Utc>,
    /// Enhanced monitoring: the shard-level metrics Kinesis publishes for this stream.
    pub shard_level_metrics: BTreeSet<String>,
    /// In on-demand capacity mode Kinesis scales the stream itself; this tool manages provisioned
    /// streams only.
    pub on_demand: bool,
    /// Enhanced fan-out consumers registered on the stream (`ConsumerCount` of
    /// `DescribeStreamSummary`, which `describe` reads anyway: the count `ListStreamConsumers`
    /// would page through, at no extra call). Each has 2 MiB/s per shard of its own and takes
    /// nothing from the shared read limit, so the decisions do not weigh them; the records say how
    /// many there are. `None`: the service did not say (unknown, not zero).
    pub enhanced_fan_out_consumers: Option<u32>,
}

impl StreamSnapshot {
    /// The open shards, if the stream is in a state where they could be listed.
    pub fn tiling(&self) -> Option<&Tiling> {
        self.open.as_ref()
    }

    /// The stream as an [`ActiveStream`], if it is `ACTIVE` with its shards listed; else the
    /// snapshot back (boxed: the rare path need not make the common one large).
    pub fn into_active(self) -> Result<ActiveStream, Box<StreamSnapshot>> {
        match (self.status, &self.open) {
            (StreamStatus::Active, Some(tiling)) => {
                Ok(ActiveStream { tiling: tiling.clone(), snapshot: self })
            }
            _ => Err(Box::new(self)),
        }
    }
}

/// A stream read while `ACTIVE`, when Kinesis lists its shards: the type says the tiling is there,
/// so nothing downstream unwraps an optional one. Built only by [`StreamSnapshot::into_active`];
/// the rest of the snapshot is reached through `Deref`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveStream {
    tiling: Tiling,
    snapshot: StreamSnapshot,
}

impl ActiveStream {
    /// The open shards.
    pub fn tiling(&self) -> &Tiling {
        &self.tiling
    }

    pub fn snapshot(&self) -> &StreamSnapshot {
        &self.snapshot
    }
}

impl std::ops::Deref for ActiveStream {
    type Target = StreamSnapshot;

    fn deref(&self) -> &StreamSnapshot {
        &self.snapshot
    }
}

/// Reading streams: what every program may do (`ListStreams`, `DescribeStreamSummary`,
/// `ListShards`, `ListTagsForStream`).
pub trait StreamReader {
    /// Reads status, open and closed shards, retention and tags of `stream`.
    fn describe(&self, stream: &str) -> impl Future<Output = Result<StreamSnapshot, PortError>> + Send;
    /// The status of `stream` alone (`DescribeStreamSummary`): what waiting polls, where
    /// `describe` would also list shards and tags each time.
    fn status(&self, stream: &str) -> impl Future<Output = Result<StreamStatus, PortError>> + Send;
    /// The names of every stream in the account and region.
    fn list_streams(&self) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
    /// The tags of `stream` alone: one call, where `describe` takes several, for telling managed
    /// streams from others across a whole account.
    fn tags(&self, stream: &str) -> impl Future<Output = Result<BTreeMap<String, String>, PortError>> + Send;
}

/// Resharding a stream and recording it on the stream: the scaling Lambdas' role (`SplitShard`,
/// `MergeShards`, `UpdateShardCount`, `AddTagsToStream` and `RemoveTagsFromStream` on the state
/// tags, `EnableEnhancedMonitoring` in `infra/template.yaml`). Each call is one control-plane action; none waits for the stream to
/// become `ACTIVE` again (see [`crate::wait_for_active`]).
pub trait Resharder: StreamReader {
    /// Splits open shard `shard` so that the upper child starts at `at`.
    fn split_shard(
        &self,
        stream: &str,
        shard: &ShardId,
        at: HashKey,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Merges two adjacent open shards (`shard` ends right before `adjacent` starts, or after).
    fn merge_shards(
        &self,
        stream: &str,
        shard: &ShardId,
        adjacent: &ShardId,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Re-creates the stream's shards as `target` equal-width shards (`UNIFORM_SCALING`).
    fn update_shard_count(
        &self,
        stream: &str,
        target: u32,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Adds or overwrites tags (the scaler's state tags; the CLI's policy tags).
    fn add_tags(
        &self,
        stream: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Turns on enhanced monitoring (shard-level metrics) for `metrics`; others stay as they are.
    fn enable_shard_metrics(
        &self,
        stream: &str,
        metrics: &[Metric],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Removes tags by key (the Lambdas: their own expired state tags; the CLI: any it owns).
    fn remove_tags(
        &self,
        stream: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Administering streams: the `streams` CLI's role on top of resharding (`CreateStream`,
/// `DeleteStream`, the retention calls).
pub trait StreamAdmin: Resharder {
    /// Creates a provisioned-mode stream with `shards` equal-width shards.
    fn create_stream(&self, stream: &str, shards: u32) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Deletes `stream`; refuses (ResourceInUse) while it has registered consumers.
    fn delete_stream(&self, stream: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Changes retention from `from_hours` to `to_hours`. Kinesis has separate increase and
    /// decrease calls; taking the current value keeps the choice with the caller's snapshot.
    fn set_retention(
        &self,
        stream: &str,
        from_hours: u32,
        to_hours: u32,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A CloudWatch metric dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

impl Dimension {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Dimension { name: name.into(), value: value.into() }
    }

    /// The `StreamName` dimension of Kinesis stream-level metrics.
    pub fn stream(stream: &str) -> Self {
        Dimension::new("StreamName", stream)
    }

    /// The dimensions of the metric an alarm watches: the stream, and the shard for a per-shard
    /// alarm.
    pub fn of_alarm(spec: &AlarmSpec) -> Vec<Dimension> {
        let mut dimensions = vec![Dimension::stream(&spec.stream)];
        dimensions.extend(spec.shard.as_ref().map(|id| Dimension::new("ShardId", id.as_str())));
        dimensions
    }
}

/// The units this tool reads or writes (a subset of CloudWatch's `StandardUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Bytes,
    Count,
    Milliseconds,
    None,
}

/// One datapoint to publish. Used by tests and the demo to stand in for Kinesis, which the
/// emulator does not make publish metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<Dimension>,
    pub timestamp: DateTime<Utc>,
    pub value: f64,
    pub unit: Unit,
}

/// CloudWatch statistics this tool queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Statistic {
    Sum,
    Average,
    Maximum,
    Minimum,
    SampleCount,
}

impl Statistic {
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Sum => "Sum",
            Statistic::Average => "Average",
            Statistic::Maximum => "Maximum",
            Statistic::Minimum => "Minimum",
            Statistic::SampleCount => "SampleCount",
        }
    }
}

/// One `MetricStat` query of `GetMetricData`. Metric math is deliberately absent: the emulator
/// does not support it, and ratios are computed in the planner anyway.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    /// Unique within one call; must start with a lower-case letter (CloudWatch's rule).
    pub id: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<Dimension>,
    pub period_secs: u32,
    pub stat: Statistic,
}

/// The datapoints of one query, oldest first, across all result pages, and how complete they are.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    pub id: String,
    pub label: Option<String>,
    pub points: Vec<(DateTime<Utc>, f64)>,
    /// CloudWatch's `StatusCode` for this query once every page was read: anything but
    /// `Complete` means the points may be missing some, so an empty series is not proof of zero.
    pub status: ReadStatus,
}

/// CloudWatch metric reads (`GetMetricData`).
pub trait MetricsPort {
    /// Runs `queries` over `[start, end)`, following every result page, one series per query.
    fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<MetricSeries>, PortError>> + Send;
}

/// Publishing datapoints (`PutMetricData`): no program of the tool does, Kinesis publishes its own.
/// Tests and the demo stand in for Kinesis with it on the emulator, so it is a port of its own,
/// outside every production role.
pub trait MetricPublisher {
    /// Publishes datapoints (batched as CloudWatch requires).
    fn put_metric_data(&self, points: &[MetricPoint]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The state of a CloudWatch alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `DescribeAlarms` says about one metric alarm: its definition, in the planner's terms so
/// it compares against an [`AlarmSpec`] for drift, whose metric it watches, and whether it is
/// currently firing.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSummary {
    pub name: String,
    pub dimensions: Vec<Dimension>,
    pub definition: AlarmDefinition,
    pub state: Option<AlarmState>,
    /// Why it is in that state: AWS quotes the breaching datapoints here as in a notification's
    /// `NewStateReason`; `SetAlarmState` writes the caller's text.
    pub state_reason: String,
    /// When the state last changed.
    pub state_updated_at: Option<DateTime<Utc>>,
}

impl AlarmSummary {
    /// The value of the `StreamName` dimension, if any.
    pub fn stream(&self) -> Option<&str> {
        self.dimensions.iter().find(|d| d.name == "StreamName").map(|d| d.value.as_str())
    }
}

/// CloudWatch alarm management.
pub trait AlarmPort {
    /// Creates or replaces the alarm `spec` describes.
    fn put_alarm(&self, spec: &AlarmSpec) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Every metric alarm whose name starts with `prefix`, across all pages.
    fn describe_alarms(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<AlarmSummary>, PortError>> + Send;
    /// The metric alarm named exactly `name`, if it exists: how a handler confirms that an alarm
    /// a message names is real before acting on it.
    fn describe_alarm(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<AlarmSummary>, PortError>> + Send;
    /// Every metric alarm whose name starts with `prefix` and is in `ALARM` now, across all pages
    /// (`StateValue=ALARM`, 100 a page): what the scale-up resync re-drives.
    fn alarms_in_alarm(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<AlarmSummary>, PortError>> + Send;
    /// Deletes alarms by name (batched by 100, CloudWatch's limit). Missing names are not an error.
    fn delete_alarms(&self, names: &[String]) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Forces an alarm's state, e.g. back to `OK` after scaling so that it can fire again
    /// (CloudWatch notifies only on state *changes*).
    fn set_alarm_state(
        &self,
        name: &str,
        state: AlarmState,
        reason: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What went wrong in a port call, in the terms the retry policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Request rate limits (`ThrottlingException`, `ProvisionedThroughputExceededException`).
    Throttled,
    /// The stream is not `ACTIVE` (a reshard or creation is in progress).
    ResourceInUse,
    /// Kinesis's control-plane rate or concurrency limits (`LimitExceededException` saying "Rate
    /// exceeded …"): transient, e.g. too many calls a second or concurrent `CREATING` streams.
    LimitExceeded,
    /// A hard quota (`LimitExceededException` naming one): 10 `UpdateShardCount` calls per stream
    /// per rolling 24 h, or the account's shard limit. Waiting seconds does not lift it, so it is
    /// not retried; a scale-up falls back to `SplitShard` where it can, else reports it.
    QuotaExceeded,
    NotFound,
    AlreadyExists,
    InvalidArgument,
    AccessDenied,
    /// Connection failures, 5xx responses, unparseable responses.
    Transient,
    /// The call took longer than the client allows. Retryable, but a read that times out is
    /// retried *smaller* where it can be split (the I/O layer, [`crate::Io`], halves it), never resent
    /// whole: the same request would take as long again.
    TimedOut,
    /// The service returned data that breaks an invariant, such as open shards that do not tile
    /// the key space (a listing read across a reshard). Reading again normally fixes it.
    Inconsistent,
    Other,
}

impl ErrorKind {
    /// Whether repeating the same call later may succeed. The single source of that answer;
    /// [`crate::classify`] builds on it.
    pub fn is_retryable(self) -> bool {
        match self {
            ErrorKind::Throttled
            | ErrorKind::ResourceInUse
            | ErrorKind::LimitExceeded
            | ErrorKind::Transient
            | ErrorKind::TimedOut
            | ErrorKind::Inconsistent => true,
            ErrorKind::QuotaExceeded
            | ErrorKind::NotFound
            | ErrorKind::AlreadyExists
            | ErrorKind::InvalidArgument
            | ErrorKind::AccessDenied
            | ErrorKind::Other => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::ResourceInUse => "resource in use",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::QuotaExceeded => "quota exceeded",
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::Transient => "transient failure",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Inconsistent => "inconsistent response",
            ErrorKind::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed port call: which call, on which stream, what kind of failure, and the service's
/// message (or the failure's root cause). It carries no source chain: the message already holds
/// the one useful cause, and a chain would print it again under wrappers.
#[derive(Debug)]
pub struct PortError {
    /// The API operation, e.g. `"SplitShard"`.
    pub call: &'static str,
    pub stream: Option<String>,
    pub kind: ErrorKind,
    /// The service's own message (or the failure's description when there is none).
    pub message: String,
    /// How many times the call was tried; more than 1 once [`crate::retry`] has given up.
    pub attempts: u32,
}

impl PortError {
    pub fn new(call: &'static str, kind: ErrorKind, message: impl Into<String>) -> Self {
        PortError { call, stream: None, kind, message: message.into(), attempts: 1 }
    }

    pub fn with_stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = Some(stream.into());
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.call)?;
        if let Some(stream) = &self.stream {
            write!(f, " on stream {stream:?}")?;
        }
        write!(f, " failed ({})", self.kind)?;
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl StdError for PortError {}

/// Publishing to a message topic: how the scale-down sweep hands the rest of its work to the next
/// invocation when the deadline stops it (SNS in AWS, a list in memory).
pub trait ContinuationPort {
    /// Publishes `message` to the topic `topic` (an ARN in AWS).
    fn publish(&self, topic: &str, message: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A port borrowed is the same port: a handler that owns its clients lends them to each
/// invocation's [`crate::Context`].
impl<T: StreamReader + Sync> StreamReader for &T {
    fn describe(&self, stream: &str) -> impl Future<Output = Result<StreamSnapshot, PortError>> + Send {
        (**self).describe(stream)
    }
    fn status(&self, stream: &str) -> impl Future<Output = Result<StreamStatus, PortError>> + Send {
        (**self).status(stream)
    }
    fn list_streams(&self) -> impl Future<Output = Result<Vec<String>, PortError>> + Send {
        (**self).list_streams()
    }
    fn tags(&self, stream: &str) -> impl Future<Output = Result<BTreeMap<String, String>, PortError>> + Send {
        (**self).tags(stream)
    }
}

impl<T: Resharder + Sync> Resharder for &T {
    fn split_shard(
        &self,
        stream: &str,
        shard: &ShardId,
        at: HashKey,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).split_shard(stream, shard, at)
    }
    fn merge_shards(
        &self,
        stream: &str,
        shard: &ShardId,
        adjacent: &ShardId,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).merge_shards(stream, shard, adjacent)
    }
    fn update_shard_count(
        &self,
        stream: &str,
        target: u32,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).update_shard_count(stream, target)
    }
    fn add_tags(
        &self,
        stream: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).add_tags(stream, tags)
    }
    fn enable_shard_metrics(
        &self,
        stream: &str,
        metrics: &[Metric],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).enable_shard_metrics(stream, metrics)
    }
    fn remove_tags(
        &self,
        stream: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).remove_tags(stream, keys)
    }
}

impl<T: StreamAdmin + Sync> StreamAdmin for &T {
    fn create_stream(&self, stream: &str, shards: u32) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).create_stream(stream, shards)
    }
    fn delete_stream(&self, stream: &str) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).delete_stream(stream)
    }
    fn set_retention(
        &self,
        stream: &str,
        from_hours: u32,
        to_hours: u32,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).set_retention(stream, from_hours, to_hours)
    }
}

impl<T: MetricsPort + Sync> MetricsPort for &T {
    fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<MetricSeries>, PortError>> + Send {
        (**self).get_metric_data(queries, start, end)
    }
}

impl<T: MetricPublisher + Sync> MetricPublisher for &T {
    fn put_metric_data(&self, points: &[MetricPoint]) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).put_metric_data(points)
    }
}

impl<T: AlarmPort + Sync> AlarmPort for &T {
    fn put_alarm(&self, spec: &AlarmSpec) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).put_alarm(spec)
    }
    fn describe_alarms(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<AlarmSummary>, PortError>> + Send {
        (**self).describe_alarms(prefix)
    }
    fn describe_alarm(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<AlarmSummary>, PortError>> + Send {
        (**self).describe_alarm(name)
    }
    fn alarms_in_alarm(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<AlarmSummary>, PortError>> + Send {
        (**self).alarms_in_alarm(prefix)
    }
    fn delete_alarms(&self, names: &[String]) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).delete_alarms(names)
    }
    fn set_alarm_state(
        &self,
        name: &str,
        state: AlarmState,
        reason: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).set_alarm_state(name, state, reason)
    }
}

impl<T: ContinuationPort + Sync> ContinuationPort for &T {
    fn publish(&self, topic: &str, message: &str) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).publish(topic, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_error_message_names_call_stream_kind_and_attempts() {
        let mut err = PortError::new("SplitShard", ErrorKind::ResourceInUse, "stream is UPDATING")
            .with_stream("orders");
        assert_eq!(
            err.to_string(),
            r#"SplitShard on stream "orders" failed (resource in use): stream is UPDATING"#
        );
        err.attempts = 3;
        assert_eq!(
            err.to_string(),
            r#"SplitShard on stream "orders" failed (resource in use) after 3 attempts: stream is UPDATING"#
        );
    }

    #[test]
    fn only_rate_capacity_and_transient_kinds_are_retryable() {
        let retryable = [
            ErrorKind::Throttled,
            ErrorKind::ResourceInUse,
            ErrorKind::LimitExceeded,
            ErrorKind::Transient,
            ErrorKind::TimedOut,
            ErrorKind::Inconsistent,
        ];
        let fatal = [
            ErrorKind::QuotaExceeded,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::InvalidArgument,
            ErrorKind::AccessDenied,
            ErrorKind::Other,
        ];
        assert!(retryable.iter().all(|k| k.is_retryable()));
        assert!(fatal.iter().all(|k| !k.is_retryable()));
    }

    #[test]
    fn alarm_summary_finds_its_stream_dimension() {
        let summary = AlarmSummary {
            name: "a".into(),
            dimensions: vec![Dimension::new("Other", "x"), Dimension::stream("orders")],
            definition: AlarmDefinition::default(),
            state: None,
            state_reason: String::new(),
            state_updated_at: None,
        };
        assert_eq!(summary.stream(), Some("orders"));
    }
}
