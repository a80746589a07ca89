//! Kinesis in simulated time: open shards as a planner `Tiling`, one reshard at a time, the
//! `UpdateShardCount` quota, closed shards lingering, and the throttling arithmetic.
//!
//! Every reshard goes through `planner::Tiling::split` / `merge` (or a fresh even tiling for
//! `UpdateShardCount`), which validate that the open shards still tile the key space; a call
//! Kinesis would refuse is refused here too. For the policy under test (`strict`) any refusal and
//! any shard count outside `[min, max]` is an invariant violation and stops the run.

use std::collections::{BTreeMap, BTreeSet};

use planner::{HashKey, HashRange, ShardId, Tiling, UPDATE_SHARD_COUNT_CALLS_PER_DAY};

use crate::SimError;
use crate::assumptions::{RESHARD_SECS, RETENTION_SECS, update_shard_count_secs};

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

/// Why Kinesis refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another reshard is in progress (`ResourceInUseException`).
    InUse,
    /// `InvalidArgumentException` / `LimitExceededException`.
    Invalid(String),
}

#[derive(Debug, Clone)]
struct Pending {
    done_at: i64,
    tiling: Tiling,
    closed: Vec<ShardId>,
    children: Vec<ShardId>,
}

/// One simulated stream.
#[derive(Debug, Clone)]
pub struct Kinesis {
    tiling: Tiling,
    /// Per-shard write capacity in shard units (1 for provisioned shards).
    pub shard_limit: f64,
    pending: Option<Pending>,
    closed_at: Vec<(ShardId, i64)>,
    parents: BTreeMap<ShardId, Vec<ShardId>>,
    next_id: u64,
    update_calls: Vec<i64>,
    pub ops: OpCounts,
    /// Set whenever the open shards change; the traffic engine clears it.
    pub changed: bool,
    bounds: (u32, u32),
    strict: Option<String>,
    /// The most shards `ListShards` returned at once (open plus closed within retention).
    pub peak_listed: u32,
    /// The key range of the first shard split: whether a policy's first split hit the hot shard.
    pub first_split: Option<HashRange>,
}

/// `n` evenly split shards, as `CreateStream` and `UpdateShardCount` make them, with fresh ids.
pub fn even_tiling(n: u32, next_id: &mut u64) -> Tiling {
    let tiling = Tiling::uniform(n, *next_id);
    *next_id += u64::from(tiling.len());
    tiling
}

impl Kinesis {
    /// A stream of `n` evenly split shards. `strict` names the policy whose refused calls and
    /// out-of-bounds counts are invariant violations.
    pub fn new(n: u32, bounds: (u32, u32), strict: Option<String>) -> Kinesis {
        let mut next_id = 0;
        let tiling = even_tiling(n, &mut next_id);
        Kinesis {
            tiling,
            shard_limit: 1.0,
            pending: None,
            closed_at: Vec::new(),
            parents: BTreeMap::new(),
            next_id,
            update_calls: Vec::new(),
            ops: OpCounts::default(),
            changed: true,
            bounds,
            strict,
            peak_listed: n,
            first_split: None,
        }
    }

    pub fn tiling(&self) -> &Tiling {
        &self.tiling
    }

    pub fn open(&self) -> u32 {
        self.tiling.len()
    }

    /// `ACTIVE`: no reshard in progress.
    pub fn is_active(&self) -> bool {
        self.pending.is_none()
    }

    fn fresh_id(&mut self) -> ShardId {
        self.next_id += 1;
        ShardId::new(format!("shardId-{:012}", self.next_id - 1))
    }

    /// `UpdateShardCount` calls in the rolling day before `now`.
    pub fn update_calls_last_24h(&self, now: i64) -> u32 {
        self.update_calls.iter().filter(|t| **t > now - 24 * 3600).count() as u32
    }

