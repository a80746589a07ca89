//! A stream's open shards, validated to tile the whole key space.
//!
//! Every decision starts from a [`Tiling`]: the open shards sorted by starting key, with no gap and
//! no overlap from `0` to `2^128 - 1`. Kinesis guarantees this for a healthy stream, but the
//! snapshot we read may be torn (a `ListShards` page read before and another after a reshard), so
//! we check rather than assume, and say exactly where the snapshot is broken.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{HashKey, HashRange, PlannerError};

/// A Kinesis shard id such as `shardId-000000000007`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShardId(pub String);

impl ShardId {
    pub fn new(id: impl Into<String>) -> Self {
        ShardId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One open shard: its id and the hash keys it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub id: ShardId,
    pub range: HashRange,
}

impl Shard {
    pub fn new(id: impl Into<String>, range: HashRange) -> Self {
        Shard { id: ShardId::new(id), range }
    }
}

/// Open shards that cover every hash key exactly once, sorted by starting key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tiling {
    shards: Vec<Shard>,
}

impl Tiling {
    /// Validates that `shards` tile `0..=2^128-1`; reports the first gap, overlap or duplicate.
    pub fn new(mut shards: Vec<Shard>) -> Result<Self, PlannerError> {
        shards.sort_by(|a, b| a.range.cmp(&b.range).then_with(|| a.id.cmp(&b.id)));
        let mut ids: Vec<&ShardId> = shards.iter().map(|s| &s.id).collect();
        ids.sort();
        if let Some(pair) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(PlannerError::DuplicateShard { shard: pair[0].clone() });
        }
        let first = shards.first().ok_or(PlannerError::NoOpenShards)?;
        if first.range.start() != HashKey::MIN {
            let to = HashKey(first.range.start().0 - 1);
            return Err(PlannerError::Gap { from: HashKey::MIN, to });
        }
        for pair in shards.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.range.is_followed_by(&b.range) {
                continue;
            }
            if b.range.start() <= a.range.end() {
                let to = a.range.end().min(b.range.end());
                return Err(PlannerError::Overlap {
                    first: a.id.clone(),
                    second: b.id.clone(),
                    from: b.range.start(),
                    to,
                });
            }
            let (from, to) = (HashKey(a.range.end().0 + 1), HashKey(b.range.start().0 - 1));
            return Err(PlannerError::Gap { from, to });
        }
        let last = shards.last().expect("checked non-empty above");
        if last.range.end() != HashKey::MAX {
            return Err(PlannerError::Gap { from: HashKey(last.range.end().0 + 1), to: HashKey::MAX });
        }
        Ok(Tiling { shards })
    }

    /// The one-shard tiling of a freshly created single-shard stream.
    pub fn single(id: impl Into<String>) -> Self {
        Tiling { shards: vec![Shard::new(id, HashRange::FULL)] }
    }

    /// `count` equal-width shards, as `CreateStream` and `UpdateShardCount` make them, named
    /// `shardId-{first_id}`, `shardId-{first_id + 1}`, … in key order. The one builder of an even
    /// tiling, for the in-memory Kinesis, the simulator and tests. `count` is at least 1 (and at
    /// most the key space, which no stream reaches): 0 gives one shard.
    pub fn uniform(count: u32, first_id: u64) -> Tiling {
        let mut starts = vec![HashKey::MIN];
        starts.extend(HashRange::FULL.equal_cuts(count));
        let shards = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| {
                let end = starts.get(i + 1).map_or(HashKey::MAX, |next| HashKey(next.0 - 1));
                let id = format!("shardId-{:012}", first_id.saturating_add(i as u64));
                Shard::new(id, HashRange::new(start, end).expect("equal cuts ascend"))
            })
            .collect();
        Tiling { shards }
    }

    /// The open shards' ids, in key order.
    pub fn ids(&self) -> Vec<ShardId> {
        self.shards.iter().map(|s| s.id.clone()).collect()
    }

    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    pub fn len(&self) -> u32 {
        // A stream holds at most tens of thousands of shards, far below u32::MAX.
        self.shards.len() as u32
    }

    /// Always false: a tiling has at least one shard. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    pub fn get(&self, id: &ShardId) -> Option<&Shard> {
        self.shards.iter().find(|s| &s.id == id)
    }

    /// The open shard that owns `key`.
    pub fn owner_of(&self, key: HashKey) -> &Shard {
        let i = self.shards.partition_point(|s| s.range.end() < key);
        &self.shards[i]
    }

    /// Whether every shard owns the same share of the key space, to within `tolerance` (a fraction
    /// of the ideal width). This is what `UpdateShardCount` produces, and the precondition for
    /// using it again without undoing targeted splits.
    pub fn is_even(&self, tolerance: f64) -> bool {
        let ideal = 1.0 / f64::from(self.len());
        self.shards.iter().all(|s| (s.range.fraction() - ideal).abs() <= ideal * tolerance)
    }

    /// Applies a split in memory, as Kinesis would: the shard is replaced by two children.
    /// Returns `None` if the shard is not open or the key is not strictly inside it.
    pub fn split(&self, id: &ShardId, at: HashKey, ids: [ShardId; 2]) -> Option<Tiling> {
        let parent = self.get(id)?;
        if !parent.range.can_split_at(at) {
            return None;
        }
        let [low, high] = ids;
        let mut shards: Vec<Shard> = self.shards.iter().filter(|s| &s.id != id).cloned().collect();
        let low_range = HashRange::new(parent.range.start(), HashKey(at.0 - 1)).ok()?;
        let high_range = HashRange::new(at, parent.range.end()).ok()?;
        shards.push(Shard { id: low, range: low_range });
        shards.push(Shard { id: high, range: high_range });
        Tiling::new(shards).ok()
    }

    /// Applies a merge in memory: two adjacent shards become one. `None` if they are not both open
    /// and adjacent.
    pub fn merge(&self, a: &ShardId, b: &ShardId, id: ShardId) -> Option<Tiling> {
        let (a, b) = (self.get(a)?, self.get(b)?);
        let range = a.range.merged_with(&b.range).or_else(|| b.range.merged_with(&a.range))?;
        let mut shards: Vec<Shard> =
            self.shards.iter().filter(|s| s.id != a.id && s.id != b.id).cloned().collect();
        shards.push(Shard { id, range });
        Tiling::new(shards).ok()
    }
}
