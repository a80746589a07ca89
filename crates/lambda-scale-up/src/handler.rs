//! One invocation: every SNS record's alarm handled in turn, or, on the `ResyncSchedule` rule's
//! `Scheduled Event`, every alarm of this deployment still in `ALARM` (the resync: CloudWatch
//! notifies only on a state change, so nothing else would wake the scaler for them), or, on the
//! `PredictSchedule` rule's constant input `{"kinesis-autoscaler":"predict"}`, the hourly
//! predictive pass ([`reconciler::predict`]); each with its decision logged. The event is told
//! apart by shape ([`Event`]).
//!
//! A malformed message is logged and skipped (retrying cannot fix it). An AWS failure that
//! outlasted the backoff fails the invocation after the other records are handled, so Lambda's
//! async retry re-delivers the event; handling is level-triggered, so the records that already
//! succeeded are harmless to see again (their alarms are stale by then).
//!
//! [`Handler`] is generic over its ports so these rules are unit-tested against Kinesis and
//! CloudWatch in memory; `main` builds it over the AWS SDK. [`Handler::handle`] is the thin
//! Lambda-facing shell (account and deadline from the Context), [`Handler::handle_records`] the
//! rest.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sns::SnsEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use lambda_shell::{AwsCalls, Function, InvocationError};
use reconciler::alarm_message::AlarmMessage;
use reconciler::predict::{self, PredictSettings};
use reconciler::scale_up::{self, DEADLINE_MARGIN, Decision, Record};
use reconciler::{
    AlarmPort, Clock, Context, ExecuteSettings, IoPolicy, MetricsPort, ReconcileError, Resharder, Scope,
    SystemClock,
};
use serde::{Deserialize, Serialize};

use crate::decision;

/// The function over its ports: Kinesis `K`, CloudWatch `C`.
pub(crate) struct Handler<K, C> {
    kinesis: K,
    cloudwatch: C,
    /// AWS requests sent so far, for each decision's `AwsCalls`.
    calls: AwsCalls,
    /// The wall clock (paused `tokio` time in tests).
    clock: Arc<dyn Clock>,
    region: String,
    /// `STREAM_NAME_PREFIX`: the streams this deployment may touch (empty: all).
    stream_prefix: String,
    settings: ExecuteSettings,
    /// `PREDICT_PERIOD_SECONDS`: the predictive pass's history period.
    predict_period_secs: u32,
}

/// Any event this function receives, told apart by shape.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Event {
    /// The `PredictSchedule` rule's constant input (first: nothing else has its one key).
    Predict(PredictEvent),
    /// Alarm notifications from the alarm topic.
    Alarms(SnsEvent),
    /// An EventBridge event: the `ResyncSchedule` rule's `Scheduled Event`.
    Schedule(ScheduledEvent),
}

/// The part of an EventBridge event this function reads.
#[derive(Debug, Deserialize)]
pub(crate) struct ScheduledEvent {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
}

impl ScheduledEvent {
    /// Whether it is a schedule rule's tick (`aws.events`, `Scheduled Event`), not some other
    /// EventBridge event routed here by mistake.
    fn is_schedule(&self) -> bool {
        self.source == "aws.events" && self.detail_type == "Scheduled Event"
    }
}

/// The input the `PredictSchedule` rule sends: `{"kinesis-autoscaler":"predict"}`. A rule's
/// constant input replaces the `Scheduled Event`, so the key says which task it asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PredictEvent {
    #[serde(rename = "kinesis-autoscaler")]
    task: String,
}

impl PredictEvent {
    /// The one task this input may name.
    pub(crate) const TASK: &'static str = "predict";

    fn is_predict(&self) -> bool {
        self.task == Self::TASK
    }
}

/// The invocation's result: how many alarms (or predictive streams) led to what.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    records: usize,
    scaled: usize,
    held: usize,
    unchanged: usize,
    ignored: usize,
    /// The predictive pass: `GetMetricData` calls made, and streams the deadline left unread.
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_calls: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unread: Option<usize>,
}

