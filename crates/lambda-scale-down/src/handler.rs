//! One invocation: a sweep from the cursor it was given, a decision line per stream, a summary
//! line, and a continuation if the deadline stopped it.
//!
//! The event is the schedule's (start from the first stream), a continuation delivered by SNS
//! (`Records[].Sns.Message` = `{"after": ..., "depth": ...}`), or the same object invoked directly:
//! see [`Event`].
//!
//! [`Handler`] is generic over its ports, so the continuation rules (hand on only when the
//! deadline stopped the sweep, never without progress, never past `MAX_CONTINUATIONS`, never
//! without a topic) are tested here against Kinesis, CloudWatch and SNS in memory; `main` builds
//! it over the AWS SDK. [`Handler::handle`] is the thin Lambda-facing shell, [`Handler::run`] the
//! rest, with the deadline as a plain instant.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use lambda_shell::emf::document;
use lambda_shell::{AwsCalls, Function, InvocationError};
use planner::Windows;
use reconciler::scale_down::{
    DEADLINE_MARGIN, HandOn, MAX_CONTINUATIONS, Review, ReviewOutcome, Start, SweepReport, SweepSettings,
    continuation, sweep,
};
use reconciler::{
    AlarmPort, Clock, Context, ContinuationPort, ExecuteSettings, IoPolicy, MetricsPort, ReconcileError,
    Resharder, Scope, SystemClock,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// The function over its ports: Kinesis `K`, CloudWatch `C`, the continuation topic `P`.
pub(crate) struct Handler<K, C, P> {
    kinesis: K,
    cloudwatch: C,
    topics: P,
    /// AWS requests sent so far, for the summary's `AwsCalls`.
    calls: AwsCalls,
    config: Config,
    /// The wall clock (paused `tokio` time in tests).
    clock: Arc<dyn Clock>,
}

/// The function's configuration, from its environment (see `main.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) settings: SweepSettings,
    /// `STREAM_NAME_PREFIX`: the streams this deployment may touch (empty: all).
    pub(crate) stream_prefix: String,
    /// `CONTINUATION_TOPIC_ARN`: where to hand on; none: a stopped sweep waits for the schedule.
    pub(crate) continuation_topic: Option<String>,
    /// `MAX_CONTINUATIONS`: how deep a chain of hand-ons may go.
    pub(crate) max_continuations: u32,
}

/// Any event this function receives, told apart by shape.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Event {
    /// A continuation delivered by the SNS topic: the message is a [`Start`] as JSON text.
    Sns(SnsEvent),
    /// A continuation invoked directly (`{"after": ..., "depth": ...}`, nothing else).
    Direct(Start),
    /// Anything else, such as the EventBridge schedule's `Scheduled Event`: start over.
    Other(IgnoredAny),
}

/// The part of an SNS event this function reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SnsEvent {
    records: Vec<SnsRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsRecord {
    sns: SnsMessage,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsMessage {
    message: String,
}

/// The start an event asks for; anything unrecognised (the schedule's event, an SNS message that
/// is not a continuation) starts a fresh sweep rather than failing: the sweep is level-triggered,
/// so starting over is always safe.
pub(crate) fn start_of(event: Event) -> Start {
    {
        match event {
            Event::Sns(sns) => sns
                .records
                .first()
                .and_then(|record| serde_json::from_str(&record.sns.message).ok())
                .unwrap_or_default(),
            Event::Direct(start) => start,
            Event::Other(_) => Start::default(),
        }
    }
}

impl Config {
    pub(crate) fn from_env() -> Result<Self, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let flag = |k: &str| env(k).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        let dry_run = flag("DRY_RUN");
        // Only the demo and the emulator tests compress a day into seconds; the stack never sets it.
        let windows = if flag("COMPRESSED_WINDOWS") { Windows::Compressed } else { Windows::File };
        let max_continuations = match env("MAX_CONTINUATIONS") {
            Some(v) => v.parse().map_err(|_| format!("MAX_CONTINUATIONS={v:?} is not a whole number"))?,
            None => MAX_CONTINUATIONS,
        };
        Ok(Config {
            settings: SweepSettings { dry_run, windows, ..SweepSettings::default() },
            stream_prefix: env("STREAM_NAME_PREFIX").unwrap_or_default(),
            continuation_topic: env("CONTINUATION_TOPIC_ARN"),
            max_continuations,
        })
    }
}

