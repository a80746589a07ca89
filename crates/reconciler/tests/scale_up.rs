//! The scale-up handler against Kinesis and CloudWatch in memory: one alarm in, one decision out,
//! and the edge cases SNS and CloudWatch really produce (duplicates, simultaneous alarms, foreign
//! or unmanaged streams, cooldowns, throttles, deadlines).

use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::{
    Admission, KINESIS_NAMESPACE, Metric, POLICY_TAG, Policy, ScalingState, alarm_name, alarm_specs,
    encode_policy, shard_alarm_prefix, shard_alarm_specs,
};
use reconciler::alarm_message::AlarmMessage;
use reconciler::memory::{InMemoryCloudWatch, InMemoryStreams};
use reconciler::scale_up::{Decision, Invocation, handle};
use reconciler::{
    AlarmPort, AlarmState, Dimension, ErrorKind, ExecuteSettings, MetricPoint, MetricPublisher, Resharder,
    SeededJitter, StreamAdmin, StreamReader, Unit,
};
use tokio::time::Instant;

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";
const MIB: f64 = 1_048_576.0;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

struct World {
    kinesis: InMemoryStreams,
    cloudwatch: InMemoryCloudWatch,
    policy: Policy,
    /// The deployment's `STREAM_NAME_PREFIX`.
    prefix: String,
}

impl World {
    /// A managed stream `orders` with `shards` shards and its alarms, as `streams apply` leaves it.
    async fn new(shards: u32, policy: Policy) -> World {
        let kinesis = InMemoryStreams::new().with_stream("orders", shards, t(-86_400 * 3));
        kinesis.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
        let cloudwatch = InMemoryCloudWatch::new();
        for spec in alarm_specs("orders", shards, &policy, &[TOPIC.to_owned()]) {
            cloudwatch.put_alarm(&spec).await.unwrap();
            cloudwatch.set_alarm_state(&spec.name, AlarmState::Alarm, "test").await.unwrap();
        }
        World { kinesis, cloudwatch, policy, prefix: String::new() }
    }

    async fn shards(&self) -> u32 {
        self.kinesis.tiling("orders").unwrap().len()
    }

    async fn alarm(&self, message: &str, now: DateTime<Utc>) -> Decision {
        self.alarm_with_deadline(message, now, Instant::now() + Duration::from_secs(600)).await
    }

    async fn alarm_with_deadline(&self, message: &str, now: DateTime<Utc>, deadline: Instant) -> Decision {
        let message = AlarmMessage::parse(message).expect("test messages parse");
        let cx = Invocation {
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            stream_prefix: self.prefix.clone(),
            now,
            deadline,
        };
        let settings = ExecuteSettings { poll: Duration::from_millis(10), ..ExecuteSettings::default() };
        handle(&self.kinesis, &self.cloudwatch, &message, &cx, &settings, &mut SeededJitter::new(3))
            .await
            .expect("no AWS failure")
            .decision
    }
}

/// An AWS-shaped alarm notification for `orders`.
fn message(metric: Metric, state: &str, changed: DateTime<Utc>, datapoint: f64, extra_dims: &str) -> String {
    let name = alarm_name("orders", metric);
    let changed = changed.format("%Y-%m-%dT%H:%M:%S%.3f+0000");
    format!(
        r#"{{"AlarmName":"{name}","AlarmDescription":null,"AWSAccountId":"{ACCOUNT}",
        "NewStateValue":"{state}","OldStateValue":"OK",
        "NewStateReason":"Threshold Crossed: 1 out of the last 1 datapoints [{datapoint:E} (23/11/26 10:04:00)] was greater than or equal to the threshold (1.0E0) (minimum 1 datapoint for OK -> ALARM transition).",
        "StateChangeTime":"{changed}","Region":"US East (N. Virginia)",
        "AlarmArn":"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}",
        "OKActions":[],"AlarmActions":["{TOPIC}"],"InsufficientDataActions":[],
        "Trigger":{{"MetricName":"{metric}","Namespace":"AWS/Kinesis","StatisticType":"Statistic","Statistic":"SUM",
        "Unit":null,"Dimensions":[{{"value":"orders","name":"StreamName"}}{extra_dims}],"Period":60,"EvaluationPeriods":1,
        "ComparisonOperator":"GreaterThanOrEqualToThreshold","Threshold":1.0,"TreatMissingData":"notBreaching"}}}}"#,
        metric = metric.as_str(),
    )
}

