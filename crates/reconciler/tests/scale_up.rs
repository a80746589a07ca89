//! The scale-up handler against Kinesis and CloudWatch in memory: one alarm in, one decision out,
//! and the edge cases SNS and CloudWatch really produce (duplicates, simultaneous alarms, foreign
//! or unmanaged streams, cooldowns, throttles, deadlines).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::{
    Admission, KINESIS_NAMESPACE, LAST_SCALED_TAG, Metric, POLICY_TAG, Policy, ScalingState, alarm_name,
    alarm_specs, encode_policy, shard_alarm_prefix, shard_alarm_specs,
};
use reconciler::alarm_message::AlarmMessage;
use reconciler::scale_up::{Decision, Record, SkipCode, handle, resync};
use reconciler::{
    AlarmPort, AlarmState, Context, Dimension, ErrorKind, ExecuteSettings, IoPolicy, MetricPoint,
    MetricPublisher, ReconcileError, Resharder, Scope, SeededJitter, StreamAdmin, StreamReader, TokioClock,
    Unit,
};
use simulated_aws::{Model, World as Aws};

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";
const MIB: f64 = 1_048_576.0;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

struct World {
    /// Kinesis and CloudWatch, in memory.
    aws: Aws,
    policy: Policy,
    /// The deployment's `STREAM_NAME_PREFIX`.
    prefix: String,
}

impl World {
    /// A managed stream `orders` with `shards` shards and its alarms, as `streams apply` leaves it.
    async fn new(shards: u32, policy: Policy) -> World {
        World::on(Model::instant(), shards, policy).await
    }

    /// The same on a Kinesis whose reshards take as long as `model` says.
    async fn on(model: Model, shards: u32, policy: Policy) -> World {
        let aws = Aws::new(Arc::new(TokioClock::new(t(-86_400 * 3))), model);
        aws.add_stream("orders", shards, t(-86_400 * 3));
        aws.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
        for spec in alarm_specs("orders", shards, &policy, &[TOPIC.to_owned()]) {
            aws.put_alarm(&spec).await.unwrap();
            aws.set_alarm_state(&spec.name, AlarmState::Alarm, "test").await.unwrap();
        }
        World { aws, policy, prefix: String::new() }
    }

    async fn shards(&self) -> u32 {
        self.aws.tiling("orders").unwrap().len()
    }

    async fn alarm(&self, message: &str, now: DateTime<Utc>) -> Decision {
        self.alarm_with_deadline(message, now, Duration::from_secs(600)).await
    }

    async fn alarm_with_deadline(&self, message: &str, now: DateTime<Utc>, left: Duration) -> Decision {
        self.try_alarm(message, now, left).await.expect("no AWS failure")
    }

    /// One delivery of `message` at `now` with `left` before the deadline, AWS failures included.
    async fn try_alarm(
        &self,
        message: &str,
        now: DateTime<Utc>,
        left: Duration,
    ) -> Result<Decision, ReconcileError> {
        let message = AlarmMessage::parse(message).expect("test messages parse");
        Ok(handle(&self.invocation(now, left), &message).await?.decision)
    }

    /// An invocation starting at `now` (on a clock moving with paused `tokio` time) with `left`
    /// before its deadline.
    fn invocation(&self, now: DateTime<Utc>, left: Duration) -> Context<Aws, Aws> {
        let settings = settings();
        let io = IoPolicy::new(Arc::new(TokioClock::new(now)))
            .until(now + chrono::Duration::from_std(left).unwrap())
            .backoff(settings.backoff)
            .jitter(SeededJitter::new(3));
        let scope =
            Scope { account: ACCOUNT.into(), region: "us-east-1".into(), stream_prefix: self.prefix.clone() };
        Context::new(self.aws.clone(), self.aws.clone(), io).with_scope(scope).with_execute(settings)
    }

    /// One scheduled resync at `now`: every alarm in `ALARM` handled as a fresh trigger.
    async fn resync(&self, now: DateTime<Utc>) -> Vec<Record> {
        let mut records = Vec::new();
        resync(&self.invocation(now, Duration::from_secs(600)), |_, record| {
            records.push(record.expect("no AWS failure"))
        })
        .await
        .expect("listed");
        records
    }

    /// The policy tag rewritten, as `streams apply` does after `streams.yaml` changed.
    async fn set_policy(&mut self, policy: Policy) {
        self.aws.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
        self.policy = policy;
    }

    /// Every alarm of `orders` is written for `shards` shards and, if `state` is given, in it.
    fn assert_alarms(&self, shards: u32, state: AlarmState) {
        for spec in alarm_specs("orders", shards, &self.policy, &[TOPIC.to_owned()]) {
            let (written, now) = self.aws.alarm(&spec.name).unwrap();
            assert_eq!(written, spec, "{} written for {shards} shards", spec.name);
            assert_eq!(now, state, "{}", spec.name);
        }
    }
}

