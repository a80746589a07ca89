//! The CloudWatch alarm notification that wakes the scale-up Lambda, as a validated value.
//!
//! Each SNS record's `Message` is a string holding the alarm notification JSON. We own this type
//! rather than use `aws_lambda_events`' because that one rejects `"AlarmDescription": null`, which
//! both AWS and the emulator send. The shape differs between the two (timestamps end in `+0000`
//! on AWS and `Z` on the emulator, `Region` is a display name on both, reasons carry datapoints
//! only on AWS), so parsing is lenient about what varies and strict about what the handler
//! decides on: which alarm, in which account and region, in which state, since when.
//!
//! The rules, applied the same way to every field we keep: absent and `null` mean "not said",
//! and a value of the wrong shape is an error naming the field and quoting what was found. Fields
//! we do not keep (`Region`, `AWSAccountId`, `AlarmConfigurationUpdatedTimestamp`, …) and fields we
//! have never seen are ignored. Broken input is an [`AlarmMessageError`], never a panic.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ports::{AlarmState, Dimension};

/// A notification's state is the same `AlarmState` the alarm port reads and sets, so the two
/// can be compared without a conversion; this is its name as seen from a notification.
pub use crate::ports::AlarmState as AlarmStateValue;

/// The `StreamName` dimension of Kinesis metrics.
const STREAM_DIMENSION: &str = "StreamName";
/// The `ShardId` dimension of Kinesis enhanced (shard-level) metrics.
const SHARD_DIMENSION: &str = "ShardId";
/// Quoted values longer than this are cut, so one error stays one readable log line.
const QUOTE_LIMIT: usize = 80;

/// One CloudWatch alarm state-change notification.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmMessage {
    pub name: String,
    pub arn: String,
    /// The region code from `AlarmArn` (`Region` is a display name such as "US East (N. Virginia)").
    pub region: String,
    /// The account ID from `AlarmArn`.
    pub account: String,
    pub new_state: AlarmState,
    /// `None` when absent or not a state we know: it is only ever logged.
    pub old_state: Option<AlarmState>,
    pub state_change_time: DateTime<Utc>,
    /// `NewStateReason`; empty when absent.
    pub reason: String,
    pub description: Option<String>,
    pub alarm_actions: Vec<String>,
    /// Empty (all `None`) when the message has no `Trigger`, as for composite alarms.
    pub trigger: Trigger,
}

/// What the alarm watches: a single metric, or metric math in [`Trigger::metrics`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trigger {
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    /// Normalised to CloudWatch's API spelling (`SUM` → `Sum`); an extended statistic such as
    /// `p99` as given.
    pub statistic: Option<String>,
    pub period_secs: Option<u32>,
    pub evaluation_periods: Option<u32>,
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
    pub treat_missing_data: Option<String>,
    pub unit: Option<String>,
    pub dimensions: Vec<Dimension>,
    /// The queries of a metric-math alarm, in message order; empty for a single-metric alarm.
    pub metrics: Vec<TriggerMetric>,
}

/// One query of a metric-math alarm: an expression, or a metric with its statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerMetric {
    pub id: String,
    pub expression: Option<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub period_secs: Option<u32>,
    /// Normalised like [`Trigger::statistic`].
    pub stat: Option<String>,
    /// Whether this query is the alarm's result; `true` when absent, as in the CloudWatch API.
    pub return_data: bool,
}

/// Why an alarm message was rejected. Each variant names the field and quotes what was found.
#[derive(Debug, thiserror::Error)]
pub enum AlarmMessageError {
    #[error("alarm message is not JSON")]
    NotJson {
        #[source]
        source: serde_json::Error,
    },
    #[error("alarm message has no {field}")]
    Missing { field: String },
    /// Rendered as `<field> <value> <reason>`, e.g. `AlarmArn "arn:aws:sns:…" is not a CloudWatch
    /// alarm ARN`.
    #[error("{field} {value} {reason}")]
    Invalid { field: String, value: String, reason: String },
}

