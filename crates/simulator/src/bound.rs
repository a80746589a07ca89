//! The physical bound on time to capacity: how soon *any* alarm-driven policy with this
//! project's alarm (60 s period, one evaluation period) could have enough capacity after a
//! trace's event. It is the alarm's evaluation window (one period, plus the metric delay, plus
//! SNS and Lambda) plus the fewest sequential reshards that make every shard fit the event's peak
//! second: either splits (one at a time, each of the hottest shard at its midpoint) or
//! doubling `UpdateShardCount`s (the last one straight to the need), whichever is quicker.

use crate::assumptions::{METRIC_DELAY_SECS, NOTIFY_LATENCY_SECS, RESHARD_SECS, update_shard_count_secs};
use crate::policies::ours::policy;
use crate::policies::static_peak::even_shards_needed;
use crate::trace::Trace;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// Alarm period × evaluation periods + metric delay + notification latency.
    pub detection: i64,
    /// Seconds of resharding on the quickest path; 0 when the starting count already fits.
    pub reshard: i64,
    pub splits: u32,
    pub updates: u32,
    pub uses_splits: bool,
}

impl Bound {
    pub fn total(&self) -> i64 {
        if self.reshard == 0 { 0 } else { self.detection + self.reshard }
    }
}

/// `None` for traces without an event.
pub fn physical_bound(trace: &Trace) -> Option<Bound> {
    let event = trace.event?;
    let up = policy().scale_up;
    let detection =
        i64::from(up.period_secs * up.evaluation_periods) + METRIC_DELAY_SECS + NOTIFY_LATENCY_SECS;
    let minutes = event.at / 60..event.until.min(trace.secs) / 60;
    let units = minutes.clone().map(|m| trace.peak_units_in_minute(m)).fold(0.0, f64::max);
    let hot = minutes.map(|m| trace.hot_share(m)).fold(0.0, f64::max);
    let n0 = trace.initial_shards();
    let hot_at = trace.hot_key.0 as f64 / u128::MAX as f64;

    // Splits: halve the most loaded shard until every shard fits.
    let mut ranges: Vec<(f64, f64)> =
        (0..n0).map(|i| (f64::from(i) / f64::from(n0), f64::from(i + 1) / f64::from(n0))).collect();
    let load = |(a, b): (f64, f64)| {
        units * (1.0 - hot) * (b - a) + if (a..b).contains(&hot_at) { units * hot } else { 0.0 }
    };
    let mut splits = 0u32;
    while splits < 10_000 {
        let (i, worst) = ranges
            .iter()
            .enumerate()
            .map(|(i, r)| (i, load(*r)))
            .fold((0, 0.0), |m, x| if x.1 > m.1 { x } else { m });
        if worst <= 1.0 {
            break;
        }
        let (a, b) = ranges[i];
        ranges[i] = (a, (a + b) / 2.0);
        ranges.insert(i + 1, ((a + b) / 2.0, b));
        splits += 1;
    }
    // Doubling UpdateShardCount calls to the fewest even shards that fit.
    let need = even_shards_needed(units, hot);
    let (mut n, mut uniform, mut updates) = (n0, 0, 0);
    while n < need {
        let next = (n * 2).min(need);
        uniform += update_shard_count_secs(n, next);
        n = next;
        updates += 1;
    }
    let by_splits = i64::from(splits) * RESHARD_SECS;
    let uses_splits = by_splits <= uniform;
    Some(Bound { detection, reshard: by_splits.min(uniform), splits, updates, uses_splits })
}
