//! Kinesis and CloudWatch in memory: stream ports that reshard instantly, and metrics and
//! alarm ports that keep what they are given; all fail on request.
//!
//! The executors' unit tests, the Lambdas' handler tests and the simulator need a stream that
//! behaves like Kinesis (open shards tile the key space, reshards close parents and open children
//! with fresh ids, `UpdateShardCount` re-creates equal-width shards) without a network. Faults are
//! injected per call name, so tests can prove that throttles are retried and that a concurrent
//! change is re-read rather than forced.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use planner::{AlarmSpec, HashKey, Metric, ShardId, Tiling};

use crate::ports::{
    AlarmPort, AlarmState, AlarmSummary, Dimension, ErrorKind, MetricPoint, MetricPublisher, MetricQuery,
    MetricSeries, MetricsPort, PortError, ReadStatus, Resharder, Statistic, StreamAdmin, StreamReader,
    StreamSnapshot, StreamStatus, Unit,
};

/// An account's worth of streams held in memory.
#[derive(Debug, Default)]
pub struct InMemoryStreams {
    state: Mutex<State>,
    /// How long each read takes, in `tokio::time` (paused in tests, so it costs nothing real).
    latency: std::time::Duration,
    /// How long a reshard leaves the stream `UPDATING`; a reshard meanwhile is refused with
    /// `ResourceInUse`, as Kinesis refuses it.
    reshard_time: std::time::Duration,
    /// Each call waits a seeded random time below this first, so concurrent handlers interleave
    /// differently for each seed and the same for the same seed.
    jitter: std::time::Duration,
}

#[derive(Debug, Default)]
struct State {
    streams: BTreeMap<String, Stream>,
    next_shard: u64,
    faults: VecDeque<(&'static str, ErrorKind)>,
    /// Every mutating call that succeeded, as `"SplitShard orders shardId-…"`, in order.
    calls: Vec<String>,
    /// xorshift64 state for `jitter`.
    rng: u64,
    /// Tags another actor writes on a stream just before its nth describe from now.
    concurrent_tags: Vec<(String, usize, BTreeMap<String, String>)>,
}

#[derive(Debug, Clone)]
struct Stream {
    tiling: Tiling,
    closed: Vec<ShardId>,
    /// Each shard born by a reshard, with its parents.
    parents: BTreeMap<ShardId, Vec<ShardId>>,
    retention_hours: u32,
    tags: BTreeMap<String, String>,
    created: DateTime<Utc>,
    shard_level_metrics: BTreeSet<String>,
    /// Enhanced fan-out consumers registered.
    consumers: u32,
    /// `UPDATING` until then (a reshard in flight).
    updating_until: Option<tokio::time::Instant>,
}

impl Stream {
    fn is_updating(&self) -> bool {
        self.updating_until.is_some_and(|until| tokio::time::Instant::now() < until)
    }
}

impl State {
    fn fresh_id(&mut self) -> ShardId {
        let id = ShardId::new(format!("shardId-{:012}", self.next_shard));
        self.next_shard += 1;
        id
    }

    fn uniform(&mut self, count: u32) -> Tiling {
        let tiling = Tiling::uniform(count, self.next_shard);
        self.next_shard += u64::from(tiling.len());
        tiling
    }

    /// A new ACTIVE stream of `shards` equal-width shards, as CreateStream makes it.
    fn add_stream(&mut self, name: &str, shards: u32, created: DateTime<Utc>) {
        let stream = Stream {
            tiling: self.uniform(shards),
            closed: Vec::new(),
            parents: BTreeMap::new(),
            retention_hours: planner::DEFAULT_RETENTION_HOURS,
            tags: BTreeMap::new(),
            created,
            shard_level_metrics: BTreeSet::new(),
            consumers: 0,
            updating_until: None,
        };
        self.streams.insert(name.to_owned(), stream);
    }