impl AlarmMessage {
    /// Parses the `Message` string of an SNS record.
    pub fn parse(message: &str) -> Result<AlarmMessage, AlarmMessageError> {
        let value: Value =
            serde_json::from_str(message).map_err(|source| AlarmMessageError::NotJson { source })?;
        let raw: RawAlarm = object("alarm message", value)?;

        let name = required_string(raw.alarm_name, "AlarmName")?;
        let arn = required_string(raw.alarm_arn, "AlarmArn")?;
        let (region, account) = parse_arn(&arn, &name)?;
        let new_state = match raw.new_state_value {
            None => return Err(missing("NewStateValue")),
            Some(value) => value.as_str().and_then(parse_state).ok_or_else(|| {
                invalid("NewStateValue", &value, "is not an alarm state (ALARM, OK or INSUFFICIENT_DATA)")
            })?,
        };
        let state_change_time = match raw.state_change_time {
            None => return Err(missing("StateChangeTime")),
            Some(value) => value
                .as_str()
                .and_then(parse_time)
                .ok_or_else(|| invalid("StateChangeTime", &value, "is not a timestamp"))?,
        };
        let old_state = optional_string(raw.old_state_value, "OldStateValue")?.and_then(|s| parse_state(&s));

        Ok(AlarmMessage {
            name,
            arn,
            region,
            account,
            new_state,
            old_state,
            state_change_time,
            reason: optional_string(raw.new_state_reason, "NewStateReason")?.unwrap_or_default(),
            description: optional_string(raw.alarm_description, "AlarmDescription")?,
            alarm_actions: string_list(raw.alarm_actions, "AlarmActions")?,
            trigger: match raw.trigger {
                None => Trigger::default(),
                Some(value) => parse_trigger(value)?,
            },
        })
    }

    /// The `StreamName` dimension: from `Trigger.Dimensions`, else from the first metric-math
    /// query that has one.
    pub fn stream(&self) -> Option<&str> {
        self.dimension(STREAM_DIMENSION)
    }

    /// The `ShardId` dimension, for shard-level alarms; looked up like [`AlarmMessage::stream`].
    pub fn shard(&self) -> Option<&str> {
        self.dimension(SHARD_DIMENSION)
    }

    /// The metric name: the top-level one, else the first metric-math query's metric.
    pub fn metric_name(&self) -> Option<&str> {
        self.trigger
            .metric_name
            .as_deref()
            .or_else(|| self.trigger.metrics.iter().find_map(|m| m.metric_name.as_deref()))
    }

    /// The datapoints AWS quotes in `NewStateReason` ([`Quoted::from_reason`]). Only a bound on
    /// what the handler sizes from: it re-reads the metrics rather than trust a notification's
    /// numbers, and drops quoted values no stream of its size could produce.
    pub fn quoted(&self) -> Quoted {
        Quoted::from_reason(&self.reason)
    }

    /// A key for idempotency: the alarm ARN and the state change time (RFC 3339, milliseconds,
    /// `Z`). SNS redelivers the same notification with the same key; a new transition of the same
    /// alarm has a new one.
    pub fn trigger_key(&self) -> String {
        format!("{}@{}", self.arn, self.state_change_time.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    fn dimension(&self, name: &str) -> Option<&str> {
        find_dimension(&self.trigger.dimensions, name)
            .or_else(|| self.trigger.metrics.iter().find_map(|m| find_dimension(&m.dimensions, name)))
    }
}

fn find_dimension<'a>(dimensions: &'a [Dimension], name: &str) -> Option<&'a str> {
    dimensions.iter().find(|d| d.name == name).map(|d| d.value.as_str())
}

