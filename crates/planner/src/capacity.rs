//! Capacity math: what a shard can take, and how CloudWatch `Sum` datapoints become rates.
//!
//! A provisioned shard accepts up to 1 MiB/s and 1,000 records/s of writes (Kinesis quotas). A
//! stream's provisioned capacity is that times its open shard count. Utilisation is always the
//! *larger* of the bytes and records ratios, because whichever limit is hit first throttles.
//!
//! Reads have limits of their own: each shard serves 2 MiB/s and 5 `GetRecords` calls a second,
//! shared by every consumer that is not on enhanced fan-out (each enhanced fan-out consumer gets
//! its own 2 MiB/s per shard and takes nothing from the shared limit).

use serde::{Deserialize, Serialize};

use crate::MAX_SHARDS_PER_STREAM;

/// Write limit of one shard in bytes per second (1 MiB).
pub const SHARD_BYTES_PER_SEC: f64 = 1_048_576.0;
/// Write limit of one shard in records per second.
pub const SHARD_RECORDS_PER_SEC: f64 = 1_000.0;

/// Shared read limit of one shard in bytes per second (2 MiB), for every consumer not on enhanced
/// fan-out together.
pub const SHARD_READ_BYTES_PER_SEC: f64 = 2.0 * 1_048_576.0;
/// Shared `GetRecords` calls one shard serves a second. Each polling consumer calls every shard it
/// reads, so the calls a shard gets do not fall as shards are added: a stream throttled on this
/// limit needs fewer polling consumers (or enhanced fan-out), not more shards.
pub const SHARD_GET_RECORDS_PER_SEC: f64 = 5.0;

/// A write rate, in bytes and records per second.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rate {
    pub bytes_per_sec: f64,
    pub records_per_sec: f64,
}

impl Rate {
    pub const ZERO: Rate = Rate { bytes_per_sec: 0.0, records_per_sec: 0.0 };

    /// Converts the `Sum` statistic of `IncomingBytes` and `IncomingRecords` over one period of
    /// `period_secs` seconds (60 for 1-minute, 300 for 5-minute datapoints) to per-second rates.
    pub fn from_sums(bytes_sum: f64, records_sum: f64, period_secs: u32) -> Rate {
        let secs = f64::from(period_secs.max(1));
        Rate { bytes_per_sec: bytes_sum / secs, records_per_sec: records_sum / secs }
    }

    /// The provisioned capacity of `shards` open shards.
    pub fn capacity_of(shards: u32) -> Rate {
        let n = f64::from(shards);
        Rate { bytes_per_sec: n * SHARD_BYTES_PER_SEC, records_per_sec: n * SHARD_RECORDS_PER_SEC }
    }

    pub fn plus(self, other: Rate) -> Rate {
        Rate {
            bytes_per_sec: self.bytes_per_sec + other.bytes_per_sec,
            records_per_sec: self.records_per_sec + other.records_per_sec,
        }
    }

    pub fn scaled(self, factor: f64) -> Rate {
        Rate { bytes_per_sec: self.bytes_per_sec * factor, records_per_sec: self.records_per_sec * factor }
    }

    /// The element-wise maximum: the peak of both dimensions (not necessarily at the same instant).
    pub fn max(self, other: Rate) -> Rate {
        Rate {
            bytes_per_sec: self.bytes_per_sec.max(other.bytes_per_sec),
            records_per_sec: self.records_per_sec.max(other.records_per_sec),
        }
    }

    /// Utilisation of `shards` shards carrying this rate: the larger of the two ratios, `0.0..`.
    pub fn utilisation(&self, shards: u32) -> f64 {
        let cap = Rate::capacity_of(shards.max(1));
        (self.bytes_per_sec / cap.bytes_per_sec).max(self.records_per_sec / cap.records_per_sec)
    }

    /// The fewest shards that carry this rate at or below `target` utilisation: at least one, at
    /// most [`MAX_SHARDS_PER_STREAM`] (no stream can have more, however huge the datapoint).
    pub fn shards_needed(&self, target: Ratio) -> u32 {
        let per_shard = Rate::capacity_of(1).scaled(target.get());
        let bytes = self.bytes_per_sec / per_shard.bytes_per_sec;
        let records = self.records_per_sec / per_shard.records_per_sec;
        count_up_to(bytes.max(records), MAX_SHARDS_PER_STREAM).max(1)
    }
}

/// `x` rounded up to a whole count, at most `cap`. Says what `as u32` would do silently, and
/// bounds it: a load divided by a tiny target is `inf` or astronomically large and counts as
/// `cap`; `NaN` (no number at all) is no evidence of load and counts as zero.
pub(crate) fn count_up_to(x: f64, cap: u32) -> u32 {
    if x.is_nan() || x <= 0.0 {
        0
    } else if x >= f64::from(cap) {
        cap
    } else {
        // 0 < x < cap <= u32::MAX, so the rounded value fits.
        x.ceil() as u32
    }
}

/// A fraction of provisioned capacity in `(0, 1]`, such as the 80 % scale-up threshold.
/// Serialises as the bare fraction; there is deliberately no `Deserialize`, so every `Ratio` in the
/// program went through [`Ratio::new`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Ratio(f64);

impl Ratio {
    /// `None` unless `0 < value <= 1`.
    pub fn new(value: f64) -> Option<Ratio> {
        (value > 0.0 && value <= 1.0).then_some(Ratio(value))
    }

    /// From a whole or fractional percentage such as `80` or `62.5`.
    pub fn from_percent(percent: f64) -> Option<Ratio> {
        Ratio::new(percent / 100.0)
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn percent(self) -> f64 {
        self.0 * 100.0
    }

    /// As a percentage without float noise, for writing it down: 0.55 gives `55`, not
    /// `55.00000000000001`. Six decimals survive, far finer than any threshold anyone sets.
    pub fn written_percent(self) -> f64 {
        (self.percent() * 1e6).round() / 1e6
    }
}
