//! Kinesis: streams whose open shards tile the key space (a planner [`Tiling`]), one reshard at a
//! time (`ResourceInUse` meanwhile), children opening when the reshard completes, the
//! `UpdateShardCount` rules (2× / ½, 10 calls per rolling 24 h), closed shards listed until the
//! retention period passes, and the calls counted the way the AWS adapter makes them.
//!
//! Every reshard goes through `Tiling::split` / `merge` (or a fresh even tiling for
//! `UpdateShardCount`), which validate that the open shards still tile the key space; a call
//! Kinesis would refuse is refused here too, and counted. Refusals other than `ResourceInUse`
//! (which any concurrent actor meets) are kept in [`World::refusals`], so a caller that must
//! never make one (the simulator's policy under test) can check.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use planner::{
    DEFAULT_RETENTION_HOURS, HashKey, HashRange, Metric, ShardId, Tiling, UPDATE_SHARD_COUNT_CALLS_PER_DAY,
};
use reconciler::{ErrorKind, PortError, Resharder, StreamAdmin, StreamReader, StreamSnapshot, StreamStatus};

use crate::model::Model;
use crate::world::World;

/// Reshard calls made, and calls Kinesis refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub splits: u32,
    pub merges: u32,
    pub updates: u32,
    pub refused: u32,
}

impl OpCounts {
    pub fn total(&self) -> u32 {
        self.splits + self.merges + self.updates
    }
}

/// A reshard in flight: what the stream becomes when it completes.
#[derive(Debug, Clone)]
struct Pending {
    done_at: DateTime<Utc>,
    tiling: Tiling,
    closed: Vec<ShardId>,
    children: Vec<ShardId>,
}

/// One stream.
#[derive(Debug, Clone)]
pub struct Stream {
    tiling: Tiling,
    pending: Option<Pending>,
    /// `CREATING` until then.
    creating_until: Option<DateTime<Utc>>,
    /// Closed shards and when they closed: listed until the retention period passes.
    closed: Vec<(ShardId, DateTime<Utc>)>,
    /// Each shard born by a reshard, with its parents.
    parents: BTreeMap<ShardId, Vec<ShardId>>,
    retention_hours: u32,
    tags: BTreeMap<String, String>,
    created: DateTime<Utc>,
    shard_level_metrics: BTreeSet<String>,
    /// Enhanced fan-out consumers registered.
    consumers: u32,
    /// Per-shard write capacity in shard units: 1 for provisioned shards; the simulator's
    /// on-demand model sets its own.
    pub shard_limit: f64,
    /// When each `UpdateShardCount` was accepted (the rolling day's quota).
    update_calls: Vec<DateTime<Utc>>,
    pub ops: OpCounts,
    /// The most shards `ListShards` returned at once (open plus closed within retention).
    pub peak_listed: u32,
    /// The key range of the first shard split: whether a policy's first split hit the hot shard.
    pub first_split: Option<HashRange>,
}

impl Stream {
    fn new(tiling: Tiling, created: DateTime<Utc>, creating_until: Option<DateTime<Utc>>) -> Stream {
        Stream {
            peak_listed: tiling.len(),
            tiling,
            pending: None,
            creating_until,
            closed: Vec::new(),
            parents: BTreeMap::new(),
            retention_hours: DEFAULT_RETENTION_HOURS,
            tags: BTreeMap::new(),
            created,
            shard_level_metrics: BTreeSet::new(),
            consumers: 0,
            shard_limit: 1.0,
            update_calls: Vec::new(),
            ops: OpCounts::default(),
            first_split: None,
        }
    }

    pub fn tiling(&self) -> &Tiling {
        &self.tiling
    }

    pub fn open(&self) -> u32 {
        self.tiling.len()
    }

    /// `ACTIVE`: created, and no reshard in progress.
    pub fn is_active(&self) -> bool {
        self.pending.is_none() && self.creating_until.is_none()
    }

