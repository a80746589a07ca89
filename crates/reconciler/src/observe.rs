//! Observing a stream's load: CloudWatch `Sum` datapoints turned into the planner's inputs.
//!
//! Both metrics are read in one `GetMetricData` call (two `MetricStat` queries), aligned by
//! timestamp and converted to rates by the planner's [`LoadSeries::from_sums`], so the Lambdas and
//! the CLI decide from exactly the same numbers. The readers' two series (`GetRecords.Bytes`,
//! `GetRecords.IteratorAgeMilliseconds`) ride in the same calls ([`read_queries`]). Each series keeps how complete CloudWatch said
//! its read was ([`SeriesRead`]): the scale-down never takes a partial read for an idle stream.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use planner::{
    KINESIS_NAMESPACE, LoadSeries, Metric, ReadHistory, ReadStatus, SeriesRead, ShardId, align_down,
    series_per_metrics_call, streams_per_metrics_call,
};

use crate::io::Io;
use crate::ports::{Dimension, MetricQuery, MetricSeries, MetricsPort, PortError, Statistic};

/// The series [`load_queries`] reads for a stream or a shard: bytes and records.
pub(crate) const LOAD_SERIES: u32 = 2;

/// The series [`read_queries`] reads for a stream: bytes read and the iterator age.
pub(crate) const READ_SERIES: u32 = 2;

/// The two `Sum` queries the scaler reads for a stream (`shard` none) or one of its shards
/// (enhanced metrics, `ShardId` dimension), with ids `{prefix}b` and `{prefix}r` (ids must be
/// unique within one call and start with a lower-case letter).
pub fn load_queries(
    stream: &str,
    shard: Option<&ShardId>,
    period_secs: u32,
    prefix: &str,
) -> [MetricQuery; LOAD_SERIES as usize] {
    let mut dimensions = vec![Dimension::stream(stream)];
    dimensions.extend(shard.map(|id| Dimension::new("ShardId", id.as_str())));
    [
        sum_query(Metric::IncomingBytes, dimensions.clone(), period_secs, format!("{prefix}b")),
        sum_query(Metric::IncomingRecords, dimensions, period_secs, format!("{prefix}r")),
    ]
}

/// The stream's `WriteProvisionedThroughputExceeded` `Sum`, with id `{prefix}t`: the records its
/// writers had rejected, which `streams status` weighs for its advice ([`planner::advise`]).
pub(crate) fn throttle_query(stream: &str, period_secs: u32, prefix: &str) -> MetricQuery {
    let dimensions = vec![Dimension::stream(stream)];
    sum_query(Metric::WriteProvisionedThroughputExceeded, dimensions, period_secs, format!("{prefix}t"))
}

/// What the stream's shared-throughput readers did, with ids `{prefix}g` (`GetRecords.Bytes`,
/// `Sum`) and `{prefix}a` (`GetRecords.IteratorAgeMilliseconds`, `Maximum`: the slowest consumer).
pub(crate) fn read_queries(
    stream: &str,
    period_secs: u32,
    prefix: &str,
) -> [MetricQuery; READ_SERIES as usize] {
    let dimensions = vec![Dimension::stream(stream)];
    [
        sum_query(Metric::GetRecordsBytes, dimensions.clone(), period_secs, format!("{prefix}g")),
        MetricQuery {
            stat: Statistic::Maximum,
            ..sum_query(Metric::GetRecordsIteratorAge, dimensions, period_secs, format!("{prefix}a"))
        },
    ]
}

/// The readers' history out of one call's answer to [`read_queries`]: bytes as per-second rates,
/// ages as they are, as complete as the less complete of the two (a series missing from the
/// answer counts as `PartialData`, as in [`series_of`]).
pub(crate) fn reads_of(answer: &[MetricSeries], period_secs: u32, prefix: &str) -> ReadHistory {
    let read = |id: String| {
        answer.iter().find(|s| s.id == id).map_or((BTreeMap::new(), ReadStatus::PartialData), |s| {
            (s.points.iter().copied().collect(), s.status)
        })
    };
    let ((bytes, bytes_status), (ages, ages_status)) =
        (read(format!("{prefix}g")), read(format!("{prefix}a")));
    let secs = f64::from(period_secs.max(1));
    ReadHistory {
        bytes_per_sec: bytes.into_iter().map(|(t, sum): (DateTime<Utc>, f64)| (t, sum / secs)).collect(),
        max_iterator_age_ms: ages,
        status: bytes_status.worst(ages_status),
    }
}

fn sum_query(metric: Metric, dimensions: Vec<Dimension>, period_secs: u32, id: String) -> MetricQuery {
    MetricQuery {
        id,
        namespace: KINESIS_NAMESPACE.to_owned(),
        metric: metric.as_str().to_owned(),
        dimensions,
        period_secs,
        stat: Statistic::Sum,
    }
}

