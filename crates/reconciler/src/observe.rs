//! Observing a stream's load: CloudWatch `Sum` datapoints turned into the planner's inputs.
//!
//! Both metrics are read in one `GetMetricData` call (two `MetricStat` queries), aligned by
//! timestamp and converted to rates by the planner's [`LoadSeries::from_sums`], so the Lambdas and
//! the CLI decide from exactly the same numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use planner::{KINESIS_NAMESPACE, LoadSeries, Metric, Rate, ShardId, align_down, streams_per_metrics_call};

use crate::ports::{Dimension, MetricQuery, MetricSeries, MetricsPort, PortError, Statistic};

/// The two `Sum` queries the scaler reads for a stream (`shard` none) or one of its shards
/// (enhanced metrics, `ShardId` dimension), with ids `{prefix}b` and `{prefix}r` (ids must be
/// unique within one call and start with a lower-case letter).
pub fn load_queries(
    stream: &str,
    shard: Option<&ShardId>,
    period_secs: u32,
    prefix: &str,
) -> [MetricQuery; 2] {
    let mut dimensions = vec![Dimension::stream(stream)];
    dimensions.extend(shard.map(|id| Dimension::new("ShardId", id.as_str())));
    let query = |metric: Metric, suffix: &str| MetricQuery {
        id: format!("{prefix}{suffix}"),
        namespace: KINESIS_NAMESPACE.to_owned(),
        metric: metric.as_str().to_owned(),
        dimensions: dimensions.clone(),
        period_secs,
        stat: Statistic::Sum,
    };
    [query(Metric::IncomingBytes, "b"), query(Metric::IncomingRecords, "r")]
}

/// The bytes and records series with ids `{prefix}b` / `{prefix}r` out of one call's answer.
pub(crate) fn series_of(answer: &[MetricSeries], period_secs: u32, prefix: &str) -> LoadSeries {
    let points =
        |id: String| answer.iter().find(|s| s.id == id).map(|s| s.points.clone()).unwrap_or_default();
    LoadSeries::from_sums(period_secs, points(format!("{prefix}b")), points(format!("{prefix}r")))
}

/// The stream's write load over `[start, end)` at `period_secs` resolution.
///
/// Both ends are aligned down to whole periods first: CloudWatch buckets datapoints from the
/// start time, so an unaligned start would shift every bucket and split each period's sum across
/// two of them.
pub async fn load_series<M: MetricsPort>(
    metrics: &M,
    stream: &str,
    period_secs: u32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<LoadSeries, PortError> {
    let queries = load_queries(stream, None, period_secs, "s");
    let (start, end) = (align_down(start, period_secs), align_down(end, period_secs));
    let series = metrics.get_metric_data(&queries, start, end).await?;
    Ok(series_of(&series, period_secs, "s"))
}

/// Each shard's write load over `[start, end)` from Kinesis enhanced (shard-level) metrics, in as
/// few `GetMetricData` calls as the per-call limits allow (returned with the series).
pub async fn shard_load_series<M: MetricsPort>(
    metrics: &M,
    stream: &str,
    shards: &[ShardId],
    period_secs: u32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(BTreeMap<ShardId, LoadSeries>, u32), PortError> {
    let (start, end) = (align_down(start, period_secs), align_down(end, period_secs));
    let points = ((end - start).num_seconds() / i64::from(period_secs.max(1))) as u32;
    let mut loads = BTreeMap::new();
    let mut calls = 0;
    for chunk in shards.chunks(streams_per_metrics_call(points)) {
        let queries: Vec<MetricQuery> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, id)| load_queries(stream, Some(id), period_secs, &format!("h{i}")))
            .collect();
        let answer = metrics.get_metric_data(&queries, start, end).await?;
        calls += 1;
        for (i, id) in chunk.iter().enumerate() {
            loads.insert(id.clone(), series_of(&answer, period_secs, &format!("h{i}")));
        }
    }
    Ok((loads, calls))
}

/// The peak of each dimension over a series: what a scale-up decision sizes for.
pub fn peak_rate(series: &LoadSeries) -> Rate {
    series.points.values().fold(Rate::ZERO, |peak, r| peak.max(*r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_takes_each_dimension_at_its_own_maximum() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let series =
            LoadSeries::from_sums(60, [(t(0), 60.0), (t(60), 120.0)], [(t(0), 600.0), (t(60), 60.0)]);
        assert_eq!(peak_rate(&series), Rate { bytes_per_sec: 2.0, records_per_sec: 10.0 });
    }
}