impl<K, C> Handler<K, C>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    pub(crate) fn new(
        kinesis: K,
        cloudwatch: C,
        calls: AwsCalls,
        region: String,
        stream_prefix: String,
    ) -> Self {
        Handler {
            kinesis,
            cloudwatch,
            calls,
            clock: Arc::new(SystemClock),
            region,
            stream_prefix,
            settings: ExecuteSettings::default(),
            predict_period_secs: predict::PERIOD_SECS,
        }
    }

    /// This handler with the predictive pass reading history at `secs` periods
    /// (`predict::is_period`).
    pub(crate) fn with_predict_period(mut self, secs: u32) -> Self {
        self.predict_period_secs = secs;
        self
    }

    /// One invocation as Lambda delivers it: the account from the invoked ARN, the deadline from
    /// the context.
    pub(crate) async fn handle(&self, event: LambdaEvent<Event>) -> Result<Summary, InvocationError> {
        // arn:aws:lambda:<region>:<account>:function:<name>
        let account = event.context.invoked_function_arn.split(':').nth(4).unwrap_or_default();
        let deadline = lambda_shell::deadline(&event.context, DEADLINE_MARGIN);
        match &event.payload {
            Event::Predict(p) if p.is_predict() => self.predict(account, deadline).await,
            Event::Predict(other) => {
                tracing::warn!(task = %other.task, "ignoring an input that names no task of this function");
                Ok(Summary::default())
            }
            Event::Alarms(sns) => self.handle_records(sns, account, deadline).await,
            Event::Schedule(scheduled) if scheduled.is_schedule() => self.resync(account, deadline).await,
            Event::Schedule(other) => {
                tracing::warn!(source = %other.source, detail_type = %other.detail_type, "ignoring an event that is not a schedule's");
                Ok(Summary::default())
            }
        }
    }

    /// The invocation's context: the function's ports behind the I/O policy, until `deadline`,
    /// serving `account` in this function's region and `STREAM_NAME_PREFIX`.
    fn context(&self, account: &str, deadline: DateTime<Utc>) -> Context<&K, &C> {
        let io = IoPolicy::new(self.clock.clone()).until(deadline).backoff(self.settings.backoff);
        let scope = Scope {
            account: account.to_owned(),
            region: self.region.clone(),
            stream_prefix: self.stream_prefix.clone(),
        };
        Context::new(&self.kinesis, &self.cloudwatch, io)
            .with_scope(scope)
            .with_execute(self.settings.clone())
    }

    /// Every record of `event` in turn, for `account`, starting no work after `deadline`.
    pub(crate) async fn handle_records(
        &self,
        event: &SnsEvent,
        account: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Summary, InvocationError> {
        let mut outcome = Outcome::new(event.records.len());
        let cx = self.context(account, deadline);
        for record in &event.records {
            let started = cx.now();
            let message = match AlarmMessage::parse(&record.sns.message) {
                Ok(message) => message,
                Err(e) => {
                    outcome.summary.ignored += 1;
                    tracing::warn!(message_id = %record.sns.message_id, "ignoring a malformed alarm message: {e}");
                    continue;
                }
            };
            let calls_before = self.calls.sent();
            let result = scale_up::handle(&cx, &message).await;
            outcome.add(&message.name, result, self.calls.sent() - calls_before, elapsed(&cx, started));
        }
        outcome.finish()
    }

    /// The resync ([`scale_up::resync`]): every alarm of this deployment in `ALARM` now, each
    /// handled as a fresh trigger, until `deadline` (what is left waits for the next tick).
    pub(crate) async fn resync(
        &self,
        account: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Summary, InvocationError> {
        let cx = self.context(account, deadline);
        let mut outcome = Outcome::new(0);
        let (mut started, mut calls_before) = (cx.now(), self.calls.sent());
        let listed = scale_up::resync(&cx, |alarm, result| {
            outcome.add(&alarm.name, result, self.calls.sent() - calls_before, elapsed(&cx, started));
            (started, calls_before) = (cx.now(), self.calls.sent());
        })
        .await
        .map_err(|e| InvocationError::new(Function::ScaleUp, [&e]))?;
        outcome.summary.records = listed;
        outcome.finish()
    }
}

impl<K, C> Handler<K, C>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    /// The hourly predictive pass: a decision line per predictive stream (`"trigger":"predict"`),
    /// then a summary line with the `GetMetricData` calls it made. A stream whose read or
    /// scale-up failed fails the invocation after the rest was handled, labelled like an alarm's.
    pub(crate) async fn predict(
        &self,
        account: &str,
        deadline: DateTime<Utc>,
    ) -> Result<Summary, InvocationError> {
        let cx = self.context(account, deadline);
        let settings =
            PredictSettings { period_secs: self.predict_period_secs, ..PredictSettings::default() };
        let calls_before = self.calls.sent();
        let report =
            predict::pass(&cx, &settings).await.map_err(|e| InvocationError::new(Function::ScaleUp, [&e]))?;
        let mut outcome = Outcome::new(report.records.len());
        for record in &report.records {
            count(&mut outcome.summary, &record.decision);
            decision::print_predict(record);
        }
        for (stream, error) in report.failures {
            tracing::error!(stream, "predictive pass failed for the stream: {error}");
            outcome.failures.push(error);
        }
        outcome.summary.metrics_calls = Some(report.metrics_calls);
        outcome.summary.unread = Some(report.unread);
        tracing::info!(
            streams = report.records.len(),
            metrics_calls = report.metrics_calls,
            aws_calls = self.calls.sent() - calls_before,
            unread = report.unread,
            "predictive pass done"
        );
        outcome.finish()
    }
}