impl<K, C, P> Handler<K, C, P>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
    P: ContinuationPort + Sync,
{
    pub(crate) fn new(kinesis: K, cloudwatch: C, topics: P, calls: AwsCalls, config: Config) -> Self {
        Handler { kinesis, cloudwatch, topics, calls, config, clock: Arc::new(SystemClock) }
    }

    /// One invocation as Lambda delivers it: the start from its event, the deadline from its
    /// context.
    pub(crate) async fn handle(&self, event: LambdaEvent<Event>) -> Result<Value, InvocationError> {
        let deadline = lambda_shell::deadline(&event.context, DEADLINE_MARGIN);
        self.run(start_of(event.payload), deadline).await
    }

    /// One sweep from `start` that starts no work after `deadline`: its decision lines, the
    /// continuation if the deadline stopped it, and the summary (printed and returned).
    pub(crate) async fn run(&self, start: Start, deadline: DateTime<Utc>) -> Result<Value, InvocationError> {
        let execute = ExecuteSettings::default();
        let io = IoPolicy::new(self.clock.clone()).until(deadline).backoff(execute.backoff);
        let scope = Scope { stream_prefix: self.config.stream_prefix.clone(), ..Scope::default() };
        let cx = Context::new(&self.kinesis, &self.cloudwatch, io).with_scope(scope).with_execute(execute);
        let settings = &self.config.settings;
        let calls_before = self.calls.sent();
        let started = cx.now();
        let report = sweep(&cx, settings, start.after.as_deref())
            .await
            .map_err(|e| InvocationError::new(Function::ScaleDown, [&e]))?;
        for review in &report.reviews {
            println!("{}", review_line(review, settings.dry_run));
        }
        let continued = self.continue_after(&cx, &start, &report).await?;
        let aws_calls = self.calls.sent() - calls_before;
        let elapsed = (cx.now() - started).to_std().unwrap_or_default();
        let summary = summary(&report, &start, continued, aws_calls, elapsed);
        println!("{summary}");
        Ok(summary)
    }

    /// Hands the rest of the sweep to the next invocation, if the deadline stopped this one
    /// ([`continuation`]'s rule) and a topic is configured.
    async fn continue_after<A, B>(
        &self,
        cx: &Context<A, B>,
        start: &Start,
        report: &SweepReport,
    ) -> Result<bool, InvocationError> {
        let next = match continuation(start, report, self.config.max_continuations) {
            HandOn::Done => return Ok(false),
            HandOn::Refused { after, why } => {
                tracing::error!(after, depth = start.depth, "{why}");
                return Ok(false);
            }
            HandOn::Next(next) => next,
        };
        let after = next.after.as_deref().unwrap_or_default();
        let Some(topic) = &self.config.continuation_topic else {
            tracing::error!(after, "streams left unreviewed: set CONTINUATION_TOPIC_ARN to hand on");
            return Ok(false);
        };
        let message = serde_json::to_string(&next).expect("a Start serialises");
        cx.io(&self.topics)
            .publish(topic, &message)
            .await
            .map_err(|e| InvocationError::new(Function::ScaleDown, [&ReconcileError::from(e)]))?;
        tracing::info!(after, depth = next.depth, "handed the rest of the sweep on");
        Ok(true)
    }
}

fn review_line(review: &Review, dry_run: bool) -> Value {
    let actions = if matches!(review.outcome, ReviewOutcome::Scaled { .. }) { 1.0 } else { 0.0 };
    let mut fields = serde_json::to_value(review).unwrap_or_default();
    // One name per outcome: the metric's dimension is the record's own `outcome` field.
    let outcome = fields["outcome"].as_str().unwrap_or("unknown").to_owned();
    if let Value::Object(map) = &mut fields {
        map.insert("level".into(), "INFO".into());
        map.insert("message".into(), "decision".into());
        map.insert("dry_run".into(), dry_run.into());
    }
    document(
        Utc::now().timestamp_millis(),
        &[("Stream", &review.stream), ("Direction", "down"), ("Outcome", &outcome)],
        &[("ScalingActions", actions, "Count")],
        fields,
    )
}

