//! The scale-down sweep against Kinesis and CloudWatch in memory: which streams it merges, which
//! it leaves alone and why, how few metric reads it makes, and how it hands on when time runs out.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::{
    Advice, KINESIS_NAMESPACE, LAST_SCALED_TAG, Metric, POLICY_TAG, Policy, alarm_specs, encode_policy,
    shard_alarm_prefix, shard_alarm_specs,
};
use reconciler::scale_down::{ReviewOutcome, SweepReport, SweepSettings, sweep};
use reconciler::scale_up::SkipCode;
use reconciler::{
    AlarmPort, Context, Dimension, ExecuteSettings, IoPolicy, MetricPoint, MetricPublisher, ReadStatus,
    Resharder, Scope, SeededJitter, StreamAdmin, StreamReader, TokioClock, Unit,
};
use simulated_aws::{Model, World};

const MIB: f64 = 1_048_576.0;
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// Kinesis and CloudWatch of one account in memory (one world, both ports) at `now()`, whose
/// reads take `read_latency`.
fn aws_with(read_latency: Duration) -> (World, World) {
    let world = World::new(Arc::new(TokioClock::new(now())), Model { read_latency, ..Model::instant() });
    (world.clone(), world)
}

/// Created a month ago: a full look-back of history.
fn a_month_ago() -> DateTime<Utc> {
    now() - chrono::Duration::days(30)
}

fn aws() -> (World, World) {
    aws_with(Duration::ZERO)
}

async fn managed(kinesis: &World, cloudwatch: &World, name: &str, shards: u32, policy: &Policy) {
    kinesis.add_stream(name, shards, a_month_ago());
    kinesis.add_tags(name, &[(POLICY_TAG.to_owned(), encode_policy(policy))].into()).await.unwrap();
    for spec in alarm_specs(name, shards, policy, &[TOPIC.to_owned()]) {
        cloudwatch.put_alarm(&spec).await.unwrap();
    }
}

/// A day of 5-minute `Sum`s of the stream's IncomingBytes at `mib_per_sec`, with `spike` at one period.
async fn day(cloudwatch: &World, stream: &str, mib_per_sec: f64, spike: Option<f64>) {
    day_of(cloudwatch, vec![Dimension::stream(stream)], mib_per_sec, spike).await;
}

/// The same for the metric with `dimensions` (a shard's, with `ShardId`).
async fn day_of(cloudwatch: &World, dimensions: Vec<Dimension>, mib_per_sec: f64, spike: Option<f64>) {
    let points: Vec<MetricPoint> = (1..=288)
        .map(|i| {
            let rate = if i == 100 { spike.unwrap_or(mib_per_sec) } else { mib_per_sec };
            MetricPoint {
                namespace: KINESIS_NAMESPACE.into(),
                metric: Metric::IncomingBytes.as_str().into(),
                dimensions: dimensions.clone(),
                timestamp: now() - chrono::Duration::minutes(5 * i),
                value: rate * MIB * 300.0,
                unit: Unit::Bytes,
            }
        })
        .collect();
    cloudwatch.put_metric_data(&points).await.unwrap();
}

async fn run(kinesis: &World, cloudwatch: &World, settings: &SweepSettings) -> SweepReport {
    run_in(kinesis, cloudwatch, settings, "").await
}

/// One sweep at `now()` of the streams under `prefix`, with 900 s to go.
async fn run_in(kinesis: &World, cloudwatch: &World, settings: &SweepSettings, prefix: &str) -> SweepReport {
    let cx = invocation(kinesis, cloudwatch, Duration::from_secs(900), prefix);
    sweep(&cx, settings, None).await.unwrap()
}

/// An invocation starting now, on the world's clock, with `left` before its deadline, over the
/// streams under `prefix`.
fn invocation(kinesis: &World, cloudwatch: &World, left: Duration, prefix: &str) -> Context<World, World> {
    let io = IoPolicy::new(kinesis.clock())
        .until(kinesis.now() + chrono::Duration::from_std(left).unwrap())
        .backoff(ExecuteSettings::default().backoff)
        .jitter(SeededJitter::new(5));
    let execute = ExecuteSettings { poll: Duration::from_millis(10), ..ExecuteSettings::default() };
    let scope = Scope { stream_prefix: prefix.into(), ..Scope::default() };
    Context::new(kinesis.clone(), cloudwatch.clone(), io).with_scope(scope).with_execute(execute)
}