/// The `Sum`s of the series [`throttle_query`] named `{prefix}t` asked for, unchecked (the
/// planner's [`planner::throttled_records`] weighs them); none if the answer lacks it.
pub(crate) fn throttles_of<'a>(answer: &'a [MetricSeries], prefix: &str) -> impl Iterator<Item = f64> + 'a {
    let id = format!("{prefix}t");
    answer.iter().find(|s| s.id == id).into_iter().flat_map(|s| s.points.iter().map(|(_, v)| *v))
}

/// The bytes and records series with ids `{prefix}b` / `{prefix}r` out of one call's answer, as
/// complete as the less complete of the two. A series missing from the answer counts as
/// `PartialData`: nothing proves it empty.
pub(crate) fn series_of(answer: &[MetricSeries], period_secs: u32, prefix: &str) -> SeriesRead {
    let read = |id: String| {
        answer
            .iter()
            .find(|s| s.id == id)
            .map_or((Vec::new(), ReadStatus::PartialData), |s| (s.points.clone(), s.status))
    };
    let ((bytes, bytes_status), (records, records_status)) =
        (read(format!("{prefix}b")), read(format!("{prefix}r")));
    SeriesRead {
        series: LoadSeries::from_sums(period_secs, bytes, records),
        status: bytes_status.worst(records_status),
    }
}

