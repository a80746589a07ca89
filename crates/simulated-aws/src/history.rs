//! Writes a stream's past as Kinesis would have published it, for tests of what reads history
//! (the predictive pass, in memory and on the emulator).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use planner::Metric;
use reconciler::{Dimension, Jitter, MetricPoint, SeededJitter, Unit};

/// A stream's write history: one `IncomingBytes` and one `IncomingRecords` `Sum` (1 KiB records)
/// per 5-minute period of the `days` days before `now`'s period, `bytes_per_sec(t)` for the
/// period starting at `t`; nothing for a period without writes, as CloudWatch stores nothing for
/// it.
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
    let mut jitter = SeededJitter::new(seed);
    for i in (1..values.len()).rev() {
        let j = (jitter.fraction(0) * (i + 1) as f64) as usize;
        values.swap(i, j.min(i));
    }
    let dealt: BTreeMap<DateTime<Utc>, f64> = periods.into_iter().zip(values).collect();
    move |t| dealt.get(&t).copied().unwrap_or(0.0)
}
