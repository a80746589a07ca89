//! Kinesis hash keys and inclusive hash ranges.
//!
//! Kinesis partitions records by the MD5 of the partition key, read as an unsigned 128-bit integer,
//! and prints hash keys as decimal strings from `0` to `2^128 - 1`. A `u128` holds every key exactly;
//! the only value it cannot hold is the *width* of the whole key space (`2^128`), so widths are
//! carried as "last offset" (`end - start`) and converted to fractions in `f64` where ratios are needed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{MAX_SHARDS_PER_STREAM, PlannerError};

/// One point of the 128-bit key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct HashKey(pub u128);

impl HashKey {
    pub const MIN: HashKey = HashKey(0);
    pub const MAX: HashKey = HashKey(u128::MAX);
}

impl FromStr for HashKey {
    type Err = PlannerError;

    /// Accepts exactly what Kinesis prints: ASCII digits, no sign, no whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || PlannerError::InvalidHashKey { value: s.to_owned() };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        s.parse::<u128>().map(HashKey).map_err(|_| invalid())
    }
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<HashKey> for String {
    fn from(key: HashKey) -> String {
        key.to_string()
    }
}

impl TryFrom<String> for HashKey {
    type Error = PlannerError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// An inclusive, non-empty range of hash keys: what one shard owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HashRange {
    start: HashKey,
    end: HashKey,
}

/// `2^128` as a float: the width of the whole key space.
const KEY_SPACE: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;

impl HashRange {
    /// The whole key space, owned by a one-shard stream.
    pub const FULL: HashRange = HashRange { start: HashKey::MIN, end: HashKey::MAX };

    pub fn new(start: HashKey, end: HashKey) -> Result<Self, PlannerError> {
        if start > end {
            return Err(PlannerError::EmptyRange { start, end });
        }
        Ok(HashRange { start, end })
    }

    /// Parses the `StartingHashKey` / `EndingHashKey` pair of a Kinesis `Shard`.
    pub fn parse(start: &str, end: &str) -> Result<Self, PlannerError> {
        HashRange::new(start.parse()?, end.parse()?)
    }

    pub fn start(&self) -> HashKey {
        self.start
    }

    pub fn end(&self) -> HashKey {
        self.end
    }

    pub fn contains(&self, key: HashKey) -> bool {
        self.start <= key && key <= self.end
    }

    /// `end - start`: the width minus one, which (unlike the width) always fits in a `u128`.
    pub fn last_offset(&self) -> u128 {
        self.end.0 - self.start.0
    }

    /// The share of the whole key space this range owns, in `(0, 1]`. Exact to `f64` precision,
    /// which is ample for load estimates (the uniform-key assumption is far coarser than 2^-52).
    pub fn fraction(&self) -> f64 {
        (self.last_offset() as f64 + 1.0) / KEY_SPACE
    }

    /// Whether `key` is a legal `NewStartingHashKey` for splitting this range: strictly inside it,
    /// so both children are non-empty (Kinesis rejects the range's own start or anything outside).
    pub fn can_split_at(&self, key: HashKey) -> bool {
        self.start < key && key <= self.end
    }

    /// The keys that cut this range into `parts` children of equal width (the first children
    /// take one extra key each when the width does not divide evenly). Empty when `parts < 2` or
    /// the range has fewer than `parts` keys, and when `parts` exceeds [`MAX_SHARDS_PER_STREAM`]:
    /// no stream holds that many shards, and a count computed from hostile input must not
    /// allocate gigabytes of keys.
    pub fn equal_cuts(&self, parts: u32) -> Vec<HashKey> {
        if parts > MAX_SHARDS_PER_STREAM {
            return Vec::new();
        }
        let parts = u128::from(parts);
        let last = self.last_offset();
        if parts < 2 || last < parts - 1 {
            return Vec::new();
        }
        // The width is last + 1, which may be 2^128: derive its quotient and remainder from `last`.
        let (q, r) = (last / parts, last % parts);
        let (width_q, width_r) = if r + 1 == parts { (q + 1, 0) } else { (q, r + 1) };
        // Cut i starts child i + 1. It is at most `end`, and (i + 1) * width_q < width <= 2^128,
        // so nothing overflows.
        (1..parts).map(|i| HashKey(self.start.0 + i * width_q + i.min(width_r))).collect()
    }

    /// The new starting key that halves this range; `None` for a single-key range.
    pub fn midpoint(&self) -> Option<HashKey> {
        self.equal_cuts(2).into_iter().next()
    }

    /// Whether `other` starts right after this range ends (`end + 1 == other.start`): the only
    /// pairs `MergeShards` accepts.
    pub fn is_followed_by(&self, other: &HashRange) -> bool {
        self.end.0.checked_add(1) == Some(other.start.0)
    }

    /// The union of two adjacent ranges, `self` first.
    pub fn merged_with(&self, next: &HashRange) -> Option<HashRange> {
        self.is_followed_by(next).then_some(HashRange { start: self.start, end: next.end })
    }
}

impl fmt::Display for HashRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.start, self.end)
    }
}
