//! One invocation: every SNS record's alarm handled in turn, each with its decision logged.
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

use std::time::{Duration, Instant as StdInstant};

use aws_lambda_events::sns::SnsEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use lambda_shell::{AwsCalls, Function, InvocationError};
use reconciler::alarm_message::AlarmMessage;
use reconciler::scale_up::{self, Decision, Invocation};
use reconciler::{AlarmPort, ExecuteSettings, MetricsPort, Resharder, SeededJitter};
use serde::Serialize;
use tokio::time::Instant;

use crate::decision;

/// Stop starting work this long before the Lambda deadline: time to re-arm and report.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// The function over its ports: Kinesis `K`, CloudWatch `C`.
pub(crate) struct Handler<K, C> {
    kinesis: K,
    cloudwatch: C,
    /// AWS requests sent so far, for each decision's `AwsCalls`.
    calls: AwsCalls,
    /// Wall-clock time (`Utc::now`; fixed in tests).
    clock: fn() -> DateTime<Utc>,
    region: String,
    /// `STREAM_NAME_PREFIX`: the streams this deployment may touch (empty: all).
    stream_prefix: String,
    settings: ExecuteSettings,
}

/// The invocation's result: how many alarms led to what.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    records: usize,
    scaled: usize,
    held: usize,
    unchanged: usize,
    ignored: usize,
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
            clock: Utc::now,
            region,
            stream_prefix,
            settings: ExecuteSettings::default(),
        }
    }

    /// One invocation as Lambda delivers it: the account from the invoked ARN, the deadline from
    /// the context.
    pub(crate) async fn handle(&self, event: LambdaEvent<SnsEvent>) -> Result<Summary, InvocationError> {
        // arn:aws:lambda:<region>:<account>:function:<name>
        let account = event.context.invoked_function_arn.split(':').nth(4).unwrap_or_default();
        let deadline = lambda_shell::deadline(&event.context, DEADLINE_MARGIN);
        self.handle_records(&event.payload, account, deadline).await
    }

    /// Every record of `event` in turn, for `account`, starting no work after `deadline`.
    pub(crate) async fn handle_records(
        &self,
        event: &SnsEvent,
        account: &str,
        deadline: Instant,
    ) -> Result<Summary, InvocationError> {
        let mut summary = Summary { records: event.records.len(), ..Summary::default() };
        let mut failures = Vec::new();
        let mut jitter = SeededJitter::from_entropy();
        for record in &event.records {
            let started = StdInstant::now();
            let message = match AlarmMessage::parse(&record.sns.message) {
                Ok(message) => message,
                Err(e) => {
                    summary.ignored += 1;
                    tracing::warn!(message_id = %record.sns.message_id, "ignoring a malformed alarm message: {e}");
                    continue;
                }
            };
            let cx = Invocation {
                account: account.to_owned(),
                region: self.region.clone(),
                stream_prefix: self.stream_prefix.clone(),
                now: (self.clock)(),
                deadline,
            };
            let calls_before = self.calls.sent();
            let result =
                scale_up::handle(&self.kinesis, &self.cloudwatch, &message, &cx, &self.settings, &mut jitter)
                    .await;
            let aws_calls = self.calls.sent() - calls_before;
            match result {
                Ok(record) => {
                    count(&mut summary, &record.decision);
                    decision::print(&record, aws_calls, started.elapsed());
                }
                Err(error) => {
                    tracing::error!(alarm = %message.name, aws_calls, "scale-up failed: {error}");
                    failures.push(error);
                }
            }
        }
        if failures.is_empty() {
            return Ok(summary);
        }
        Err(InvocationError::new(Function::ScaleUp, &failures))
    }
}

fn count(summary: &mut Summary, decision: &Decision) {
    match decision {
        Decision::Scaled { .. } => summary.scaled += 1,
        Decision::Held { .. } => summary.held += 1,
        Decision::NoChange { .. } => summary.unchanged += 1,
        Decision::Ignored { .. } => summary.ignored += 1,
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::sns::SnsRecord;
    use planner::{POLICY_TAG, Policy, alarm_specs, encode_policy};
    use reconciler::memory::{InMemoryCloudWatch, InMemoryStreams};
    use reconciler::{AlarmState, ErrorKind};

    use super::*;

    /// A real `ALARM` notification: `orders` (4 shards) writing about 4 MiB/s, at 10:05:44.
    const HOT_ORDERS: &str = include_str!("../../reconciler/tests/fixtures/alarms/aws-incoming-bytes.json");
    const ACCOUNT: &str = "123456789012";
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";

    fn now() -> DateTime<Utc> {
        "2025-01-01T10:06:00Z".parse().unwrap()
    }

    /// The function over a managed `orders` of 4 shards and its alarms, in memory.
    async fn handler() -> Handler<InMemoryStreams, InMemoryCloudWatch> {
        let policy = Policy::default();
        let kinesis = InMemoryStreams::new().with_stream("orders", 4, now() - chrono::Duration::days(3));
        kinesis.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into()).await.unwrap();
        let cloudwatch = InMemoryCloudWatch::new();
        // In ALARM, as CloudWatch confirms it when the notification arrives.
        for spec in alarm_specs("orders", 4, &policy, &[TOPIC.to_owned()]) {
            cloudwatch.put_alarm(&spec).await.unwrap();
            cloudwatch.set_alarm_state(&spec.name, AlarmState::Alarm, "hot").await.unwrap();
        }
        let mut handler =
            Handler::new(kinesis, cloudwatch, AwsCalls::uncounted(), "us-east-1".into(), String::new());
        handler.clock = now;
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

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(600)
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