fn settings() -> ExecuteSettings {
    ExecuteSettings { poll: Duration::from_millis(10), ..ExecuteSettings::default() }
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
        let (written, state) = world.aws.alarm(&spec.name).unwrap();
        assert_eq!(written, spec, "re-armed with the thresholds streams apply would write");
        assert_eq!(state, AlarmState::Ok, "{} back to OK so it can fire again", spec.name);
    }
    let tags = world.aws.describe("orders").await.unwrap().tags;
    assert_eq!(ScalingState::from_tags(&tags, t(5)).unwrap().last_scaled_at, Some(t(5)));
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_delivery_scales_once() {
    let world = World::new(1, Policy::default()).await;
    let alarm = bytes_alarm(t(0), 0.9);
    world.alarm(&alarm, t(5)).await;
    // The scaling reset the alarm to OK: CloudWatch no longer confirms it.
    let again = world.alarm(&alarm, t(6)).await;
    assert!(ignored_reason(again).contains("not in ALARM"));
    assert_eq!(world.shards().await, 2);
}

#[tokio::test(start_paused = true)]
async fn a_duplicated_throttling_alarm_scales_once_although_it_bypasses_the_cooldown() {
    let world = World::new(1, Policy::default()).await;
    let throttled = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(0), 12.0, "");
    assert!(matches!(world.alarm(&throttled, t(5)).await, Decision::Scaled { .. }));
    // Delivered again before CloudWatch saw the reset: still in ALARM, but older than the scaling.
    let name = alarm_name("orders", Metric::WriteProvisionedThroughputExceeded);
    world.aws.set_alarm_state(&name, AlarmState::Alarm, "not yet re-evaluated").await.unwrap();
    let again = world.alarm(&throttled, t(6)).await;
    assert!(matches!(again, Decision::Held { admission: Admission::Stale { .. } }), "{again:?}");
    assert_eq!(world.shards().await, 2);
}