    pub fn status(&self) -> StreamStatus {
        match (self.creating_until, &self.pending) {
            (Some(_), _) => StreamStatus::Creating,
            (None, Some(_)) => StreamStatus::Updating,
            (None, None) => StreamStatus::Active,
        }
    }

    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// Whether Kinesis publishes its shard-level (enhanced) metrics.
    pub fn shard_level_metrics(&self) -> bool {
        !self.shard_level_metrics.is_empty()
    }

    /// `UpdateShardCount` calls accepted in the rolling day before `now`.
    pub fn update_calls_last_24h(&self, now: DateTime<Utc>) -> u32 {
        self.update_calls.iter().filter(|t| **t > now - chrono::Duration::hours(24)).count() as u32
    }

    /// Completes a reshard due by `now`; whether the open shards changed.
    fn settle(&mut self, now: DateTime<Utc>) -> bool {
        if self.creating_until.is_some_and(|until| until <= now) {
            self.creating_until = None;
        }
        let Some(pending) = self.pending.take_if(|p| p.done_at <= now) else { return false };
        for child in pending.children {
            self.parents.insert(child, pending.closed.clone());
        }
        let done_at = pending.done_at;
        self.closed.extend(pending.closed.into_iter().map(|id| (id, done_at)));
        let retention = chrono::Duration::hours(i64::from(self.retention_hours));
        self.closed.retain(|(_, at)| *at + retention > now);
        self.tiling = pending.tiling;
        self.peak_listed = self.peak_listed.max(self.tiling.len() + self.closed.len() as u32);
        true
    }

    /// Closed shards still listed at `now`.
    fn listed_closed(&self, now: DateTime<Utc>) -> impl Iterator<Item = &ShardId> {
        let retention = chrono::Duration::hours(i64::from(self.retention_hours));
        self.closed.iter().filter(move |(_, at)| *at + retention > now).map(|(id, _)| id)
    }

    /// Open shards whose parent is still listed (closed within the retention period).
    pub fn with_listed_parent(&self, now: DateTime<Utc>) -> BTreeSet<ShardId> {
        let listed: BTreeSet<&ShardId> = self.listed_closed(now).collect();
        self.tiling
            .shards()
            .iter()
            .filter(|s| self.parents.get(&s.id).is_some_and(|ps| ps.iter().any(|p| listed.contains(p))))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Each open shard's share of demand when `hot` of it goes to `hot_key` and the rest is
    /// spread evenly over the key space.
    pub fn shares(&self, hot_key: HashKey, hot: f64) -> Vec<f64> {
        self.tiling
            .shards()
            .iter()
            .map(|s| (1.0 - hot) * s.range.fraction() + if s.range.contains(hot_key) { hot } else { 0.0 })
            .collect()
    }

    /// What the open shards accept of `units` a second when `hot` of it goes to `hot_key`: each
    /// shard takes at most `limit` a second ([`accepted_units`]).
    pub fn accepts(&self, units: f64, hot_key: HashKey, hot: f64, limit: f64) -> f64 {
        accepted_units(units, &self.shares(hot_key, hot), limit)
    }

    /// Replaces the open shards at once, outside the reshard API: on-demand mode's own adaptation
    /// and the oracle's hindsight. Not counted as reshard operations.
    pub fn reconfigure(&mut self, tiling: Tiling, shard_limit: f64) {
        self.tiling = tiling;
        self.shard_limit = shard_limit;
    }

    fn snapshot(&self, name: &str, now: DateTime<Utc>, model: &Model) -> StreamSnapshot {
        let status = self.status();
        let listed: Vec<ShardId> = self.listed_closed(now).cloned().collect();
        StreamSnapshot {
            name: name.to_owned(),
            arn: format!("arn:aws:kinesis:{}:{}:stream/{name}", model.region, model.account),
            status,
            open: (status != StreamStatus::Creating).then(|| self.tiling.clone()),
            with_listed_parent: self.with_listed_parent(now),
            closed: listed,
            retention_hours: self.retention_hours,
            tags: self.tags.clone(),
            created: self.created,
            shard_level_metrics: self.shard_level_metrics.clone(),
            on_demand: false,
            enhanced_fan_out_consumers: Some(self.consumers),
        }
    }
}

/// Kinesis's state: the streams, the next shard id, and what was called.
#[derive(Debug, Default)]
pub(crate) struct Kinesis {
    streams: BTreeMap<String, Stream>,
    next_shard: u64,
    /// Every mutating call that succeeded, as `"SplitShard orders shardId-… …"`, in order.
    calls: Vec<String>,
    /// Refusals other than `ResourceInUse`, as `"UpdateShardCount orders: …"`.
    refusals: Vec<String>,
    /// Tags another actor writes on a stream just before its nth describe from now.
    concurrent_tags: Vec<(String, usize, BTreeMap<String, String>)>,
}

impl Kinesis {
    /// Completes every reshard due by `now`; whether any open shards changed.
    pub(crate) fn settle(&mut self, now: DateTime<Utc>) -> bool {
        self.streams.values_mut().fold(false, |changed, s| s.settle(now) | changed)
    }

