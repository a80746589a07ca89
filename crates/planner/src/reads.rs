//! What a stream's readers did: the evidence that a stream must stay big enough for its consumers
//! as well as its producers.
//!
//! Kinesis publishes two stream-level read metrics the decisions use. `GetRecords.Bytes` (`Sum`)
//! is what the consumers that are *not* on enhanced fan-out read, from the 2 MiB/s per shard they
//! share ([`SHARD_READ_BYTES_PER_SEC`]); like the write metrics it is split among shards by their
//! share of the key space. `GetRecords.IteratorAgeMilliseconds` (`Maximum`) is how old the oldest
//! record a consumer read was: how far behind the slowest consumer is. Enhanced fan-out consumers
//! have 2 MiB/s per shard each and appear in neither (their bytes are
//! `SubscribeToShardEvent.Bytes`), so nothing here limits them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{ReadStatus, SHARD_READ_BYTES_PER_SEC, Window};

/// What a stream's readers did over the scale-down look-back, at stream level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadHistory {
    /// `GetRecords.Bytes` (Sum) per period start, as bytes per second: what shared-throughput
    /// (non enhanced fan-out) consumers read.
    pub bytes_per_sec: BTreeMap<DateTime<Utc>, f64>,
    /// `GetRecords.IteratorAgeMilliseconds` (Maximum) per period start, in milliseconds.
    pub max_iterator_age_ms: BTreeMap<DateTime<Utc>, f64>,
    /// How complete the read was (the existing `ReadStatus`).
    pub status: ReadStatus,
}

/// No readers: nothing read, nothing behind, and a complete read that says so.
impl Default for ReadHistory {
    fn default() -> Self {
        ReadHistory {
            bytes_per_sec: BTreeMap::new(),
            max_iterator_age_ms: BTreeMap::new(),
            status: ReadStatus::Complete,
        }
    }
}

impl ReadHistory {
    /// The oldest iterator age of any period in `window` and when (`None`: no consumer read).
    /// Ages that are not numbers are left out: they prove nothing either way.
    pub fn peak_iterator_age(&self, window: &Window) -> Option<(DateTime<Utc>, f64)> {
        peak_in(&self.max_iterator_age_ms, window)
    }

    /// The most shared readers read in any period of `window`, in bytes per second, and when.
    pub fn peak_bytes(&self, window: &Window) -> Option<(DateTime<Utc>, f64)> {
        peak_in(&self.bytes_per_sec, window)
    }
}

fn peak_in(series: &BTreeMap<DateTime<Utc>, f64>, window: &Window) -> Option<(DateTime<Utc>, f64)> {
    series
        .range(window.start..window.end)
        .filter(|(_, v)| !v.is_nan())
        .map(|(t, v)| (*t, *v))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// The shared readers' demand a scale-up sizes from, beside the writers' [`crate::Rate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SharedReads {
    /// The recent peak of `GetRecords.Bytes`, in bytes per second: reads *served*, so while reads
    /// are throttled they are at most the shared capacity (as accepted writes are).
    pub bytes_per_sec: f64,
    /// A `ReadProvisionedThroughputExceeded` alarm is among the evidence: some consumer's
    /// `GetRecords` was refused.
    pub throttled: bool,
}

/// A stream's readers over the look-back as `streams status` shows them: the oldest iterator age
/// and the shared reads' peak against the shared read capacity of `shards` shards.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReadSummary {
    /// The oldest iterator age of any period, in milliseconds (`None`: no consumer read).
    pub max_iterator_age_ms: Option<f64>,
    /// The busiest period's shared reads as a share of the shared read capacity.
    pub read_peak: f64,
    /// How complete the read was.
    pub status: ReadStatus,
}

impl ReadSummary {
    pub fn of(history: &ReadHistory, window: &Window, shards: u32) -> ReadSummary {
        let capacity = f64::from(shards.max(1)) * SHARD_READ_BYTES_PER_SEC;
        ReadSummary {
            max_iterator_age_ms: history.peak_iterator_age(window).map(|(_, age)| age),
            read_peak: history.peak_bytes(window).map_or(0.0, |(_, b)| b / capacity),
            status: history.status,
        }
    }
}
