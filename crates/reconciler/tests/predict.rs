//! The hourly predictive pass against Kinesis and CloudWatch in memory: a stream with a daily
//! peak is scaled up before it, through the scale-up's executor, record and re-arm; shuffled
//! history, a cooldown, an incomplete read and a paused policy are not; the history is read in as
//! few `GetMetricData` calls as the module docs promise.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use planner::{
    Admission, LAST_SCALED_TAG, POLICY_TAG, Policy, Predictive, ScalingState, alarm_specs, encode_policy,
};
use reconciler::predict::{PREDICT, PredictReport, PredictSettings, pass, per_call};
use reconciler::scale_up::Decision;
use reconciler::{
    AlarmPort, AlarmState, Context, Dimension, ExecuteSettings, IoPolicy, MetricPoint, MetricPublisher,
    ReadStatus, Resharder, SeededJitter, StreamReader, TokioClock,
};
use simulated_aws::{Model, World as Aws, load_history, shuffled};

const MIB: f64 = 1_048_576.0;
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";

/// 10:00 on a Wednesday; the peak comes daily at 10:30 for half an hour.
fn now() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

fn predictive(lookback_days: u32) -> Policy {
    let mut policy = Policy { max_shards: 8, ..Policy::default() };
    policy.scale_up.predictive = Some(Predictive { lookback_days, lead_minutes: 15 });
    policy
}

/// 3 MiB/s (3,072 records/s) from 10:30 to 11:00 every day, 0.1 MiB/s otherwise: six shards
/// at the 60% target.
fn daily_peak(t: DateTime<Utc>) -> f64 {
    let minute = t.hour() * 60 + t.minute();
    if (630..660).contains(&minute) { 3.0 * MIB } else { 0.1 * MIB }
}

struct World {
    /// Kinesis and CloudWatch, in memory (one world, both ports).
    kinesis: Aws,
    cloudwatch: Aws,
}