    /// Pops an injected fault for `call`, if one is queued first.
    fn fault(&mut self, call: &'static str, stream: &str) -> Result<(), PortError> {
        match self.faults.front() {
            Some((c, kind)) if *c == call => {
                let kind = *kind;
                self.faults.pop_front();
                Err(PortError::new(call, kind, "injected fault").with_stream(stream))
            }
            _ => Ok(()),
        }
    }

    fn stream(&mut self, call: &'static str, name: &str) -> Result<&mut Stream, PortError> {
        self.streams
            .get_mut(name)
            .ok_or_else(|| PortError::new(call, ErrorKind::NotFound, "stream not found").with_stream(name))
    }
}

impl InMemoryStreams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an ACTIVE stream with `shards` equal-width shards, created at `created`.
    pub fn with_stream(self, name: &str, shards: u32, created: DateTime<Utc>) -> Self {
        self.insert(name, shards, created);
        self
    }

    /// `stream` has `consumers` enhanced fan-out consumers registered (`RegisterStreamConsumer`).
    pub fn register_consumers(&self, stream: &str, consumers: u32) {
        if let Some(s) = self.state.lock().expect("not poisoned").streams.get_mut(stream) {
            s.consumers = consumers;
        }
    }

    fn insert(&self, name: &str, shards: u32, created: DateTime<Utc>) {
        self.state.lock().expect("not poisoned").add_stream(name, shards, created);
    }

    /// The next call named `call` (e.g. `"SplitShard"`) fails with `kind`. Faults queue in order.
    pub fn fail_next(&self, call: &'static str, kind: ErrorKind) {
        self.state.lock().expect("not poisoned").faults.push_back((call, kind));
    }

    /// Another actor (a concurrent `streams apply`) writes `tags` on `stream` just before its `nth`
    /// describe from now (1: the next one): a change between a decision's read and its act.
    pub fn tag_before_describe(&self, stream: &str, nth: usize, tags: BTreeMap<String, String>) {
        self.state.lock().expect("not poisoned").concurrent_tags.push((stream.to_owned(), nth, tags));
    }

    /// Makes every read (describe, tags, list) take `latency`, for deadline tests.
    pub fn with_latency(mut self, latency: std::time::Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Reshards leave the stream `UPDATING` for `time` (in `tokio` time).
    pub fn with_reshard_time(mut self, time: std::time::Duration) -> Self {
        self.reshard_time = time;
        self
    }

    /// Every call first waits a random time below `max`, drawn from `seed`.
    pub fn with_jitter(mut self, max: std::time::Duration, seed: u64) -> Self {
        self.jitter = max;
        self.state.get_mut().expect("not poisoned").rng = seed.max(1);
        self
    }

    async fn read_delay(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.jitter_delay().await;
    }

    async fn jitter_delay(&self) {
        if self.jitter.is_zero() {
            return;
        }
        let draw = {
            let mut state = self.state.lock().expect("not poisoned");
            let mut x = state.rng.max(1);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            state.rng = x;
            x
        };
        let nanos = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX).max(1);
        tokio::time::sleep(std::time::Duration::from_nanos(draw % nanos)).await;
    }

    /// A reshard of `name`: refused while one is in flight, else `f`, then `UPDATING` for a while.
    fn reshard(
        &self,
        call: &'static str,
        stream: &str,
        detail: String,
        f: impl FnOnce(&mut State, &str) -> Result<(), PortError>,
    ) -> Result<(), PortError> {
        let reshard_time = self.reshard_time;
        self.mutate(call, stream, detail, |state, name| {
            if state.stream(call, name)?.is_updating() {
                let message = "stream is UPDATING: one reshard at a time";
                return Err(PortError::new(call, ErrorKind::ResourceInUse, message).with_stream(name));
            }
            f(state, name)?;
            state.stream(call, name)?.updating_until = Some(tokio::time::Instant::now() + reshard_time);
            Ok(())
        })
    }