    /// `n` evenly split shards with fresh ids, as `CreateStream` and `UpdateShardCount` make them.
    pub(crate) fn even(&mut self, n: u32) -> Tiling {
        let tiling = Tiling::uniform(n, self.next_shard);
        self.next_shard += u64::from(tiling.len());
        tiling
    }

    fn fresh_id(&mut self) -> ShardId {
        let id = ShardId::new(format!("shardId-{:012}", self.next_shard));
        self.next_shard += 1;
        id
    }

    fn stream(&mut self, call: &'static str, name: &str) -> Result<&mut Stream, PortError> {
        self.streams
            .get_mut(name)
            .ok_or_else(|| PortError::new(call, ErrorKind::NotFound, "stream not found").with_stream(name))
    }

    fn refuse(&mut self, call: &'static str, name: &str, kind: ErrorKind, why: String) -> PortError {
        if let Some(s) = self.streams.get_mut(name) {
            s.ops.refused += 1;
        }
        if kind != ErrorKind::ResourceInUse {
            self.refusals.push(format!("{call} {name}: {why}"));
        }
        PortError::new(call, kind, why).with_stream(name)
    }

    /// Starts a reshard of `name` that completes after `takes`: refused while one is in flight.
    fn reshard(
        &mut self,
        call: &'static str,
        name: &str,
        now: DateTime<Utc>,
        takes: std::time::Duration,
        make: impl FnOnce(&mut Kinesis, &Stream) -> Result<(Tiling, Vec<ShardId>), String>,
    ) -> Result<(), PortError> {
        let stream = self.stream(call, name)?.clone();
        if !stream.is_active() {
            let why = format!("stream {name} is {}: one reshard at a time", stream.status());
            return Err(self.refuse(call, name, ErrorKind::ResourceInUse, why));
        }
        let (tiling, closed) = match make(self, &stream) {
            Ok(made) => made,
            Err(why) => return Err(self.refuse(call, name, ErrorKind::InvalidArgument, why)),
        };
        let children = tiling.ids().into_iter().filter(|id| stream.tiling.get(id).is_none()).collect();
        let done_at = now + chrono::Duration::from_std(takes).unwrap_or(chrono::Duration::MAX);
        let s = self.stream(call, name)?;
        s.pending = Some(Pending { done_at, tiling, closed, children });
        s.settle(now);
        Ok(())
    }

    fn record(&mut self, call: &str, stream: &str, detail: String) {
        self.calls.push(format!("{call} {stream} {detail}").trim_end().to_owned());
    }
}

impl World {
    /// Adds an `ACTIVE` stream of `shards` equal-width shards, created at `created`.
    pub fn add_stream(&self, name: &str, shards: u32, created: DateTime<Utc>) {
        let mut state = self.lock();
        let tiling = state.kinesis.even(shards);
        state.kinesis.streams.insert(name.to_owned(), Stream::new(tiling, created, None));
        drop(state);
        self.bump_version();
    }