// The raw shapes. Every leaf is a `Value` so that a wrong type becomes an error naming the field
// (serde's own message would name a line and column of a string nobody has in front of them).

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAlarm {
    alarm_name: Option<Value>,
    alarm_arn: Option<Value>,
    alarm_description: Option<Value>,
    new_state_value: Option<Value>,
    old_state_value: Option<Value>,
    new_state_reason: Option<Value>,
    state_change_time: Option<Value>,
    alarm_actions: Option<Value>,
    trigger: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTrigger {
    metric_name: Option<Value>,
    namespace: Option<Value>,
    statistic: Option<Value>,
    extended_statistic: Option<Value>,
    period: Option<Value>,
    evaluation_periods: Option<Value>,
    datapoints_to_alarm: Option<Value>,
    comparison_operator: Option<Value>,
    threshold: Option<Value>,
    treat_missing_data: Option<Value>,
    unit: Option<Value>,
    dimensions: Option<Value>,
    metrics: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMetricQuery {
    id: Option<Value>,
    expression: Option<Value>,
    metric_stat: Option<Value>,
    return_data: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMetricStat {
    metric: Option<Value>,
    period: Option<Value>,
    stat: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMetric {
    metric_name: Option<Value>,
    namespace: Option<Value>,
    dimensions: Option<Value>,
}

fn parse_trigger(value: Value) -> Result<Trigger, AlarmMessageError> {
    let raw: RawTrigger = object("Trigger", value)?;
    let metrics = match raw.metrics {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| parse_metric_query(item, &format!("Trigger.Metrics[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(invalid("Trigger.Metrics", &other, "is not a list")),
    };
    let statistic = match optional_string(raw.statistic, "Trigger.Statistic")? {
        Some(s) => Some(normalise_statistic(&s)),
        None => optional_string(raw.extended_statistic, "Trigger.ExtendedStatistic")?,
    };
    Ok(Trigger {
        metric_name: optional_string(raw.metric_name, "Trigger.MetricName")?,
        namespace: optional_string(raw.namespace, "Trigger.Namespace")?,
        statistic,
        period_secs: optional_u32(raw.period, "Trigger.Period")?,
        evaluation_periods: optional_u32(raw.evaluation_periods, "Trigger.EvaluationPeriods")?,
        datapoints_to_alarm: optional_u32(raw.datapoints_to_alarm, "Trigger.DatapointsToAlarm")?,
        threshold: optional_f64(raw.threshold, "Trigger.Threshold")?,
        comparison: optional_string(raw.comparison_operator, "Trigger.ComparisonOperator")?,
        treat_missing_data: optional_string(raw.treat_missing_data, "Trigger.TreatMissingData")?,
        unit: optional_string(raw.unit, "Trigger.Unit")?,
        dimensions: dimensions(raw.dimensions, "Trigger.Dimensions")?,
        metrics,
    })
}

fn parse_metric_query(value: Value, field: &str) -> Result<TriggerMetric, AlarmMessageError> {
    let raw: RawMetricQuery = object(field, value)?;
    let mut metric = TriggerMetric {
        id: required_string(raw.id, &format!("{field}.Id"))?,
        expression: optional_string(raw.expression, &format!("{field}.Expression"))?,
        metric_name: None,
        namespace: None,
        dimensions: Vec::new(),
        period_secs: None,
        stat: None,
        return_data: match raw.return_data {
            None => true,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(invalid(&format!("{field}.ReturnData"), &other, "is not true or false"));
            }
        },
    };
    if let Some(value) = raw.metric_stat {
        let field = format!("{field}.MetricStat");
        let stat: RawMetricStat = object(&field, value)?;
        metric.period_secs = optional_u32(stat.period, &format!("{field}.Period"))?;
        metric.stat = optional_string(stat.stat, &format!("{field}.Stat"))?.map(|s| normalise_statistic(&s));
        if let Some(value) = stat.metric {
            let field = format!("{field}.Metric");
            let inner: RawMetric = object(&field, value)?;
            metric.metric_name = optional_string(inner.metric_name, &format!("{field}.MetricName"))?;
            metric.namespace = optional_string(inner.namespace, &format!("{field}.Namespace"))?;
            metric.dimensions = dimensions(inner.dimensions, &format!("{field}.Dimensions"))?;
        }
    }
    Ok(metric)
}

/// `AlarmArn` must be `arn:<partition>:cloudwatch:<region>:<12-digit account>:alarm:<AlarmName>`;
/// returns its region and account.
fn parse_arn(arn: &str, name: &str) -> Result<(String, String), AlarmMessageError> {
    let fail = |reason: String| invalid("AlarmArn", &Value::from(arn), &reason);
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[1].is_empty() {
        return Err(fail("is not an ARN".to_owned()));
    }
    let [_, _, "cloudwatch", region, account, "alarm", resource] = parts[..] else {
        return Err(fail("is not a CloudWatch alarm ARN".to_owned()));
    };
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(fail(format!("has region {}, not a region code", Value::from(region))));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail(format!("has account {}, not a 12-digit account ID", Value::from(account))));
    }
    if resource != name {
        return Err(fail(format!(
            "names alarm {}, but AlarmName is {}",
            Value::from(resource),
            Value::from(name)
        )));
    }
    Ok((region.to_owned(), account.to_owned()))
}

fn parse_state(s: &str) -> Option<AlarmState> {
    match s {
        "ALARM" => Some(AlarmState::Alarm),
        "OK" => Some(AlarmState::Ok),
        "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
        _ => None,
    }
}

/// Accepts AWS's `2025-01-01T10:05:44.775+0000`, the emulator's `2026-11-23T05:32:24.462Z` and
/// any other RFC 3339 time.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// AWS writes `SUM`, `SAMPLE_COUNT`; the API and the emulator's metric stats write `Sum`.
fn normalise_statistic(s: &str) -> String {
    let canonical = match s.replace('_', "").to_ascii_lowercase().as_str() {
        "sum" => "Sum",
        "average" => "Average",
        "maximum" => "Maximum",
        "minimum" => "Minimum",
        "samplecount" => "SampleCount",
        _ => s,
    };
    canonical.to_owned()
}

/// The numbers of every `value (time)` item inside `[…]` in `reason`. AWS also writes
/// `[NonBreaching]` for missing data; items that are not a number followed by a time are skipped.
/// What an alarm's state reason quotes: the breaching datapoints, in a notification's
/// `NewStateReason` and in `DescribeAlarms`' `StateReason` alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quoted {
    /// The values, in the order given (newest first).
    pub values: Vec<f64>,
    /// Where the newest quoted datapoint's period starts: AWS prints each as `dd/MM/yy HH:mm:ss`,
    /// UTC. `None` when no time parses.
    pub newest_period_start: Option<DateTime<Utc>>,
}

impl Quoted {
    /// `[2.5E8 (01/01/25 10:04:00), 2.4E8 (01/01/25 10:03:00)]` → `[2.5e8, 2.4e8]`, newest
    /// 2025-01-01T10:04:00Z. Empty when the reason quotes none: the emulator says only "Threshold
    /// Crossed", and `SetAlarmState` carries the caller's text. A value whose time does not parse
    /// is kept (the time only tells old evidence from new); one that is not a finite number is not.
    pub fn from_reason(reason: &str) -> Quoted {
        let mut quoted = Quoted::default();
        let mut rest = reason;
        while let Some(open) = rest.find('[') {
            let list = &rest[open + 1..];
            let Some(close) = list.find(']') else { break };
            for item in list[..close].split(',') {
                if let Some((number, time)) = item.trim().split_once(" (")
                    && let Some(time) = time.strip_suffix(')')
                    && let Ok(value) = number.parse::<f64>()
                    && value.is_finite()
                {
                    quoted.values.push(value);
                    let at =
                        NaiveDateTime::parse_from_str(time, "%d/%m/%y %H:%M:%S").ok().map(|t| t.and_utc());
                    quoted.newest_period_start = quoted.newest_period_start.max(at);
                }
            }
            rest = &list[close + 1..];
        }
        quoted
    }
}

fn object<T: DeserializeOwned>(field: &str, value: Value) -> Result<T, AlarmMessageError> {
    if !value.is_object() {
        return Err(invalid(field, &value, "is not a JSON object"));
    }
    // Cannot fail for an object, as every field is an optional `Value`; kept as an error anyway.
    serde_json::from_value(value.clone()).map_err(|err| invalid(field, &value, &err.to_string()))
}

fn required_string(value: Option<Value>, field: &str) -> Result<String, AlarmMessageError> {
    match optional_string(value, field)? {
        None => Err(missing(field)),
        Some(s) if s.is_empty() => Err(invalid(field, &Value::from(s), "is empty")),
        Some(s) => Ok(s),
    }
}

fn optional_string(value: Option<Value>, field: &str) -> Result<Option<String>, AlarmMessageError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(field, &other, "is not a string")),
    }
}

