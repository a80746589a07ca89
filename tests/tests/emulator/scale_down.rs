//! The scale-down sweep with the real adapters against the emulator, with back-dated metrics.
//!
//! A sweep reviews every managed stream in the account, and the emulator is shared by tests
//! running in parallel, so each test sweeps only its own streams with the deployment's
//! `STREAM_NAME_PREFIX` setting (the context's `Scope::stream_prefix`). Every emulator stream is seconds old, which the scale-down rule rightly
//! refuses for a 24 h window ("not a full window of history"), so the merge scenarios use a
//! 30-second window of 10-second periods written straight into the policy tag, and wait it out:
//! the same rule and the same code, at a smaller scale.
//!
//! Batching over hundreds of streams, through the real Lambda binary, is in `tests/fleet`.

use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use chrono::Utc;
use emulator_tests::{emulator_clients, unique_name, with_retries};
use planner::{
    KINESIS_NAMESPACE, LAST_SCALED_TAG, Metric, POLICY_TAG, Policy, ScaleDown, Windows, alarm_specs,
    encode_policy,
};
use reconciler::scale_down::{ReviewOutcome, SweepReport, SweepSettings, sweep};
use reconciler::{
    AlarmPort, Context, Dimension, ExecuteSettings, IoPolicy, MetricPoint, MetricPublisher, MetricsPort,
    Resharder, Scope, SeededJitter, StreamAdmin, SystemClock, Unit,
};

use crate::settle;

const MIB: f64 = 1_048_576.0;
const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:kinesis-autoscaler-scale-down-test";

/// A 30-second look-back of 10-second periods: a stream 41 s old has a full window of history.
pub(crate) fn short_window(min_shards: u32) -> Policy {
    Policy {
        min_shards,
        scale_down: ScaleDown { period_secs: 10, lookback_secs: 30, ..ScaleDown::default() },
        ..Policy::default()
    }
}

/// Creates a managed stream as `streams apply` leaves it (policy tag, alarms).
pub(crate) async fn managed(
    kinesis: &(impl StreamAdmin + Sync),
    cloudwatch: &impl AlarmPort,
    name: &str,
    shards: u32,
    policy: &Policy,
) {
    // Kinesis allows 5 streams in CREATING at once; parallel tests may hold the others.
    with_retries(kinesis).create_stream(name, shards).await.expect("create stream");
    settle(kinesis, name).await;
    kinesis.add_tags(name, &[(POLICY_TAG.to_owned(), encode_policy(policy))].into()).await.expect("tag");
    for spec in alarm_specs(name, shards, policy, &[TOPIC.to_owned()]) {
        cloudwatch.put_alarm(&spec).await.expect("alarm");
    }
}

/// IncomingBytes `Sum`s over the last minute at `mib_per_sec` per period of `period` seconds,
/// with the newest period at `spike` if given (what Kinesis would publish).
pub(crate) async fn publish(
    cloudwatch: &impl MetricPublisher,
    stream: &str,
    mib_per_sec: f64,
    spike: Option<f64>,
) {
    let now = planner::align_down(Utc::now(), 10);
    let points: Vec<MetricPoint> = (0..6)
        .map(|i| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: Metric::IncomingBytes.as_str().into(),
            dimensions: vec![Dimension::stream(stream)],
            timestamp: now - chrono::Duration::seconds(10 * i),
            value: if i == 1 { spike.unwrap_or(mib_per_sec) } else { mib_per_sec } * MIB * 10.0,
            unit: Unit::Bytes,
        })
        .collect();
    cloudwatch.put_metric_data(&points).await.expect("put metric data");
}

/// One sweep of the streams named `prefix…`.
async fn run_sweep(
    kinesis: &(impl StreamAdmin + Sync),
    cloudwatch: &(impl MetricsPort + AlarmPort + Sync),
    prefix: &str,
) -> SweepReport {
    let settings = SweepSettings { windows: Windows::Compressed, ..SweepSettings::default() };
    let execute = ExecuteSettings { poll: Duration::from_millis(100), ..ExecuteSettings::default() };
    let io = IoPolicy::new(Arc::new(SystemClock))
        .until(Utc::now() + chrono::Duration::seconds(300))
        .backoff(execute.backoff)
        .jitter(SeededJitter::new(9));
    let scope = Scope { stream_prefix: prefix.to_owned(), ..Scope::default() };
    let cx = Context::new(kinesis, cloudwatch, io).with_scope(scope).with_execute(execute);
    sweep(&cx, &settings, None).await.expect("sweep")
}