    /// `stream` has `consumers` enhanced fan-out consumers registered (`RegisterStreamConsumer`).
    pub fn register_consumers(&self, stream: &str, consumers: u32) {
        if let Some(s) = self.lock().kinesis.streams.get_mut(stream) {
            s.consumers = consumers;
        }
    }

    /// Another actor (a concurrent `streams apply`) writes `tags` on `stream` just before its `nth`
    /// describe from now (1: the next one): a change between a decision's read and its act.
    pub fn tag_before_describe(&self, stream: &str, nth: usize, tags: BTreeMap<String, String>) {
        self.lock().kinesis.concurrent_tags.push((stream.to_owned(), nth, tags));
    }

    /// The successful mutating Kinesis calls so far, oldest first.
    pub fn kinesis_calls(&self) -> Vec<String> {
        self.lock().kinesis.calls.clone()
    }

    /// Reshard calls refused for anything but a reshard in flight, oldest first.
    pub fn refusals(&self) -> Vec<String> {
        self.lock().kinesis.refusals.clone()
    }

    /// The open shards of `stream`, as another actor would see them.
    pub fn tiling(&self, stream: &str) -> Option<Tiling> {
        self.lock().kinesis.streams.get(stream).map(|s| s.tiling.clone())
    }

    /// Looks at one stream's model.
    pub fn stream<R>(&self, stream: &str, f: impl FnOnce(&Stream) -> R) -> Option<R> {
        self.lock().kinesis.streams.get(stream).map(f)
    }

    /// Changes one stream's model outside the API (the simulator's on-demand and oracle models).
    pub fn with_stream<R>(&self, stream: &str, f: impl FnOnce(&mut Stream) -> R) -> Option<R> {
        let mut state = self.lock();
        let result = state.kinesis.streams.get_mut(stream).map(f);
        drop(state);
        self.bump_version();
        result
    }

    /// `n` evenly split shards with fresh ids (for a model that reconfigures a stream).
    pub fn even_tiling(&self, n: u32) -> Tiling {
        self.lock().kinesis.even(n)
    }

    /// Reserves `n` fresh shard ids and returns the first (for a model that makes shards itself).
    pub fn reserve_shard_ids(&self, n: u64) -> u64 {
        let mut state = self.lock();
        let first = state.kinesis.next_shard;
        state.kinesis.next_shard += n;
        first
    }

    /// When the next reshard in flight completes, if one is.
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        let state = self.lock();
        let pending = state.kinesis.streams.values().filter_map(|s| s.pending.as_ref().map(|p| p.done_at));
        let creating = state.kinesis.streams.values().filter_map(|s| s.creating_until);
        pending.chain(creating).min()
    }
}

impl StreamReader for World {
    async fn describe(&self, stream: &str) -> Result<StreamSnapshot, PortError> {
        self.call_delay(true).await;
        let now = self.now();
        let mut state = self.lock();
        state.request("DescribeStreamSummary");
        state.fault("DescribeStreamSummary").map_err(|e| e.with_stream(stream))?;
        let kinesis = &mut state.kinesis;
        let mut due = Vec::new();
        kinesis.concurrent_tags.retain_mut(|(name, nth, tags)| {
            if name != stream {
                return true;
            }
            *nth -= 1;
            if *nth == 0 {
                due.push(std::mem::take(tags));
            }
            *nth > 0
        });
        let s = kinesis.stream("DescribeStreamSummary", stream)?;
        due.into_iter().for_each(|tags| s.tags.extend(tags));
        let snapshot = s.snapshot(stream, now, self.model());
        if snapshot.open.is_some() {
            state.request("ListShards");
        }
        state.request("ListTagsForStream");
        Ok(snapshot)
    }

    async fn status(&self, stream: &str) -> Result<StreamStatus, PortError> {
        self.call_delay(true).await;
        let mut state = self.lock();
        state.request("DescribeStreamSummary");
        state.fault("DescribeStreamSummary").map_err(|e| e.with_stream(stream))?;
        Ok(state.kinesis.stream("DescribeStreamSummary", stream)?.status())
    }

