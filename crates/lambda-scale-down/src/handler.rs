//! One invocation: a sweep from the cursor it was given, a decision line per stream, a summary
//! line, and a continuation if the deadline stopped it.
//!
//! The event is the schedule's (start from the first stream), a continuation delivered by SNS
//! (`Records[].Sns.Message` = `{"after": ..., "depth": ...}`), or the same object invoked directly:
//! see [`Event`].

use std::time::Duration;

use aws_adapters::{AwsClients, CloudWatch, KinesisStreams};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use lambda_shell::emf::document;
use lambda_shell::{Function, InvocationError};
use reconciler::scale_down::{Review, ReviewOutcome, SweepContext, SweepReport, SweepSettings, sweep};
use reconciler::{ContinuationPort, ReconcileError, SeededJitter};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Stop starting work this long before the Lambda deadline: time to report and hand on.
const DEADLINE_MARGIN: Duration = Duration::from_secs(15);

pub(crate) struct Handler {
    clients: AwsClients,
    kinesis: KinesisStreams,
    cloudwatch: CloudWatch,
    settings: SweepSettings,
    continuation_topic: Option<String>,
    max_continuations: u32,
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

/// Where a sweep starts: after `after` (none: the first stream), `depth` hand-ons deep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Start {
    #[serde(default)]
    pub(crate) after: Option<String>,
    #[serde(default)]
    pub(crate) depth: u32,
}

impl From<Event> for Start {
    /// The start an event asks for; anything unrecognised (the schedule's event, an SNS message
    /// that is not a continuation) starts a fresh sweep rather than failing: the sweep is
    /// level-triggered, so starting over is always safe.
    fn from(event: Event) -> Start {
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

impl Handler {
    pub(crate) fn from_env(clients: AwsClients) -> Result<Self, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let dry_run = env("DRY_RUN").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        let max_continuations = match env("MAX_CONTINUATIONS") {
            Some(v) => v.parse().map_err(|_| format!("MAX_CONTINUATIONS={v:?} is not a whole number"))?,
            None => 20,
        };
        Ok(Handler {
            kinesis: clients.streams(),
            cloudwatch: clients.cloudwatch(),
            clients,
            settings: SweepSettings {
                dry_run,
                stream_prefix: env("STREAM_NAME_PREFIX").unwrap_or_default(),
                ..SweepSettings::default()
            },
            continuation_topic: env("CONTINUATION_TOPIC_ARN"),
            max_continuations,
        })
    }

    pub(crate) async fn handle(&self, event: LambdaEvent<Event>) -> Result<Value, InvocationError> {
        let start = Start::from(event.payload);
        let cx = SweepContext {
            now: Utc::now(),
            deadline: lambda_shell::deadline(&event.context, DEADLINE_MARGIN),
            after: start.after.clone(),
        };
        let calls_before = self.clients.requests_sent();
        let started = std::time::Instant::now();
        let report =
            sweep(&self.kinesis, &self.cloudwatch, &cx, &self.settings, &mut SeededJitter::from_entropy())
                .await
                .map_err(|e| InvocationError::new(Function::ScaleDown, [&e]))?;
        for review in &report.reviews {
            println!("{}", review_line(review, self.settings.dry_run));
        }
        let continued = self.continue_after(&start, &report).await?;
        let summary = summary(
            &report,
            &start,
            continued,
            self.clients.requests_sent() - calls_before,
            started.elapsed(),
        );
        println!("{summary}");
        Ok(summary)
    }

    /// Hands the rest of the sweep to the next invocation, if the deadline stopped this one.
    async fn continue_after(&self, start: &Start, report: &SweepReport) -> Result<bool, InvocationError> {
        let Some(cursor) = &report.cursor else { return Ok(false) };
        if report.reviews.is_empty() && start.after.as_deref().unwrap_or_default() == cursor.as_str() {
            tracing::error!(
                after = cursor,
                "no progress before the deadline: not handing on (is the timeout too short?)"
            );
            return Ok(false);
        }
        if start.depth >= self.max_continuations {
            tracing::error!(
                after = cursor,
                depth = start.depth,
                "continuation chain too deep; the next schedule starts over"
            );
            return Ok(false);
        }
        let Some(topic) = &self.continuation_topic else {
            tracing::error!(after = cursor, "streams left unreviewed: set CONTINUATION_TOPIC_ARN to hand on");
            return Ok(false);
        };
        let next = Start { after: Some(cursor.clone()), depth: start.depth + 1 };
        let message = serde_json::to_string(&next).expect("a Start serialises");
        self.clients
            .topics()
            .publish(topic, &message)
            .await
            .map_err(|e| InvocationError::new(Function::ScaleDown, [&ReconcileError::from(e)]))?;
        tracing::info!(after = cursor, depth = next.depth, "handed the rest of the sweep on");
        Ok(true)
    }
}

fn review_line(review: &Review, dry_run: bool) -> Value {
    let outcome = match &review.outcome {
        ReviewOutcome::Scaled { .. } => "merged",
        ReviewOutcome::Unchanged => "unchanged",
        ReviewOutcome::WouldScale { .. } => "would_merge",
        ReviewOutcome::Skipped { .. } => "skipped",
        ReviewOutcome::Failed { .. } => "failed",
    };
    let actions = if matches!(review.outcome, ReviewOutcome::Scaled { .. }) { 1.0 } else { 0.0 };
    let mut fields = serde_json::to_value(review).unwrap_or_default();
    if let Value::Object(map) = &mut fields {
        map.insert("level".into(), "INFO".into());
        map.insert("message".into(), "decision".into());
        map.insert("dry_run".into(), dry_run.into());
    }
    document(
        Utc::now().timestamp_millis(),
        &[("Stream", &review.stream), ("Direction", "down"), ("Outcome", outcome)],
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
    use super::*;

    impl Start {
        fn from_event(event: &Value) -> Start {
            Start::from(Event::deserialize(event).expect("every JSON value is some event"))
        }
    }

    #[test]
    fn a_scheduled_event_starts_a_fresh_sweep() {
        let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(Start::from_event(&schedule), Start::default());
    }

    #[test]
    fn a_continuation_arrives_through_sns_or_directly() {
        let sns = json!({"Records": [{"Sns": {"Message": "{\"after\":\"orders\",\"depth\":3}"}}]});
        assert_eq!(Start::from_event(&sns), Start { after: Some("orders".into()), depth: 3 });
        let direct = json!({"after": "orders", "depth": 1});
        assert_eq!(Start::from_event(&direct), Start { after: Some("orders".into()), depth: 1 });
    }

    #[test]
    fn a_garbled_continuation_starts_over_rather_than_failing() {
        let sns = json!({"Records": [{"Sns": {"Message": "not json"}}]});
        assert_eq!(Start::from_event(&sns), Start::default());
    }

    #[test]
    fn an_sns_message_that_is_json_but_not_a_continuation_starts_over() {
        let sns = json!({"Records": [{"Sns": {"Message": "{\"AlarmName\":\"x\",\"depth\":2}"}}]});
        assert_eq!(Start::from_event(&sns), Start::default());
        let empty = json!({"Records": []});
        assert_eq!(Start::from_event(&empty), Start::default());
    }

    #[test]
    fn a_direct_object_with_other_keys_is_not_a_continuation() {
        let stray = json!({"after": "orders", "detail-type": "Scheduled Event"});
        assert_eq!(Start::from_event(&stray), Start::default());
    }
}
