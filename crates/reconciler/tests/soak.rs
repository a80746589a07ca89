//! A deterministic soak: many streams, days of random traffic, through the real handlers.
//!
//! Everything runs in paused `tokio` time against the in-memory Kinesis (reshards take time and
//! refuse a second one with `ResourceInUse`) and CloudWatch. Each simulated minute the harness
//! plays CloudWatch: it publishes what the streams accepted and rejected, evaluates every alarm,
//! and delivers the notifications of those that changed to `ALARM` (sometimes twice, as SNS does).
//! The resync runs every 5 minutes and the sweep every 36 hours, concurrently with the alarm
//! handlers of the same minute, and faults are injected at random. After every minute:
//!
//! * every stream's open count is within `[minShards, maxShards]` (the tiling is valid by type);
//! * no stream grew past what a plan decided in that minute asked for (no double scaling);
//! * `UpdateShardCount` calls per stream stay within 10 in any rolling day;
//! * no alarm of a stream below `maxShards` stays in `ALARM` for 30 minutes (never silent);
//! * nothing panics.
//!
//! CI runs `SOAK_STREAMS=12 SOAK_DAYS=2` (the defaults); the long form is
//! `SOAK_STREAMS=1000 SOAK_DAYS=30 cargo test --release -p reconciler --test soak -- --nocapture`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use planner::{Comparison, KINESIS_NAMESPACE, Metric, POLICY_TAG, Policy, alarm_specs, encode_policy};
use reconciler::alarm_message::AlarmMessage;
use reconciler::memory::{InMemoryCloudWatch, InMemoryStreams};
use reconciler::scale_down::{SweepContext, SweepSettings, sweep};
use reconciler::scale_up::{Decision, Invocation, alarms_to_resync, handle, handle_resync};
use reconciler::{
    AlarmPort, AlarmState, Clock, Dimension, ErrorKind, ExecuteSettings, MetricPoint, MetricPublisher,
    Resharder, SeededJitter, StreamAdmin, Unit,
};
use tokio::time::Instant;

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";
const MIB: f64 = 1_048_576.0;
/// Bytes per record: 2 KiB, so a shard's 1 MiB/s binds before its 1,000 records/s.
const RECORD_BYTES: f64 = 2_048.0;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64: the soak's one source of randomness, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }

    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

struct Soaked {
    name: String,
    policy: Policy,
    /// Offered write load, MiB/s.
    demand: f64,
    /// When each of its alarms went to `ALARM` (by name).
    alarmed_since: BTreeMap<String, DateTime<Utc>>,
    /// `UpdateShardCount` calls made, by time.
    update_calls: VecDeque<DateTime<Utc>>,
}

fn message(name: &str, stream: &str, metric: Metric, changed: DateTime<Utc>, value: f64) -> AlarmMessage {
    let changed = changed.format("%Y-%m-%dT%H:%M:%S%.3f+0000");
    AlarmMessage::parse(&format!(
        r#"{{"AlarmName":"{name}","AlarmDescription":null,"AWSAccountId":"{ACCOUNT}",
        "NewStateValue":"ALARM","OldStateValue":"OK",
        "NewStateReason":"Threshold Crossed: 1 out of the last 1 datapoints [{value:E} (23/11/26 10:04:00)] was greater than or equal to the threshold (1.0E0) (minimum 1 datapoint for OK -> ALARM transition).",
        "StateChangeTime":"{changed}","Region":"US East (N. Virginia)",
        "AlarmArn":"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}",
        "OKActions":[],"AlarmActions":["{TOPIC}"],"InsufficientDataActions":[],
        "Trigger":{{"MetricName":"{metric}","Namespace":"AWS/Kinesis","StatisticType":"Statistic","Statistic":"SUM",
        "Unit":null,"Dimensions":[{{"value":"{stream}","name":"StreamName"}}],"Period":60,"EvaluationPeriods":1,
        "ComparisonOperator":"GreaterThanOrEqualToThreshold","Threshold":1.0,"TreatMissingData":"notBreaching"}}}}"#,
        metric = metric.as_str(),
    ))
    .expect("soak messages parse")
}

/// CloudWatch's own state change, which the faults injected for the handlers must not block.
async fn set_state(cloudwatch: &InMemoryCloudWatch, name: &str, state: AlarmState) {
    for _ in 0..8 {
        if cloudwatch.set_alarm_state(name, state, "soak").await.is_ok() {
            return;
        }
    }
    panic!("could not set {name} to {state}");
}