    /// The successful mutating calls so far, oldest first.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().expect("not poisoned").calls.clone()
    }

    /// The open shards of `stream`, as another actor would see them.
    pub fn tiling(&self, stream: &str) -> Option<Tiling> {
        self.state.lock().expect("not poisoned").streams.get(stream).map(|s| s.tiling.clone())
    }

    fn mutate(
        &self,
        call: &'static str,
        stream: &str,
        detail: String,
        f: impl FnOnce(&mut State, &str) -> Result<(), PortError>,
    ) -> Result<(), PortError> {
        let mut state = self.state.lock().expect("not poisoned");
        state.fault(call, stream)?;
        f(&mut state, stream)?;
        state.calls.push(format!("{call} {stream} {detail}").trim_end().to_owned());
        Ok(())
    }
}

fn invalid(call: &'static str, stream: &str, message: String) -> PortError {
    PortError::new(call, ErrorKind::InvalidArgument, message).with_stream(stream)
}

impl StreamReader for InMemoryStreams {
    async fn describe(&self, stream: &str) -> Result<StreamSnapshot, PortError> {
        self.read_delay().await;
        let mut state = self.state.lock().expect("not poisoned");
        state.fault("DescribeStreamSummary", stream)?;
        let mut due = Vec::new();
        state.concurrent_tags.retain_mut(|(name, nth, tags)| {
            if name != stream {
                return true;
            }
            *nth -= 1;
            if *nth == 0 {
                due.push(std::mem::take(tags));
            }
            *nth > 0
        });
        let s = state.stream("DescribeStreamSummary", stream)?;
        due.into_iter().for_each(|tags| s.tags.extend(tags));
        Ok(StreamSnapshot {
            name: stream.to_owned(),
            arn: format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"),
            status: if s.is_updating() { StreamStatus::Updating } else { StreamStatus::Active },
            open: Some(s.tiling.clone()),
            closed: s.closed.clone(),
            with_listed_parent: s
                .parents
                .iter()
                .filter(|(child, ps)| {
                    s.tiling.get(child).is_some() && ps.iter().any(|p| s.closed.contains(p))
                })
                .map(|(child, _)| child.clone())
                .collect(),
            retention_hours: s.retention_hours,
            tags: s.tags.clone(),
            created: s.created,
            shard_level_metrics: s.shard_level_metrics.clone(),
            on_demand: false,
            enhanced_fan_out_consumers: Some(s.consumers),
        })
    }

    async fn status(&self, stream: &str) -> Result<StreamStatus, PortError> {
        self.read_delay().await;
        let mut state = self.state.lock().expect("not poisoned");
        state.fault("DescribeStreamSummary", stream)?;
        state.stream("DescribeStreamSummary", stream)?;
        Ok(StreamStatus::Active)
    }

    async fn tags(&self, stream: &str) -> Result<BTreeMap<String, String>, PortError> {
        self.read_delay().await;
        let mut state = self.state.lock().expect("not poisoned");
        state.fault("ListTagsForStream", stream)?;
        Ok(state.stream("ListTagsForStream", stream)?.tags.clone())
    }

    async fn list_streams(&self) -> Result<Vec<String>, PortError> {
        Ok(self.state.lock().expect("not poisoned").streams.keys().cloned().collect())
    }
}

impl Resharder for InMemoryStreams {
    async fn split_shard(&self, stream: &str, shard: &ShardId, at: HashKey) -> Result<(), PortError> {
        self.jitter_delay().await;
        self.reshard("SplitShard", stream, format!("{shard} {at}"), |state, name| {
            let ids = [state.fresh_id(), state.fresh_id()];
            let s = state.stream("SplitShard", name)?;
            s.tiling = s
                .tiling
                .split(shard, at, ids.clone())
                .ok_or_else(|| invalid("SplitShard", name, format!("cannot split {shard} at {at}")))?;
            s.closed.push(shard.clone());
            s.parents.extend(ids.map(|id| (id, vec![shard.clone()])));
            Ok(())
        })
    }