fn summary(report: &SweepReport, start: &Start, continued: bool, aws_calls: u64, elapsed: Duration) -> Value {
    let count =
        |f: fn(&ReviewOutcome) -> bool| report.reviews.iter().filter(|r| f(&r.outcome)).count() as f64;
    document(
        Utc::now().timestamp_millis(),
        &[("Direction", "down")],
        &[
            ("StreamsExamined", report.reviews.len() as f64, "Count"),
            ("StreamsMerged", count(|o| matches!(o, ReviewOutcome::Scaled { .. })), "Count"),
            ("StreamsSkipped", count(|o| matches!(o, ReviewOutcome::Skipped { .. })), "Count"),
            ("StreamsFailed", count(|o| matches!(o, ReviewOutcome::Failed { .. })), "Count"),
            ("GetMetricDataCalls", f64::from(report.metrics_calls), "Count"),
            ("AwsCalls", aws_calls as f64, "Count"),
            ("SweepDuration", elapsed.as_secs_f64() * 1000.0, "Milliseconds"),
        ],
        json!({
            "level": "INFO",
            "message": "sweep",
            "after": start.after,
            "depth": start.depth,
            "cursor": report.cursor,
            "continued": continued,
        }),
    )
}

#[cfg(test)]
mod tests {
    use planner::{POLICY_TAG, Policy, encode_policy};
    use reconciler::TokioClock;
    use simulated_aws::{Model, World};

    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-continuation";
    /// Every stream read takes this long, so a deadline stops the sweep at a known stream.
    const READ: Duration = Duration::from_secs(10);

    /// Kinesis, CloudWatch and SNS in memory: one world, all three ports.
    type MemoryHandler = Handler<World, World, World>;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    /// The function over five managed one-shard streams `s0`..`s4` in memory, handing on to
    /// `topic`.
    async fn handler(topic: Option<&str>) -> MemoryHandler {
        let clock = Arc::new(TokioClock::new(now()));
        let world = World::new(clock.clone(), Model { read_latency: READ, ..Model::instant() });
        let policy = [(POLICY_TAG.to_owned(), encode_policy(&Policy::default()))].into();
        for i in 0..5 {
            let name = format!("s{i}");
            world.add_stream(&name, 1, now());
            world.add_tags(&name, &policy).await.unwrap();
        }
        let config = Config {
            settings: SweepSettings::default(),
            stream_prefix: String::new(),
            continuation_topic: topic.map(str::to_owned),
            max_continuations: 20,
        };
        let mut handler = Handler::new(world.clone(), world.clone(), world, AwsCalls::uncounted(), config);
        handler.clock = clock;
        handler
    }

    /// `left` from now, on the handler's clock.
    fn deadline(handler: &MemoryHandler, left: Duration) -> DateTime<Utc> {
        handler.clock.now() + chrono::Duration::from_std(left).unwrap()
    }

    /// A deadline that stops the sweep after three streams: each read takes 10 s and none starts
    /// within the 30 s review reserve, so `s0`, `s1`, `s2` are read (at 0, 10 and 20 s).
    fn after_three_reads(handler: &MemoryHandler) -> DateTime<Utc> {
        deadline(handler, READ * 5)
    }