/// What an invocation has done so far: the counts and the failures, each decision printed.
struct Outcome {
    summary: Summary,
    failures: Vec<ReconcileError>,
}

impl Outcome {
    fn new(records: usize) -> Self {
        Outcome { summary: Summary { records, ..Summary::default() }, failures: Vec::new() }
    }

    fn add(
        &mut self,
        alarm: &str,
        result: Result<Record, ReconcileError>,
        aws_calls: u64,
        elapsed: Duration,
    ) {
        match result {
            Ok(record) => {
                count(&mut self.summary, &record.decision);
                decision::print(&record, aws_calls, elapsed);
            }
            Err(error) => {
                tracing::error!(alarm, aws_calls, "scale-up failed: {error}");
                self.failures.push(error);
            }
        }
    }

    /// An AWS failure that outlasted the backoff fails the invocation, after the rest was handled.
    fn finish(self) -> Result<Summary, InvocationError> {
        if self.failures.is_empty() {
            return Ok(self.summary);
        }
        Err(InvocationError::new(Function::ScaleUp, &self.failures))
    }
}

/// The time since `started` on the invocation's clock.
fn elapsed<K, C>(cx: &Context<K, C>, started: DateTime<Utc>) -> Duration {
    (cx.now() - started).to_std().unwrap_or_default()
}

