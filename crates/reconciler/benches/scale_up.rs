//! Handler cost per alarm with zero-latency fakes: what the scaler itself adds to the reaction
//! time, apart from AWS's round trips. Run with `cargo bench -p reconciler --bench scale_up`;
//! prints medians of many runs side by side (timed tests are not trusted on shared machines).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use planner::{Metric, POLICY_TAG, Policy, alarm_name, alarm_specs, encode_policy};
use reconciler::alarm_message::AlarmMessage;
use reconciler::scale_up::{Decision, handle};
use reconciler::{AlarmPort, Context, ExecuteSettings, IoPolicy, Resharder, Scope, SeededJitter, TokioClock};
use simulated_aws::{Model, World};

const RUNS: usize = 2_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    // Kinesis in memory records writes only; its reads (one describe, one wait) are not counted.
    println!(
        "{:<42} {:>10} {:>10} {:>14} {:>9}",
        "scenario (per alarm)", "median", "p90", "kinesis writes", "cw calls"
    );
    for (label, shards, share) in [
        ("split 1 -> 2 shards", 1, 0.9),
        ("uniform 8 -> 12 shards (UpdateShardCount)", 8, 7.2),
        ("uniform 3 -> 5 shards (UpdateShardCount)", 3, 2.8),
        ("held: duplicate delivery", 1, 0.9),
        ("no change: enough capacity", 4, 0.5),
    ] {
        let (mut times, mut calls) = (Vec::with_capacity(RUNS), (0, 0));
        for _ in 0..RUNS {
            let (elapsed, k, c) = runtime.block_on(one(shards, share, label.starts_with("held")));
            times.push(elapsed);
            calls = (k, c);
        }
        times.sort();
        let pct = |p: usize| times[times.len() * p / 100];
        println!("{label:<42} {:>10?} {:>10?} {:>14} {:>9}", pct(50), pct(90), calls.0, calls.1);
    }
}

/// One alarm on a fresh managed stream; returns the handler's time and the calls it made.
async fn one(shards: u32, load_shards: f64, duplicate: bool) -> (Duration, usize, usize) {
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let world = World::new(Arc::new(TokioClock::new(now + chrono::Duration::seconds(5))), Model::instant());
    world.add_stream("orders", shards, now - chrono::Duration::days(3));
    let policy = Policy::default();
    world.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
    let topic = "arn:aws:sns:us-east-1:123456789012:t".to_owned();
    for spec in alarm_specs("orders", shards, &policy, std::slice::from_ref(&topic)) {
        world.put_alarm(&spec).await.unwrap();
    }
    let message = AlarmMessage::parse(&message(now, load_shards * 1_048_576.0 * 60.0, &topic)).unwrap();
    let io = IoPolicy::new(world.clock())
        .until(world.now() + chrono::Duration::seconds(600))
        .jitter(SeededJitter::new(1));
    let scope =
        Scope { account: "123456789012".into(), region: "us-east-1".into(), stream_prefix: String::new() };
    let settings = ExecuteSettings { poll: Duration::ZERO, ..ExecuteSettings::default() };
    let cx = Context::new(world.clone(), world.clone(), io).with_scope(scope).with_execute(settings);
    // In ALARM when the function confirms it, as CloudWatch leaves it when it notifies (and, for
    // a duplicate, before it re-evaluated the alarm the first delivery reset).
    let name = alarm_name("orders", Metric::IncomingBytes);
    world.fire(&name, "Threshold Crossed", now);
    if duplicate {
        handle(&cx, &message).await.unwrap();
        world.fire(&name, "Threshold Crossed", now);
    }
    let (k0, c0) = (world.kinesis_calls().len(), world.cloudwatch_calls().len());
    let started = Instant::now();
    let record = handle(&cx, &message).await.unwrap();
    let elapsed = started.elapsed();
    assert!(!matches!(record.decision, Decision::Ignored { .. }), "{:?}", record.decision);
    (elapsed, world.kinesis_calls().len() - k0, world.cloudwatch_calls().len() - c0)
}

fn message(changed: DateTime<Utc>, bytes_sum: f64, topic: &str) -> String {
    let name = alarm_name("orders", Metric::IncomingBytes);
    format!(
        r#"{{"AlarmName":"{name}","NewStateValue":"ALARM","NewStateReason":"Threshold Crossed: 1 out of the last 1 datapoints [{bytes_sum:E} (23/11/26 10:04:00)] was greater than or equal to the threshold (1.0E0).",
        "StateChangeTime":"{}","AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}","AlarmActions":["{topic}"],
        "Trigger":{{"MetricName":"IncomingBytes","Namespace":"AWS/Kinesis","Statistic":"SUM","Dimensions":[{{"value":"orders","name":"StreamName"}}],"Period":60,"EvaluationPeriods":1,"ComparisonOperator":"GreaterThanOrEqualToThreshold","Threshold":1.0}}}}"#,
        changed.format("%Y-%m-%dT%H:%M:%S%.3f+0000")
    )
}