fn outcome<'r>(report: &'r SweepReport, stream: &str) -> &'r ReviewOutcome {
    &report
        .reviews
        .iter()
        .find(|r| r.stream == stream)
        .unwrap_or_else(|| panic!("{stream} not reviewed"))
        .outcome
}

fn settings() -> SweepSettings {
    SweepSettings::default()
}

#[tokio::test(start_paused = true)]
async fn a_cold_stream_is_halved_and_its_alarms_rearmed_while_a_hot_one_is_left_alone() {
    let (kinesis, cloudwatch) = aws();
    let policy = Policy::default();
    managed(&kinesis, &cloudwatch, "cold", 4, &policy).await;
    managed(&kinesis, &cloudwatch, "spiky", 4, &policy).await;
    // 0.9 MiB/s on 4 shards: 2 carry it at 60 %.
    day(&cloudwatch, "cold", 0.9, None).await;
    day(&cloudwatch, "spiky", 0.9, Some(2.1)).await;
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert!(
        matches!(outcome(&report, "cold"), ReviewOutcome::Scaled { to: 2, complete: true, .. }),
        "{report:#?}"
    );
    assert!(matches!(outcome(&report, "spiky"), ReviewOutcome::Unchanged));
    assert_eq!(kinesis.tiling("cold").unwrap().len(), 2);
    assert_eq!(kinesis.tiling("spiky").unwrap().len(), 4);
    let (spec, _) = cloudwatch.alarm("kinesis-autoscaler-cold-IncomingBytes").unwrap();
    assert_eq!(spec, alarm_specs("cold", 2, &policy, &[TOPIC.to_owned()])[0]);
    assert!(kinesis.describe("cold").await.unwrap().tags.contains_key(LAST_SCALED_TAG));
}