    async fn merge_shards(&self, stream: &str, shard: &ShardId, adjacent: &ShardId) -> Result<(), PortError> {
        self.jitter_delay().await;
        self.reshard("MergeShards", stream, format!("{shard} {adjacent}"), |state, name| {
            let id = state.fresh_id();
            let s = state.stream("MergeShards", name)?;
            s.tiling = s.tiling.merge(shard, adjacent, id).ok_or_else(|| {
                invalid("MergeShards", name, format!("{shard} and {adjacent} are not adjacent"))
            })?;
            s.closed.extend([shard.clone(), adjacent.clone()]);
            Ok(())
        })
    }

    async fn update_shard_count(&self, stream: &str, target: u32) -> Result<(), PortError> {
        self.jitter_delay().await;
        self.reshard("UpdateShardCount", stream, target.to_string(), |state, name| {
            let open = state.stream("UpdateShardCount", name)?.tiling.len();
            if target > open * 2 || target * 2 < open {
                return Err(invalid(
                    "UpdateShardCount",
                    name,
                    format!("{open} -> {target} is beyond 2x / half"),
                ));
            }
            let tiling = state.uniform(target);
            let s = state.stream("UpdateShardCount", name)?;
            let old = std::mem::replace(&mut s.tiling, tiling);
            s.closed.extend(old.shards().iter().map(|sh| sh.id.clone()));
            // Uniform scaling's children descend from the old shards they overlap.
            let old_ids: Vec<ShardId> = old.shards().iter().map(|sh| sh.id.clone()).collect();
            let children: Vec<ShardId> = s.tiling.shards().iter().map(|sh| sh.id.clone()).collect();
            s.parents.extend(children.into_iter().map(|c| (c, old_ids.clone())));
            Ok(())
        })
    }

    async fn enable_shard_metrics(&self, stream: &str, metrics: &[Metric]) -> Result<(), PortError> {
        let names: Vec<&str> = metrics.iter().map(|m| m.as_str()).collect();
        self.mutate("EnableEnhancedMonitoring", stream, names.join(","), |state, name| {
            let s = state.stream("EnableEnhancedMonitoring", name)?;
            s.shard_level_metrics.extend(names.iter().map(|m| (*m).to_owned()));
            Ok(())
        })
    }

    async fn add_tags(&self, stream: &str, tags: &BTreeMap<String, String>) -> Result<(), PortError> {
        self.jitter_delay().await;
        self.mutate("AddTagsToStream", stream, String::new(), |state, name| {
            state.stream("AddTagsToStream", name)?.tags.extend(tags.clone());
            Ok(())
        })
    }

    async fn remove_tags(&self, stream: &str, keys: &[String]) -> Result<(), PortError> {
        self.mutate("RemoveTagsFromStream", stream, String::new(), |state, name| {
            let s = state.stream("RemoveTagsFromStream", name)?;
            keys.iter().for_each(|k| {
                s.tags.remove(k);
            });
            Ok(())
        })
    }
}

impl StreamAdmin for InMemoryStreams {
    async fn create_stream(&self, stream: &str, shards: u32) -> Result<(), PortError> {
        self.mutate("CreateStream", stream, shards.to_string(), |state, name| {
            if state.streams.contains_key(name) {
                return Err(
                    PortError::new("CreateStream", ErrorKind::AlreadyExists, "exists").with_stream(name)
                );
            }
            state.add_stream(name, shards, DateTime::UNIX_EPOCH);
            Ok(())
        })
    }

    async fn delete_stream(&self, stream: &str) -> Result<(), PortError> {
        self.mutate("DeleteStream", stream, String::new(), |state, name| {
            state.stream("DeleteStream", name)?;
            state.streams.remove(name);
            Ok(())
        })
    }

    async fn set_retention(&self, stream: &str, _from_hours: u32, to_hours: u32) -> Result<(), PortError> {
        self.mutate("SetRetention", stream, to_hours.to_string(), |state, name| {
            state.stream("SetRetention", name)?.retention_hours = to_hours;
            Ok(())
        })
    }
}

/// CloudWatch in memory: metrics summed into period buckets as `GetMetricData` would, and alarms
/// kept as written, with their state.
#[derive(Debug, Default)]
pub struct InMemoryCloudWatch {
    state: Mutex<CloudWatchState>,
}

