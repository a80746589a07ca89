//! CloudWatch Embedded Metric Format: one JSON log line that is also a set of metrics.
//!
//! Lambda ships stdout to CloudWatch Logs; a line with an `_aws` key becomes metrics in
//! [`NAMESPACE`], while every other key stays searchable in Logs Insights. Both Lambdas print
//! their decision records this way, so one line says why, from what, to what, and how long.

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of the scaler's own metrics.
pub const NAMESPACE: &str = "KinesisAutoscaler";

/// An EMF document: `dimensions` (name, value) define the metric's identity, `metrics`
/// (name, value, unit) its values, and `fields` (an object) ride along as searchable properties.
pub fn document(
    timestamp_ms: i64,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, f64, &str)],
    fields: Value,
) -> Value {
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let definitions: Vec<Value> =
        metrics.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit})).collect();
    let mut doc = Map::new();
    if let Value::Object(fields) = fields {
        doc.extend(fields);
    }
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": definitions}]
        }),
    );
    for (name, value) in dimensions {
        doc.insert((*name).into(), json!(value));
    }
    for (name, value, _) in metrics {
        // Whole numbers print as integers (`2`, not `2.0`): friendlier to anything reading the log.
        let value =
            if value.fract() == 0.0 && value.abs() < 9e15 { json!(*value as i64) } else { json!(value) };
        doc.insert((*name).into(), value);
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_and_metrics_are_declared_and_valued_with_the_fields_alongside() {
        let doc = document(
            1,
            &[("Stream", "orders")],
            &[("ScalingActions", 1.0, "Count")],
            json!({"reason": "hot"}),
        );
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Stream"]]));
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "ScalingActions", "Unit": "Count"})
        );
        assert_eq!((doc["Stream"].clone(), doc["ScalingActions"].clone()), (json!("orders"), json!(1)));
        assert_eq!(doc["reason"], "hot");
    }
}