#[tokio::test(start_paused = true)]
async fn streams_at_min_shards_unmanaged_or_recently_scaled_are_not_merged() {
    let (kinesis, cloudwatch) = aws();
    managed(&kinesis, &cloudwatch, "at-min", 2, &Policy { min_shards: 2, ..Policy::default() }).await;
    managed(&kinesis, &cloudwatch, "recent", 4, &Policy::default()).await;
    kinesis
        .add_tags("recent", &[(LAST_SCALED_TAG.to_owned(), (now().timestamp() - 60).to_string())].into())
        .await
        .unwrap();
    kinesis.create_stream("theirs", 4).await.unwrap();
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert!(matches!(outcome(&report, "at-min"), ReviewOutcome::Unchanged));
    assert!(matches!(outcome(&report, "recent"), ReviewOutcome::Unchanged));
    assert!(report.reviews.iter().all(|r| r.stream != "theirs"), "an unmanaged stream is not even reviewed");
    assert_eq!(kinesis.tiling("theirs").unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn only_streams_under_the_deployments_prefix_are_swept() {
    let (kinesis, cloudwatch) = aws();
    managed(&kinesis, &cloudwatch, "billing-cold", 4, &Policy::default()).await;
    managed(&kinesis, &cloudwatch, "orders-cold", 4, &Policy::default()).await;
    let report = run_in(&kinesis, &cloudwatch, &settings(), "billing-").await;
    let reviewed: Vec<&str> = report.reviews.iter().map(|r| r.stream.as_str()).collect();
    assert_eq!(reviewed, ["billing-cold"]);
    assert_eq!(kinesis.tiling("orders-cold").unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_decides_but_changes_nothing() {
    let (kinesis, cloudwatch) = aws();
    managed(&kinesis, &cloudwatch, "cold", 4, &Policy::default()).await;
    let settings = SweepSettings { dry_run: true, ..settings() };
    let (writes, cloudwatch_calls) = (kinesis.kinesis_calls().len(), cloudwatch.cloudwatch_calls().len());
    let report = run(&kinesis, &cloudwatch, &settings).await;
    assert!(matches!(outcome(&report, "cold"), ReviewOutcome::WouldScale { to: 1 }), "idle: {report:#?}");
    assert_eq!(kinesis.tiling("cold").unwrap().len(), 4);
    assert_eq!(
        kinesis.kinesis_calls().len(),
        writes,
        "no Kinesis write: {:?}",
        &kinesis.kinesis_calls()[writes..]
    );
    let new_calls = &cloudwatch.cloudwatch_calls()[cloudwatch_calls..];
    assert!(new_calls.iter().all(|c| c.starts_with("GetMetricData")), "only reads: {new_calls:?}");
}

#[tokio::test(start_paused = true)]
async fn four_hundred_streams_take_five_metric_reads_and_six_when_status_reads_throttles_too() {
    let (kinesis, cloudwatch) = aws();
    let policy = Policy::default();
    for i in 0..400 {
        managed(&kinesis, &cloudwatch, &format!("s{i:03}"), 1, &policy).await;
    }
    throttles(&cloudwatch, "s000", &[(1, 50.0)]).await;
    let reads = |from: usize| -> Vec<String> {
        cloudwatch.cloudwatch_calls()[from..]
            .iter()
            .filter(|c| c.starts_with("GetMetricData"))
            .cloned()
            .collect()
    };
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert_eq!(report.reviews.len(), 400);
    // 350 series of 288 points per call, four a stream (bytes, records, bytes read, iterator
    // age): 87 streams a call, ceil(400 / 87) = 5. No throttles: the Lambda does not pay for a
    // metric its rule does not read.
    assert_eq!(report.metrics_calls, 5);
    assert_eq!(
        reads(0),
        [
            "GetMetricData 348",
            "GetMetricData 348",
            "GetMetricData 348",
            "GetMetricData 348",
            "GetMetricData 208"
        ]
    );
    assert!(report.reviews.iter().all(|r| r.advice.is_none()));

    let before = cloudwatch.cloudwatch_calls().len();
    let status =
        run(&kinesis, &cloudwatch, &SweepSettings { dry_run: true, advise: true, ..settings() }).await;
    // The throttled records in the same calls, five series a stream: 70 streams per call.
    assert_eq!(status.metrics_calls, 6);
    assert_eq!(
        reads(before),
        [
            "GetMetricData 350",
            "GetMetricData 350",
            "GetMetricData 350",
            "GetMetricData 350",
            "GetMetricData 350",
            "GetMetricData 250"
        ]
    );
    assert!(advice(&status, "s000").is_some(), "{:#?}", status.reviews[0]);
}

#[tokio::test(start_paused = true)]
async fn a_sweep_out_of_time_returns_a_cursor_and_the_continuation_finishes_the_rest() {
    // Every read takes two seconds: a page of 87 streams costs 174 s (one describe each).
    let (kinesis, cloudwatch) = aws_with(Duration::from_secs(2));
    for i in 0..400 {
        managed(&kinesis, &cloudwatch, &format!("s{i:03}"), 1, &Policy::default()).await;
    }
    let settings = settings();
    let first = sweep(&invocation(&kinesis, &cloudwatch, Duration::from_secs(500), ""), &settings, None)
        .await
        .unwrap();
    // Reads stop once fewer than 30 s (the review reserve) are left: stream i is read at 2i s,
    // so s000..=s235 are read; the two full pages of 87 and the partial page of 62 are all reviewed.
    assert_eq!(first.reviews.len(), 236);
    assert_eq!(first.cursor.as_deref(), Some("s235"));
    assert_eq!(first.metrics_calls, 3);
    let mut reviewed = first.reviews.len();
    let mut invocations = 1;
    let mut cursor = first.cursor;
    while let Some(after) = cursor.clone() {
        let cx = invocation(&kinesis, &cloudwatch, Duration::from_secs(500), "");
        let next = sweep(&cx, &settings, Some(&after)).await.unwrap();
        assert!(
            next.reviews.iter().all(|r| r.stream.as_str() > after.as_str()),
            "no stream is reviewed twice"
        );
        reviewed += next.reviews.len();
        invocations += 1;
        cursor = next.cursor;
    }
    assert_eq!(reviewed, 400, "every stream reviewed exactly once across the chain");
    assert_eq!(invocations, 2, "236 streams, then the other 164");
}

#[tokio::test(start_paused = true)]
async fn with_shard_level_metrics_two_warm_shards_are_not_merged_into_one_hot_one() {
    let (kinesis, cloudwatch) = aws();
    let policy = Policy { shard_level_metrics: true, ..Policy::default() };
    managed(&kinesis, &cloudwatch, "keyed", 4, &policy).await;
    let ids = kinesis.tiling("keyed").unwrap().ids();
    for spec in shard_alarm_specs("keyed", &ids, &policy, &[TOPIC.to_owned()]) {
        cloudwatch.put_alarm(&spec).await.unwrap();
    }
    // Shards 0 and 1 carry a hot key range at 45 % each; the stream as a whole sits at 23 %, so
    // the uniform-key estimate would merge every pair. Merged, 0 and 1 would be at 90 %.
    day(&cloudwatch, "keyed", 0.92, None).await;
    for (i, id) in ids.iter().enumerate() {
        let shard = vec![Dimension::stream("keyed"), Dimension::new("ShardId", id.as_str())];
        day_of(&cloudwatch, shard, if i < 2 { 0.45 } else { 0.01 }, None).await;
    }
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert!(
        matches!(outcome(&report, "keyed"), ReviewOutcome::Scaled { to: 3, complete: true, .. }),
        "only the cold pair merges: {report:#?}"
    );
    assert_eq!(report.metrics_calls, 2, "the stream's read, and one for its shards");
    let open = kinesis.tiling("keyed").unwrap().ids();
    let mut names: Vec<String> = cloudwatch
        .describe_alarms(&shard_alarm_prefix("keyed"))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    names.sort();
    let mut want: Vec<String> =
        shard_alarm_specs("keyed", &open, &policy, &[TOPIC.to_owned()]).into_iter().map(|s| s.name).collect();
    want.sort();
    assert_eq!(names, want, "the merged child has alarms, its closed parents none");
}

#[tokio::test(start_paused = true)]
async fn a_stream_whose_state_tag_is_in_the_future_is_skipped_as_an_invalid_tag() {
    let (kinesis, cloudwatch) = aws();
    managed(&kinesis, &cloudwatch, "forged", 4, &Policy::default()).await;
    day(&cloudwatch, "forged", 0.4, None).await;
    let future = (now().timestamp() + 86_400 * 365).to_string();
    kinesis.add_tags("forged", &[(LAST_SCALED_TAG.to_owned(), future)].into()).await.unwrap();
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    let ReviewOutcome::Skipped { reason, skip } = outcome(&report, "forged") else { panic!("{report:#?}") };
    assert!(reason.contains("in the future"), "{reason}");
    assert_eq!(*skip, Some(SkipCode::InvalidTag));
    assert_eq!(kinesis.tiling("forged").unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_paused_cold_stream_is_reviewed_as_paused_not_merged_and_merged_once_unpaused() {
    let (kinesis, cloudwatch) = aws();
    let paused = Policy { paused: true, ..Policy::default() };
    managed(&kinesis, &cloudwatch, "held", 4, &paused).await;
    day(&cloudwatch, "held", 0.9, None).await;
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    let ReviewOutcome::Skipped { reason, skip } = outcome(&report, "held") else { panic!("{report:#?}") };
    assert_eq!(*skip, Some(SkipCode::Paused));
    assert!(reason.contains("paused"), "{reason}");
    assert_eq!(report.reviews[0].open_shards, 4);
    assert_eq!(kinesis.tiling("held").unwrap().len(), 4);
    assert!(!kinesis.describe("held").await.unwrap().tags.contains_key(LAST_SCALED_TAG), "nothing recorded");

    kinesis
        .add_tags("held", &[(POLICY_TAG.to_owned(), encode_policy(&Policy::default()))].into())
        .await
        .unwrap();
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert!(matches!(outcome(&report, "held"), ReviewOutcome::Scaled { to: 2, .. }), "{report:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_stream_paused_between_the_sweeps_read_and_its_merge_is_not_merged() {
    let (kinesis, cloudwatch) = aws();
    managed(&kinesis, &cloudwatch, "paused-meanwhile", 4, &Policy::default()).await;
    day(&cloudwatch, "paused-meanwhile", 0.4, None).await;
    // The sweep reads the stream once to decide, and again before it acts: the pause lands between.
    let paused = encode_policy(&Policy { paused: true, ..Policy::default() });
    kinesis.tag_before_describe("paused-meanwhile", 2, [(POLICY_TAG.to_owned(), paused)].into());
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    let ReviewOutcome::Skipped { reason, skip } = outcome(&report, "paused-meanwhile") else {
        panic!("{report:#?}")
    };
    assert_eq!(*skip, Some(SkipCode::Paused), "{reason}");
    assert_eq!(kinesis.tiling("paused-meanwhile").unwrap().len(), 4, "not merged");
    let tags = kinesis.describe("paused-meanwhile").await.unwrap().tags;
    assert!(!tags.contains_key(LAST_SCALED_TAG), "nothing recorded");
}

/// The review's last reason, for a stream the plan left alone.
/// `GetRecords.IteratorAgeMilliseconds` (`Maximum`) of `stream`: a second behind at every
/// 5-minute period of the look-back, `peak_ms` at the 100th.
async fn iterator_ages(cloudwatch: &World, stream: &str, peak_ms: f64) {
    let points: Vec<MetricPoint> = (1..=288)
        .map(|i| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: Metric::GetRecordsIteratorAge.as_str().into(),
            dimensions: vec![Dimension::stream(stream)],
            timestamp: now() - chrono::Duration::minutes(5 * i),
            value: if i == 100 { peak_ms } else { 1_000.0 },
            unit: Unit::Milliseconds,
        })
        .collect();
    cloudwatch.put_metric_data(&points).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_cold_stream_whose_consumers_fell_behind_is_not_merged_and_its_review_says_why() {
    let (kinesis, cloudwatch) = aws();
    let policy = Policy::default();
    for name in ["behind", "keeping-up"] {
        managed(&kinesis, &cloudwatch, name, 4, &policy).await;
        day(&cloudwatch, name, 0.4, None).await;
    }
    iterator_ages(&cloudwatch, "behind", 900_000.0).await;
    iterator_ages(&cloudwatch, "keeping-up", 2_000.0).await;
    kinesis.register_consumers("behind", 2);
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert!(matches!(outcome(&report, "behind"), ReviewOutcome::Unchanged), "{report:#?}");
    assert_eq!(kinesis.tiling("behind").unwrap().len(), 4);
    let reason = last_reason(&report, "behind");
    assert!(reason.contains("the consumers were behind: the iterator age peaked at 900 s"), "{reason}");
    let review = report.reviews.iter().find(|r| r.stream == "behind").unwrap();
    let reads = review.reads.expect("the readers are reviewed");
    assert_eq!(reads.max_iterator_age_ms, Some(900_000.0), "the oldest age, read as a Maximum");
    assert_eq!(review.enhanced_fan_out_consumers, Some(2));
    assert!(matches!(outcome(&report, "keeping-up"), ReviewOutcome::Scaled { to: 1, .. }), "{report:#?}");
}

fn last_reason(report: &SweepReport, stream: &str) -> String {
    let review = report.reviews.iter().find(|r| r.stream == stream).expect("reviewed");
    review.plan.as_ref().and_then(|p| p.reasons.last().cloned()).unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn a_stream_whose_metrics_read_comes_back_partial_is_not_merged() {
    let (kinesis, cloudwatch) = aws();
    managed(&kinesis, &cloudwatch, "cut-short", 4, &Policy::default()).await;
    managed(&kinesis, &cloudwatch, "complete", 4, &Policy::default()).await;
    // Both idle: no datapoints. Only the complete read proves it.
    cloudwatch.set_read_status(vec![Dimension::stream("cut-short")], ReadStatus::PartialData);
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert!(matches!(outcome(&report, "cut-short"), ReviewOutcome::Unchanged), "{report:#?}");
    let reason = last_reason(&report, "cut-short");
    assert!(reason.contains("PartialData") && reason.contains("incomplete evidence"), "{reason}");
    assert_eq!(kinesis.tiling("cut-short").unwrap().len(), 4);
    assert!(matches!(outcome(&report, "complete"), ReviewOutcome::Scaled { to: 1, .. }), "{report:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_shard_without_its_own_datapoints_is_not_taken_for_a_cold_one() {
    let (kinesis, cloudwatch) = aws();
    let policy = Policy { shard_level_metrics: true, ..Policy::default() };
    managed(&kinesis, &cloudwatch, "fresh", 2, &policy).await;
    let ids = kinesis.tiling("fresh").unwrap().ids();
    // Shard-level metrics were just turned on: only shard 0 has published yet. The stream carries
    // 98 % of one shard; read as zero, shard 1 would let the pair merge at 49 %.
    day(&cloudwatch, "fresh", 0.98, None).await;
    day_of(
        &cloudwatch,
        vec![Dimension::stream("fresh"), Dimension::new("ShardId", ids[0].as_str())],
        0.49,
        None,
    )
    .await;
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    assert!(matches!(outcome(&report, "fresh"), ReviewOutcome::Unchanged), "{report:#?}");
    assert_eq!(kinesis.tiling("fresh").unwrap().len(), 2);
    let review = report.reviews.iter().find(|r| r.stream == "fresh").unwrap();
    let reasons = &review.plan.as_ref().unwrap().reasons;
    assert!(reasons.iter().any(|r| r.contains("without complete shard-level metrics")), "{reasons:?}");
}

#[tokio::test(start_paused = true)]
async fn a_metrics_read_that_times_out_is_retried_in_halves_never_resent_whole() {
    let (kinesis, cloudwatch) = aws();
    for i in 0..10 {
        managed(&kinesis, &cloudwatch, &format!("s{i}"), 2, &Policy::default()).await;
    }
    cloudwatch.time_out_above(12);
    let report = run(&kinesis, &cloudwatch, &settings()).await;
    let reads: Vec<String> =
        cloudwatch.cloudwatch_calls().into_iter().filter(|c| c.starts_with("GetMetricData")).collect();
    assert_eq!(
        reads,
        [
            "GetMetricData 40 timed out",
            "GetMetricData 20 timed out",
            "GetMetricData 10",
            "GetMetricData 10",
            "GetMetricData 20 timed out",
            "GetMetricData 10",
            "GetMetricData 10",
        ]
    );
    assert_eq!(report.metrics_calls, 7);
    for i in 0..10 {
        assert!(
            matches!(outcome(&report, &format!("s{i}")), ReviewOutcome::Scaled { to: 1, .. }),
            "{report:#?}"
        );
    }
}

/// `WriteProvisionedThroughputExceeded` `Sum`s of the stream: `records` at each of the look-back's
/// 5-minute periods `periods` (1: the newest).
async fn throttles(cloudwatch: &World, stream: &str, periods: &[(i64, f64)]) {
    let points: Vec<MetricPoint> = periods
        .iter()
        .map(|&(i, records)| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: Metric::WriteProvisionedThroughputExceeded.as_str().into(),
            dimensions: vec![Dimension::stream(stream)],
            timestamp: now() - chrono::Duration::minutes(5 * i),
            value: records,
            unit: Unit::Count,
        })
        .collect();
    cloudwatch.put_metric_data(&points).await.unwrap();
}

fn advice<'r>(report: &'r SweepReport, stream: &str) -> Option<&'r Advice> {
    report.reviews.iter().find(|r| r.stream == stream).expect("reviewed").advice.as_ref()
}

#[tokio::test(start_paused = true)]
async fn status_advises_shard_level_metrics_only_for_a_stream_throttled_while_cold() {
    let (kinesis, cloudwatch) = aws();
    let keyed = Policy { shard_level_metrics: true, ..Policy::default() };
    for (name, policy) in [("cold", &Policy::default()), ("hot", &Policy::default()), ("keyed", &keyed)] {
        managed(&kinesis, &cloudwatch, name, 4, policy).await;
        // Throttled twice, and one datapoint no 4-shard stream can produce (above 10 × its
        // 1.2 M records a period), which the total leaves out.
        throttles(&cloudwatch, name, &[(10, 1_000.0), (20, 234.0), (30, 1e12)]).await;
    }
    managed(&kinesis, &cloudwatch, "calm", 4, &Policy::default()).await;
    // 4 shards: 1.4 MiB/s is 35 %; a 3.4 MiB/s period is 85 %, over the 80 % threshold.
    day(&cloudwatch, "cold", 1.4, None).await;
    day(&cloudwatch, "hot", 1.4, Some(3.4)).await;
    day(&cloudwatch, "keyed", 1.4, None).await;
    day(&cloudwatch, "calm", 1.4, None).await;
    let settings = SweepSettings { dry_run: true, advise: true, ..settings() };
    let report = run(&kinesis, &cloudwatch, &settings).await;

    let Some(Advice::ShardLevelMetrics { throttled_records, peak_utilisation, reason }) =
        advice(&report, "cold")
    else {
        panic!("{report:#?}")
    };
    assert_eq!(*throttled_records, 1_234);
    assert!((peak_utilisation - 0.35).abs() < 1e-9, "{peak_utilisation}");
    assert!(reason.starts_with("throttled 1,234 records in 24 h"), "{reason}");
    for (stream, why) in [("hot", "over the threshold"), ("keyed", "already on"), ("calm", "never throttled")]
    {
        assert_eq!(advice(&report, stream), None, "{stream}: {why}");
    }
    assert_eq!(report.metrics_calls, 2, "one batched read, and one for the keyed stream's shards");
    let json = serde_json::to_value(&report.reviews).unwrap();
    let cold = json.as_array().unwrap().iter().find(|r| r["stream"] == "cold").unwrap();
    assert_eq!(cold["advice"]["kind"], "shard_level_metrics");
    assert_eq!(cold["advice"]["throttled_records"], 1_234);
    let calm = json.as_array().unwrap().iter().find(|r| r["stream"] == "calm").unwrap();
    assert!(calm.get("advice").is_none(), "omitted when there is none: {calm}");
}

#[tokio::test(start_paused = true)]
async fn status_keeps_each_streams_lookback_as_read_for_the_mode_advice_and_the_lambda_keeps_none() {
    let (kinesis, cloudwatch) = aws();
    managed(&kinesis, &cloudwatch, "orders", 4, &Policy::default()).await;
    day(&cloudwatch, "orders", 1.4, None).await;
    throttles(&cloudwatch, "orders", &[(10, 1_000.0)]).await;
    let status =
        run(&kinesis, &cloudwatch, &SweepSettings { dry_run: true, advise: true, ..settings() }).await;
    let review = status.reviews.iter().find(|r| r.stream == "orders").expect("reviewed");
    let lookback = review.lookback.as_ref().expect("status keeps the look-back");
    // The sweep's own window and the very sums it read: no other read.
    assert_eq!(
        (lookback.window.period_secs, lookback.window.end - lookback.window.start),
        (300, chrono::Duration::hours(24))
    );
    assert_eq!((lookback.history.bytes.len(), lookback.history.records.len()), (288, 0));
    assert!(lookback.history.bytes.iter().all(|(_, sum)| (*sum - 1.4 * MIB * 300.0).abs() < 1e-6));
    assert_eq!(lookback.history.throttled, [(now() - chrono::Duration::minutes(50), 1_000.0)]);
    assert_eq!(
        (lookback.history.status, lookback.history.calls),
        (ReadStatus::Complete, status.metrics_calls)
    );
    assert_eq!((lookback.policy.clone(), lookback.on_demand), (Policy::default(), false));
    assert_eq!(lookback.created, kinesis.describe("orders").await.unwrap().created);
    assert!(serde_json::to_value(review).unwrap().get("lookback").is_none(), "the sums stay out of the JSON");

    let lambda = run(&kinesis, &cloudwatch, &SweepSettings { dry_run: true, ..settings() }).await;
    assert!(lambda.reviews.iter().all(|r| r.lookback.is_none()), "the Lambda keeps no sums");
}