#[tokio::test(start_paused = true)]
async fn bytes_and_records_alarms_firing_together_scale_once() {
    let world = World::new(1, Policy::default()).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let records = message(Metric::IncomingRecords, "ALARM", t(0), 900.0 * 60.0, "");
    let name = alarm_name("orders", Metric::IncomingRecords);
    world.aws.set_alarm_state(&name, AlarmState::Alarm, "fired with its twin").await.unwrap();
    let decision = world.alarm(&records, t(6)).await;
    assert!(matches!(decision, Decision::Held { admission: Admission::Stale { .. } }), "{decision:?}");
    assert_eq!(world.shards().await, 2);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_for_an_unmanaged_stream_is_ignored_and_touches_nothing() {
    let world = World::new(1, Policy::default()).await;
    world.aws.remove_tags("orders", &[POLICY_TAG.to_owned()]).await.unwrap();
    let calls_before = world.aws.kinesis_calls().len();
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let Decision::Ignored { reason, .. } = decision else { panic!("{decision:?}") };
    assert!(reason.contains("not managed"), "{reason}");
    assert_eq!(world.aws.kinesis_calls().len(), calls_before);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_for_a_stream_outside_the_deployments_prefix_is_ignored_without_an_aws_call() {
    let mut world = World::new(1, Policy::default()).await;
    world.prefix = "billing-".into();
    // What a role narrowed to billing-* answers; the handler must not even ask.
    world.aws.fail_next("DescribeStreamSummary", ErrorKind::AccessDenied);
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let Decision::Ignored { reason, .. } = decision else { panic!("{decision:?}") };
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
    assert_eq!(world.aws.alarm(&name).unwrap().1, AlarmState::Alarm, "no pointless re-fire every minute");
}

#[tokio::test(start_paused = true)]
async fn within_the_cooldown_the_alarm_is_reset_to_fire_again_later() {
    let world = World::new(1, Policy::default()).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    world
        .aws
        .set_alarm_state(&alarm_name("orders", Metric::IncomingBytes), AlarmState::Alarm, "x")
        .await
        .unwrap();
    let decision = world.alarm(&bytes_alarm(t(65), 0.9), t(66)).await;
    assert!(matches!(decision, Decision::Held { admission: Admission::Cooldown { .. } }), "{decision:?}");
    assert_eq!(world.shards().await, 2, "no second scaling within 300 s");
    let name = alarm_name("orders", Metric::IncomingBytes);
    assert_eq!(world.aws.alarm(&name).unwrap().1, AlarmState::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_throttling_alarm_bypasses_the_cooldown() {
    let world = World::new(1, Policy::default()).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let name = alarm_name("orders", Metric::WriteProvisionedThroughputExceeded);
    world.aws.set_alarm_state(&name, AlarmState::Alarm, "still throttling").await.unwrap();
    let throttled = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(65), 12.0, "");
    let decision = world.alarm(&throttled, t(66)).await;
    assert!(matches!(decision, Decision::Scaled { .. }), "{decision:?}");
    assert_eq!(world.shards().await, 3);
}

#[tokio::test(start_paused = true)]
async fn throttled_kinesis_calls_are_retried() {
    let world = World::new(1, Policy::default()).await;
    world.aws.fail_next("DescribeStreamSummary", ErrorKind::Throttled);
    world.aws.fail_next("SplitShard", ErrorKind::LimitExceeded);
    world.aws.fail_next("GetMetricData", ErrorKind::Throttled);
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    assert!(matches!(decision, Decision::Scaled { complete: true, .. }), "{decision:?}");
}

#[tokio::test(start_paused = true)]
async fn a_shard_level_alarm_splits_that_shard() {
    let world = World::new(4, Policy::default()).await;
    let hot = world.aws.tiling("orders").unwrap().shards()[2].id.clone();
    // A per-shard alarm, as a policy with shard-level metrics has `streams apply` write.
    let with_shards = Policy { shard_level_metrics: true, ..Policy::default() };
    let spec = shard_alarm_specs("orders", std::slice::from_ref(&hot), &with_shards, &[TOPIC.to_owned()])
        .into_iter()
        .find(|s| s.metric == Metric::IncomingBytes)
        .expect("a per-shard bytes alarm");
    world.aws.put_alarm(&spec).await.unwrap();
    world.aws.set_alarm_state(&spec.name, AlarmState::Alarm, "hot shard").await.unwrap();
    let alarm = message(
        Metric::IncomingBytes,
        "ALARM",
        t(0),
        0.1 * MIB * 60.0,
        &format!(r#",{{"value":"{hot}","name":"ShardId"}}"#),
    )
    .replacen(&alarm_name("orders", Metric::IncomingBytes), &spec.name, 2);
    let decision = world.alarm(&alarm, t(5)).await;
    let Decision::Scaled { steps, .. } = decision else { panic!("{decision:?}") };
    assert_eq!(steps.len(), 1);
    assert!(steps[0].starts_with(&format!("SplitShard {hot} at ")), "{steps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_too_close_stops_cleanly_and_still_rearms() {
    let world = World::new(1, Policy::default()).await;
    let decision = world.alarm_with_deadline(&bytes_alarm(t(0), 0.9), t(5), Duration::from_secs(5)).await;
    let Decision::Scaled { complete: false, to: 1, why_incomplete: Some(why), .. } = decision else {
        panic!("{decision:?}")
    };
    assert!(why.starts_with("deadline"), "{why}");
    let name = alarm_name("orders", Metric::IncomingBytes);
    assert_eq!(
        world.aws.alarm(&name).unwrap().1,
        AlarmState::Ok,
        "it fires again and the next run continues"
    );
}

#[tokio::test(start_paused = true)]
async fn with_shard_level_metrics_the_measured_hot_shard_is_split_and_shard_alarms_follow_the_reshard() {
    let policy = Policy { shard_level_metrics: true, ..Policy::default() };
    let world = World::new(4, policy.clone()).await;
    let ids = world.aws.tiling("orders").unwrap().ids();
    for spec in shard_alarm_specs("orders", &ids, &policy, &[TOPIC.to_owned()]) {
        world.aws.put_alarm(&spec).await.unwrap();
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
    world.aws.put_metric_data(&points).await.unwrap();
    let throttled = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(0), 12.0, "");
    let decision = world.alarm(&throttled, t(5)).await;
    let Decision::Scaled { steps, to: 5, .. } = decision else { panic!("{decision:?}") };
    assert!(steps.iter().all(|s| s.starts_with(&format!("SplitShard {} at ", ids[1]))), "{steps:?}");

    let open = world.aws.tiling("orders").unwrap().ids();
    let alarms = world.aws.describe_alarms(&shard_alarm_prefix("orders")).await.unwrap();
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
async fn a_stream_whose_state_tag_is_in_the_future_is_skipped_as_an_invalid_tag_not_held() {
    let world = World::new(1, Policy::default()).await;
    let year_3000 = "32503680000".to_owned();
    world.aws.add_tags("orders", &[(LAST_SCALED_TAG.to_owned(), year_3000)].into()).await.unwrap();
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let Decision::Ignored { reason, skip } = decision else { panic!("{decision:?}") };
    assert!(reason.contains("in the future") && reason.contains("streams apply"), "{reason}");
    assert_eq!(skip, Some(SkipCode::InvalidTag));
}

#[tokio::test(start_paused = true)]
async fn a_paused_stream_with_a_hot_alarm_is_not_split_and_the_decision_says_paused() {
    let world = World::new(1, Policy { paused: true, ..Policy::default() }).await;
    let decision = world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let Decision::Ignored { reason, skip } = decision else { panic!("{decision:?}") };
    assert_eq!(skip, Some(SkipCode::Paused));
    assert!(reason.contains("paused"), "{reason}");
    assert_eq!(world.shards().await, 1);
    let tags = world.aws.describe("orders").await.unwrap().tags;
    assert!(!tags.contains_key(LAST_SCALED_TAG), "no scaling recorded, no cooldown started");
    world.assert_alarms(1, AlarmState::Alarm);
}

// Stuck alarms: every path leaves the alarms armed for the live count, or in ALARM for the resync.

#[tokio::test(start_paused = true)]
async fn a_retried_delivery_after_a_failed_rearm_rearms_the_alarms_for_the_live_count() {
    let world = World::new(1, Policy::default()).await;
    let alarm = bytes_alarm(t(0), 0.9);
    for _ in 0..ExecuteSettings::default().backoff.max_attempts {
        world.aws.fail_next("PutMetricAlarm", ErrorKind::Throttled);
    }
    let far = Duration::from_secs(600);
    assert!(world.try_alarm(&alarm, t(5), far).await.is_err(), "the re-arm gave up: Lambda retries");
    assert_eq!(world.shards().await, 2);
    // Lambda's retry: the same message, now older than the recorded scaling.
    let again = world.alarm(&alarm, t(70)).await;
    assert!(matches!(again, Decision::Held { admission: Admission::Stale { .. } }), "{again:?}");
    assert_eq!(world.shards().await, 2, "held, not scaled twice");
    world.assert_alarms(2, AlarmState::Ok);
}

#[tokio::test(start_paused = true)]
async fn an_error_after_recording_the_scaling_still_rearms_the_alarms() {
    let world = World::new(1, Policy::default()).await;
    world.aws.fail_next("SplitShard", ErrorKind::AccessDenied);
    let far = Duration::from_secs(600);
    assert!(world.try_alarm(&bytes_alarm(t(0), 0.9), t(5), far).await.is_err());
    assert_eq!(world.shards().await, 1);
    world.assert_alarms(1, AlarmState::Ok);
}

#[tokio::test(start_paused = true)]
async fn retries_of_the_rearm_never_run_past_the_deadline() {
    let world = World::new(1, Policy::default()).await;
    for _ in 0..ExecuteSettings::default().backoff.max_attempts {
        world.aws.fail_next("PutMetricAlarm", ErrorKind::Throttled);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let _ = world.try_alarm(&bytes_alarm(t(0), 0.9), t(5), Duration::from_secs(5)).await;
    let now = tokio::time::Instant::now();
    assert!(now <= deadline, "returned {:?} after the deadline", now - deadline);
}

#[tokio::test(start_paused = true)]
async fn at_max_shards_the_alarm_stays_in_alarm_and_the_resync_scales_once_max_is_raised() {
    let mut world = World::new(2, Policy { max_shards: 2, ..Policy::default() }).await;
    let decision = world.alarm(&bytes_alarm(t(0), 1.9), t(5)).await;
    assert!(matches!(decision, Decision::NoChange { .. }), "{decision:?}");
    let records = world.resync(t(300)).await;
    assert!(records.iter().all(|r| matches!(r.decision, Decision::NoChange { .. })), "{records:#?}");
    world.assert_alarms(2, AlarmState::Alarm);

    world.set_policy(Policy { max_shards: 8, ..Policy::default() }).await;
    let records = world.resync(t(600)).await;
    let scaled: Vec<&Record> =
        records.iter().filter(|r| matches!(r.decision, Decision::Scaled { .. })).collect();
    assert_eq!(scaled.len(), 1, "one scaling for the stream's alarms together: {records:#?}");
    assert_eq!(scaled[0].trigger, "resync");
    let shards = world.shards().await;
    assert!(shards > 2, "{shards}");
    world.assert_alarms(shards, AlarmState::Ok);
}

// The resync: nothing left in ALARM is forgotten.

#[tokio::test(start_paused = true)]
async fn a_paused_streams_alarms_are_reported_paused_by_every_resync_and_acted_on_once_unpaused() {
    let mut world = World::new(1, Policy { paused: true, ..Policy::default() }).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    for tick in [300, 600] {
        let (cw_before, kinesis_before) =
            (world.aws.cloudwatch_calls().len(), world.aws.kinesis_calls().len());
        let records = world.resync(t(tick)).await;
        assert_eq!(records.len(), 3, "bytes, records and throttling alarms, all still in ALARM");
        for record in &records {
            let Decision::Ignored { skip, .. } = &record.decision else { panic!("{record:?}") };
            assert_eq!(*skip, Some(SkipCode::Paused), "{record:?}");
        }
        let calls = world.aws.cloudwatch_calls()[cw_before..].to_vec();
        assert_eq!(calls, ["DescribeAlarms kinesis-autoscaler- state=ALARM"], "plus the stream's reads");
        assert_eq!(world.aws.kinesis_calls().len(), kinesis_before, "no write to the stream");
        world.assert_alarms(1, AlarmState::Alarm);
    }

    world.set_policy(Policy::default()).await;
    let records = world.resync(t(900)).await;
    let scaled = records.iter().filter(|r| matches!(r.decision, Decision::Scaled { .. })).count();
    assert_eq!(scaled, 1, "{records:#?}");
    assert!(world.shards().await > 1);
}

#[tokio::test(start_paused = true)]
async fn a_quiet_resync_costs_one_describe_alarms_call_and_touches_no_stream() {
    let world = World::new(1, Policy::default()).await;
    for spec in alarm_specs("orders", 1, &world.policy, &[TOPIC.to_owned()]) {
        world.aws.set_alarm_state(&spec.name, AlarmState::Ok, "quiet").await.unwrap();
    }
    let (cw_before, kinesis_before) = (world.aws.cloudwatch_calls().len(), world.aws.kinesis_calls().len());
    assert!(world.resync(t(300)).await.is_empty());
    assert_eq!(world.aws.cloudwatch_calls()[cw_before..], ["DescribeAlarms kinesis-autoscaler- state=ALARM"]);
    assert_eq!(world.aws.kinesis_calls().len(), kinesis_before);
}

#[tokio::test(start_paused = true)]
async fn a_resync_of_a_stream_stuck_at_max_shards_costs_two_cloudwatch_calls_per_alarm_and_writes_nothing() {
    let world = World::new(2, Policy { max_shards: 2, ..Policy::default() }).await;
    let cw_before = world.aws.cloudwatch_calls().len();
    let kinesis_before = world.aws.kinesis_calls().len();
    let records = world.resync(t(300)).await;
    assert_eq!(records.len(), 3, "bytes, records and throttling alarms, all in ALARM");
    let calls = world.aws.cloudwatch_calls()[cw_before..].to_vec();
    let per_alarm = ["GetMetricData 2", "DescribeAlarms kinesis-autoscaler-orders-"];
    let mut want = vec!["DescribeAlarms kinesis-autoscaler- state=ALARM"];
    want.extend(per_alarm.iter().cycle().take(2 * 3));
    assert_eq!(calls, want, "plus the stream's reads (3 Kinesis calls) per alarm");
    assert_eq!(world.aws.kinesis_calls().len(), kinesis_before, "no write to the stream");
    world.assert_alarms(2, AlarmState::Alarm);
}

#[tokio::test(start_paused = true)]
async fn a_resync_within_the_cooldown_holds_and_resets_the_alarm() {
    let world = World::new(1, Policy::default()).await;
    world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await;
    let name = alarm_name("orders", Metric::IncomingBytes);
    world.aws.set_alarm_state(&name, AlarmState::Alarm, "x").await.unwrap();
    let records = world.resync(t(60)).await;
    let [record] = &records[..] else { panic!("{records:#?}") };
    assert!(
        matches!(record.decision, Decision::Held { admission: Admission::Cooldown { .. } }),
        "{record:?}"
    );
    assert_eq!(world.shards().await, 2);
    assert_eq!(world.aws.alarm(&name).unwrap().1, AlarmState::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_resync_leaves_streams_outside_the_deployments_prefix_alone() {
    let mut world = World::new(1, Policy::default()).await;
    world.prefix = "billing-".into();
    assert!(world.resync(t(300)).await.is_empty());
    assert_eq!(world.shards().await, 1);
}

// Forged messages: only real alarms act.

fn ignored_reason(decision: Decision) -> String {
    match decision {
        Decision::Ignored { reason, .. } => reason,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_alarm_that_does_not_exist_is_ignored() {
    let world = World::new(1, Policy::default()).await;
    let forged = bytes_alarm(t(0), 0.9).replace("orders-IncomingBytes", "orders-Forged");
    let reason = ignored_reason(world.alarm(&forged, t(5)).await);
    assert!(reason.contains("does not exist"), "{reason}");
    assert_eq!(world.shards().await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_whose_policy_tag_breaks_the_files_bounds_is_skipped_as_an_invalid_tag() {
    let world = World::new(1, Policy::default()).await;
    let hostile = encode_policy(&Policy::default()).replace("max=64", "max=4294967295");
    world.aws.add_tags("orders", &[(POLICY_TAG.to_owned(), hostile)].into()).await.unwrap();
    let decision = world.alarm(&bytes_alarm(t(0), 50.0), t(5)).await;
    let Decision::Ignored { reason, skip } = decision else { panic!("{decision:?}") };
    assert!(reason.contains("max="), "{reason}");
    assert_eq!(skip, Some(SkipCode::InvalidTag));
    assert_eq!(world.shards().await, 1);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_message_for_an_alarm_in_ok_now_is_ignored() {
    let world = World::new(1, Policy::default()).await;
    let name = alarm_name("orders", Metric::IncomingBytes);
    world.aws.set_alarm_state(&name, AlarmState::Ok, "calm").await.unwrap();
    let reason = ignored_reason(world.alarm(&bytes_alarm(t(0), 0.9), t(5)).await);
    assert!(reason.contains("not in ALARM"), "{reason}");
    assert_eq!(world.shards().await, 1);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_under_a_foreign_prefix_is_ignored_even_if_it_exists() {
    let world = World::new(1, Policy::default()).await;
    let name = alarm_name("orders", Metric::IncomingBytes);
    let mut spec = world.aws.alarm(&name).unwrap().0;
    spec.name = "someone-else-orders-IncomingBytes".into();
    world.aws.put_alarm(&spec).await.unwrap();
    world.aws.set_alarm_state(&spec.name, AlarmState::Alarm, "x").await.unwrap();
    let forged = bytes_alarm(t(0), 0.9).replace(&name, &spec.name);
    let reason = ignored_reason(world.alarm(&forged, t(5)).await);
    assert!(reason.contains("kinesis-autoscaler-"), "{reason}");
    assert_eq!(world.shards().await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_message_naming_another_streams_alarm_is_ignored() {
    let world = World::new(1, Policy::default()).await;
    world.aws.create_stream("payments", 1).await.unwrap();
    for spec in alarm_specs("payments", 1, &world.policy, &[TOPIC.to_owned()]) {
        world.aws.put_alarm(&spec).await.unwrap();
        world.aws.set_alarm_state(&spec.name, AlarmState::Alarm, "x").await.unwrap();
    }
    // The real payments alarm's name, the StreamName dimension of orders.
    let forged = bytes_alarm(t(0), 0.9).replacen("orders-IncomingBytes", "payments-IncomingBytes", 2);
    let reason = ignored_reason(world.alarm(&forged, t(5)).await);
    assert!(reason.contains("payments"), "{reason}");
    assert_eq!(world.shards().await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_forged_huge_datapoint_sizes_no_more_than_the_alarms_own_threshold() {
    let to = |datapoint: f64| async move {
        let world = World::new(8, Policy { max_shards: 64, ..Policy::default() }).await;
        let decision = world.alarm(&message(Metric::IncomingBytes, "ALARM", t(0), datapoint, ""), t(5)).await;
        let Decision::Scaled { to, .. } = decision else { panic!("{decision:?}") };
        to
    };
    let policy = Policy { max_shards: 64, ..Policy::default() };
    let threshold =
        alarm_specs("orders", 8, &policy, &[]).into_iter().find(|s| s.metric == Metric::IncomingBytes);
    let from_threshold = to(threshold.unwrap().threshold).await;
    assert_eq!(to(1e15).await, from_threshold, "a value no 8 shards can accept is not evidence");
}

#[tokio::test(start_paused = true)]
async fn forged_alarm_actions_never_reach_the_rearmed_alarms() {
    for actions in [r#""AlarmActions":[]"#, r#""AlarmActions":["arn:aws:sns:us-east-1:999999999999:evil"]"#] {
        let world = World::new(1, Policy::default()).await;
        let forged = bytes_alarm(t(0), 0.9).replace(&format!(r#""AlarmActions":["{TOPIC}"]"#), actions);
        assert!(forged.contains(actions));
        let decision = world.alarm(&forged, t(5)).await;
        assert!(matches!(decision, Decision::Scaled { to: 2, .. }), "{decision:?}");
        world.assert_alarms(2, AlarmState::Ok);
    }
}

#[tokio::test(start_paused = true)]
async fn when_update_shard_count_hits_its_daily_quota_the_scale_up_splits_instead() {
    let world = World::new(4, Policy::default()).await;
    // 3.6 MiB/s on 4 even shards: one UpdateShardCount to 6 would do, but the quota is spent
    // (calls this tool never recorded).
    world.aws.fail_next("UpdateShardCount", ErrorKind::QuotaExceeded);
    let decision = world.alarm(&bytes_alarm(t(0), 3.6), t(5)).await;
    let Decision::Scaled { ref steps, to, complete: true, .. } = decision else { panic!("{decision:?}") };
    assert!(to >= 6, "{decision:?}");
    assert!(steps.iter().all(|s| s.starts_with("SplitShard")), "{steps:?}");
    assert!(world.aws.kinesis_calls().iter().all(|c| !c.starts_with("UpdateShardCount")));
    let tags = world.aws.describe("orders").await.unwrap().tags;
    let state = ScalingState::from_tags(&tags, t(5)).expect("valid state tags");
    assert_eq!(state.update_calls_last_24h(t(5)), 0, "a refused call spends no quota of ours");
}

#[tokio::test(start_paused = true)]
async fn an_update_shard_count_outlasting_the_invocation_is_reported_in_progress_and_the_resync_rearms() {
    let world =
        World::on(Model::instant().with_reshard_time(Duration::from_secs(240)), 4, Policy::default()).await;
    let decision = world.alarm_with_deadline(&bytes_alarm(t(0), 3.6), t(5), Duration::from_secs(60)).await;
    let Decision::Scaled { ref steps, complete: false, why_incomplete: Some(ref why), .. } = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(steps, &["UpdateShardCount to 6"], "{decision:?}");
    assert!(why.contains("in progress"), "{why}");
    world.assert_alarms(4, AlarmState::Alarm);
    // Kinesis finishes without the Lambda (nothing was rejected meanwhile); the next resync
    // finds the load alarms still in ALARM, written for 4 shards, and re-arms them for 6.
    let throttle = alarm_name("orders", Metric::WriteProvisionedThroughputExceeded);
    world.aws.set_alarm_state(&throttle, AlarmState::Ok, "no rejections").await.unwrap();
    tokio::time::advance(Duration::from_secs(300)).await;
    assert_eq!(world.shards().await, 6);
    world.resync(t(305)).await;
    world.assert_alarms(6, AlarmState::Ok);
}

/// Stream-level sums of `orders` for the three minutes before `t(0)`: `mib` MiB/s in 2 KiB records.
async fn publish_accepted(world: &World, mib: f64) {
    let mut points = Vec::new();
    for minute in 1..=3 {
        for (metric, value, unit) in [
            (Metric::IncomingBytes, mib * MIB * 60.0, Unit::Bytes),
            (Metric::IncomingRecords, mib * 512.0 * 60.0, Unit::Count),
        ] {
            points.push(MetricPoint {
                namespace: KINESIS_NAMESPACE.into(),
                metric: metric.as_str().into(),
                dimensions: vec![Dimension::stream("orders")],
                timestamp: t(-60 * minute),
                value,
                unit,
            });
        }
    }
    world.aws.put_metric_data(&points).await.unwrap();
}

/// A state reason quoting one rejected-records `Sum` of the minute starting at `minute` (UTC
/// wall-clock `HH:MM` of 23 Nov 2026), as CloudWatch writes it.
fn throttle_reason(rejected: f64, minute: &str) -> String {
    format!(
        "Threshold Crossed: 1 out of the last 1 datapoints [{rejected:E} (23/11/26 {minute}:00)] was greater \
         than or equal to the threshold (1.0E0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
}

#[tokio::test(start_paused = true)]
async fn a_bytes_alarm_is_sized_with_the_throttling_alarm_that_fired_with_it() {
    // 4 shards accept 4 MiB/s of an 8 MiB/s demand. The bytes alarm's own numbers say 4 MiB/s,
    // 7 shards at 60 %; the throttling alarm of the same evaluation, in ALARM with its rejected
    // count, says 8 MiB/s: 14.
    let world = World::new(4, Policy::default()).await;
    publish_accepted(&world, 4.0).await;
    let throttle = alarm_name("orders", Metric::WriteProvisionedThroughputExceeded);
    // Half of all attempts rejected: 2,048 records/s accepted, each lost record tried four times.
    let rejected = 2_048.0 * 60.0 * (0.5f64.powf(0.25) / (1.0 - 0.5f64.powf(0.25)));
    world.aws.fire(&throttle, &throttle_reason(rejected, "10:04"), t(0));
    let decision = world.alarm(&bytes_alarm(t(0), 4.0), t(5)).await;
    let Decision::Scaled { plan, to, .. } = decision else { panic!("{decision:?}") };
    assert_eq!((plan.needed_shards, to), (14, 14), "{:?}", plan.reasons);
    // Its twin's own delivery is answered by that scaling.
    let throttled = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(0), rejected, "");
    world.aws.fire(&throttle, "still throttling", t(0));
    let again = world.alarm(&throttled, t(6)).await;
    assert!(matches!(again, Decision::Held { admission: Admission::Stale { .. } }), "{again:?}");
    assert_eq!(world.shards().await, 14);
}

/// `orders` resized 4 → 14 at `t(0)` for an 8 MiB/s demand: 4 MiB/s accepted and the throttling
/// alarm quoting what was rejected; returns the world, that alarm and the rejected count.
async fn resized_for_throttling() -> (World, String, f64) {
    let world = World::new(4, Policy::default()).await;
    publish_accepted(&world, 4.0).await;
    let rejected = 2_048.0 * 60.0 * (0.5f64.powf(0.25) / (1.0 - 0.5f64.powf(0.25)));
    let throttle = alarm_name("orders", Metric::WriteProvisionedThroughputExceeded);
    world.aws.fire(&throttle, &throttle_reason(rejected, "10:04"), t(0));
    let decision = world.alarm(&bytes_alarm(t(0), 4.0), t(5)).await;
    assert!(matches!(decision, Decision::Scaled { to: 14, .. }), "{decision:?}");
    (world, throttle, rejected)
}

#[tokio::test(start_paused = true)]
async fn a_throttle_quoting_minutes_before_the_last_resize_adds_no_split_and_re_evaluates() {
    // Resized 4 → 14 at t(0) for an 8 MiB/s demand; the throttling alarm fires again at t(100)
    // on the minute from before the resize (CloudWatch publishes a minute or two late).
    let (world, throttle, rejected) = resized_for_throttling().await;
    let resized = world.shards().await;
    let before = t(-60).format("%d/%m/%y %H:%M").to_string();
    let reason = throttle_reason(rejected, "XX:XX").replace("23/11/26 XX:XX", &before);
    world.aws.fire(&throttle, &reason, t(100));
    let message = message(Metric::WriteProvisionedThroughputExceeded, "ALARM", t(100), rejected, "")
        .replace("23/11/26 10:04", &before);
    let decision = world.alarm(&message, t(105)).await;
    let Decision::NoChange { plan } = decision else { panic!("{decision:?}") };
    assert!(plan.reasons.iter().any(|r| r.contains("before the last resize")), "{:?}", plan.reasons);
    assert_eq!(world.shards().await, resized);
    assert_eq!(world.aws.alarm(&throttle).unwrap().1, AlarmState::Ok, "re-evaluated on fresh minutes");
}

/// `metric` of `orders` at `value` per 60 s period over the five minutes before `t(0)`.
async fn recent(world: &World, metric: Metric, value: f64, unit: Unit) {
    let points: Vec<MetricPoint> = (1..=5)
        .map(|i| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: metric.as_str().into(),
            dimensions: vec![Dimension::stream("orders")],
            timestamp: t(-60 * i),
            value,
            unit,
        })
        .collect();
    world.aws.put_metric_data(&points).await.unwrap();
}

/// A stream whose read-throttling alarm alone is in `ALARM`, its writers at 0.2 MiB/s and its
/// shared readers served `read_mib` MiB/s of the 4 two shards serve.
async fn read_throttled(read_mib: f64) -> World {
    let mut policy = Policy::default();
    policy.scale_up.read_throttle_alarm = true;
    let world = World::new(2, policy).await;
    for spec in alarm_specs("orders", 2, &world.policy, &[TOPIC.to_owned()]) {
        if spec.metric != Metric::ReadProvisionedThroughputExceeded {
            world.aws.set_alarm_state(&spec.name, AlarmState::Ok, "test").await.unwrap();
        }
    }
    recent(&world, Metric::IncomingBytes, 0.2 * MIB * 60.0, Unit::Bytes).await;
    recent(&world, Metric::GetRecordsBytes, read_mib * MIB * 60.0, Unit::Bytes).await;
    world
}

#[tokio::test(start_paused = true)]
async fn a_read_throttling_alarm_scales_up_to_what_the_shared_readers_need() {
    let world = read_throttled(3.8).await;
    let throttled = message(Metric::ReadProvisionedThroughputExceeded, "ALARM", t(0), 40.0, "");
    let decision = world.alarm(&throttled, t(5)).await;
    let Decision::Scaled { plan, from: 2, to: 4, .. } = &decision else { panic!("{decision:?}") };
    assert_eq!(plan.read_demand, 4.0 * MIB, "at least what two shards serve: {:?}", plan.reasons);
    assert_eq!(world.shards().await, 4);
}

#[tokio::test(start_paused = true)]
async fn a_read_throttling_alarm_on_the_call_limit_adds_no_shard() {
    let world = read_throttled(0.5).await;
    let throttled = message(Metric::ReadProvisionedThroughputExceeded, "ALARM", t(0), 40.0, "");
    let decision = world.alarm(&throttled, t(5)).await;
    let Decision::NoChange { plan } = &decision else { panic!("{decision:?}") };
    assert!(plan.reasons.iter().any(|r| r.contains("GetRecords calls a second")), "{:?}", plan.reasons);
    assert_eq!(world.shards().await, 2);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_that_needs_no_scaling_reads_the_streams_alarms_once() {
    let world = World::new(4, Policy::default()).await;
    let before = world.aws.cloudwatch_calls().len();
    let decision = world.alarm(&bytes_alarm(t(0), 0.3), t(5)).await;
    assert!(matches!(decision, Decision::NoChange { .. }), "{decision:?}");
    let calls = world.aws.cloudwatch_calls()[before..].to_vec();
    let reads = calls.iter().filter(|c| c.as_str() == "DescribeAlarms kinesis-autoscaler-orders-").count();
    assert_eq!(reads, 1, "the siblings' read serves the re-arm's check too: {calls:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_sibling_in_alarm_is_evidence_only_when_cloudwatch_put_it_there() {
    // 0.3 MiB/s on 4 shards needs nothing. The throttling alarm beside it, set to ALARM by hand
    // (`World::new`'s "test"), proves nothing about the writes; fired by CloudWatch's evaluation,
    // quoting rejected records, it proves writes are refused: the shards are sized up for it.
    let by_hand = World::new(4, Policy::default()).await;
    let decision = by_hand.alarm(&bytes_alarm(t(0), 0.3), t(5)).await;
    assert!(matches!(decision, Decision::NoChange { .. }), "{decision:?}");
    let fired = World::new(4, Policy::default()).await;
    let throttle = alarm_name("orders", Metric::WriteProvisionedThroughputExceeded);
    fired.aws.fire(&throttle, &throttle_reason(600.0, "10:04"), t(0));
    let decision = fired.alarm(&bytes_alarm(t(0), 0.3), t(5)).await;
    assert!(matches!(decision, Decision::Scaled { .. }), "{decision:?}");
}

#[tokio::test(start_paused = true)]
async fn a_resync_of_a_throttle_quoting_minutes_before_the_last_resize_adds_no_split() {
    // As the previous case, but the throttling alarm still in ALARM is found by the resync, which
    // reads what the alarm quotes from its state reason, as a notification's would.
    let (world, throttle, rejected) = resized_for_throttling().await;
    let before = t(-60).format("%d/%m/%y %H:%M").to_string();
    let reason = throttle_reason(rejected, "XX:XX").replace("23/11/26 XX:XX", &before);
    world.aws.fire(&throttle, &reason, t(100));
    let records = world.resync(t(400)).await;
    let throttled: Vec<&Record> = records.iter().filter(|r| r.alarm == throttle).collect();
    let [record] = &throttled[..] else { panic!("{records:#?}") };
    let Decision::NoChange { plan } = &record.decision else { panic!("{record:?}") };
    assert!(plan.reasons.iter().any(|r| r.contains("before the last resize")), "{:?}", plan.reasons);
    assert_eq!(world.shards().await, 14);
    assert_eq!(world.aws.alarm(&throttle).unwrap().1, AlarmState::Ok, "re-evaluated on fresh minutes");
}
