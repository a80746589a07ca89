//! Observing a stream's load: CloudWatch `Sum` datapoints turned into the planner's inputs.
//!
//! Both metrics are read in one `GetMetricData` call (two `MetricStat` queries), aligned by
//! timestamp and converted to rates by the planner's [`LoadSeries::from_sums`], so the Lambdas and
//! the CLI decide from exactly the same numbers.

use chrono::{DateTime, Utc};
use planner::{KINESIS_NAMESPACE, LoadSeries, Metric, Rate, align_down};

use crate::ports::{Dimension, MetricQuery, MetricsPort, PortError, Statistic};

/// The two stream-level `Sum` queries the scaler reads, with ids `{prefix}b` and `{prefix}r`
/// (ids must be unique within one call and start with a lower-case letter).
pub fn load_queries(stream: &str, period_secs: u32, prefix: &str) -> [MetricQuery; 2] {
    let query = |metric: Metric, suffix: &str| MetricQuery {
        id: format!("{prefix}{suffix}"),
        namespace: KINESIS_NAMESPACE.to_owned(),
        metric: metric.as_str().to_owned(),
        dimensions: vec![Dimension::stream(stream)],
        period_secs,
        stat: Statistic::Sum,
    };
    [query(Metric::IncomingBytes, "b"), query(Metric::IncomingRecords, "r")]
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
    let queries = load_queries(stream, period_secs, "s");
    let (start, end) = (align_down(start, period_secs), align_down(end, period_secs));
    let series = metrics.get_metric_data(&queries, start, end).await?;
    let points = |id: &str| series.iter().find(|s| s.id == id).map(|s| s.points.clone()).unwrap_or_default();
    Ok(LoadSeries::from_sums(period_secs, points("sb"), points("sr")))
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