/// IncomingBytes at `share` of one shard's capacity per second, over a 60 s period.
fn bytes_alarm(changed: DateTime<Utc>, shard_share: f64) -> String {
    message(Metric::IncomingBytes, "ALARM", changed, shard_share * MIB * 60.0, "")
}

#[tokio::test(start_paused = true)]
async fn a_hot_stream_is_split_and_its_alarms_rearmed_for_the_new_count() {
    let world = World::new(1, Policy::default()).await;
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let Decision::Scaled { from: 1, to: 2, complete: true, .. } = decision else { panic!("{decision:?}") };
    assert_eq!(world.shards().await, 2);
    for spec in alarm_specs("orders", 2, &world.policy, &[TOPIC.to_owned()]) {
        let (written, state) = world.cloudwatch.alarm(&spec.name).unwrap();
        assert_eq!(written, spec, "re-armed with the thresholds streams apply would write");
        assert_eq!(state, AlarmState::Ok, "{} back to OK so it can fire again", spec.name);
    }
    let tags = world.kinesis.describe("orders").await.unwrap().tags;
    assert_eq!(ScalingState::from_tags(&tags).last_scaled_at, Some(t(5)));
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_delivery_scales_once() {
    let world = World::new(1, Policy::default()).await;
    let alarm = bytes_alarm(t(0), 0.9);
    world.alarm(&alarm, t(5)).await;
    let again = world.alarm(&alarm, t(6)).await;
    assert!(matches!(again, Decision::Held { admission: Admission::Stale { .. } }), "{again:?}");
    assert_eq!(world.shards().await, 2);
}

#[tokio::test(start_paused = true)]
async fn a_duplicated_throttling_alarm_scales_once_although_it_bypasses_the_cooldown() {
    let world = World::new(1, Policy::default()).await;
    let throttled = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(0), 12.0, "");
    assert!(matches!(world.alarm(&throttled, t(5)).await, Decision::Scaled { .. }));
    let again = world.alarm(&throttled, t(6)).await;
    assert!(matches!(again, Decision::Held { admission: Admission::Stale { .. } }), "{again:?}");
    assert_eq!(world.shards().await, 2);
}

