//! The bytes, records and throttle alarms of one evaluation, handled by concurrent invocations.
//!
//! Kinesis serialises reshards (a stream is `UPDATING` for a while after each, and refuses another
//! with `ResourceInUse` meanwhile); nothing else orders the invocations. The in-memory Kinesis
//! models both, and each seed interleaves the three handlers differently (every call waits a
//! seeded random time first), so the properties hold across interleavings, not for one lucky
//! order. `CONCURRENCY_SEEDS` runs more seeds than CI's default.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::{
    KINESIS_NAMESPACE, Metric, POLICY_TAG, Policy, ScalingState, alarm_name, alarm_specs, encode_policy,
};
use reconciler::alarm_message::AlarmMessage;
use reconciler::scale_up::{Decision, handle};
use reconciler::{
    AlarmPort, AlarmState, Context, Dimension, ExecuteSettings, IoPolicy, MetricPoint, MetricPublisher,
    Resharder, Scope, SeededJitter, StreamReader, TokioClock, Unit,
};
use simulated_aws::{Model, World};

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";
const MIB: f64 = 1_048_576.0;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("in range")
}

fn message(metric: Metric, changed: DateTime<Utc>, datapoint: f64) -> AlarmMessage {
    let name = alarm_name("orders", metric);
    let changed = changed.format("%Y-%m-%dT%H:%M:%S%.3f+0000");
    AlarmMessage::parse(&format!(
        r#"{{"AlarmName":"{name}","AlarmDescription":null,"AWSAccountId":"{ACCOUNT}",
        "NewStateValue":"ALARM","OldStateValue":"OK",
        "NewStateReason":"Threshold Crossed: 1 out of the last 1 datapoints [{datapoint:E} (23/11/26 10:04:00)] was greater than or equal to the threshold (1.0E0) (minimum 1 datapoint for OK -> ALARM transition).",
        "StateChangeTime":"{changed}","Region":"US East (N. Virginia)",
        "AlarmArn":"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}",
        "OKActions":[],"AlarmActions":["{TOPIC}"],"InsufficientDataActions":[],
        "Trigger":{{"MetricName":"{metric}","Namespace":"AWS/Kinesis","StatisticType":"Statistic","Statistic":"SUM",
        "Unit":null,"Dimensions":[{{"value":"orders","name":"StreamName"}}],"Period":60,"EvaluationPeriods":1,
        "ComparisonOperator":"GreaterThanOrEqualToThreshold","Threshold":1.0,"TreatMissingData":"notBreaching"}}}}"#,
        metric = metric.as_str(),
    ))
    .expect("test messages parse")
}

/// One interleaving: a managed stream of `shards`, three alarms of one evaluation handled at once.
struct Outcome {
    decisions: Vec<Decision>,
    shards: u32,
    narrowest: f64,
    update_calls_made: usize,
    update_calls_recorded: usize,
    alarms_for_live_count: bool,
}