    fn refuse(&mut self, now: i64, call: &str, why: Refusal) -> Result<Refusal, SimError> {
        self.ops.refused += 1;
        match &self.strict {
            Some(policy) => Err(SimError::Invariant {
                policy: policy.clone(),
                at: now,
                what: format!("Kinesis refused {call}: {why:?}"),
            }),
            None => Ok(why),
        }
    }

    fn begin(&mut self, now: i64, secs: i64, tiling: Tiling, closed: Vec<ShardId>, children: Vec<ShardId>) {
        self.pending = Some(Pending { done_at: now + secs, tiling, closed, children });
    }

    /// `SplitShard`. `Ok(None)` when accepted.
    pub fn split(&mut self, now: i64, shard: &ShardId, at: HashKey) -> Result<Option<Refusal>, SimError> {
        if !self.is_active() {
            return self.refuse(now, "SplitShard", Refusal::InUse).map(Some);
        }
        let ids = [self.fresh_id(), self.fresh_id()];
        let Some(tiling) = self.tiling.split(shard, at, ids.clone()) else {
            return self
                .refuse(now, "SplitShard", Refusal::Invalid(format!("cannot split {shard} at {at}")))
                .map(Some);
        };
        if self.first_split.is_none() {
            self.first_split = self.tiling.shards().iter().find(|s| &s.id == shard).map(|s| s.range);
        }
        self.ops.splits += 1;
        self.begin(now, RESHARD_SECS, tiling, vec![shard.clone()], ids.to_vec());
        Ok(None)
    }

    /// `MergeShards`.
    pub fn merge(&mut self, now: i64, low: &ShardId, high: &ShardId) -> Result<Option<Refusal>, SimError> {
        if !self.is_active() {
            return self.refuse(now, "MergeShards", Refusal::InUse).map(Some);
        }
        let id = self.fresh_id();
        let Some(tiling) = self.tiling.merge(low, high, id.clone()) else {
            return self.refuse(now, "MergeShards", Refusal::Invalid(format!("{low} + {high}"))).map(Some);
        };
        self.ops.merges += 1;
        self.begin(now, RESHARD_SECS, tiling, vec![low.clone(), high.clone()], vec![id]);
        Ok(None)
    }

    /// `UpdateShardCount` with `UNIFORM_SCALING`: within 2× / ½ of the open count, at most 10
    /// calls per rolling 24 h.
    pub fn update_shard_count(&mut self, now: i64, target: u32) -> Result<Option<Refusal>, SimError> {
        if !self.is_active() {
            return self.refuse(now, "UpdateShardCount", Refusal::InUse).map(Some);
        }
        let open = self.open();
        if target > open * 2 || target * 2 < open || target == 0 {
            let why = Refusal::Invalid(format!("{open} -> {target} is beyond 2x / half"));
            return self.refuse(now, "UpdateShardCount", why).map(Some);
        }
        if self.update_calls_last_24h(now) >= UPDATE_SHARD_COUNT_CALLS_PER_DAY {
            let why = Refusal::Invalid("10 UpdateShardCount calls in 24 h".into());
            return self.refuse(now, "UpdateShardCount", why).map(Some);
        }
        self.update_calls.push(now);
        self.ops.updates += 1;
        let tiling = even_tiling(target, &mut self.next_id);
        let closed = self.tiling.shards().iter().map(|s| s.id.clone()).collect();
        let children = tiling.shards().iter().map(|s| s.id.clone()).collect();
        self.begin(now, update_shard_count_secs(open, target), tiling, closed, children);
        Ok(None)
    }

    /// Replaces the open shards at once, outside the reshard API: on-demand mode's own
    /// adaptation and the oracle's hindsight. Not counted as reshard operations.
    pub fn reconfigure(&mut self, tiling: Tiling, shard_limit: f64) {
        self.tiling = tiling;
        self.shard_limit = shard_limit;
        self.changed = true;
    }

    pub fn next_id(&mut self) -> &mut u64 {
        &mut self.next_id
    }

