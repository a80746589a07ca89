//! The one-line decision record per alarm (and per stream of the hourly predictive pass), which
//! is also an EMF document: `ScalingActions`, `DecisionLatency` and `AwsCalls` by stream,
//! direction and outcome, with the record's own fields (why, from what, to what) alongside.

use std::time::Duration;

use chrono::Utc;
use lambda_shell::emf::document;
use reconciler::predict::PredictRecord;
use reconciler::scale_up::{Decision, Record};
use serde::Serialize;
use serde_json::Value;

pub(crate) fn print(record: &Record, aws_calls: u64, elapsed: Duration) {
    println!("{}", line(record, aws_calls, elapsed, Utc::now().timestamp_millis()));
}

/// A predictive pass's record for one stream: the same line, `"trigger":"predict"`. Its calls
/// are shared across the pass's streams (one `GetMetricData` a page), so its `AwsCalls` is not
/// counted here: the pass's summary line says them.
pub(crate) fn print_predict(record: &PredictRecord) {
    let elapsed = Duration::from_millis(record.elapsed_ms);
    let now = Utc::now().timestamp_millis();
    println!("{}", document_of(record, Some(&record.stream), &record.decision, None, elapsed, now));
}

fn line(record: &Record, aws_calls: u64, elapsed: Duration, timestamp_ms: i64) -> Value {
    document_of(record, record.stream.as_deref(), &record.decision, Some(aws_calls), elapsed, timestamp_ms)
}

fn document_of(
    record: &impl Serialize,
    stream: Option<&str>,
    decision: &Decision,
    aws_calls: Option<u64>,
    elapsed: Duration,
    timestamp_ms: i64,
) -> Value {
    let outcome = match decision {
        Decision::Scaled { complete: true, .. } => "scaled",
        Decision::Scaled { complete: false, .. } => "scaled_partially",
        Decision::Held { .. } => "held",
        Decision::NoChange { .. } => "no_change",
        Decision::Ignored { .. } => "ignored",
        Decision::NoPreScale { .. } => "no_pre_scale",
        Decision::WouldScale { .. } => "would_scale",
    };
    let actions = if matches!(decision, Decision::Scaled { .. }) { 1.0 } else { 0.0 };
    let mut fields = serde_json::to_value(record).unwrap_or_default();
    if let Value::Object(map) = &mut fields {
        map.insert("level".into(), "INFO".into());
        map.insert("message".into(), "decision".into());
    }
    let mut metrics = vec![
        ("ScalingActions", actions, "Count"),
        ("DecisionLatency", elapsed.as_secs_f64() * 1000.0, "Milliseconds"),
    ];
    metrics.extend(aws_calls.map(|calls| ("AwsCalls", calls as f64, "Count")));
    document(
        timestamp_ms,
        &[("Stream", stream.unwrap_or("-")), ("Direction", "up"), ("Outcome", outcome)],
        &metrics,
        fields,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_line_is_an_emf_document_with_the_record_alongside() {
        let record = Record {
            alarm: "kinesis-autoscaler-orders-IncomingBytes".into(),
            trigger: "arn:…@2026-11-23T10:00:00.000Z".into(),
            stream: Some("orders".into()),
            metric: Some("IncomingBytes".into()),
            decision: Decision::Ignored { reason: "state changed to OK, not ALARM".into(), skip: None },
            elapsed_ms: 3,
        };
        let line = line(&record, 2, Duration::from_millis(3), 1_800_000_000_000);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], lambda_shell::emf::NAMESPACE);
        assert_eq!(line["Outcome"], "ignored");
        assert_eq!(line["ScalingActions"], 0);
        assert_eq!(line["AwsCalls"], 2);
        assert_eq!(line["message"], "decision");
        assert_eq!(line["outcome"], "ignored", "the record's own fields are merged in");
        assert_eq!(line["reason"], "state changed to OK, not ALARM");
    }
}
