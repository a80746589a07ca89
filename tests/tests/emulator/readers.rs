//! The readers end to end, through the real Lambda binaries: back-dated `GetRecords.*` metrics
//! (the emulator's Kinesis publishes none) hold a merge while consumers are behind, and size a
//! scale-up from the shared readers' demand when the read-throttling alarm fires.

use std::time::{Duration, Instant as StdInstant};

use chrono::Utc;
use emulator_tests::lambda::{DEFAULT_TIMEOUT, LocalLambda, scheduled_event};
use emulator_tests::sns_bridge::Topic;
use emulator_tests::{emulator_clients, emulator_function, unique_name};
use planner::{KINESIS_NAMESPACE, Metric, align_down};
use reconciler::{AlarmPort, AlarmState, Dimension, MetricPoint, MetricPublisher, Unit};
use serde_json::Value;

use crate::common::{Cli, TOPIC, remove, stdout};
use crate::scale_down::{managed, publish, short_window};
use crate::scale_up::{alarm_message, policy_of, sns_event, spec_for};
use crate::settle;

const MIB: f64 = 1_048_576.0;

/// `metric` of `stream` at `values[i]` for the period `i` periods of `period` seconds back
/// (0: the newest whole one), as Kinesis would publish it.
async fn publish_read(
    cloudwatch: &impl MetricPublisher,
    stream: &str,
    metric: Metric,
    period: i64,
    values: &[f64],
) {
    let newest = align_down(Utc::now(), period as u32) - chrono::Duration::seconds(period);
    let unit = if metric == Metric::GetRecordsIteratorAge { Unit::Milliseconds } else { Unit::Bytes };
    let points: Vec<MetricPoint> = values
        .iter()
        .enumerate()
        .map(|(i, value)| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: metric.as_str().into(),
            dimensions: vec![Dimension::stream(stream)],
            timestamp: newest - chrono::Duration::seconds(period * i as i64),
            value: *value,
            unit,
        })
        .collect();
    cloudwatch.put_metric_data(&points).await.expect("put metric data");
}

/// The decision line for `stream`, once printed (the harness reads stdout on another thread).
fn decision_of(lambda: &LocalLambda, stream: &str) -> Value {
    lambda
        .wait_for_decision(Duration::from_secs(10), |d| d["stream"] == stream)
        .unwrap_or_else(|| panic!("no decision for {stream}\n{}", lambda.transcript()))
}

