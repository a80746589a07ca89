//! The scale-up Lambda, the real binary, against the emulator.
//!
//! The first test is the whole path with nothing faked but the metrics Kinesis would publish
//! (the emulator's Kinesis publishes none): `streams apply` writes the stream, its policy tag and
//! its alarms; the test publishes `IncomingBytes` as a hot stream would; CloudWatch's own alarm
//! evaluation fires; SNS delivers over HTTP to [`SnsBridge`], which invokes the bootstrap binary
//! through a local Lambda Runtime API ([`LocalLambda`]); the function splits the stream and
//! re-arms its alarms.
//!
//! The edge cases invoke the same binary directly with crafted `SnsEvent`s in AWS's shape
//! (faster than waiting for alarms), each on a stream of its own. Throttled Kinesis or CloudWatch
//! APIs cannot be produced here (the emulator has no rate limits) and are not faked: the
//! in-memory tests cover them (`crates/reconciler/tests/scale_up.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_adapters::AwsClients;
use chrono::{DateTime, Utc};
use emulator_tests::lambda::{DEFAULT_TIMEOUT, LocalLambda, scheduled_event};
use emulator_tests::sns_bridge::{SnsBridge, Topic, lambda_event};
use emulator_tests::{ACCOUNT, REGION, emulator_clients, emulator_function, endpoint, unique_name};
use planner::{
    ALARM_NAME_PREFIX, AlarmSpec, KINESIS_NAMESPACE, LAST_SCALED_TAG, Metric, POLICY_TAG, Policy,
    alarm_specs, decode_policy,
};
use reconciler::{
    AlarmPort, AlarmState, Dimension, MetricPoint, MetricPublisher, Resharder, StreamAdmin, StreamReader,
    StreamStatus, Unit,
};
use serde_json::{Value, json};

use crate::common::{Cli, TOPIC, remove};
use crate::settle;

const MIB: f64 = 1_048_576.0;

/// Starts the real bootstrap binary against the emulator.
fn start_lambda() -> LocalLambda {
    emulator_function("lambda-scale-up", &[], DEFAULT_TIMEOUT)
}

/// `streams apply` of a streams.yaml holding `stream` (one YAML flow mapping), alarms to `topic`.
pub(crate) fn apply(topic: &str, stream: &str) -> Cli {
    let cli = Cli::with_topic(topic);
    cli.write_config(&[stream.to_owned()]);
    cli.expect(0, &["apply"]);
    cli
}

/// The policy `streams apply` wrote on the stream, decoded as the Lambda decodes it.
pub(crate) async fn policy_of(streams: &impl StreamReader, stream: &str) -> Policy {
    let tags = streams.describe(stream).await.expect("describe").tags;
    let tag = tags.get(POLICY_TAG).unwrap_or_else(|| panic!("{stream} has no {POLICY_TAG} tag: {tags:?}"));
    decode_policy(tag).expect("the policy tag decodes")
}

/// The number of open shards (0 while Kinesis cannot list them).
async fn open_shards(streams: &impl StreamReader, stream: &str) -> u32 {
    let snapshot = streams.describe(stream).await.expect("describe");
    snapshot.tiling().map_or(0, |t| t.len())
}

/// The stream's alarms as (threshold, period, actions), by name.
pub(crate) async fn alarms_of(
    cloudwatch: &impl AlarmPort,
    stream: &str,
) -> BTreeMap<String, (f64, u32, Vec<String>)> {
    let prefix = format!("{ALARM_NAME_PREFIX}{stream}-");
    let alarms = cloudwatch.describe_alarms(&prefix).await.expect("describe alarms");
    alarms
        .into_iter()
        .map(|a| {
            let key = (
                a.definition.threshold.unwrap_or(f64::NAN),
                a.definition.period_secs.unwrap_or(0),
                a.definition.actions.clone(),
            );
            (a.name, key)
        })
        .collect()
}

pub(crate) fn expected_alarms(specs: &[AlarmSpec]) -> BTreeMap<String, (f64, u32, Vec<String>)> {
    specs.iter().map(|s| (s.name.clone(), (s.threshold, s.period_secs, s.alarm_actions.clone()))).collect()
}