/// A count or a number of seconds; `60.0` is read as 60.
fn optional_u32(value: Option<Value>, field: &str) -> Result<Option<u32>, AlarmMessageError> {
    let Some(value) = value else { return Ok(None) };
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    match whole.and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok(Some(n)),
        None => Err(invalid(field, &value, "is not a whole number")),
    }
}

/// A JSON number (AWS writes `1.8874368E8`), or a string holding one.
fn optional_f64(value: Option<Value>, field: &str) -> Result<Option<f64>, AlarmMessageError> {
    let Some(value) = value else { return Ok(None) };
    let number = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number.filter(|n| n.is_finite()) {
        Some(n) => Ok(Some(n)),
        None => Err(invalid(field, &value, "is not a number")),
    }
}

fn string_list(value: Option<Value>, field: &str) -> Result<Vec<String>, AlarmMessageError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                other => Err(invalid(&format!("{field}[{i}]"), &other, "is not a string")),
            })
            .collect(),
        Some(other) => Err(invalid(field, &other, "is not a list")),
    }
}

/// `[{"value": "orders", "name": "StreamName"}]`: lower-case keys on AWS and the emulator,
/// `Name`/`Value` accepted too.
fn dimensions(value: Option<Value>, field: &str) -> Result<Vec<Dimension>, AlarmMessageError> {
    let items = match value {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(invalid(field, &other, "is not a list")),
    };
    let mut dimensions = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("{field}[{i}]");
        let Value::Object(mut map) = item else {
            return Err(invalid(&field, &item, "is not a JSON object"));
        };
        let mut key = |lower: &str, upper: &str| {
            let value = map.remove(lower).or_else(|| map.remove(upper)).filter(|v| !v.is_null());
            required_string(value, &format!("{field}.{lower}"))
        };
        let name = key("name", "Name")?;
        let value = key("value", "Value")?;
        dimensions.push(Dimension { name, value });
    }
    Ok(dimensions)
}