fn outcome<'r>(report: &'r SweepReport, stream: &str) -> &'r ReviewOutcome {
    &report
        .reviews
        .iter()
        .find(|r| r.stream == stream)
        .unwrap_or_else(|| panic!("{stream} not reviewed: {report:#?}"))
        .outcome
}

#[tokio::test]
async fn the_sweep_merges_only_streams_cold_at_every_datapoint_with_full_history() {
    let clients = emulator_clients().await;
    let (kinesis, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let prefix = unique_name("sd-rules");
    let name = |s: &str| format!("{prefix}-{s}");
    let created = StdInstant::now();
    managed(&kinesis, &cloudwatch, &name("cold"), 4, &short_window(1)).await;
    managed(&kinesis, &cloudwatch, &name("spike"), 4, &short_window(1)).await;
    managed(&kinesis, &cloudwatch, &name("no-data"), 2, &short_window(1)).await;
    managed(&kinesis, &cloudwatch, &name("at-min"), 2, &short_window(2)).await;
    managed(&kinesis, &cloudwatch, &name("recent"), 4, &short_window(1)).await;
    let just_now = Utc::now().timestamp().to_string();
    kinesis.add_tags(&name("recent"), &[(LAST_SCALED_TAG.to_owned(), just_now)].into()).await.expect("tag");
    let theirs = name("theirs");
    with_retries(&kinesis).create_stream(&theirs, 2).await.expect("unmanaged stream");
    // Wait out the window (30 s, whose end is aligned down to a 10 s period: up to 40 s back), so
    // every stream has a full window of history, then publish it.
    tokio::time::sleep(Duration::from_secs(42).saturating_sub(created.elapsed())).await;
    for s in ["recent", "at-min"] {
        publish(&cloudwatch, &name(s), 0.1, None).await;
    }
    // 4 shards at 0.9 MiB/s = 22.5 %: 2 carry it at the 60 % target.
    publish(&cloudwatch, &name("cold"), 0.9, None).await;
    // 4 shards at 0.8 MiB/s = 20 %; one 10-second period at 2.4 MiB/s = 60 %, over the 50 % threshold.
    publish(&cloudwatch, &name("spike"), 0.8, Some(2.4)).await;

    let report = run_sweep(&kinesis, &cloudwatch, &prefix).await;
    assert!(
        matches!(outcome(&report, &name("cold")), ReviewOutcome::Scaled { to: 2, complete: true, .. }),
        "{report:#?}"
    );
    assert!(
        matches!(outcome(&report, &name("no-data")), ReviewOutcome::Scaled { to: 1, .. }),
        "missing data counts as zero"
    );
    for (s, why) in [("spike", "scale-down threshold"), ("at-min", "at minShards"), ("recent", "cooldown")] {
        let review = report.reviews.iter().find(|r| r.stream == name(s)).expect("reviewed");
        assert!(matches!(review.outcome, ReviewOutcome::Unchanged), "{s}: {review:#?}");
        let reasons = &review.plan.as_ref().expect("plan").reasons;
        assert!(reasons.iter().any(|r| r.contains(why)), "{s}: {reasons:?}");
    }
    assert!(report.reviews.iter().all(|r| r.stream != name("theirs")), "an unmanaged stream is not reviewed");
    assert_eq!(report.metrics_calls, 1, "five streams, one GetMetricData call");

    let cold = settle(&kinesis, &name("cold")).await;
    assert_eq!(cold.tiling().len(), 2);
    let alarms =
        cloudwatch.describe_alarms(&format!("kinesis-autoscaler-{}-", name("cold"))).await.expect("alarms");
    let want = alarm_specs(&name("cold"), 2, &short_window(1), &[TOPIC.to_owned()]);
    let bytes = alarms.iter().find(|a| a.name == want[0].name).expect("re-armed alarm");
    assert_eq!(bytes.definition.threshold, Some(want[0].threshold), "alarms re-armed for 2 shards");
    assert_eq!(settle(&kinesis, &name("theirs")).await.tiling().len(), 2);
}
