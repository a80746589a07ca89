//! What the scale-down sweep costs as the account grows: `GetMetricData` calls, Kinesis reads and
//! CPU time for 10, 100, 1,000 and 10,000 managed streams, with zero-latency fakes so that only
//! the sweep's own work (and the fakes' bookkeeping, shown apart) is timed.
//!
//! Run with `cargo bench -p reconciler --bench sweep` (under half a minute once built). Each stream has 1–4
//! shards and a day of 5-minute `IncomingBytes` and `IncomingRecords` sums, some cold enough to
//! merge; the sweep runs in dry-run on a current-thread runtime, so wall time around it is the
//! time of one thread doing the work: the table's median is that wall time (`Instant`), and the
//! thread's CPU time from `/proc/thread-self/schedstat` summed over every run is shown beside it
//! (per run it is only tick-accurate; over many runs it is not). Medians of several runs side by
//! side, as measured on a shared machine: compare rows, do not trust a single figure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use planner::{AlarmSpec, HashKey, KINESIS_NAMESPACE, Metric, POLICY_TAG, Policy, ShardId, encode_policy};
use reconciler::scale_down::{ReviewOutcome, SweepReport, SweepSettings, sweep};
use reconciler::{
    AlarmPort, AlarmState, AlarmSummary, Context, Dimension, IoPolicy, MetricPoint, MetricPublisher,
    MetricQuery, MetricSeries, MetricsPort, PortError, Resharder, SeededJitter, StreamReader, StreamSnapshot,
    StreamStatus, TokioClock, Unit,
};
use simulated_aws::{Model, World};

const MIB: f64 = 1_048_576.0;
/// Streams in the account, and how many sweeps to time at that size.
const SIZES: [(usize, usize); 4] = [(10, 501), (100, 101), (1_000, 31), (10_000, 11)];

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    println!(
        "| streams | shards | setup | GetMetricData | ListStreams | ListTagsForStream | Describe | \
         AWS requests (adapter) | would merge | sweep median (wall) | p90 | CPU (schedstat, mean) | \
         in the fakes | per stream | per stream without the fakes |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (streams, runs) in SIZES {
        let started = Instant::now();
        let (kinesis, cloudwatch, shards) = runtime.block_on(account(streams));
        let setup = started.elapsed();
        let (kinesis, cloudwatch) = (Counted::new(kinesis), Counted::new(cloudwatch));
        let (mut times, mut in_fakes) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        let cpu_before = thread_cpu();
        let mut last = None;
        for _ in 0..runs {
            kinesis.reset();
            cloudwatch.reset();
            let started = Instant::now();
            let report = runtime.block_on(run(&kinesis, &cloudwatch));
            times.push(started.elapsed());
            in_fakes.push(kinesis.time() + cloudwatch.time());
            last = Some(report);
        }
        let cpu = cpu_before.zip(thread_cpu()).map(|(before, after)| (after - before) / runs as u32);
        let report = last.expect("at least one run");
        assert_eq!(report.reviews.len(), streams, "every stream reviewed");
        assert!(report.cursor.is_none(), "the sweep finished");
        let merging = report.reviews.iter().filter(|r| matches!(r.outcome, ReviewOutcome::WouldScale { .. }));
        let (calls, metric_calls) = (kinesis.calls(), cloudwatch.calls());
        let count = |calls: &BTreeMap<&str, u64>, name: &str| calls.get(name).copied().unwrap_or(0);
        let (list, tags, describe) =
            (count(&calls, "ListStreams"), count(&calls, "ListTagsForStream"), count(&calls, "Describe"));
        assert_eq!(count(&metric_calls, "GetMetricData"), u64::from(report.metrics_calls));
        // What aws-adapters sends for these port calls: ListStreams pages of 100 names, and a
        // describe is DescribeStreamSummary + ListShards (one page up to 1,000 shards) +
        // ListTagsForStream.
        let requests =
            (streams as u64).div_ceil(100) * list + tags + 3 * describe + u64::from(report.metrics_calls);
        let median = percentile(&mut times, 50);
        let fakes = percentile(&mut in_fakes, 50);
        println!(
            "| {streams} | {shards} | {setup:.1?} | {} | {list} | {tags} | {describe} | {requests} | {} | \
             {median:.2?} | {:.2?} | {} | {fakes:.2?} | {:.2?} | {:.2?} |",
            report.metrics_calls,
            merging.count(),
            percentile(&mut times, 90),
            cpu.map_or("n/a".to_owned(), |cpu| format!("{cpu:.2?}")),
            median / streams as u32,
            median.saturating_sub(fakes) / streams as u32,
        );
    }
}