fn count(summary: &mut Summary, decision: &Decision) {
    match decision {
        Decision::Scaled { .. } => summary.scaled += 1,
        Decision::Held { .. } => summary.held += 1,
        Decision::NoChange { .. } | Decision::NoPreScale { .. } | Decision::WouldScale { .. } => {
            summary.unchanged += 1
        }
        Decision::Ignored { .. } => summary.ignored += 1,
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::sns::SnsRecord;
    use planner::{POLICY_TAG, Policy, alarm_specs, encode_policy};
    use reconciler::{AlarmState, ErrorKind, TokioClock};
    use simulated_aws::{Model, World};

    use super::*;

    /// A real `ALARM` notification: `orders` (4 shards) writing about 4 MiB/s, at 10:05:44.
    const HOT_ORDERS: &str = include_str!("../../reconciler/tests/fixtures/alarms/aws-incoming-bytes.json");
    const ACCOUNT: &str = "123456789012";
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";

    fn now() -> DateTime<Utc> {
        "2025-01-01T10:06:00Z".parse().unwrap()
    }

    /// The function over a managed `orders` of 4 shards and its alarms, in memory (one world for
    /// Kinesis and CloudWatch).
    async fn handler() -> Handler<World, World> {
        let policy = Policy::default();
        let clock = Arc::new(TokioClock::new(now()));
        let world = World::new(clock.clone(), Model::instant());
        world.add_stream("orders", 4, now() - chrono::Duration::days(3));
        world.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
        // In ALARM, as CloudWatch confirms it when the notification arrives.
        for spec in alarm_specs("orders", 4, &policy, &[TOPIC.to_owned()]) {
            world.put_alarm(&spec).await.unwrap();
            world.set_alarm_state(&spec.name, AlarmState::Alarm, "hot").await.unwrap();
        }
        let mut handler =
            Handler::new(world.clone(), world, AwsCalls::uncounted(), "us-east-1".into(), String::new());
        handler.clock = clock;
        handler
    }

    fn sns(messages: &[&str]) -> SnsEvent {
        let mut event = SnsEvent::default();
        for message in messages {
            let mut record = SnsRecord::default();
            record.sns.message = (*message).to_owned();
            event.records.push(record);
        }
        event
    }

    fn deadline() -> DateTime<Utc> {
        now() + chrono::Duration::seconds(600)
    }

    #[tokio::test(start_paused = true)]
    async fn a_hot_alarm_splits_the_stream() {
        let handler = handler().await;
        let summary = handler.handle_records(&sns(&[HOT_ORDERS]), ACCOUNT, deadline()).await.unwrap();
        assert_eq!((summary.records, summary.scaled), (1, 1), "{summary:?}");
        assert!(handler.kinesis.tiling("orders").unwrap().len() > 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_malformed_message_is_skipped_counted_ignored_and_the_rest_handled() {
        let handler = handler().await;
        let event = sns(&["not an alarm", HOT_ORDERS]);
        let summary = handler.handle_records(&event, ACCOUNT, deadline()).await.unwrap();
        assert_eq!((summary.records, summary.ignored, summary.scaled), (2, 1, 1), "{summary:?}");
    }

    /// The `ResyncSchedule` rule's event, as EventBridge delivers it.
    const SCHEDULED: &str = r#"{"version":"0","id":"89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
        "time":"2025-01-01T10:05:00Z","region":"us-east-1",
        "resources":["arn:aws:events:us-east-1:123456789012:rule/kinesis-autoscaler-resync"],"detail":{}}"#;

    #[test]
    fn both_an_sns_event_and_a_scheduled_event_are_read() {
        let scheduled: Event = serde_json::from_str(SCHEDULED).unwrap();
        assert!(matches!(scheduled, Event::Schedule(ref s) if s.is_schedule()), "{scheduled:?}");
        let sns = serde_json::to_string(&sns(&[HOT_ORDERS])).unwrap();
        assert!(matches!(serde_json::from_str(&sns).unwrap(), Event::Alarms(_)));
        let other: Event = serde_json::from_str(&SCHEDULED.replace("aws.events", "my.app")).unwrap();
        assert!(matches!(other, Event::Schedule(ref s) if !s.is_schedule()));
    }

    #[test]
    fn the_predict_schedules_input_is_read_and_names_its_task() {
        let predict: Event = serde_json::from_str(r#"{"kinesis-autoscaler":"predict"}"#).unwrap();
        assert!(matches!(predict, Event::Predict(ref p) if p.is_predict()), "{predict:?}");
        let other: Event = serde_json::from_str(r#"{"kinesis-autoscaler":"sweep"}"#).unwrap();
        assert!(matches!(other, Event::Predict(ref p) if !p.is_predict()), "{other:?}");
        let scheduled: Event = serde_json::from_str(SCHEDULED).unwrap();
        assert!(matches!(scheduled, Event::Schedule(_)), "{scheduled:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_predict_pass_scales_a_stream_up_before_its_daily_peak() {
        use chrono::Timelike;
        let handler = handler().await;
        let mut policy = Policy::default();
        policy.scale_up.predictive = Some(planner::Predictive { lookback_days: 14, lead_minutes: 15 });
        handler
            .kinesis
            .add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into())
            .await
            .unwrap();
        // 8 MiB/s from 10:30 to 11:00 every day, a trickle otherwise; "now" is 10:06.
        let history = simulated_aws::load_history("orders", now(), 7, |t| {
            if (630..660).contains(&(t.hour() * 60 + t.minute())) { 8_388_608.0 } else { 100_000.0 }
        });
        reconciler::MetricPublisher::put_metric_data(&handler.cloudwatch, &history).await.unwrap();
        let summary = handler.predict(ACCOUNT, deadline()).await.unwrap();
        assert_eq!((summary.records, summary.scaled, summary.metrics_calls), (1, 1, Some(1)), "{summary:?}");
        assert!(handler.kinesis.tiling("orders").unwrap().len() > 4);
    }

    #[tokio::test(start_paused = true)]
    async fn the_resync_scales_a_stream_whose_alarms_stayed_in_alarm_once() {
        let handler = handler().await;
        let summary = handler.resync(ACCOUNT, deadline()).await.unwrap();
        assert_eq!((summary.records, summary.scaled), (3, 1), "three alarms, one scaling: {summary:?}");
        assert!(handler.kinesis.tiling("orders").unwrap().len() > 4);
    }

    #[tokio::test(start_paused = true)]
    async fn an_aws_failure_that_outlasts_the_retries_fails_the_invocation_as_retryable() {
        let handler = handler().await;
        for _ in 0..=ExecuteSettings::default().backoff.max_attempts {
            handler.kinesis.fail_next("DescribeStreamSummary", ErrorKind::Throttled);
        }
        let error = handler.handle_records(&sns(&[HOT_ORDERS]), ACCOUNT, deadline()).await.unwrap_err();
        assert_eq!(error.error_type(), "ScaleUpRetryable", "{error}");
        assert_eq!(handler.kinesis.tiling("orders").unwrap().len(), 4, "nothing was changed");
    }
}