async fn evaluate(seed: u64, shards: u32, policy: &Policy, mib_per_sec: f64) -> Outcome {
    // Reshards take 3 s, and every call first waits a seeded random time below 1.5 s.
    let model = Model { call_jitter: Duration::from_millis(1_500), seed, ..Model::instant() }
        .with_reshard_time(Duration::from_secs(3));
    let kinesis = World::new(Arc::new(TokioClock::new(t(0))), model);
    kinesis.add_stream("orders", shards, t(-86_400 * 3));
    kinesis.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(policy))].into()).await.unwrap();
    let cloudwatch = kinesis.clone();
    for spec in alarm_specs("orders", shards, policy, &[TOPIC.to_owned()]) {
        cloudwatch.put_alarm(&spec).await.unwrap();
        cloudwatch.set_alarm_state(&spec.name, AlarmState::Alarm, "test").await.unwrap();
    }
    // The accepted load, a minute old (what the metrics show when the alarms fire).
    let points = [
        (Metric::IncomingBytes, mib_per_sec * MIB * 60.0, Unit::Bytes),
        (Metric::IncomingRecords, 10.0, Unit::Count),
    ]
    .map(|(metric, value, unit)| MetricPoint {
        namespace: KINESIS_NAMESPACE.into(),
        metric: metric.as_str().into(),
        dimensions: vec![Dimension::stream("orders")],
        timestamp: t(-120),
        value,
        unit,
    });
    cloudwatch.put_metric_data(&points).await.unwrap();
    let evaluation = t(-30);
    let alarms = [
        message(Metric::IncomingBytes, evaluation, mib_per_sec * MIB * 60.0),
        message(Metric::IncomingRecords, evaluation, 600.0),
        message(Metric::WriteProvisionedThroughputExceeded, evaluation, 60.0 * 200.0),
    ];
    let settings = ExecuteSettings { poll: Duration::from_millis(500), ..ExecuteSettings::default() };
    let run = |alarm: &AlarmMessage, i: u64| {
        let io = IoPolicy::new(kinesis.clock())
            .until(t(600))
            .backoff(settings.backoff)
            .jitter(SeededJitter::new(seed * 3 + i));
        let scope =
            Scope { account: ACCOUNT.into(), region: "us-east-1".into(), stream_prefix: String::new() };
        let cx = Context::new(kinesis.clone(), cloudwatch.clone(), io)
            .with_scope(scope)
            .with_execute(settings.clone());
        let alarm = alarm.clone();
        async move { handle(&cx, &alarm).await.expect("no AWS failure").decision }
    };
    let (a, b, c) = tokio::join!(run(&alarms[0], 0), run(&alarms[1], 1), run(&alarms[2], 2));
    let live = kinesis.describe("orders").await.unwrap();
    let tiling = live.open.clone().expect("listed");
    let specs = alarm_specs("orders", tiling.len(), policy, &[TOPIC.to_owned()]);
    Outcome {
        decisions: vec![a, b, c],
        shards: tiling.len(),
        narrowest: tiling.shards().iter().map(|s| s.range.fraction()).fold(1.0, f64::min),
        update_calls_made: kinesis
            .kinesis_calls()
            .iter()
            .filter(|c| c.starts_with("UpdateShardCount"))
            .count(),
        update_calls_recorded: ScalingState::from_tags(&live.tags, t(3_600))
            .expect("valid")
            .update_calls
            .len(),
        alarms_for_live_count: specs
            .iter()
            .all(|spec| cloudwatch.alarm(&spec.name).is_some_and(|(a, _)| &a == spec)),
    }
}

fn seeds() -> u64 {
    std::env::var("CONCURRENCY_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(60)
}

#[tokio::test(start_paused = true)]
async fn concurrent_alarms_of_one_evaluation_end_at_the_larger_need_never_above_it() {
    // Uneven start (targeted splits) and even start (UpdateShardCount), light and heavy demand.
    for (shards, mib_per_sec, max) in [(3, 2.5, 12), (4, 3.5, 16), (4, 9.0, 10), (2, 1.4, 64)] {
        let policy = Policy { max_shards: max, ..Policy::default() };
        for seed in 1..=seeds() {
            let outcome = evaluate(seed, shards, &policy, mib_per_sec).await;
            let scaled: Vec<u32> = outcome
                .decisions
                .iter()
                .filter_map(|d| match d {
                    Decision::Scaled { plan, .. } => Some(plan.target_shards),
                    _ => None,
                })
                .collect();
            let case = format!(
                "seed {seed}, {shards} shards, {mib_per_sec} MiB/s, max {max}: {:?}",
                outcome.decisions
            );
            assert!(!scaled.is_empty(), "{case}");
            let larger = scaled.iter().copied().max().unwrap_or(shards);
            assert!(outcome.shards <= max, "above maxShards: {} ({case})", outcome.shards);
            assert_eq!(outcome.shards, larger, "not the larger plan's count ({case})");
            assert!(
                outcome.narrowest * 2.0 * f64::from(outcome.shards) >= 0.999,
                "a sliver of {:.4} of the key space among {} shards ({case})",
                outcome.narrowest,
                outcome.shards
            );
            assert_eq!(
                outcome.update_calls_made, outcome.update_calls_recorded,
                "quota accounting lost ({case})"
            );
            assert!(outcome.alarms_for_live_count, "alarms not re-armed for the live count ({case})");
        }
    }
}