/// A metric's identity: namespace, name and (sorted) dimensions.
type MetricKey = (String, String, Vec<Dimension>);

#[derive(Debug, Default)]
struct CloudWatchState {
    metrics: BTreeMap<MetricKey, Vec<(DateTime<Utc>, f64)>>,
    alarms: BTreeMap<String, (AlarmSpec, AlarmState)>,
    /// Each alarm's state reason and, where [`InMemoryCloudWatch::fire`] set it, when it changed.
    reasons: BTreeMap<String, (String, Option<DateTime<Utc>>)>,
    faults: VecDeque<(&'static str, ErrorKind)>,
    calls: Vec<String>,
    /// The `StatusCode` a query of these (sorted) dimensions reads with; `Complete` otherwise.
    read_status: BTreeMap<Vec<Dimension>, ReadStatus>,
    /// A `GetMetricData` call of more queries than this times out, as a large look-back does.
    time_out_above: Option<usize>,
}

impl CloudWatchState {
    fn fault(&mut self, call: &'static str) -> Result<(), PortError> {
        match self.faults.front() {
            Some((c, kind)) if *c == call => {
                let kind = *kind;
                self.faults.pop_front();
                Err(PortError::new(call, kind, "injected fault"))
            }
            _ => Ok(()),
        }
    }
}

impl CloudWatchState {
    /// The alarms `wanted` picks by name and state, as `DescribeAlarms` reports them.
    fn summaries(&self, wanted: impl Fn(&str, AlarmState) -> bool) -> Vec<AlarmSummary> {
        self.alarms
            .iter()
            .filter(|(name, (_, state))| wanted(name, *state))
            .map(|(name, (spec, alarm_state))| {
                let (reason, updated) = self.reasons.get(name).cloned().unwrap_or_default();
                AlarmSummary {
                    name: spec.name.clone(),
                    dimensions: Dimension::of_alarm(spec),
                    definition: spec.definition(),
                    state: Some(*alarm_state),
                    state_reason: reason,
                    state_updated_at: updated,
                }
            })
            .collect()
    }
}

impl InMemoryCloudWatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call named `call` (e.g. `"PutMetricAlarm"`) fails with `kind`.
    pub fn fail_next(&self, call: &'static str, kind: ErrorKind) {
        self.state.lock().expect("not poisoned").faults.push_back((call, kind));
    }

    /// Queries of exactly `dimensions` read with `status` (e.g. `PartialData`) from now on.
    pub fn set_read_status(&self, mut dimensions: Vec<Dimension>, status: ReadStatus) {
        dimensions.sort();
        self.state.lock().expect("not poisoned").read_status.insert(dimensions, status);
    }

    /// Every `GetMetricData` call of more than `queries` queries times out from now on
    /// ([`ErrorKind::TimedOut`], recorded as `"GetMetricData 20 timed out"`).
    pub fn time_out_above(&self, queries: usize) {
        self.state.lock().expect("not poisoned").time_out_above = Some(queries);
    }

    /// Every call made so far, oldest first, as `"SetAlarmState name OK"`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().expect("not poisoned").calls.clone()
    }

    /// `alarm` goes to `ALARM` at `at`, quoting `reason` as CloudWatch would: what
    /// `DescribeAlarms` then reports as its state reason and time.
    pub fn fire(&self, alarm: &str, reason: &str, at: DateTime<Utc>) {
        let mut state = self.state.lock().expect("not poisoned");
        if let Some((_, s)) = state.alarms.get_mut(alarm) {
            *s = AlarmState::Alarm;
            state.reasons.insert(alarm.to_owned(), (reason.to_owned(), Some(at)));
        }
    }

    /// An alarm as last written, and its state.
    pub fn alarm(&self, name: &str) -> Option<(AlarmSpec, AlarmState)> {
        self.state.lock().expect("not poisoned").alarms.get(name).cloned()
    }

    fn record(
        &self,
        call: &'static str,
        detail: String,
    ) -> Result<std::sync::MutexGuard<'_, CloudWatchState>, PortError> {
        let mut state = self.state.lock().expect("not poisoned");
        state.fault(call)?;
        state.calls.push(format!("{call} {detail}").trim_end().to_owned());
        Ok(state)
    }
}