impl World {
    /// Managed streams of one shard each with their policy, their alarms as `streams apply` writes
    /// them, and their history.
    async fn new(streams: Vec<(&str, Policy, Vec<MetricPoint>)>) -> World {
        let kinesis = Aws::new(Arc::new(TokioClock::new(now())), Model::instant());
        for (name, _, _) in &streams {
            kinesis.add_stream(name, 1, now() - chrono::Duration::days(30));
        }
        let cloudwatch = kinesis.clone();
        for (name, policy, history) in streams {
            kinesis.add_tags(name, &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
            for spec in alarm_specs(name, 1, &policy, &[TOPIC.to_owned()]) {
                cloudwatch.put_alarm(&spec).await.unwrap();
            }
            cloudwatch.put_metric_data(&history).await.unwrap();
        }
        World { kinesis, cloudwatch }
    }

    async fn pass(&self, dry_run: bool) -> PredictReport {
        let execute = ExecuteSettings { poll: Duration::from_millis(10), ..ExecuteSettings::default() };
        let io = IoPolicy::new(self.kinesis.clock())
            .until(self.kinesis.now() + chrono::Duration::seconds(600))
            .backoff(execute.backoff)
            .jitter(SeededJitter::new(7));
        let cx = Context::new(self.kinesis.clone(), self.cloudwatch.clone(), io).with_execute(execute);
        let settings = PredictSettings { dry_run, ..PredictSettings::default() };
        pass(&cx, &settings).await.expect("no AWS failure")
    }

    fn shards(&self, name: &str) -> u32 {
        self.kinesis.tiling(name).unwrap().len()
    }

    fn metric_reads(&self) -> Vec<String> {
        self.cloudwatch.cloudwatch_calls().into_iter().filter(|c| c.starts_with("GetMetricData")).collect()
    }
}

fn one(report: &PredictReport, stream: &str) -> Decision {
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let record =
        report.records.iter().find(|r| r.stream == stream).unwrap_or_else(|| panic!("{stream}: {report:?}"));
    assert_eq!(record.trigger, PREDICT);
    record.decision.clone()
}

#[tokio::test(start_paused = true)]
async fn a_daily_peak_is_scaled_for_before_it_comes_with_the_forecast_as_the_reason() {
    let policy = predictive(14);
    let world =
        World::new(vec![("orders", policy.clone(), load_history("orders", now(), 7, daily_peak))]).await;
    let report = world.pass(false).await;
    let Decision::Scaled { plan, from, to, complete, .. } = one(&report, "orders") else {
        panic!("not scaled: {report:?}")
    };
    assert_eq!((from, to, complete), (1, 6, true), "{plan:?}");
    assert!(plan.reasons[0].starts_with("forecast (daily): in 7 of the last 7 days"), "{:?}", plan.reasons);
    let record = &report.records[0];
    assert_eq!(record.peak.as_ref().map(|p| p.at), Some("2026-11-25T10:30:00Z".parse().unwrap()));
    assert_eq!(world.shards("orders"), 6);
    // Recorded like any scale-up: the cooldown runs from now.
    let tags = world.kinesis.describe("orders").await.unwrap().tags;
    assert!(tags.contains_key(LAST_SCALED_TAG));
    // Re-armed for the new count and back to OK, as after an alarm's scale-up.
    for spec in alarm_specs("orders", 6, &policy, &[TOPIC.to_owned()]) {
        let (written, state) = world.cloudwatch.alarm(&spec.name).unwrap();
        assert_eq!((written, state), (spec, AlarmState::Ok));
    }
    // One stream, 14 days of 5-minute data: one read.
    assert_eq!((report.metrics_calls, world.metric_reads()), (1, vec!["GetMetricData 2".to_owned()]));
}

#[tokio::test(start_paused = true)]
async fn shuffled_history_with_the_same_load_gives_no_forecast_and_no_scaling() {
    let history = load_history("orders", now(), 7, shuffled(now(), 7, daily_peak, 11));
    let world = World::new(vec![("orders", predictive(14), history)]).await;
    let report = world.pass(false).await;
    let Decision::NoPreScale { reason } = one(&report, "orders") else { panic!("{report:?}") };
    assert!(reason.starts_with("no forecast: no recurring peak"), "{reason}");
    assert_eq!(world.shards("orders"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_in_cooldown_is_held_and_a_paused_or_reactive_one_is_not_read() {
    let paused = Policy { paused: true, ..predictive(14) };
    let world = World::new(vec![
        ("cooling", predictive(14), load_history("cooling", now(), 7, daily_peak)),
        ("paused", paused, load_history("paused", now(), 7, daily_peak)),
        ("reactive", Policy::default(), load_history("reactive", now(), 7, daily_peak)),
    ])
    .await;
    let mut state = ScalingState::default();
    state.record(now() - chrono::Duration::seconds(60));
    world.kinesis.add_tags("cooling", &state.to_tags()).await.unwrap();
    let report = world.pass(false).await;
    assert!(matches!(one(&report, "cooling"), Decision::Held { admission: Admission::Cooldown { .. } }));
    assert_eq!(report.records.len(), 1, "{report:?}");
    assert_eq!(world.metric_reads(), ["GetMetricData 2"], "only the predictive, unpaused stream is read");
    assert_eq!((world.shards("cooling"), world.shards("paused"), world.shards("reactive")), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn an_incomplete_history_read_gives_no_forecast() {
    let world =
        World::new(vec![("orders", predictive(14), load_history("orders", now(), 7, daily_peak))]).await;
    world.cloudwatch.set_read_status(vec![Dimension::stream("orders")], ReadStatus::PartialData);
    let report = world.pass(false).await;
    let Decision::NoPreScale { reason } = one(&report, "orders") else { panic!("{report:?}") };
    assert!(reason.contains("PartialData"), "{reason}");
    assert_eq!(world.shards("orders"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_says_what_it_would_do_and_the_next_peak_and_changes_nothing() {
    let world =
        World::new(vec![("orders", predictive(14), load_history("orders", now(), 7, daily_peak))]).await;
    let report = world.pass(true).await;
    let Decision::WouldScale { plan } = one(&report, "orders") else { panic!("{report:?}") };
    assert_eq!(plan.target_shards, 6);
    let outlook = report.records[0].outlook.clone().expect("a dry run carries the outlook");
    assert_eq!(outlook.open_shards, 1);
    assert_eq!(outlook.next_peak.map(|p| p.at), Some("2026-11-25T10:30:00Z".parse().unwrap()));
    assert_eq!(outlook.planned_shards, Some(6));
    assert_eq!(world.shards("orders"), 1);
    assert!(!world.kinesis.describe("orders").await.unwrap().tags.contains_key(LAST_SCALED_TAG));
}

#[test]
fn the_history_period_is_whole_minutes_up_to_an_hour_that_divide_a_day() {
    use reconciler::predict::is_period;
    assert!([60, 300, 600, 900, 1_800, 3_600].into_iter().all(is_period));
    assert!(![0, 30, 90, 420, 7_200, u32::MAX].into_iter().any(is_period));
}

#[tokio::test(start_paused = true)]
async fn histories_are_read_as_many_streams_a_call_as_the_limits_allow_per_look_back() {
    // 14 days: 4,032 points a series, 25 series a call, 12 streams; 28 days: 6 streams a call.
    assert_eq!((per_call(14, 300), per_call(28, 300), per_call(8, 3_600)), (12, 6, 250));
    let names: Vec<String> = (0..20).map(|i| format!("s{i:02}")).collect();
    let streams = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), predictive(if i < 13 { 14 } else { 28 }), Vec::new()))
        .collect();
    let world = World::new(streams).await;
    let report = world.pass(false).await;
    // 13 streams at 14 days: ceil(13 / 12) = 2 calls; 7 at 28 days: ceil(7 / 6) = 2.
    assert_eq!(report.metrics_calls, 4);
    let mut reads = world.metric_reads();
    reads.sort();
    assert_eq!(reads, ["GetMetricData 12", "GetMetricData 2", "GetMetricData 2", "GetMetricData 24"]);
    assert_eq!(report.records.len(), 20);
    assert!(report.records.iter().all(
        |r| matches!(&r.decision, Decision::NoPreScale { reason } if reason.starts_with("no forecast"))
    ));
}