#[tokio::test]
async fn the_scale_down_lambda_holds_the_merge_of_a_stream_whose_consumers_are_behind() {
    let clients = emulator_clients().await;
    let (kinesis, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let prefix = unique_name("readers-lag");
    let (behind, keeping_up) = (format!("{prefix}-behind"), format!("{prefix}-keeping-up"));
    let created = StdInstant::now();
    for s in [&behind, &keeping_up] {
        managed(&kinesis, &cloudwatch, s, 2, &short_window(1)).await;
    }
    let env = [("STREAM_NAME_PREFIX", prefix.as_str()), ("COMPRESSED_WINDOWS", "true")];
    let lambda = emulator_function("lambda-scale-down", &env, Duration::from_secs(120));
    // Wait out the 30 s window (its end aligned down to a 10 s period), then publish it: both
    // cold, the consumers of one 15 minutes behind at one period, the other's a second behind.
    tokio::time::sleep(Duration::from_secs(42).saturating_sub(created.elapsed())).await;
    for s in [&behind, &keeping_up] {
        publish(&cloudwatch, s, 0.1, None).await;
    }
    publish_read(&cloudwatch, &behind, Metric::GetRecordsIteratorAge, 10, &[1_000.0, 900_000.0, 1_000.0])
        .await;
    publish_read(&cloudwatch, &keeping_up, Metric::GetRecordsIteratorAge, 10, &[1_000.0; 3]).await;

    let answer = lambda.invoke(scheduled_event("kinesis-autoscaler-scale-down", &Utc::now().to_rfc3339()));
    assert!(answer.is_ok(), "{answer:?}\n{}", lambda.transcript());
    let held = decision_of(&lambda, &behind);
    assert_eq!(held["outcome"], "unchanged", "{held:#}");
    let reasons = held["plan"]["reasons"].as_array().expect("reasons");
    let last = reasons.last().and_then(Value::as_str).unwrap_or_default();
    assert!(last.contains("the consumers were behind: the iterator age peaked at 900 s"), "{held:#}");
    assert_eq!(held["reads"]["max_iterator_age_ms"], 900_000.0, "{held:#}");
    assert_eq!(held["enhanced_fan_out_consumers"], 0, "the emulator counts them: {held:#}");
    assert_eq!(settle(&kinesis, &behind).await.tiling().len(), 2);
    let merged = decision_of(&lambda, &keeping_up);
    assert_eq!(merged["outcome"], "scaled", "{merged:#}");
    assert_eq!(settle(&kinesis, &keeping_up).await.tiling().len(), 1);
    for s in [&behind, &keeping_up] {
        remove(&clients, s).await;
    }
}

#[tokio::test]
async fn the_scale_up_lambda_sizes_a_read_throttled_stream_from_its_readers_demand() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let s = unique_name("readers-throttled");
    let cli = Cli::with_topic(TOPIC);
    cli.write_config(&[format!(
        "{{name: {s}, desiredShards: 2, minShards: 1, maxShards: 8, \
         scaleUp: {{throttleAlarm: false, readThrottleAlarm: true}}}}"
    )]);
    let plan = stdout(&cli.expect(2, &["plan"]));
    let read_alarm = format!("+ alarm kinesis-autoscaler-{s}-ReadProvisionedThroughputExceeded");
    assert!(plan.contains(&read_alarm), "plan shows the read alarm: {plan}");
    cli.expect(0, &["apply"]);
    let policy = policy_of(&streams, &s).await;
    assert!(policy.scale_up.read_throttle_alarm);
    // Writers at 0.2 MiB/s need one shard; the shared readers were served 3.8 of the 4 MiB/s two
    // shards serve and refused besides: at least 4 MiB/s, which 4 shards serve at 60 %.
    let minutes = [0.2 * MIB * 60.0; 4];
    publish_read(&cloudwatch, &s, Metric::IncomingBytes, 60, &minutes).await;
    publish_read(&cloudwatch, &s, Metric::GetRecordsBytes, 60, &[3.8 * MIB * 60.0; 4]).await;
    let spec = spec_for(&s, 2, &policy, Metric::ReadProvisionedThroughputExceeded);
    // The emulator publishes the alarm's state change to its topic, which must exist.
    Topic::create(&clients, TOPIC.rsplit(':').next().expect("a topic ARN")).await;
    // The function confirms the alarm with CloudWatch; the emulator may set a hand-set ALARM back
    // to OK on missing data, so set it until it stays.
    for _ in 0..5 {
        cloudwatch.set_alarm_state(&spec.name, AlarmState::Alarm, "test: reads refused").await.expect("set");
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let now = cloudwatch.describe_alarm(&spec.name).await.expect("describe");
        if now.is_some_and(|a| a.state == Some(AlarmState::Alarm)) {
            break;
        }
    }
    let lambda = emulator_function("lambda-scale-up", &[("STREAM_NAME_PREFIX", s.as_str())], DEFAULT_TIMEOUT);
    let answer = lambda.invoke(sns_event(TOPIC, &[alarm_message(&spec, Utc::now(), 40.0)]));
    assert!(answer.is_ok(), "{answer:?}\n{}", lambda.transcript());
    let scaled = decision_of(&lambda, &s);
    assert_eq!(scaled["outcome"], "scaled", "{scaled:#}");
    assert_eq!(scaled["plan"]["read_demand"], 4.0 * MIB, "{scaled:#}");
    assert_eq!(scaled["to"], 4, "{scaled:#}");
    assert_eq!(settle(&streams, &s).await.tiling().len(), 4);
    remove(&clients, &s).await;
}