impl MetricPublisher for InMemoryCloudWatch {
    async fn put_metric_data(&self, points: &[MetricPoint]) -> Result<(), PortError> {
        let mut state = self.record("PutMetricData", points.len().to_string())?;
        for p in points {
            let mut dims = p.dimensions.clone();
            dims.sort();
            state
                .metrics
                .entry((p.namespace.clone(), p.metric.clone(), dims))
                .or_default()
                .push((p.timestamp, p.value));
        }
        Ok(())
    }
}

impl MetricsPort for InMemoryCloudWatch {
    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<MetricSeries>, PortError> {
        let limit = self.state.lock().expect("not poisoned").time_out_above;
        if limit.is_some_and(|limit| queries.len() > limit) {
            drop(self.record("GetMetricData", format!("{} timed out", queries.len()))?);
            return Err(PortError::new("GetMetricData", ErrorKind::TimedOut, "injected timeout"));
        }
        let state = self.record("GetMetricData", queries.len().to_string())?;
        Ok(queries
            .iter()
            .map(|q| {
                let mut dims = q.dimensions.clone();
                dims.sort();
                let period = i64::from(q.period_secs.max(1));
                let mut buckets: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
                let status = state.read_status.get(&dims).copied().unwrap_or(ReadStatus::Complete);
                let key = (q.namespace.clone(), q.metric.clone(), dims);
                for (t, v) in state.metrics.get(&key).into_iter().flatten() {
                    if *t >= start && *t < end {
                        let offset = (*t - start).num_seconds().div_euclid(period) * period;
                        let bucket = buckets.entry(start + chrono::Duration::seconds(offset));
                        match q.stat {
                            Statistic::Maximum => {
                                let max = bucket.or_insert(f64::MIN);
                                *max = max.max(*v);
                            }
                            // Every other statistic this tool reads is a `Sum`.
                            _ => *bucket.or_default() += v,
                        }
                    }
                }
                MetricSeries { id: q.id.clone(), label: None, points: buckets.into_iter().collect(), status }
            })
            .collect())
    }
}

impl AlarmPort for InMemoryCloudWatch {
    async fn put_alarm(&self, spec: &AlarmSpec) -> Result<(), PortError> {
        let mut state = self.record("PutMetricAlarm", spec.name.clone())?;
        let current = state.alarms.get(&spec.name).map_or(AlarmState::InsufficientData, |(_, s)| *s);
        state.alarms.insert(spec.name.clone(), (spec.clone(), current));
        Ok(())
    }

    async fn describe_alarms(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        let state = self.record("DescribeAlarms", prefix.to_owned())?;
        Ok(state.summaries(|name, _| name.starts_with(prefix)))
    }

    async fn describe_alarm(&self, name: &str) -> Result<Option<AlarmSummary>, PortError> {
        let state = self.record("DescribeAlarms", format!("name={name}"))?;
        Ok(state.summaries(|n, _| n == name).pop())
    }

    async fn alarms_in_alarm(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        let state = self.record("DescribeAlarms", format!("{prefix} state=ALARM"))?;
        Ok(state.summaries(|name, s| name.starts_with(prefix) && s == AlarmState::Alarm))
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), PortError> {
        let mut state = self.record("DeleteAlarms", names.join(","))?;
        names.iter().for_each(|n| {
            state.alarms.remove(n);
        });
        Ok(())
    }

    async fn set_alarm_state(&self, name: &str, new: AlarmState, reason: &str) -> Result<(), PortError> {
        let mut state = self.record("SetAlarmState", format!("{name} {}", new.as_str()))?;
        match state.alarms.get_mut(name) {
            Some((_, s)) => {
                *s = new;
                state.reasons.insert(name.to_owned(), (reason.to_owned(), None));
                Ok(())
            }
            None => Err(PortError::new("SetAlarmState", ErrorKind::NotFound, format!("no alarm {name}"))),
        }
    }
}