/// One dry-run sweep of the whole account.
async fn run(kinesis: &Counted<World>, cloudwatch: &Counted<World>) -> SweepReport {
    let io = IoPolicy::new(Arc::new(TokioClock::new(now())))
        .until(now() + chrono::Duration::seconds(900))
        .jitter(SeededJitter::new(7));
    let cx = Context::new(kinesis, cloudwatch, io);
    let settings = SweepSettings { dry_run: true, ..SweepSettings::default() };
    sweep(&cx, &settings, None).await.expect("a sweep of fakes")
}

/// `streams` managed streams of 1–4 shards with a day of data each: a third cold (20 % of their
/// capacity), a third warm (70 %), a third cold but for one spike. Returns the shard total.
async fn account(streams: usize) -> (World, World, u64) {
    let world = World::new(Arc::new(TokioClock::new(now())), Model::instant());
    let (kinesis, cloudwatch) = (world.clone(), world);
    let tag: BTreeMap<String, String> = [(POLICY_TAG.to_owned(), encode_policy(&Policy::default()))].into();
    let mut total = 0;
    for i in 0..streams {
        let name = format!("stream-{i:05}");
        let shards = 1 + (i % 4) as u32;
        total += u64::from(shards);
        kinesis.add_stream(&name, shards, now() - chrono::Duration::days(30));
        kinesis.add_tags(&name, &tag).await.expect("tag");
        let share = [0.2, 0.7, 0.2][i % 3];
        let spike = (i % 3 == 2).then_some(100);
        let dimensions = vec![Dimension::stream(&name)];
        let points: Vec<MetricPoint> = (1..=288i64)
            .flat_map(|p| {
                let share = if Some(p) == spike { 0.95 } else { share };
                let capacity = f64::from(shards) * 300.0;
                [
                    (Metric::IncomingBytes, share * capacity * MIB),
                    (Metric::IncomingRecords, share * capacity * 1000.0),
                ]
                .map(|(metric, value)| MetricPoint {
                    namespace: KINESIS_NAMESPACE.into(),
                    metric: metric.as_str().into(),
                    dimensions: dimensions.clone(),
                    timestamp: now() - chrono::Duration::minutes(5 * p),
                    value,
                    unit: if metric == Metric::IncomingBytes { Unit::Bytes } else { Unit::Count },
                })
            })
            .collect();
        cloudwatch.put_metric_data(&points).await.expect("put metric data");
    }
    (kinesis, cloudwatch, total)
}

/// CPU time of this thread so far, from `/proc/thread-self/schedstat` (nanoseconds on the CPU;
/// updated at scheduler ticks and switches, so only a sum over many runs is precise).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

fn percentile(times: &mut [Duration], p: usize) -> Duration {
    times.sort();
    times[(times.len() * p / 100).min(times.len() - 1)]
}

/// A port that counts the calls made through it and the time spent inside the fake.
struct Counted<T> {
    inner: T,
    seen: Mutex<(BTreeMap<&'static str, u64>, Duration)>,
}

impl<T> Counted<T> {
    fn new(inner: T) -> Self {
        Counted { inner, seen: Mutex::default() }
    }

    fn reset(&self) {
        *self.seen.lock().expect("not poisoned") = Default::default();
    }

    fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.seen.lock().expect("not poisoned").0.clone()
    }

    fn time(&self) -> Duration {
        self.seen.lock().expect("not poisoned").1
    }

    /// Times `call` (a fake with no latency completes on its first poll) and counts it.
    async fn note<R>(&self, name: &'static str, call: impl Future<Output = R>) -> R {
        let started = Instant::now();
        let result = call.await;
        let mut seen = self.seen.lock().expect("not poisoned");
        *seen.0.entry(name).or_default() += 1;
        seen.1 += started.elapsed();
        result
    }
}

impl<T: StreamReader + Sync> StreamReader for Counted<T> {
    async fn describe(&self, stream: &str) -> Result<StreamSnapshot, PortError> {
        self.note("Describe", self.inner.describe(stream)).await
    }

    async fn status(&self, stream: &str) -> Result<StreamStatus, PortError> {
        self.note("DescribeStreamSummary", self.inner.status(stream)).await
    }

    async fn list_streams(&self) -> Result<Vec<String>, PortError> {
        self.note("ListStreams", self.inner.list_streams()).await
    }

    async fn tags(&self, stream: &str) -> Result<BTreeMap<String, String>, PortError> {
        self.note("ListTagsForStream", self.inner.tags(stream)).await
    }
}

impl<T: Resharder + Sync> Resharder for Counted<T> {
    async fn split_shard(&self, stream: &str, shard: &ShardId, at: HashKey) -> Result<(), PortError> {
        self.note("SplitShard", self.inner.split_shard(stream, shard, at)).await
    }

    async fn merge_shards(&self, stream: &str, shard: &ShardId, adjacent: &ShardId) -> Result<(), PortError> {
        self.note("MergeShards", self.inner.merge_shards(stream, shard, adjacent)).await
    }

    async fn update_shard_count(&self, stream: &str, target: u32) -> Result<(), PortError> {
        self.note("UpdateShardCount", self.inner.update_shard_count(stream, target)).await
    }

    async fn enable_shard_metrics(&self, stream: &str, metrics: &[Metric]) -> Result<(), PortError> {
        self.note("EnableEnhancedMonitoring", self.inner.enable_shard_metrics(stream, metrics)).await
    }

    async fn add_tags(&self, stream: &str, tags: &BTreeMap<String, String>) -> Result<(), PortError> {
        self.note("AddTagsToStream", self.inner.add_tags(stream, tags)).await
    }

    async fn remove_tags(&self, stream: &str, keys: &[String]) -> Result<(), PortError> {
        self.note("RemoveTagsFromStream", self.inner.remove_tags(stream, keys)).await
    }
}

impl<T: MetricsPort + Sync> MetricsPort for Counted<T> {
    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<MetricSeries>, PortError> {
        self.note("GetMetricData", self.inner.get_metric_data(queries, start, end)).await
    }
}

impl<T: AlarmPort + Sync> AlarmPort for Counted<T> {
    async fn put_alarm(&self, spec: &AlarmSpec) -> Result<(), PortError> {
        self.note("PutMetricAlarm", self.inner.put_alarm(spec)).await
    }

    async fn describe_alarms(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.note("DescribeAlarms", self.inner.describe_alarms(prefix)).await
    }

    async fn describe_alarm(&self, name: &str) -> Result<Option<AlarmSummary>, PortError> {
        self.note("DescribeAlarms", self.inner.describe_alarm(name)).await
    }

    async fn alarms_in_alarm(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.note("DescribeAlarms", self.inner.alarms_in_alarm(prefix)).await
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), PortError> {
        self.note("DeleteAlarms", self.inner.delete_alarms(names)).await
    }

    async fn set_alarm_state(&self, name: &str, state: AlarmState, reason: &str) -> Result<(), PortError> {
        self.note("SetAlarmState", self.inner.set_alarm_state(name, state, reason)).await
    }
}