#[tokio::test(start_paused = true)]
async fn days_of_random_traffic_concurrent_triggers_and_faults_break_no_invariant() {
    let (streams, days, seed) = (env("SOAK_STREAMS", 12), env("SOAK_DAYS", 2), env("SOAK_SEED", 1));
    let origin = DateTime::from_timestamp(1_800_000_000, 0).expect("in range");
    let clock = Clock::tokio(origin);
    let mut rng = Rng(seed.max(1) * 0x9e37_79b9_7f4a_7c15);
    let kinesis = InMemoryStreams::new()
        .with_reshard_time(Duration::from_secs(20))
        .with_jitter(Duration::from_millis(800), seed);
    let cloudwatch = InMemoryCloudWatch::new();
    let mut soaked = Vec::new();
    for i in 0..streams {
        let max = [2, 4, 8, 16, 32][(rng.next() % 5) as usize];
        let policy = Policy { min_shards: 1, max_shards: max, ..Policy::default() };
        let name = format!("soak-{i:04}");
        let shards = 1 + (rng.next() % u64::from(max)) as u32;
        kinesis.create_stream(&name, shards).await.unwrap();
        kinesis.add_tags(&name, &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
        for spec in alarm_specs(&name, shards, &policy, &[TOPIC.to_owned()]) {
            cloudwatch.put_alarm(&spec).await.unwrap();
        }
        let demand = rng.uniform(0.05, f64::from(max) * 0.7);
        soaked.push(Soaked {
            name,
            policy,
            demand,
            alarmed_since: BTreeMap::new(),
            update_calls: VecDeque::new(),
        });
    }
    let settings = ExecuteSettings { poll: Duration::from_secs(2), ..ExecuteSettings::default() };
    let sweep_settings = SweepSettings { execute: settings.clone(), ..SweepSettings::default() };
    let (mut notifications, mut handler_errors, mut decisions, mut minutes_checked) =
        (0u64, 0u64, 0u64, 0u64);
    let mut calls_seen = 0;
    for minute in 0..days * 24 * 60 {
        let now = clock.now();
        // Traffic: mostly steady, sometimes a new level (a spike, a lull).
        for s in soaked.iter_mut() {
            if rng.chance(0.004) {
                s.demand = rng.uniform(0.02, f64::from(s.policy.max_shards) * 0.9);
            }
        }
        // Faults, now and then.
        if rng.chance(0.02) {
            let call =
                ["SplitShard", "MergeShards", "UpdateShardCount", "AddTagsToStream", "DescribeStreamSummary"]
                    [(rng.next() % 5) as usize];
            let kind = [ErrorKind::Throttled, ErrorKind::Transient, ErrorKind::ResourceInUse]
                [(rng.next() % 3) as usize];
            kinesis.fail_next(call, kind);
        }
        if rng.chance(0.01) {
            let call = ["PutMetricAlarm", "SetAlarmState", "GetMetricData", "DescribeAlarms"]
                [(rng.next() % 4) as usize];
            cloudwatch.fail_next(call, ErrorKind::Throttled);
        }
        // CloudWatch: publish the minute, evaluate every alarm, notify on a change to ALARM.
        let mut messages = Vec::new();
        for s in soaked.iter_mut() {
            let open = kinesis.tiling(&s.name).expect("exists").len();
            let accepted = s.demand.min(f64::from(open));
            let rejected = (s.demand - accepted).max(0.0) * MIB / RECORD_BYTES;
            let sums = [
                (Metric::IncomingBytes, accepted * MIB * 60.0, Unit::Bytes),
                (Metric::IncomingRecords, accepted * MIB / RECORD_BYTES * 60.0, Unit::Count),
                (Metric::WriteProvisionedThroughputExceeded, rejected * 60.0, Unit::Count),
            ];
            let points: Vec<MetricPoint> = sums
                .iter()
                .map(|&(metric, value, unit)| MetricPoint {
                    namespace: KINESIS_NAMESPACE.into(),
                    metric: metric.as_str().into(),
                    dimensions: vec![Dimension::stream(&s.name)],
                    timestamp: now - chrono::Duration::seconds(60),
                    value,
                    unit,
                })
                .collect();
            cloudwatch.put_metric_data(&points).await.unwrap();
            for (metric, value, _) in sums {
                let name = planner::alarm_name(&s.name, metric);
                let Some((spec, state)) = cloudwatch.alarm(&name) else { continue };
                let breaching = match spec.comparison {
                    Comparison::GreaterThanOrEqualToThreshold => value >= spec.threshold,
                    Comparison::GreaterThanThreshold => value > spec.threshold,
                };
                if breaching && state != AlarmState::Alarm {
                    set_state(&cloudwatch, &name, AlarmState::Alarm).await;
                    s.alarmed_since.insert(name.clone(), now);
                    let copies = if rng.chance(0.05) { 2 } else { 1 };
                    for _ in 0..copies {
                        messages.push(message(&name, &s.name, metric, now, value));
                    }
                } else if !breaching && state == AlarmState::Alarm {
                    set_state(&cloudwatch, &name, AlarmState::Ok).await;
                }
            }
        }
        notifications += messages.len() as u64;
        // This minute's invocations, concurrently: alarm deliveries, the resync, the sweep.
        let cx = Invocation {
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            stream_prefix: String::new(),
            now,
            deadline: Instant::now() + Duration::from_secs(290),
        };
        let deliveries = messages.iter().enumerate().map(|(i, m)| {
            let (kinesis, cloudwatch, cx, settings) = (&kinesis, &cloudwatch, &cx, &settings);
            async move {
                let mut jitter = SeededJitter::new(seed ^ (minute << 8) ^ i as u64);
                handle(kinesis, cloudwatch, m, cx, settings, &mut jitter).await.map(|r| vec![r.decision])
            }
        });
        let resync = async {
            if minute % 5 != 0 {
                return Ok(Vec::new());
            }
            let mut found = Vec::new();
            for alarm in alarms_to_resync(&cloudwatch, &cx, &settings.backoff).await? {
                let mut jitter = SeededJitter::new(seed ^ minute);
                found.push(
                    handle_resync(&kinesis, &cloudwatch, &alarm, &cx, &settings, &mut jitter).await?.decision,
                );
            }
            Ok(found)
        };
        let sweeping = async {
            if minute == 0 || minute % (36 * 60) != 0 {
                return;
            }
            let sweep_cx =
                SweepContext { now, deadline: Instant::now() + Duration::from_secs(840), after: None };
            let _ = sweep(
                &kinesis,
                &cloudwatch,
                &sweep_cx,
                &sweep_settings,
                &mut SeededJitter::new(seed ^ minute),
            )
            .await;
        };
        let before: BTreeMap<String, u32> =
            soaked.iter().map(|s| (s.name.clone(), kinesis.tiling(&s.name).expect("exists").len())).collect();
        let (results, resynced, ()) = tokio::join!(join_all(deliveries), resync, sweeping);
        let mut targets: BTreeMap<String, u32> = BTreeMap::new();
        for result in results.into_iter().chain([resynced]) {
            match result {
                Ok(found) => {
                    for decision in found {
                        decisions += 1;
                        if let Decision::Scaled { plan, .. } = decision {
                            // Which stream: the plan does not say; take the largest target per growth below.
                            targets
                                .entry(String::new())
                                .and_modify(|t| *t = (*t).max(plan.target_shards))
                                .or_insert(plan.target_shards);
                        }
                    }
                }
                Err(_) => handler_errors += 1,
            }
        }
        // The stream's own alarm thresholds follow its count, so a grown stream's alarms re-arm.
        let after_now = clock.now();
        let calls = kinesis.calls();
        for call in &calls[calls_seen..] {
            if let Some(rest) = call.strip_prefix("UpdateShardCount ") {
                let stream = rest.split_whitespace().next().unwrap_or_default();
                if let Some(s) = soaked.iter_mut().find(|s| s.name == stream) {
                    s.update_calls.push_back(after_now);
                }
            }
        }
        calls_seen = calls.len();
        let largest_target = targets.values().copied().max().unwrap_or(0);
        for s in soaked.iter_mut() {
            let open = kinesis.tiling(&s.name).expect("exists").len();
            let case = format!(
                "minute {minute}, {}: {open} shards, policy [{}, {}]",
                s.name, s.policy.min_shards, s.policy.max_shards
            );
            assert!(open >= s.policy.min_shards && open <= s.policy.max_shards, "out of bounds: {case}");
            let grew = open > before[&s.name];
            assert!(!grew || open <= largest_target.max(before[&s.name]), "grew past every plan: {case}");
            while s.update_calls.front().is_some_and(|t| *t <= after_now - chrono::Duration::hours(24)) {
                s.update_calls.pop_front();
            }
            assert!(s.update_calls.len() <= 10, "UpdateShardCount quota: {case}");
            let specs = alarm_specs(&s.name, open, &s.policy, &[TOPIC.to_owned()]);
            for spec in &specs {
                match cloudwatch.alarm(&spec.name) {
                    Some((_, AlarmState::Alarm)) => {
                        let since = *s.alarmed_since.entry(spec.name.clone()).or_insert(now);
                        let stuck =
                            after_now - since > chrono::Duration::minutes(30) && open < s.policy.max_shards;
                        assert!(!stuck, "{} in ALARM since {since}: {case}", spec.name);
                    }
                    _ => {
                        s.alarmed_since.remove(&spec.name);
                    }
                }
            }
        }
        minutes_checked += 1;
        tokio::time::sleep_until(Instant::now() + Duration::from_secs(60).saturating_sub(Duration::ZERO))
            .await;
    }
    let shards: u32 = soaked.iter().map(|s| kinesis.tiling(&s.name).map_or(0, |t| t.len())).sum();
    eprintln!(
        "soak: {streams} streams x {days} days = {} stream-days, {minutes_checked} minutes checked, \
         {notifications} notifications, {decisions} decisions, {handler_errors} invocations failed \
         (retryable, as faults were injected), {shards} shards at the end",
        streams * days
    );
}
