//! The one-line decision record, which is also a CloudWatch Embedded Metric Format document.
//!
//! Lambda ships stdout to CloudWatch Logs; a JSON line with an `_aws` key becomes metrics
//! (`ScalingActions` and `DecisionLatency`, by stream, direction and outcome) while every other
//! key stays searchable in Logs Insights. One line per alarm: why, from what, to what, how long.

use std::time::Duration;

use chrono::Utc;
use reconciler::scale_up::{Decision, Record};
use serde_json::{Value, json};

/// The CloudWatch namespace of the scaler's own metrics.
pub(crate) const NAMESPACE: &str = "KinesisAutoscaler";

pub(crate) fn decision(record: &Record, aws_calls: u64, elapsed: Duration) {
    println!("{}", line(record, aws_calls, elapsed, Utc::now().timestamp_millis()));
}

fn line(record: &Record, aws_calls: u64, elapsed: Duration, timestamp_ms: i64) -> Value {
    let outcome = match &record.decision {
        Decision::Scaled { complete: true, .. } => "scaled",
        Decision::Scaled { complete: false, .. } => "scaled_partially",
        Decision::Held { .. } => "held",
        Decision::NoChange { .. } => "no_change",
        Decision::Ignored { .. } => "ignored",
    };
    let actions = u32::from(matches!(record.decision, Decision::Scaled { .. }));
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stream", "Direction", "Outcome"]],
                "Metrics": [
                    {"Name": "ScalingActions", "Unit": "Count"},
                    {"Name": "DecisionLatency", "Unit": "Milliseconds"},
                    {"Name": "AwsCalls", "Unit": "Count"}
                ]
            }]
        },
        "level": "INFO",
        "message": "decision",
        "Stream": record.stream.as_deref().unwrap_or("-"),
        "Direction": "up",
        "Outcome": outcome,
        "ScalingActions": actions,
        "DecisionLatency": elapsed.as_millis() as u64,
        "AwsCalls": aws_calls,
    });
    if let (Value::Object(doc), Ok(Value::Object(fields))) = (&mut doc, serde_json::to_value(record)) {
        doc.extend(fields);
    }
    doc
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
            decision: Decision::Ignored { reason: "state changed to OK, not ALARM".into() },
            elapsed_ms: 3,
        };
        let line = line(&record, 2, Duration::from_millis(3), 1_800_000_000_000);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(line["Outcome"], "ignored");
        assert_eq!(line["ScalingActions"], 0);
        assert_eq!(line["AwsCalls"], 2);
        assert_eq!(line["outcome"], "ignored", "the record's own fields are merged in");
        assert_eq!(line["reason"], "state changed to OK, not ALARM");
    }
}