#[tokio::test(start_paused = true)]
async fn bytes_and_records_alarms_firing_together_scale_once() {
    let world = World::new(1, Policy::default()).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let records = message(Metric::IncomingRecords, "ALARM", t(0), 900.0 * 60.0, "");
    let decision = world.alarm(&records, t(6)).await;
    assert!(matches!(decision, Decision::Held { admission: Admission::Stale { .. } }), "{decision:?}");
    assert_eq!(world.shards().await, 2);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_for_an_unmanaged_stream_is_ignored_and_touches_nothing() {
    let world = World::new(1, Policy::default()).await;
    world.kinesis.remove_tags("orders", &[POLICY_TAG.to_owned()]).await.unwrap();
    let calls_before = world.kinesis.calls().len();
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let Decision::Ignored { reason } = decision else { panic!("{decision:?}") };
    assert!(reason.contains("not managed"), "{reason}");
    assert_eq!(world.kinesis.calls().len(), calls_before);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_for_a_stream_outside_the_deployments_prefix_is_ignored_without_an_aws_call() {
    let mut world = World::new(1, Policy::default()).await;
    world.prefix = "billing-".into();
    // What a role narrowed to billing-* answers; the handler must not even ask.
    world.kinesis.fail_next("DescribeStreamSummary", ErrorKind::AccessDenied);
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let Decision::Ignored { reason } = decision else { panic!("{decision:?}") };
    assert!(reason.contains("outside STREAM_NAME_PREFIX"), "{reason}");
    assert_eq!(world.shards().await, 1);
}

#[tokio::test(start_paused = true)]
async fn alarms_from_another_account_or_ok_transitions_are_ignored() {
    let world = World::new(1, Policy::default()).await;
    let foreign = bytes_alarm(t(0), 0.9).replace(ACCOUNT, "999999999999");
    assert!(matches!(world.alarm(&foreign, t(5)).await, Decision::Ignored { .. }));
    let ok = message(Metric::IncomingBytes, "OK", t(0), 1.0, "");
    assert!(matches!(world.alarm(&ok, t(5)).await, Decision::Ignored { .. }));
    assert_eq!(world.shards().await, 1);
}

#[tokio::test(start_paused = true)]
async fn at_max_shards_nothing_changes_and_the_alarm_stays_in_alarm() {
    let world = World::new(2, Policy { max_shards: 2, ..Policy::default() }).await;
    let decision = world.alarm(&bytes_alarm(t(0), 1.9), t(5)).await;
    assert!(matches!(decision, Decision::NoChange { .. }), "{decision:?}");
    let name = alarm_name("orders", Metric::IncomingBytes);
    assert_eq!(
        world.cloudwatch.alarm(&name).unwrap().1,
        AlarmState::Alarm,
        "no pointless re-fire every minute"
    );
}

#[tokio::test(start_paused = true)]
async fn within_the_cooldown_the_alarm_is_reset_to_fire_again_later() {
    let world = World::new(1, Policy::default()).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    world
        .cloudwatch
        .set_alarm_state(&alarm_name("orders", Metric::IncomingBytes), AlarmState::Alarm, "x")
        .await
        .unwrap();
    let decision = world.alarm(&bytes_alarm(t(65), 0.9), t(66)).await;
    assert!(matches!(decision, Decision::Held { admission: Admission::Cooldown { .. } }), "{decision:?}");
    assert_eq!(world.shards().await, 2, "no second scaling within 300 s");
    let name = alarm_name("orders", Metric::IncomingBytes);
    assert_eq!(world.cloudwatch.alarm(&name).unwrap().1, AlarmState::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_throttling_alarm_bypasses_the_cooldown() {
    let world = World::new(1, Policy::default()).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let throttled = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(65), 12.0, "");
    let decision = world.alarm(&throttled, t(66)).await;
    assert!(matches!(decision, Decision::Scaled { .. }), "{decision:?}");
    assert_eq!(world.shards().await, 3);
}

#[tokio::test(start_paused = true)]
async fn throttled_kinesis_calls_are_retried() {
    let world = World::new(1, Policy::default()).await;
    world.kinesis.fail_next("DescribeStreamSummary", ErrorKind::Throttled);
    world.kinesis.fail_next("SplitShard", ErrorKind::LimitExceeded);
    world.cloudwatch.fail_next("GetMetricData", ErrorKind::Throttled);
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    assert!(matches!(decision, Decision::Scaled { complete: true, .. }), "{decision:?}");
}

#[tokio::test(start_paused = true)]
async fn a_shard_level_alarm_splits_that_shard() {
    let world = World::new(4, Policy::default()).await;
    let hot = world.kinesis.tiling("orders").unwrap().shards()[2].id.clone();
    let alarm = message(
        Metric::IncomingBytes,
        "ALARM",
        t(0),
        0.1 * MIB * 60.0,
        &format!(r#",{{"value":"{hot}","name":"ShardId"}}"#),
    );
    let decision = world.alarm(&alarm, t(5)).await;
    let Decision::Scaled { steps, .. } = decision else { panic!("{decision:?}") };
    assert_eq!(steps.len(), 1);
    assert!(steps[0].starts_with(&format!("SplitShard {hot} at ")), "{steps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_too_close_stops_cleanly_and_still_rearms() {
    let world = World::new(1, Policy::default()).await;
    let decision = world
        .alarm_with_deadline(&bytes_alarm(t(0), 0.9), t(5), Instant::now() + Duration::from_secs(5))
        .await;
    let Decision::Scaled { complete: false, to: 1, why_incomplete: Some(why), .. } = decision else {
        panic!("{decision:?}")
    };
    assert!(why.starts_with("deadline"), "{why}");
    let name = alarm_name("orders", Metric::IncomingBytes);
    assert_eq!(
        world.cloudwatch.alarm(&name).unwrap().1,
        AlarmState::Ok,
        "it fires again and the next run continues"
    );
}

#[tokio::test(start_paused = true)]
async fn with_shard_level_metrics_the_measured_hot_shard_is_split_and_shard_alarms_follow_the_reshard() {
    let policy = Policy { shard_level_metrics: true, ..Policy::default() };
    let world = World::new(4, policy.clone()).await;
    let ids = world.kinesis.tiling("orders").unwrap().ids();
    for spec in shard_alarm_specs("orders", &ids, &policy, &[TOPIC.to_owned()]) {
        world.cloudwatch.put_alarm(&spec).await.unwrap();
    }
    // A hot key: shard 1 writes 0.95 MiB/s, the others almost nothing, so the stream as a whole
    // sits at a quarter of its capacity and only the throttling alarm fires.
    let mut points = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mib = if i == 1 { 0.95 } else { 0.01 };
        for minute in 1..=3 {
            points.push(MetricPoint {
                namespace: KINESIS_NAMESPACE.into(),
                metric: Metric::IncomingBytes.as_str().into(),
                dimensions: vec![Dimension::stream("orders"), Dimension::new("ShardId", id.as_str())],
                timestamp: t(-60 * minute),
                value: mib * MIB * 60.0,
                unit: Unit::Bytes,
            });
        }
    }
    world.cloudwatch.put_metric_data(&points).await.unwrap();
    let throttled = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(0), 12.0, "");
    let decision = world.alarm(&throttled, t(5)).await;
    let Decision::Scaled { steps, to: 5, .. } = decision else { panic!("{decision:?}") };
    assert!(steps.iter().all(|s| s.starts_with(&format!("SplitShard {} at ", ids[1]))), "{steps:?}");

    let open = world.kinesis.tiling("orders").unwrap().ids();
    let alarms = world.cloudwatch.describe_alarms(&shard_alarm_prefix("orders")).await.unwrap();
    let mut names: Vec<String> = alarms.iter().map(|a| a.name.clone()).collect();
    names.sort();
    let mut want: Vec<String> = shard_alarm_specs("orders", &open, &policy, &[TOPIC.to_owned()])
        .into_iter()
        .map(|s| s.name)
        .collect();
    want.sort();
    assert_eq!(names, want, "an alarm for each open shard, none for the closed parent");
    assert!(!names.iter().any(|n| n.contains(ids[1].as_str())));
}

#[tokio::test(start_paused = true)]
async fn when_update_shard_count_hits_its_daily_quota_the_scale_up_splits_instead() {
    let world = World::new(4, Policy::default()).await;
    // 3.6 MiB/s on 4 even shards: one UpdateShardCount to 6 would do, but the quota is spent
    // (calls this tool never recorded).
    world.kinesis.fail_next("UpdateShardCount", ErrorKind::QuotaExceeded);
    let decision = world.alarm(&bytes_alarm(t(0), 3.6), t(5)).await;
    let Decision::Scaled { ref steps, to, complete: true, .. } = decision else { panic!("{decision:?}") };
    assert!(to >= 6, "{decision:?}");
    assert!(steps.iter().all(|s| s.starts_with("SplitShard")), "{steps:?}");
    assert!(world.kinesis.calls().iter().all(|c| !c.starts_with("UpdateShardCount")));
    let tags = world.kinesis.describe("orders").await.unwrap().tags;
    assert_eq!(
        ScalingState::from_tags(&tags).update_calls_last_24h(t(5)),
        planner::UPDATE_SHARD_COUNT_CALLS_PER_DAY,
        "the quota is recorded as spent, so the next alarm plans splits at once"
    );
}