/// The stream's write load over `[start, end)` at `period_secs` resolution, and with `reads` the
/// shared readers' `GetRecords.Bytes` per second of each period, in the same call (empty without).
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
    reads: bool,
) -> Result<(LoadSeries, Vec<f64>), PortError> {
    let mut queries = load_queries(stream, None, period_secs, "s").to_vec();
    if reads {
        let [bytes, _age] = read_queries(stream, period_secs, "s");
        queries.push(bytes);
    }
    let (start, end) = (align_down(start, period_secs), align_down(end, period_secs));
    let series = metrics.get_metric_data(&queries, start, end).await?;
    let read_bytes = reads_of(&series, period_secs, "s").bytes_per_sec.into_values().collect();
    Ok((series_of(&series, period_secs, "s").series, read_bytes))
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
) -> Result<(BTreeMap<ShardId, SeriesRead>, u32), PortError> {
    let (start, end) = (align_down(start, period_secs), align_down(end, period_secs));
    let points = ((end - start).num_seconds() / i64::from(period_secs.max(1))) as u32;
    let mut loads = BTreeMap::new();
    let mut calls = 0;
    for chunk in shards.chunks(streams_per_metrics_call(points, LOAD_SERIES)) {
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

/// The series [`histories`] reads for a stream: the load's two and the throttled records.
const HISTORY_SERIES: usize = LOAD_SERIES as usize + 1;

/// One stream's history as [`histories`] read it: each series' `Sum` datapoints, how complete
/// the read was (the least complete of the three), and the `GetMetricData` calls its series rode
/// in (a call shared with other streams counts for each).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamHistory {
    pub stream: String,
    pub bytes: Vec<(DateTime<Utc>, f64)>,
    pub records: Vec<(DateTime<Utc>, f64)>,
    pub throttled: Vec<(DateTime<Utc>, f64)>,
    pub status: ReadStatus,
    pub calls: u32,
}

/// Every stream's `IncomingBytes`, `IncomingRecords` and `WriteProvisionedThroughputExceeded`
/// over `span` (`[start, end)`) at `period_secs`, the series packed across streams into as few
/// `GetMetricData` calls as the per-call limits allow ([`series_per_metrics_call`]), each call
/// read as the I/O layer reads it (a timed-out one in halves). `progress` is told after each
/// call how many streams are complete. Returns the histories in `streams` order and the calls
/// sent.
pub async fn histories<M: MetricsPort + Sync>(
    metrics: &Io<M>,
    streams: &[String],
    period_secs: u32,
    span: std::ops::Range<DateTime<Utc>>,
    mut progress: impl FnMut(usize, usize),
) -> Result<(Vec<StreamHistory>, u32), PortError> {
    let (start, end) = (align_down(span.start, period_secs), align_down(span.end, period_secs));
    let points = ((end - start).num_seconds() / i64::from(period_secs.max(1))).clamp(1, i64::from(u32::MAX));
    // (stream index, query): the load's two series and the throttling ([`HISTORY_SERIES`]),
    // ids `s{i}b|r|t`.
    let queries: Vec<(usize, MetricQuery)> = streams
        .iter()
        .enumerate()
        .flat_map(|(i, name)| {
            let prefix = format!("s{i}");
            load_queries(name, None, period_secs, &prefix)
                .into_iter()
                .chain([throttle_query(name, period_secs, &prefix)])
                .map(move |q| (i, q))
        })
        .collect();
    let mut answers = Vec::with_capacity(queries.len());
    let mut calls_of = vec![0u32; streams.len()];
    let mut total = 0u32;
    for chunk in queries.chunks(series_per_metrics_call(points as u32)) {
        let part: Vec<MetricQuery> = chunk.iter().map(|(_, q)| q.clone()).collect();
        let before = metrics.policy().calls_of("GetMetricData");
        let series = metrics.get_metric_data(&part, start, end).await?;
        let calls = u32::try_from(metrics.policy().calls_of("GetMetricData") - before).unwrap_or(u32::MAX);
        total = total.saturating_add(calls);
        let (first, last) = (chunk[0].0, chunk[chunk.len() - 1].0);
        for c in &mut calls_of[first..=last] {
            *c = c.saturating_add(calls);
        }
        answers.extend(series);
        progress(answers.len() / HISTORY_SERIES, streams.len());
    }
    let histories = streams
        .iter()
        .enumerate()
        .map(|(i, name)| history_of(&answers, name, &format!("s{i}"), calls_of[i]))
        .collect();
    Ok((histories, total))
}

/// The history of `stream` out of an answer to [`load_queries`] and [`throttle_query`] with ids
/// `{prefix}b|r|t`, its series' `Sum`s as read, `calls` the calls they rode in. A series missing
/// from the answer counts as `PartialData`, as in [`series_of`].
pub(crate) fn history_of(answer: &[MetricSeries], stream: &str, prefix: &str, calls: u32) -> StreamHistory {
    let find = |suffix: char| {
        let id = format!("{prefix}{suffix}");
        answer
            .iter()
            .find(|s| s.id == id)
            .map_or((Vec::new(), ReadStatus::PartialData), |s| (s.points.clone(), s.status))
    };
    let ((bytes, b), (records, r), (throttled, t)) = (find('b'), find('r'), find('t'));
    StreamHistory { stream: stream.to_owned(), bytes, records, throttled, status: b.worst(r).worst(t), calls }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{IoPolicy, ReadStatus, SeededJitter, TokioClock};

    /// CloudWatch with no datapoints, recording how many queries each call held.
    #[derive(Default)]
    struct Empty(Mutex<Vec<usize>>);

    impl MetricsPort for Empty {
        async fn get_metric_data(
            &self,
            queries: &[MetricQuery],
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Vec<MetricSeries>, PortError> {
            self.0.lock().unwrap().push(queries.len());
            Ok(queries
                .iter()
                .map(|q| MetricSeries {
                    id: q.id.clone(),
                    label: None,
                    points: vec![],
                    status: ReadStatus::Complete,
                })
                .collect())
        }
    }

    /// The histories, the calls counted, the calls CloudWatch saw (queries each), the progress told.
    type Read = (Vec<StreamHistory>, u32, Vec<usize>, Vec<(usize, usize)>);

    fn read(streams: usize, points: i64) -> Read {
        let names: Vec<String> = (0..streams).map(|i| format!("s{i}")).collect();
        let end: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let start = end - chrono::Duration::minutes(points);
        let mut progress = Vec::new();
        let cloudwatch = Empty::default();
        let policy = IoPolicy::new(Arc::new(TokioClock::new(end))).jitter(SeededJitter::new(1));
        let io = Io::new(&cloudwatch, Arc::new(policy));
        let (h, calls) =
            block_on(histories(&io, &names, 60, start..end, |done, of| progress.push((done, of)))).unwrap();
        let log = cloudwatch.0.lock().unwrap().clone();
        (h, calls, log, progress)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
    }

    #[test]
    fn fourteen_days_of_minutes_pack_five_series_a_call_across_streams() {
        // 20,160 points a series: 100,800 / 20,160 = 5 series a call; 3 streams × 3 series = 9.
        let (h, calls, log, progress) = read(3, 14 * 1440);
        assert_eq!(calls, 2);
        assert_eq!(log, [5, 4]);
        assert_eq!(h.iter().map(|s| s.calls).collect::<Vec<_>>(), [1, 2, 1]);
        assert_eq!(progress, [(1, 3), (3, 3)]);
        assert!(h.iter().all(|s| s.status == ReadStatus::Complete && s.bytes.is_empty()));
    }

    #[test]
    fn a_short_window_reads_many_streams_in_one_call_up_to_500_queries() {
        let (_, calls, log, _) = read(200, 60);
        assert_eq!((calls, log.len()), (2, 2));
        assert_eq!(log, [500, 100]);
    }
}
