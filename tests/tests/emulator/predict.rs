//! The hourly predictive pass through the real scale-up binary: a stream applied with
//! `streams apply`, its policy tag given `predict=5/15` (the tag the planner encodes), days of
//! back-dated 5-minute history published with `PutMetricData` (the emulator's Kinesis publishes
//! none), then one invocation with the `PredictRule`'s input. The stream whose load
//! peaks daily 30 minutes from now is scaled up now, the forecast the first reason of its decision
//! record; the one with the same load shuffled out of rhythm is left alone.
//!
//! The history predates the streams by days: the pass does not clamp its read to a stream's
//! creation (see `reconciler::predict`), which is what lets a test prove it in seconds.
//!
//! The function reads the history at 1-hour periods (`PREDICT_PERIOD_SECONDS=3600`; 5 minutes on
//! AWS): the emulator's `GetMetricData` takes about a second per day of 5-minute buckets per
//! series, so a week of them outlasted the SDK's 20 s timeout on a busy emulator. The 5-minute
//! read is the same code with another period, pinned in memory (`crates/reconciler/tests/predict.rs`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use emulator_tests::{emulator_clients, emulator_function, unique_name};
use planner::{POLICY_TAG, Predictive, align_down, encode_policy};
use reconciler::{MetricPublisher, Resharder};
use serde_json::{Value, json};
use simulated_aws::{load_history, shuffled};

use crate::common::{TOPIC, remove};
use crate::scale_up::{apply, policy_of};
use crate::settle;

const MIB: f64 = 1_048_576.0;

/// The history's period the function is deployed with here.
const PERIOD: &str = "3600";

/// 3 MiB/s (3,072 records/s: six shards at the 60% target) for the whole hour after `now`'s,
/// every day; no writes otherwise (a daily batch), so only the peaks are published: the emulator
/// takes about 20 ms a datapoint to store.
fn daily_peak(now: DateTime<Utc>) -> impl Fn(DateTime<Utc>) -> f64 {
    let peak = align_down(now, 3_600) + chrono::Duration::hours(1);
    move |t| if (t - peak).num_seconds().rem_euclid(86_400) < 3_600 { 3.0 * MIB } else { 0.0 }
}

/// Days of history, and the look-back. The history starts at the oldest peak, so the forecast
/// sees `DAYS - 1` whole daily cycles before the window: six, each window of two hours holding
/// the peak hour 2 times in 24 by chance, 3e-7 all together, under the 1e-5 the chance test
/// allows.
const DAYS: u32 = 7;

/// A managed one-shard stream `{prefix}-…` whose policy asks for prediction over [`DAYS`], with
/// [`DAYS`] of [`daily_peak`] history (shuffled out of rhythm with `shuffle`), run through one
/// predictive pass of the real binary scoped to `prefix`. Returns the stream, the function's
/// answer, its decision for the stream, and its open shards after.
async fn one_pass(label: &str, shuffle: bool) -> (String, Value, Value, u32) {
    let started = Instant::now();
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    // The deployment's scope: only this test's stream is listed and read.
    let prefix = unique_name(label);
    let s = format!("{prefix}-s");
    apply(TOPIC, &format!("{{name: {s}, desiredShards: 1, minShards: 1, maxShards: 8}}"));
    settle(&streams, &s).await;
    let mut policy = policy_of(&streams, &s).await;
    policy.scale_up.predictive = Some(Predictive { lookback_days: DAYS, lead_minutes: 15 });
    streams.add_tags(&s, &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.expect("tag");
    let now = Utc::now();
    let days = i64::from(DAYS);
    let history = if shuffle {
        load_history(&s, now, days, shuffled(now, days, daily_peak(now), 5))
    } else {
        load_history(&s, now, days, daily_peak(now))
    };
    cloudwatch.put_metric_data(&history).await.expect("put metric data");
    let ready = started.elapsed();

    let lambda = emulator_function(
        "lambda-scale-up",
        &[("STREAM_NAME_PREFIX", &prefix), ("PREDICT_PERIOD_SECONDS", PERIOD)],
        Duration::from_secs(120),
    );
    let invoked = Instant::now();
    let answer = lambda.invoke(json!({"kinesis-autoscaler": "predict"}));
    let took = invoked.elapsed();
    let summary = answer.unwrap_or_else(|e| panic!("{e:#}\n{}", lambda.transcript()));
    let decision = lambda.decisions().into_iter().find(|d| d["stream"] == s.as_str());
    let decision =
        decision.unwrap_or_else(|| panic!("no decision for {s}: {summary:#}\n{}", lambda.transcript()));
    let shards = settle(&streams, &s).await.tiling().len();
    eprintln!(
        "{label}: set-up {ready:?}, the pass {took:?} (GetMetricData calls: {}), in all {:?}",
        summary["metrics_calls"],
        started.elapsed()
    );
    remove(&clients, &s).await;
    (s, summary, decision, shards)
}

/// One test, the two passes one after the other: the emulator's CloudWatch serves one
/// `GetMetricData` at a time, and two look-backs read at once would outlast the SDK's timeout.
#[tokio::test]
async fn the_hourly_pass_scales_up_before_a_daily_peak_and_leaves_the_same_load_out_of_rhythm_alone() {
    let (s, summary, decision, shards) = one_pass("predict-daily", false).await;
    // One stream: one GetMetricData call of its two series.
    assert_eq!((summary["records"].as_u64(), summary["scaled"].as_u64()), (Some(1), Some(1)), "{summary:#}");
    assert_eq!(summary["metrics_calls"].as_u64(), Some(1), "{summary:#}");
    assert_eq!(
        (decision["trigger"].as_str(), decision["outcome"].as_str()),
        (Some("predict"), Some("scaled"))
    );
    let reason = decision["plan"]["reasons"][0].as_str().unwrap_or_default();
    let cycles = DAYS - 1;
    assert!(
        reason.starts_with(&format!("forecast (daily): in {cycles} of the last {cycles} days")),
        "{decision:#}"
    );
    assert_eq!(decision["peak"]["season"], "daily", "{decision:#}");
    assert_eq!(shards, 6, "{s}: {decision:#}");

    let (s, summary, decision, shards) = one_pass("predict-shuffled", true).await;
    assert_eq!(summary["scaled"].as_u64(), Some(0), "{summary:#}");
    assert_eq!(summary["metrics_calls"].as_u64(), Some(1), "{summary:#}");
    assert_eq!(decision["outcome"], "no_pre_scale", "{decision:#}");
    assert!(decision["reason"].as_str().unwrap_or_default().starts_with("no forecast"), "{decision:#}");
    assert_eq!(shards, 1, "{s}");
}