    fn published(handler: &MemoryHandler) -> Vec<(String, Value)> {
        let parse = |m: &str| serde_json::from_str(m).expect("a continuation is JSON");
        handler.topics.published().iter().map(|(topic, m)| (topic.clone(), parse(m))).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_stopped_by_the_deadline_hands_on_after_its_last_stream_one_level_deeper() {
        let handler = handler(Some(TOPIC)).await;
        let summary =
            handler.run(Start { after: None, depth: 2 }, after_three_reads(&handler)).await.unwrap();
        assert_eq!(published(&handler), [(TOPIC.to_owned(), json!({"after": "s2", "depth": 3}))]);
        assert_eq!((summary["cursor"].clone(), summary["continued"].clone()), (json!("s2"), json!(true)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_that_made_no_progress_does_not_hand_on() {
        let handler = handler(Some(TOPIC)).await;
        let start = Start { after: Some("s2".into()), depth: 1 };
        let summary = handler.run(start, deadline(&handler, Duration::ZERO)).await.unwrap();
        assert_eq!(summary["cursor"], "s2", "stopped before reading anything");
        assert_eq!(summary["StreamsExamined"], 0);
        assert!(published(&handler).is_empty(), "handing on would loop without end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_chain_at_max_continuations_does_not_hand_on() {
        let handler = handler(Some(TOPIC)).await;
        let summary =
            handler.run(Start { after: None, depth: 20 }, after_three_reads(&handler)).await.unwrap();
        assert_eq!(summary["cursor"], "s2");
        assert!(published(&handler).is_empty(), "the next schedule starts over instead");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_continuation_topic_nothing_is_handed_on() {
        let handler = handler(None).await;
        let summary = handler.run(Start::default(), after_three_reads(&handler)).await.unwrap();
        assert_eq!((summary["cursor"].clone(), summary["continued"].clone()), (json!("s2"), json!(false)));
        assert!(published(&handler).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_completed_sweep_hands_nothing_on() {
        let handler = handler(Some(TOPIC)).await;
        let summary = handler.run(Start::default(), deadline(&handler, READ * 100)).await.unwrap();
        assert_eq!(summary["StreamsExamined"], 5);
        assert_eq!(summary["cursor"], Value::Null);
        assert!(published(&handler).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_hand_on_fails_the_invocation_as_retryable() {
        let handler = handler(Some(TOPIC)).await;
        for _ in 0..ExecuteSettings::default().backoff.max_attempts {
            handler.topics.fail_next("Publish", reconciler::ErrorKind::Throttled);
        }
        let error = handler.run(Start::default(), after_three_reads(&handler)).await.unwrap_err();
        assert_eq!(error.error_type(), "ScaleDownRetryable");
    }

    fn start_from(event: &Value) -> Start {
        start_of(Event::deserialize(event).expect("every JSON value is some event"))
    }

    #[test]
    fn a_scheduled_event_starts_a_fresh_sweep() {
        let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(start_from(&schedule), Start::default());
    }

    #[test]
    fn a_continuation_arrives_through_sns_or_directly() {
        let sns = json!({"Records": [{"Sns": {"Message": "{\"after\":\"orders\",\"depth\":3}"}}]});
        assert_eq!(start_from(&sns), Start { after: Some("orders".into()), depth: 3 });
        let direct = json!({"after": "orders", "depth": 1});
        assert_eq!(start_from(&direct), Start { after: Some("orders".into()), depth: 1 });
    }

    #[test]
    fn a_garbled_continuation_starts_over_rather_than_failing() {
        let sns = json!({"Records": [{"Sns": {"Message": "not json"}}]});
        assert_eq!(start_from(&sns), Start::default());
    }

    #[test]
    fn an_sns_message_that_is_json_but_not_a_continuation_starts_over() {
        let sns = json!({"Records": [{"Sns": {"Message": "{\"AlarmName\":\"x\",\"depth\":2}"}}]});
        assert_eq!(start_from(&sns), Start::default());
        let empty = json!({"Records": []});
        assert_eq!(start_from(&empty), Start::default());
    }

    #[test]
    fn a_direct_object_with_other_keys_is_not_a_continuation() {
        let stray = json!({"after": "orders", "detail-type": "Scheduled Event"});
        assert_eq!(start_from(&stray), Start::default());
    }

    #[test]
    fn a_decision_line_names_its_outcome_once_for_the_log_and_the_metric() {
        let review = Review {
            stream: "orders".into(),
            open_shards: 4,
            min_shards: 1,
            max_shards: 8,
            utilisation: None,
            reads: None,
            enhanced_fan_out_consumers: None,
            plan: None,
            advice: None,
            lookback: None,
            outcome: ReviewOutcome::Scaled { to: 2, steps: vec![], complete: true },
        };
        let line = review_line(&review, false);
        assert_eq!((line["outcome"].as_str(), line["Outcome"].as_str()), (Some("scaled"), Some("scaled")));
        assert_eq!(line["ScalingActions"], 1);
    }
}