/// CloudWatch's notification time format: `2026-11-23T10:00:00.123+0000`.
fn aws_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// An AWS-shaped alarm notification (see `crates/reconciler/tests/fixtures/alarms`) for the
/// alarm `spec`, gone to ALARM at `changed` on one datapoint of `value`.
pub(crate) fn alarm_message(spec: &AlarmSpec, changed: DateTime<Utc>, value: f64) -> String {
    let name = &spec.name;
    let datapoint_time = changed.format("%d/%m/%y %H:%M:%S");
    json!({
        "AlarmName": name,
        "AlarmDescription": spec.description,
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": aws_time(changed - chrono::Duration::minutes(5)),
        "NewStateValue": "ALARM",
        "NewStateReason": format!(
            "Threshold Crossed: 1 out of the last 1 datapoints [{value:E} ({datapoint_time})] was greater than \
             or equal to the threshold ({:E}) (minimum 1 datapoint for OK -> ALARM transition).",
            spec.threshold
        ),
        "StateChangeTime": aws_time(changed),
        "Region": "US East (N. Virginia)",
        "AlarmArn": format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"),
        "OldStateValue": "OK",
        "OKActions": [],
        "AlarmActions": spec.alarm_actions,
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": spec.metric.as_str(),
            "Namespace": KINESIS_NAMESPACE,
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": null,
            "Dimensions": [{"value": spec.stream, "name": "StreamName"}],
            "Period": spec.period_secs,
            "EvaluationPeriods": spec.evaluation_periods,
            "DatapointsToAlarm": spec.datapoints_to_alarm,
            "ComparisonOperator": spec.comparison.as_str(),
            "Threshold": spec.threshold,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": ""
        }
    })
    .to_string()
}

/// The `SnsEvent` Lambda would receive for `messages` published to `topic`, one record each.
pub(crate) fn sns_event(topic: &str, messages: &[String]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let envelope = json!({
                "Type": "Notification",
                "MessageId": unique_name("message"),
                "TopicArn": topic,
                "Subject": "ALARM: kinesis-autoscaler alarm in US East (N. Virginia)",
                "Message": message,
                "Timestamp": aws_time(Utc::now()).replace("+0000", "Z"),
                "SignatureVersion": "1",
                "Signature": "dGVzdA==",
                "SigningCertURL": format!("{}/_aws/sns/SimpleNotificationService-test.pem", endpoint()),
                "UnsubscribeURL": format!("{}/?Action=Unsubscribe&SubscriptionArn={topic}:test", endpoint()),
            });
            lambda_event(&envelope, None)["Records"][0].clone()
        })
        .collect();
    json!({ "Records": records })
}

/// The alarm spec for `metric` as `streams apply` wrote it for `shards` shards.
pub(crate) fn spec_for(stream: &str, shards: u32, policy: &Policy, metric: Metric) -> AlarmSpec {
    alarm_specs(stream, shards, policy, &[TOPIC.to_owned()])
        .into_iter()
        .find(|s| s.metric == metric)
        .expect("an alarm on the metric")
}

/// A stream at 90% of one shard per period: one split answers it (60% target → 2 shards).
pub(crate) fn hot_bytes(spec: &AlarmSpec) -> f64 {
    0.9 * MIB * f64::from(spec.period_secs)
}