/// Message topics in memory: what was published where, in order; fails on request.
#[derive(Debug, Default)]
pub struct InMemoryTopics {
    state: Mutex<TopicsState>,
}

#[derive(Debug, Default)]
struct TopicsState {
    published: Vec<(String, String)>,
    faults: VecDeque<ErrorKind>,
}

impl InMemoryTopics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next publish fails with `kind`. Faults queue in order.
    pub fn fail_next(&self, kind: ErrorKind) {
        self.state.lock().expect("not poisoned").faults.push_back(kind);
    }

    /// Every message published so far, as `(topic, message)`, oldest first.
    pub fn published(&self) -> Vec<(String, String)> {
        self.state.lock().expect("not poisoned").published.clone()
    }
}

impl crate::ContinuationPort for InMemoryTopics {
    async fn publish(&self, topic: &str, message: &str) -> Result<(), PortError> {
        let mut state = self.state.lock().expect("not poisoned");
        if let Some(kind) = state.faults.pop_front() {
            return Err(PortError::new("Publish", kind, "injected fault"));
        }
        state.published.push((topic.to_owned(), message.to_owned()));
        Ok(())
    }
}

/// A stream's write history as Kinesis publishes it, for the predictive pass's tests (in memory
/// and on the emulator): one `IncomingBytes` and one `IncomingRecords` `Sum` (1 KiB records) per
/// 5-minute period of the `days` days before `now`'s period, `bytes_per_sec(t)` for the period
/// starting at `t`; nothing for a period without writes, as CloudWatch stores nothing for it.
pub fn load_history(
    stream: &str,
    now: DateTime<Utc>,
    days: i64,
    bytes_per_sec: impl Fn(DateTime<Utc>) -> f64,
) -> Vec<MetricPoint> {
    history_periods(now, days)
        .into_iter()
        .map(|t| (t, bytes_per_sec(t) * 300.0))
        .filter(|(_, bytes)| *bytes > 0.0)
        .flat_map(|(t, bytes)| {
            [
                (Metric::IncomingBytes, bytes, Unit::Bytes),
                (Metric::IncomingRecords, bytes / 1024.0, Unit::Count),
            ]
            .map(|(metric, value, unit)| MetricPoint {
                namespace: planner::KINESIS_NAMESPACE.into(),
                metric: metric.as_str().into(),
                dimensions: vec![Dimension::stream(stream)],
                timestamp: t,
                value,
                unit,
            })
        })
        .collect()
}

/// The starts of the 5-minute periods of the `days` days before `now`'s period, oldest first.
fn history_periods(now: DateTime<Utc>, days: i64) -> Vec<DateTime<Utc>> {
    let end = planner::align_down(now, 300);
    (1..=days * 288).rev().map(|k| end - chrono::Duration::minutes(5 * k)).collect()
}

/// `bytes_per_sec` over the same periods as [`load_history`], its values dealt out again to
/// them in a seeded random order: the same load, with any rhythm it had taken out (the forecast
/// must find none).
pub fn shuffled(
    now: DateTime<Utc>,
    days: i64,
    bytes_per_sec: impl Fn(DateTime<Utc>) -> f64,
    seed: u64,
) -> impl Fn(DateTime<Utc>) -> f64 {
    let periods = history_periods(now, days);
    let mut values: Vec<f64> = periods.iter().map(|t| bytes_per_sec(*t)).collect();
    let mut jitter = crate::SeededJitter::new(seed);
    for i in (1..values.len()).rev() {
        let j = (crate::Jitter::fraction(&mut jitter, 0) * (i + 1) as f64) as usize;
        values.swap(i, j.min(i));
    }
    let dealt: BTreeMap<DateTime<Utc>, f64> = periods.into_iter().zip(values).collect();
    move |t| dealt.get(&t).copied().unwrap_or(0.0)
}