    async fn tags(&self, stream: &str) -> Result<BTreeMap<String, String>, PortError> {
        self.call_delay(true).await;
        let mut state = self.lock();
        state.request("ListTagsForStream");
        state.fault("ListTagsForStream").map_err(|e| e.with_stream(stream))?;
        Ok(state.kinesis.stream("ListTagsForStream", stream)?.tags.clone())
    }

    async fn list_streams(&self) -> Result<Vec<String>, PortError> {
        let mut state = self.lock();
        let pages = state.kinesis.streams.len().div_ceil(100).max(1);
        (0..pages).for_each(|_| state.request("ListStreams"));
        state.fault("ListStreams")?;
        Ok(state.kinesis.streams.keys().cloned().collect())
    }
}

impl Resharder for World {
    async fn split_shard(&self, stream: &str, shard: &ShardId, at: HashKey) -> Result<(), PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let takes = self.model().reshard;
        let mut state = self.lock();
        state.request("SplitShard");
        state.fault("SplitShard").map_err(|e| e.with_stream(stream))?;
        let kinesis = &mut state.kinesis;
        let range = kinesis.stream("SplitShard", stream)?.tiling.get(shard).map(|sh| sh.range);
        kinesis.reshard("SplitShard", stream, now, takes, |k, s| {
            let ids = [k.fresh_id(), k.fresh_id()];
            let tiling =
                s.tiling.split(shard, at, ids).ok_or_else(|| format!("cannot split {shard} at {at}"))?;
            Ok((tiling, vec![shard.clone()]))
        })?;
        let s = kinesis.stream("SplitShard", stream)?;
        s.ops.splits += 1;
        s.first_split = s.first_split.or(range);
        kinesis.record("SplitShard", stream, format!("{shard} {at}"));
        drop(state);
        self.bump_version();
        Ok(())
    }

    async fn merge_shards(&self, stream: &str, shard: &ShardId, adjacent: &ShardId) -> Result<(), PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let takes = self.model().reshard;
        let mut state = self.lock();
        state.request("MergeShards");
        state.fault("MergeShards").map_err(|e| e.with_stream(stream))?;
        let kinesis = &mut state.kinesis;
        kinesis.reshard("MergeShards", stream, now, takes, |k, s| {
            let id = k.fresh_id();
            let tiling = s
                .tiling
                .merge(shard, adjacent, id)
                .ok_or_else(|| format!("{shard} and {adjacent} are not adjacent"))?;
            Ok((tiling, vec![shard.clone(), adjacent.clone()]))
        })?;
        kinesis.stream("MergeShards", stream)?.ops.merges += 1;
        kinesis.record("MergeShards", stream, format!("{shard} {adjacent}"));
        drop(state);
        self.bump_version();
        Ok(())
    }

    async fn update_shard_count(&self, stream: &str, target: u32) -> Result<(), PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let model = self.model().clone();
        let mut state = self.lock();
        state.request("UpdateShardCount");
        state.fault("UpdateShardCount").map_err(|e| e.with_stream(stream))?;
        let kinesis = &mut state.kinesis;
        let (open, spent) = {
            let s = kinesis.stream("UpdateShardCount", stream)?;
            (s.open(), s.is_active() && s.update_calls_last_24h(now) >= UPDATE_SHARD_COUNT_CALLS_PER_DAY)
        };
        if spent {
            let why = format!(
                "Rate exceeded for stream {stream}: exceeded the limit of {UPDATE_SHARD_COUNT_CALLS_PER_DAY} \
                 UpdateShardCount calls per rolling 24 hours"
            );
            return Err(kinesis.refuse("UpdateShardCount", stream, ErrorKind::QuotaExceeded, why));
        }
        let takes = model.update_time(open, target);
        kinesis.reshard("UpdateShardCount", stream, now, takes, |k, s| {
            let open = s.open();
            if target == 0 || target > open * 2 || target * 2 < open {
                return Err(format!("{open} -> {target} is beyond 2x / half"));
            }
            Ok((k.even(target), s.tiling.ids()))
        })?;
        let s = kinesis.stream("UpdateShardCount", stream)?;
        s.ops.updates += 1;
        s.update_calls.push(now);
        kinesis.record("UpdateShardCount", stream, target.to_string());
        drop(state);
        self.bump_version();
        Ok(())
    }

    async fn enable_shard_metrics(&self, stream: &str, metrics: &[Metric]) -> Result<(), PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("EnableEnhancedMonitoring");
        state.fault("EnableEnhancedMonitoring").map_err(|e| e.with_stream(stream))?;
        let names: Vec<&str> = metrics.iter().map(|m| m.as_str()).collect();
        let s = state.kinesis.stream("EnableEnhancedMonitoring", stream)?;
        s.shard_level_metrics.extend(names.iter().map(|m| (*m).to_owned()));
        state.kinesis.record("EnableEnhancedMonitoring", stream, names.join(","));
        Ok(())
    }

    async fn add_tags(&self, stream: &str, tags: &BTreeMap<String, String>) -> Result<(), PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("AddTagsToStream");
        state.fault("AddTagsToStream").map_err(|e| e.with_stream(stream))?;
        state.kinesis.stream("AddTagsToStream", stream)?.tags.extend(tags.clone());
        state.kinesis.record("AddTagsToStream", stream, String::new());
        Ok(())
    }

    async fn remove_tags(&self, stream: &str, keys: &[String]) -> Result<(), PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("RemoveTagsFromStream");
        state.fault("RemoveTagsFromStream").map_err(|e| e.with_stream(stream))?;
        let s = state.kinesis.stream("RemoveTagsFromStream", stream)?;
        keys.iter().for_each(|k| {
            s.tags.remove(k);
        });
        state.kinesis.record("RemoveTagsFromStream", stream, String::new());
        Ok(())
    }
}

