//! The scale-down sweep's arithmetic: batching metric reads, and the utilisation summary.
//!
//! The sweep reads four series per stream over the look-back window: the load's two (bytes,
//! records) and the readers' two (`GetRecords.Bytes`, `GetRecords.IteratorAgeMilliseconds`). One
//! `GetMetricData` call takes at most 500 queries and returns at most 100,800 datapoints (the
//! CloudWatch quotas), so a 24 h window of 5-minute points (288 per series) fits 350 series, i.e.
//! 87 streams, per call: 300 streams cost 4 calls, 10,000 streams 115 (175 streams a call, 2 and
//! 58 calls, before the readers' series). `streams status` reads a fifth series per stream
//! (throttled records), 70 streams per call.

use serde::Serialize;

use crate::{LoadSeries, Window};

/// Queries one `GetMetricData` call accepts.
pub const MAX_QUERIES_PER_CALL: u32 = 500;
/// Datapoints one `GetMetricData` call returns.
pub const MAX_DATAPOINTS_PER_CALL: u32 = 100_800;

/// How many streams or shards of `series_each` series (bytes and records: two; `streams status`
/// adds the throttled records) one `GetMetricData` call covers for windows of `points_per_series`
/// datapoints. At least one, however long the window.
pub fn streams_per_metrics_call(points_per_series: u32, series_each: u32) -> usize {
    (series_per_metrics_call(points_per_series) / series_each.max(1) as usize).max(1)
}

/// How many series of `points_per_series` datapoints one `GetMetricData` call covers, however
/// they fall over streams: `streams whatif` packs a long history's series across streams, since
/// at 14 days of minutes (20,160 points) one call holds five series but not two streams of three.
pub fn series_per_metrics_call(points_per_series: u32) -> usize {
    (MAX_DATAPOINTS_PER_CALL / points_per_series.max(1)).clamp(1, MAX_QUERIES_PER_CALL) as usize
}

/// A stream's utilisation over the window, per dimension, as `streams status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Utilisation {
    pub bytes_peak: f64,
    pub bytes_p95: f64,
    pub records_peak: f64,
    pub records_p95: f64,
}

impl Utilisation {
    /// Peak and 95th percentile of each dimension against `shards` shards, over every period of
    /// the window; a missing datapoint counts as zero, as in the scale-down rule. The zeros are
    /// counted, not stored: the window's length must not decide how much memory this takes.
    pub fn of(series: &LoadSeries, window: &Window, shards: u32) -> Utilisation {
        let expected = usize::try_from(window.expected_points()).unwrap_or(usize::MAX);
        let stats = |f: fn(&crate::Rate, u32) -> f64| {
            let mut values: Vec<f64> =
                series.points.range(window.start..window.end).map(|(_, r)| f(r, shards)).collect();
            values.sort_by(f64::total_cmp);
            let zeros = expected.saturating_sub(values.len());
            let ranked = Ranked { values: &values, zeros };
            let total = values.len().saturating_add(zeros);
            let peak = total.checked_sub(1).map_or(0.0, |last| ranked.nth(last));
            // Nearest-rank percentile.
            let rank = ((total as f64) * 0.95).ceil() as usize;
            let p95 = if total == 0 { 0.0 } else { ranked.nth(rank.saturating_sub(1)) };
            (peak, p95)
        };
        let (bytes_peak, bytes_p95) =
            stats(|r, n| r.bytes_per_sec / crate::Rate::capacity_of(n).bytes_per_sec);
        let (records_peak, records_p95) =
            stats(|r, n| r.records_per_sec / crate::Rate::capacity_of(n).records_per_sec);
        Utilisation { bytes_peak, bytes_p95, records_peak, records_p95 }
    }

    /// The utilisation of the busiest datapoint: the larger of the two peaks, since whichever
    /// limit is reached first throttles (a datapoint's utilisation is the larger of its ratios, so
    /// the busiest one's is the larger of the two dimensions' peaks). Compared as [`Self::of`]
    /// ranks, so a peak that is not a number stays one instead of hiding behind the other.
    pub fn peak(&self) -> f64 {
        if self.bytes_peak.total_cmp(&self.records_peak).is_ge() {
            self.bytes_peak
        } else {
            self.records_peak
        }
    }
}

/// Sorted values with `zeros` more zeros merged in where they sort.
struct Ranked<'a> {
    values: &'a [f64],
    zeros: usize,
}

impl Ranked<'_> {
    /// The `k`-th smallest (from 0), in `f64::total_cmp` order.
    fn nth(&self, k: usize) -> f64 {
        let below = self.values.partition_point(|v| v.total_cmp(&0.0).is_lt());
        if k < below {
            self.values[k]
        } else if k - below < self.zeros {
            0.0
        } else {
            self.values.get(k - self.zeros).copied().unwrap_or(0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_busier_dimension_and_not_a_number_is_not_hidden() {
        let u = Utilisation { bytes_peak: 0.2, bytes_p95: 0.1, records_peak: 0.35, records_p95: 0.3 };
        assert_eq!(u.peak(), 0.35);
        assert_eq!(Utilisation { bytes_peak: 0.5, ..u }.peak(), 0.5);
        assert!(Utilisation { records_peak: f64::NAN, ..u }.peak().is_nan());
    }
}