fn missing(field: &str) -> AlarmMessageError {
    AlarmMessageError::Missing { field: field.to_owned() }
}

fn invalid(field: &str, value: &Value, reason: &str) -> AlarmMessageError {
    AlarmMessageError::Invalid { field: field.to_owned(), value: quote(value), reason: reason.to_owned() }
}

/// `value` as compact JSON, cut to [`QUOTE_LIMIT`] characters.
fn quote(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_datapoints(reason: &str, expected: &[f64]) {
        assert_eq!(Quoted::from_reason(reason).values, expected, "reason: {reason}");
    }

    fn check_time(text: &str, expected_rfc3339_millis: &str) {
        let parsed = parse_time(text).unwrap_or_else(|| panic!("{text:?} did not parse"));
        assert_eq!(parsed.to_rfc3339_opts(SecondsFormat::Millis, true), expected_rfc3339_millis, "{text:?}");
    }

    #[test]
    fn a_single_datapoint_reason_yields_its_value() {
        check_datapoints(
            "Threshold Crossed: 1 datapoint [12.0 (01/01/25 11:30:00)] was greater than the threshold (0.0).",
            &[12.0],
        );
    }

    #[test]
    fn a_multi_datapoint_reason_yields_every_value_in_order() {
        check_datapoints(
            "Threshold Crossed: 2 out of the last 3 datapoints [2.5E8 (23/11/26 10:05:00), \
             2.4E8 (23/11/26 10:04:00)] was greater than or equal to the threshold (1.8874368E8) \
             (minimum 2 datapoints for OK -> ALARM transition).",
            &[2.5e8, 2.4e8],
        );
    }

    #[test]
    fn the_newest_quoted_period_is_read_day_first_whatever_the_order() {
        let newest = |reason: &str| Quoted::from_reason(reason).newest_period_start.map(|t| t.to_rfc3339());
        let reason = "Threshold Crossed: 2 out of the last 2 datapoints [2.4E8 (23/11/26 10:04:00), \
                      2.5E8 (23/11/26 10:05:00)] was greater than the threshold (1.0).";
        assert_eq!(newest(reason).as_deref(), Some("2026-11-23T10:05:00+00:00"));
        // Day first: 12/01 is the 12th of January, and a 13th month is no time at all.
        assert_eq!(newest("[1.0 (12/01/26 00:00:00)]").as_deref(), Some("2026-01-12T00:00:00+00:00"));
        let undated = Quoted::from_reason("[1.0 (01/13/26 00:00:00), 2.0 (yesterday)]");
        assert_eq!((undated.values, undated.newest_period_start), (vec![1.0, 2.0], None));
    }

    #[test]
    fn reasons_without_datapoints_yield_none() {
        check_datapoints("Threshold Crossed", &[]);
        check_datapoints("", &[]);
        check_datapoints("Scaled orders by hand [ticket OPS-12]", &[]);
        check_datapoints("Insufficient Data: 1 datapoint was unknown.", &[]);
    }

    #[test]
    fn missing_datapoints_treated_as_non_breaching_are_not_values() {
        check_datapoints(
            "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints \
             were treated as [NonBreaching].",
            &[],
        );
    }

    #[test]
    fn an_unclosed_bracket_yields_no_datapoints() {
        check_datapoints("Threshold Crossed: 1 datapoint [4.0 (01/01/25 10:00:00)", &[]);
    }

    #[test]
    fn aws_emulator_and_rfc3339_timestamps_all_parse_to_utc() {
        check_time("2025-01-01T10:05:44.775+0000", "2025-01-01T10:05:44.775Z");
        check_time("2026-11-23T05:32:24.462Z", "2026-11-23T05:32:24.462Z");
        check_time("2025-01-01T10:05:44.775+00:00", "2025-01-01T10:05:44.775Z");
        check_time("2025-01-01T12:05:44.775+0200", "2025-01-01T10:05:44.775Z");
        check_time("2025-01-01T10:05:44+0000", "2025-01-01T10:05:44.000Z");
    }

    #[test]
    fn timestamps_without_an_offset_or_with_garbage_do_not_parse() {
        for text in ["2025-01-01T10:05:44.775", "yesterday", "", "01/01/25 10:05:44"] {
            assert_eq!(parse_time(text), None, "{text:?}");
        }
    }

    #[test]
    fn upper_case_statistics_are_normalised_and_extended_ones_kept() {
        for (given, expected) in [
            ("SUM", "Sum"),
            ("Sum", "Sum"),
            ("SAMPLE_COUNT", "SampleCount"),
            ("AVERAGE", "Average"),
            ("p99", "p99"),
        ] {
            assert_eq!(normalise_statistic(given), expected);
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_names_the_field_and_quotes_the_value() {
        let message = r#"{"AlarmName":"a","AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
            "NewStateValue":"ALARM","StateChangeTime":"2025-01-01T10:05:44.775+0000",
            "Trigger":{"Period":"sixty"}}"#;
        let err = AlarmMessage::parse(message).unwrap_err();
        assert_eq!(err.to_string(), r#"Trigger.Period "sixty" is not a whole number"#);
    }

    #[test]
    fn a_json_value_that_is_not_an_object_is_rejected() {
        let err = AlarmMessage::parse(r#"["ALARM"]"#).unwrap_err();
        assert_eq!(err.to_string(), r#"alarm message ["ALARM"] is not a JSON object"#);
    }

    #[test]
    fn an_arn_naming_another_alarm_is_rejected() {
        let message = r#"{"AlarmName":"a","AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:b",
            "NewStateValue":"ALARM","StateChangeTime":"2025-01-01T10:05:44.775+0000"}"#;
        let err = AlarmMessage::parse(message).unwrap_err();
        assert!(err.to_string().contains(r#"names alarm "b", but AlarmName is "a""#), "{err}");
    }

    #[test]
    fn capitalised_dimension_keys_are_accepted() {
        let dims = dimensions(
            Some(serde_json::json!([{"Name": "StreamName", "Value": "orders"}])),
            "Trigger.Dimensions",
        );
        assert_eq!(dims.unwrap(), [Dimension::stream("orders")]);
    }

    #[test]
    fn a_dimension_without_a_value_is_rejected() {
        let err = dimensions(Some(serde_json::json!([{"name": "StreamName"}])), "Trigger.Dimensions");
        assert_eq!(err.unwrap_err().to_string(), "alarm message has no Trigger.Dimensions[0].value");
    }

    #[test]
    fn a_message_without_a_trigger_parses_with_no_stream() {
        let message = r#"{"AlarmName":"a","AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
            "NewStateValue":"ALARM","StateChangeTime":"2025-01-01T10:05:44.775+0000"}"#;
        let alarm = AlarmMessage::parse(message).unwrap();
        assert_eq!((alarm.stream(), alarm.metric_name()), (None, None));
    }
}
