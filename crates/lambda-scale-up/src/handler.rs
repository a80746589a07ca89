//! One invocation: every SNS record's alarm handled in turn, each with its decision logged.
//!
//! A malformed message is logged and skipped (retrying cannot fix it). An AWS failure that
//! outlasted the backoff fails the invocation after the other records are handled, so Lambda's
//! async retry re-delivers the event; handling is level-triggered, so the records that already
//! succeeded are harmless to see again (their alarms are stale by then).

use std::time::{Duration, Instant as StdInstant};

use aws_adapters::{AwsClients, CloudWatch, KinesisStreams};
use aws_lambda_events::sns::SnsEvent;
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use lambda_shell::{Function, InvocationError};
use reconciler::alarm::AlarmMessage;
use reconciler::scale_up::{self, Context, Decision};
use reconciler::{ExecuteSettings, SeededJitter};
use serde::Serialize;

use crate::emf;

/// Stop starting work this long before the Lambda deadline: time to re-arm and report.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

pub(crate) struct Handler {
    clients: AwsClients,
    kinesis: KinesisStreams,
    cloudwatch: CloudWatch,
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

impl Handler {
    pub(crate) fn new(clients: AwsClients, region: String, stream_prefix: String) -> Self {
        Handler {
            stream_prefix,
            kinesis: clients.streams(),
            cloudwatch: clients.cloudwatch(),
            clients,
            region,
            settings: ExecuteSettings::default(),
        }
    }

    pub(crate) async fn handle(&self, event: LambdaEvent<SnsEvent>) -> Result<Summary, InvocationError> {
        let (event, context) = (event.payload, event.context);
        // arn:aws:lambda:<region>:<account>:function:<name>
        let account = context.invoked_function_arn.split(':').nth(4).unwrap_or_default().to_owned();
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
            let cx = Context {
                account: account.clone(),
                region: self.region.clone(),
                stream_prefix: self.stream_prefix.clone(),
                now: Utc::now(),
                deadline: lambda_shell::deadline(&context, DEADLINE_MARGIN),
            };
            let calls_before = self.clients.requests_sent();
            let result =
                scale_up::handle(&self.kinesis, &self.cloudwatch, &message, &cx, &self.settings, &mut jitter)
                    .await;
            let aws_calls = self.clients.requests_sent() - calls_before;
            match result {
                Ok(record) => {
                    count(&mut summary, &record.decision);
                    emf::decision(&record, aws_calls, started.elapsed());
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