/// The outcomes of every decision so far, once at least `expected` have arrived (or 5 s passed):
/// the function prints each decision before it answers, but the harness reads its stdout on
/// another thread, so a line may land just after the invocation returns.
pub(crate) fn decision_outcomes(lambda: &LocalLambda, expected: usize) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(5);
    while lambda.decisions().len() < expected && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    lambda.decisions().iter().map(|d| d["outcome"].as_str().unwrap_or("?").to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// The whole path.

#[tokio::test]
async fn an_alarm_fired_by_real_load_splits_the_stream_and_rearms_its_alarms() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let topic = Topic::create(&clients, &unique_name("scale-up-alarms")).await;
    let lambda = Arc::new(start_lambda());
    let bridge = SnsBridge::start(lambda.clone());
    topic.subscribe(&clients, &bridge, Duration::from_secs(15)).await;

    let s = unique_name("scale-up-e2e");
    let _cli = apply(
        &topic.arn,
        &format!(
            "{{name: {s}, desiredShards: 1, minShards: 1, maxShards: 8, \
             scaleUp: {{periodSeconds: 10, evaluationPeriods: 1, cooldownMinutes: 1}}}}"
        ),
    );
    let policy = policy_of(&streams, &s).await;
    assert_eq!((policy.scale_up.period_secs, policy.scale_up.evaluation_periods), (10, 1));

    // Load at 1.5× one shard's capacity: 1.5 MiB/s, published every 2 s as Kinesis would (a
    // 2-second Sum), so each 10-second period sums to about 1.5 × 1 MiB × 10.
    const EVERY: Duration = Duration::from_secs(2);
    let per_datapoint = 1.5 * MIB * EVERY.as_secs_f64();
    let started = Instant::now();
    let mut next_put = started;
    let mut published = 0;
    let split_after = loop {
        if Instant::now() >= next_put {
            let point = MetricPoint {
                namespace: KINESIS_NAMESPACE.into(),
                metric: Metric::IncomingBytes.as_str().into(),
                dimensions: vec![Dimension::stream(&s)],
                timestamp: Utc::now(),
                value: per_datapoint,
                unit: Unit::Bytes,
            };
            cloudwatch.put_metric_data(&[point]).await.expect("put metric data");
            published += 1;
            next_put += EVERY;
        }
        if open_shards(&streams, &s).await >= 2 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{s} still has one shard 90 s after the load started ({published} datapoints); \
             SNS deliveries: {:#?}\n{}",
            bridge.deliveries(),
            lambda.transcript()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // The decision line is printed once the alarms are re-armed, a moment after the split.
    let scaled = lambda.wait_for_decision(Duration::from_secs(60), |d| d["Outcome"] == "scaled");
    let scaled = scaled.unwrap_or_else(|| panic!("no `scaled` decision\n{}", lambda.transcript()));
    assert_eq!(scaled["Stream"], s.as_str());
    let count = settle(&streams, &s).await.tiling().len();
    assert!(count >= 2, "{count} open shards");
    assert_eq!(scaled["to"], count, "the decision reports the live count: {scaled}");

    // Re-armed for the new count, exactly as `streams apply` would write them for it.
    let policy = policy_of(&streams, &s).await;
    let expected = expected_alarms(&alarm_specs(&s, count, &policy, std::slice::from_ref(&topic.arn)));
    assert_eq!(alarms_of(&cloudwatch, &s).await, expected, "alarms of {s} for {count} shards");
    let tags = streams.describe(&s).await.expect("describe").tags;
    let last_scaled: i64 = tags
        .get(LAST_SCALED_TAG)
        .unwrap_or_else(|| panic!("{LAST_SCALED_TAG} is not set: {tags:?}"))
        .parse()
        .expect("epoch seconds");
    assert!((Utc::now().timestamp() - last_scaled).abs() < 300, "{LAST_SCALED_TAG} = {last_scaled}");

    let alarm_delivered = bridge
        .deliveries()
        .iter()
        .find(|d| d.message().is_some_and(|m| m["NewStateValue"] == "ALARM"))
        .map(|d| d.received.duration_since(started));
    eprintln!(
        "{s}: first datapoint → ALARM delivered {alarm_delivered:?}, → {count} open shards {split_after:?} \
         ({published} datapoints); Lambda ready {:?} after spawn",
        lambda.time_to_ready()
    );
    for d in lambda.decisions() {
        eprintln!(
            "{s}: decision {} ({}): DecisionLatency {} ms, AwsCalls {}",
            d["Outcome"], d["metric"], d["DecisionLatency"], d["AwsCalls"]
        );
    }

    remove(&clients, &s).await;
    topic.delete(&clients).await;
    drop(bridge);
}

// ---------------------------------------------------------------------------------------------
// Edge cases, through the real binary with crafted events.

/// A managed one-shard stream (alarms to the test topic) and the function to invoke.
async fn managed_stream(prefix: &str, max_shards: u32) -> (AwsClients, String, Policy, LocalLambda) {
    let clients = emulator_clients().await;
    let lambda = start_lambda();
    let s = unique_name(prefix);
    apply(TOPIC, &format!("{{name: {s}, desiredShards: 1, minShards: 1, maxShards: {max_shards}}}"));
    let policy = policy_of(&clients.streams(), &s).await;
    set_in_alarm(&clients, &s).await;
    (clients, s, policy, lambda)
}

/// Every alarm of `stream` in `ALARM`, as CloudWatch has them when their notifications arrive:
/// the function confirms each alarm with CloudWatch before acting on a message. The emulator
/// publishes the state change to the alarms' topic, so [`TOPIC`] must exist (creating it again is
/// a no-op; it has no subscriber, and is left for the other tests).
pub(crate) async fn set_in_alarm(clients: &AwsClients, stream: &str) {
    let topic = Topic::create(clients, TOPIC.rsplit(':').next().expect("a topic ARN")).await;
    assert_eq!(topic.arn, TOPIC);
    let cloudwatch = clients.cloudwatch();
    let prefix = format!("{ALARM_NAME_PREFIX}{stream}-");
    // The emulator evaluates a new alarm a moment after it is written and may set a hand-set
    // ALARM back to OK on missing data: set, let that pass, check, and set again if need be.
    for _ in 0..5 {
        let alarms = cloudwatch.describe_alarms(&prefix).await.expect("describe");
        for alarm in alarms.iter().filter(|a| a.state != Some(AlarmState::Alarm)) {
            cloudwatch.set_alarm_state(&alarm.name, AlarmState::Alarm, "test: hot").await.expect("set state");
        }
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
        let again = cloudwatch.describe_alarms(&prefix).await.expect("describe");
        if !again.is_empty() && again.iter().all(|a| a.state == Some(AlarmState::Alarm)) {
            return;
        }
    }
    panic!("the alarms of {stream} would not stay in ALARM");
}

#[tokio::test]
async fn a_duplicate_delivery_scales_once() {
    let (clients, s, policy, lambda) = managed_stream("scale-up-dup", 8).await;
    let spec = spec_for(&s, 1, &policy, Metric::IncomingBytes);
    let event = sns_event(TOPIC, &[alarm_message(&spec, Utc::now(), hot_bytes(&spec))]);

    let first = lambda.invoke(event.clone());
    let again = lambda.invoke(event);
    assert!(first.is_ok() && again.is_ok(), "{first:?} {again:?}\n{}", lambda.transcript());
    let decisions = lambda.decisions();
    // The scaling reset the alarm to OK: CloudWatch no longer confirms the duplicate's ALARM.
    assert_eq!(decision_outcomes(&lambda, 2), ["scaled", "ignored"], "{decisions:#?}");
    let reason = decisions[1]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not in ALARM"), "{:#}", decisions[1]);
    assert_eq!(settle(&clients.streams(), &s).await.tiling().len(), 2);
    remove(&clients, &s).await;
}

/// A throttling alarm bypasses the cooldown, so the cooldown cannot stop its duplicate: the
/// re-arm (back to OK, which CloudWatch then confirms) does, and staleness would if CloudWatch
/// still said ALARM (`crates/reconciler/tests/scale_up.rs` pins that case).
#[tokio::test]
async fn a_duplicated_throttling_alarm_scales_once() {
    let (clients, s, policy, lambda) = managed_stream("scale-up-dup-throttle", 8).await;
    let spec = spec_for(&s, 1, &policy, Metric::WriteProvisionedThroughputExceeded);
    let event = sns_event(TOPIC, &[alarm_message(&spec, Utc::now(), 12.0)]);

    let first = lambda.invoke(event.clone());
    let again = lambda.invoke(event);
    assert!(first.is_ok() && again.is_ok(), "{first:?} {again:?}\n{}", lambda.transcript());
    let decisions = lambda.decisions();
    assert_eq!(decision_outcomes(&lambda, 2), ["scaled", "ignored"], "{decisions:#?}");
    assert_eq!(settle(&clients.streams(), &s).await.tiling().len(), 2);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn bytes_and_records_alarms_together_scale_once() {
    let (clients, s, policy, lambda) = managed_stream("scale-up-twins", 8).await;
    let bytes = spec_for(&s, 1, &policy, Metric::IncomingBytes);
    let records = spec_for(&s, 1, &policy, Metric::IncomingRecords);
    let changed = Utc::now();
    let event = sns_event(
        TOPIC,
        &[
            alarm_message(&bytes, changed, hot_bytes(&bytes)),
            alarm_message(&records, changed + chrono::Duration::milliseconds(40), 0.9 * 1000.0 * 60.0),
        ],
    );

    let answer = lambda.invoke(event);
    let answer = answer.unwrap_or_else(|e| panic!("{e}\n{}", lambda.transcript()));
    assert_eq!((answer["records"].as_u64(), answer["scaled"].as_u64()), (Some(2), Some(1)), "{answer}");
    let decisions = lambda.decisions();
    // The twin is confirmed with CloudWatch first: the scaling re-armed it to OK, so it is
    // ignored (still in ALARM, it would be held as stale; see the resync for what stays there).
    assert_eq!(decision_outcomes(&lambda, 2), ["scaled", "ignored"], "{decisions:#?}");
    assert!(
        decisions[1]["reason"].as_str().is_some_and(|r| r.contains("not in ALARM")),
        "{:#}",
        decisions[1]
    );
    assert_eq!(settle(&clients.streams(), &s).await.tiling().len(), 2);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn an_alarm_for_an_unmanaged_stream_is_ignored() {
    let clients = emulator_clients().await;
    let streams = clients.streams();
    let lambda = start_lambda();
    let s = unique_name("scale-up-unmanaged");
    streams.create_stream(&s, 1).await.expect("create stream");
    settle(&streams, &s).await;
    let spec = spec_for(&s, 1, &Policy::default(), Metric::IncomingBytes);
    // A real alarm in ALARM (so CloudWatch confirms it) on a stream without the policy tag.
    clients.cloudwatch().put_alarm(&spec).await.expect("put alarm");
    set_in_alarm(&clients, &s).await;

    let answer = lambda.invoke(sns_event(TOPIC, &[alarm_message(&spec, Utc::now(), hot_bytes(&spec))]));
    assert!(answer.is_ok(), "{answer:?}\n{}", lambda.transcript());
    let decisions = lambda.decisions();
    assert_eq!(decision_outcomes(&lambda, 1), ["ignored"], "{decisions:#?}");
    let reason = decisions[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not managed"), "{reason}");
    let after = settle(&streams, &s).await;
    assert_eq!(after.tiling().len(), 1);
    assert!(after.tags.is_empty(), "nothing was written on it: {:?}", after.tags);
    clients.cloudwatch().delete_alarms(std::slice::from_ref(&spec.name)).await.expect("delete alarm");
    streams.delete_stream(&s).await.expect("delete stream");
}

#[tokio::test]
async fn a_malformed_message_is_skipped_and_the_invocation_succeeds() {
    let lambda = start_lambda();
    let answer = lambda.invoke(sns_event(TOPIC, &["not json".to_owned()]));
    let answer = answer.unwrap_or_else(|e| panic!("{e}\n{}", lambda.transcript()));
    assert_eq!((answer["records"].as_u64(), answer["ignored"].as_u64()), (Some(1), Some(1)), "{answer}");
    assert!(lambda.decisions().is_empty(), "no decision for a message that is not an alarm");
    // The harness reads the function's stdout on another thread: give the line a moment to land.
    let warned = (0..50).any(|_| {
        let seen = lambda.json_lines().into_iter().any(|line| {
            line["level"] == "WARN"
                && line["fields"]["message"].as_str().is_some_and(|m| m.contains("malformed"))
        });
        if !seen {
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    });
    assert!(warned, "a warning names the malformed message\n{}", lambda.transcript());
}

#[tokio::test]
async fn at_max_shards_nothing_changes() {
    let (clients, s, policy, lambda) = managed_stream("scale-up-max", 1).await;
    let spec = spec_for(&s, 1, &policy, Metric::IncomingBytes);
    let before = alarms_of(&clients.cloudwatch(), &s).await;

    let answer = lambda.invoke(sns_event(TOPIC, &[alarm_message(&spec, Utc::now(), hot_bytes(&spec))]));
    assert!(answer.is_ok(), "{answer:?}\n{}", lambda.transcript());
    assert_eq!(decision_outcomes(&lambda, 1), ["no_change"], "{:#?}", lambda.decisions());
    let after = settle(&clients.streams(), &s).await;
    assert_eq!(after.tiling().len(), 1);
    assert!(!after.tags.contains_key(LAST_SCALED_TAG), "no scaling recorded: {:?}", after.tags);
    assert_eq!(alarms_of(&clients.cloudwatch(), &s).await, before, "the alarms are left as they were");
    remove(&clients, &s).await;
}

#[tokio::test]
async fn a_stream_already_updating_is_waited_for_then_handled() {
    let (clients, s, policy, lambda) = managed_stream("scale-up-busy", 8).await;
    let streams = clients.streams();
    let spec = spec_for(&s, 1, &policy, Metric::IncomingBytes);
    let event = sns_event(TOPIC, &[alarm_message(&spec, Utc::now(), hot_bytes(&spec))]);
    lambda.time_to_ready();

    // Another actor reshards; the alarm arrives while the stream is UPDATING.
    streams.update_shard_count(&s, 2).await.expect("update shard count");
    let answer = lambda.invoke(event);
    assert!(answer.is_ok(), "{answer:?}\n{}", lambda.transcript());
    let outcomes = decision_outcomes(&lambda, 1);
    let decisions = lambda.decisions();
    // From the 2 shards the other actor left, 90% of one shard needs no more: no change; had
    // its reshard not finished, the function would have acted on what it found. Never an error.
    assert!(matches!(outcomes.as_slice(), [o] if o == "no_change" || o == "scaled"), "{decisions:#?}");
    let after = settle(&streams, &s).await;
    assert_eq!(after.status, StreamStatus::Active);
    assert!(after.tiling().len() >= 2, "{:?}", after.tiling());
    eprintln!("{s}: after a concurrent reshard: {:#}", decisions[0]);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn the_resync_schedule_scales_a_stream_whose_alarms_stayed_in_alarm() {
    let clients = emulator_clients().await;
    let s = unique_name("scale-up-resync");
    // Scoped to this stream: the emulator is shared, and the resync lists every alarm in ALARM.
    let lambda = emulator_function("lambda-scale-up", &[("STREAM_NAME_PREFIX", &s)], DEFAULT_TIMEOUT);
    apply(TOPIC, &format!("{{name: {s}, desiredShards: 1, minShards: 1, maxShards: 8}}"));
    let policy = policy_of(&clients.streams(), &s).await;
    // Left in ALARM: no state change is coming, so no notification either.
    set_in_alarm(&clients, &s).await;

    let answer = lambda.invoke(scheduled_event("kinesis-autoscaler-resync", &Utc::now().to_rfc3339()));
    assert!(answer.is_ok(), "{answer:?}\n{}", lambda.transcript());
    let decisions = lambda.decisions();
    assert!(decisions.iter().all(|d| d["trigger"] == "resync"), "{decisions:#?}");
    let scaled: Vec<&Value> = decisions.iter().filter(|d| d["outcome"] == "scaled").collect();
    assert_eq!(scaled.len(), 1, "the stream's alarms together scale it once: {decisions:#?}");
    let after = settle(&clients.streams(), &s).await;
    let shards = after.tiling().len();
    assert!(shards >= 2, "{:?}", after.tiling());
    let want = expected_alarms(&alarm_specs(&s, shards, &policy, &[TOPIC.to_owned()]));
    assert_eq!(alarms_of(&clients.cloudwatch(), &s).await, want, "re-armed for {shards} shards");
    remove(&clients, &s).await;
}

/// The bytes, records and throttling alarms of one evaluation delivered to three function
/// processes at once, as SNS and Lambda do. Nothing orders them but Kinesis, which allows one
/// reshard at a time; every step is derived from what the others left, so the stream ends at the
/// larger plan's count, never above it, and every alarm is re-armed for that count.
#[tokio::test]
async fn three_alarms_of_one_evaluation_in_three_concurrent_processes_end_at_the_larger_count() {
    let (clients, s, policy, first) = managed_stream("scale-up-three", 8).await;
    let functions = [first, start_lambda(), start_lambda()];
    let changed = Utc::now();
    let events: Vec<Value> = [
        (Metric::IncomingBytes, 0.9 * MIB * 60.0),
        (Metric::IncomingRecords, 0.9 * 1000.0 * 60.0),
        (Metric::WriteProvisionedThroughputExceeded, 200.0 * 60.0),
    ]
    .iter()
    .map(|&(metric, value)| {
        sns_event(TOPIC, &[alarm_message(&spec_for(&s, 1, &policy, metric), changed, value)])
    })
    .collect();
    let answers: Vec<_> = std::thread::scope(|scope| {
        let running: Vec<_> =
            functions.iter().zip(events).map(|(f, event)| scope.spawn(move || f.try_invoke(event))).collect();
        running.into_iter().map(|r| r.join().expect("no panic")).collect()
    });
    let transcripts = || functions.iter().map(LocalLambda::transcript).collect::<Vec<_>>().join("\n");
    for answer in &answers {
        assert!(matches!(answer, Ok(Ok(_))), "{answer:?}\n{}", transcripts());
    }
    let decisions: Vec<Value> = functions.iter().flat_map(LocalLambda::decisions).collect();
    let larger = decisions
        .iter()
        .filter(|d| d["outcome"] == "scaled")
        .filter_map(|d| d["plan"]["target_shards"].as_u64())
        .max()
        .unwrap_or_else(|| panic!("one of them scaled: {decisions:#?}"));
    let shards = settle(&clients.streams(), &s).await.tiling().len();
    assert_eq!(u64::from(shards), larger, "the larger plan's count: {decisions:#?}");
    let want = expected_alarms(&alarm_specs(&s, shards, &policy, &[TOPIC.to_owned()]));
    assert_eq!(alarms_of(&clients.cloudwatch(), &s).await, want, "re-armed for the live count");
    remove(&clients, &s).await;
}