impl StreamAdmin for World {
    async fn create_stream(&self, stream: &str, shards: u32) -> Result<(), PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let creating = self.model().create;
        let mut state = self.lock();
        state.request("CreateStream");
        state.fault("CreateStream").map_err(|e| e.with_stream(stream))?;
        if state.kinesis.streams.contains_key(stream) {
            return Err(
                PortError::new("CreateStream", ErrorKind::AlreadyExists, "exists").with_stream(stream)
            );
        }
        let tiling = state.kinesis.even(shards);
        let until = (!creating.is_zero())
            .then(|| now + chrono::Duration::from_std(creating).unwrap_or(chrono::Duration::MAX));
        state.kinesis.streams.insert(stream.to_owned(), Stream::new(tiling, now, until));
        state.kinesis.record("CreateStream", stream, shards.to_string());
        drop(state);
        self.bump_version();
        Ok(())
    }

    async fn delete_stream(&self, stream: &str) -> Result<(), PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("DeleteStream");
        state.fault("DeleteStream").map_err(|e| e.with_stream(stream))?;
        state.kinesis.stream("DeleteStream", stream)?;
        state.kinesis.streams.remove(stream);
        state.kinesis.record("DeleteStream", stream, String::new());
        Ok(())
    }

    async fn set_retention(&self, stream: &str, from_hours: u32, to_hours: u32) -> Result<(), PortError> {
        self.call_delay(false).await;
        let operation = if to_hours < from_hours {
            "DecreaseStreamRetentionPeriod"
        } else {
            "IncreaseStreamRetentionPeriod"
        };
        let mut state = self.lock();
        state.request(operation);
        state.fault("SetRetention").map_err(|e| e.with_stream(stream))?;
        state.kinesis.stream("SetRetention", stream)?.retention_hours = to_hours;
        state.kinesis.record("SetRetention", stream, to_hours.to_string());
        Ok(())
    }
}

/// Of `units` a second spread by `shares` over shards that each accept `limit` a second, the
/// units accepted. Kinesis enforces its write and read limits per shard and per second, so a hot
/// shard throttles its excess while its neighbours idle: the stream's total capacity is not what
/// binds.
pub fn accepted_units(units: f64, shares: &[f64], limit: f64) -> f64 {
    shares.iter().map(|s| (units * s).min(limit)).sum()
}