    /// Completes a reshard whose time has come, and checks the bounds.
    pub fn advance(&mut self, now: i64) -> Result<(), SimError> {
        if self.pending.as_ref().is_some_and(|p| p.done_at <= now) {
            let p = self.pending.take().expect("checked");
            let parents = p.closed.clone();
            for child in p.children {
                self.parents.insert(child, parents.clone());
            }
            self.closed_at.extend(p.closed.into_iter().map(|id| (id, now)));
            self.closed_at.retain(|(_, t)| *t + RETENTION_SECS > now);
            self.tiling = p.tiling;
            self.changed = true;
            let listed = self.open() + self.closed_at.len() as u32;
            self.peak_listed = self.peak_listed.max(listed);
            let (min, max) = self.bounds;
            if let Some(policy) = &self.strict
                && !(min..=max).contains(&self.open())
            {
                return Err(SimError::Invariant {
                    policy: policy.clone(),
                    at: now,
                    what: format!("{} open shards, outside [{min}, {max}]", self.open()),
                });
            }
        }
        Ok(())
    }

    /// Open shards whose parent is still listed (closed within the retention period).
    pub fn with_listed_parent(&self, now: i64) -> BTreeSet<ShardId> {
        let listed: BTreeSet<&ShardId> =
            self.closed_at.iter().filter(|(_, t)| *t + RETENTION_SECS > now).map(|(id, _)| id).collect();
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
}

/// Of `units` of demand spread by `shares` over shards that each take `limit`, the units
/// accepted; the rest is throttled.
pub fn accepted_units(units: f64, shares: &[f64], limit: f64) -> f64 {
    shares.iter().map(|s| (units * s).min(limit)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_shard_count_beyond_double_is_refused_and_strict_policies_fail() {
        let mut lax = Kinesis::new(4, (1, 64), None);
        assert!(matches!(lax.update_shard_count(0, 9), Ok(Some(Refusal::Invalid(_)))));
        let mut strict = Kinesis::new(4, (1, 64), Some("ours".into()));
        assert!(matches!(strict.update_shard_count(0, 9), Err(SimError::Invariant { .. })));
    }

    #[test]
    fn the_eleventh_update_shard_count_in_a_day_is_refused() {
        let mut k = Kinesis::new(4, (1, 64), None);
        for i in 0..10 {
            let target = if i % 2 == 0 { 8 } else { 4 };
            assert_eq!(k.update_shard_count(i * 1000, target).unwrap(), None);
            k.advance(i * 1000 + 999).unwrap();
        }
        assert!(matches!(k.update_shard_count(10_000, 8), Ok(Some(Refusal::Invalid(_)))));
        // A day after the first call, the quota has room again.
        assert_eq!(k.update_shard_count(24 * 3600 + 1, 8).unwrap(), None);
    }

    #[test]
    fn a_second_reshard_while_updating_is_refused_and_children_open_when_done() {
        let mut k = Kinesis::new(2, (1, 64), None);
        let (id, mid) = {
            let s = &k.tiling().shards()[0];
            (s.id.clone(), s.range.midpoint().unwrap())
        };
        assert_eq!(k.split(0, &id, mid).unwrap(), None);
        assert_eq!(k.open(), 2);
        assert_eq!(k.split(1, &id, mid).unwrap(), Some(Refusal::InUse));
        k.advance(RESHARD_SECS).unwrap();
        assert_eq!(k.open(), 3);
        assert_eq!(k.with_listed_parent(RESHARD_SECS).len(), 2);
        assert!(k.with_listed_parent(RESHARD_SECS + RETENTION_SECS).is_empty());
    }

    #[test]
    fn a_hot_key_concentrates_its_share_on_one_shard() {
        let k = Kinesis::new(4, (1, 64), None);
        let shares = k.shares(HashKey(u128::MAX / 8), 0.3);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((shares[0] - (0.7 / 4.0 + 0.3)).abs() < 1e-12);
        assert!((accepted_units(4.0, &shares, 1.0) - (4.0 - (4.0 * shares[0] - 1.0))).abs() < 1e-9);
    }
}
