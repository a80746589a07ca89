//! CloudWatch: datapoints kept per metric and minute, readable after the publication delay;
//! `GetMetricData` summing them into periods as CloudWatch does (a period without datapoints is
//! absent, not zero); alarms evaluated once a minute over the published periods, changing state,
//! quoting their breaching datapoints as AWS does and notifying their SNS actions on a change to
//! `ALARM`; and `DescribeAlarms`, `SetAlarmState`, `DeleteAlarms` as the tool uses them.
//!
//! Kinesis counts only *accepted* writes in `IncomingBytes` / `IncomingRecords` ("successfully
//! put", AWS docs); rejected ones appear only in `WriteProvisionedThroughputExceeded`. Whoever
//! plays the writers publishes what Kinesis would (the simulator's traffic engine, the soak's
//! writers, a test's back-dated history), and the same datapoints feed every reader: the flows'
//! `GetMetricData`, the alarms, the simulator's plots.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use planner::{AlarmSpec, Comparison, KINESIS_NAMESPACE, Metric, SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use reconciler::{
    AlarmPort, AlarmState, AlarmSummary, Dimension, ErrorKind, MetricPoint, MetricPublisher, MetricQuery,
    MetricSeries, MetricsPort, PortError, ReadStatus, Statistic,
};
use serde_json::json;

use crate::model::Model;
use crate::world::World;

/// The oldest datapoint kept, counted back from the newest: CloudWatch keeps 1-minute data 15
/// days, 5-minute data 63 days and hourly data 455 days; one series here keeps minutes for 455.
const MAX_SPAN_MINUTES: i64 = 455 * 1440;

/// A metric's identity: namespace, name and (sorted) dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<Dimension>,
}

impl MetricKey {
    pub fn new(namespace: &str, metric: &str, mut dimensions: Vec<Dimension>) -> MetricKey {
        dimensions.sort();
        MetricKey { namespace: namespace.to_owned(), metric: metric.to_owned(), dimensions }
    }

    /// A Kinesis metric of `stream`, or of one of its shards.
    pub fn kinesis(metric: Metric, stream: &str, shard: Option<&str>) -> MetricKey {
        let mut dimensions = vec![Dimension::stream(stream)];
        dimensions.extend(shard.map(|id| Dimension::new("ShardId", id)));
        MetricKey::new(KINESIS_NAMESPACE, metric.as_str(), dimensions)
    }
}

/// What one minute's datapoints add up to.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Agg {
    sum: f64,
    max: f64,
    min: f64,
    count: u32,
}

impl Agg {
    const EMPTY: Agg = Agg { sum: 0.0, max: f64::MIN, min: f64::MAX, count: 0 };

    fn add(&mut self, other: &Agg) {
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        self.min = self.min.min(other.min);
        self.count += other.count;
    }

    fn value(&self, stat: Statistic) -> f64 {
        match stat {
            Statistic::Sum => self.sum,
            Statistic::Maximum => self.max,
            Statistic::Minimum => self.min,
            Statistic::Average => self.sum / f64::from(self.count.max(1)),
            Statistic::SampleCount => f64::from(self.count),
        }
    }
}

/// One metric's minutes, from `first` (minutes since the epoch).
#[derive(Debug, Clone, Default)]
struct Series {
    first: i64,
    minutes: Vec<Agg>,
}

impl Series {
    fn add(&mut self, minute: i64, value: f64) {
        let one = Agg { sum: value, max: value, min: value, count: 1 };
        if self.minutes.is_empty() {
            self.first = minute;
        }
        if minute < self.first {
            let newest = self.first + self.minutes.len() as i64;
            if newest - minute > MAX_SPAN_MINUTES {
                return;
            }
            let gap = (self.first - minute) as usize;
            self.minutes.splice(0..0, std::iter::repeat_n(Agg::EMPTY, gap));
            self.first = minute;
        }
        let at = (minute - self.first) as usize;
        if at as i64 > MAX_SPAN_MINUTES {
            return;
        }
        if at >= self.minutes.len() {
            self.minutes.resize(at + 1, Agg::EMPTY);
        }
        self.minutes[at].add(&one);
    }

    /// The datapoints of minutes in `[from, to)` summed into periods of `period` minutes starting
    /// at `from`, as `(period start in minutes, what they add up to)`; periods without any left out.
    fn periods(&self, from: i64, to: i64, period: i64) -> Vec<(i64, Agg)> {
        let mut out: Vec<(i64, Agg)> = Vec::new();
        let (lo, hi) = (from.max(self.first), to.min(self.first + self.minutes.len() as i64));
        for minute in lo..hi {
            let agg = &self.minutes[(minute - self.first) as usize];
            if agg.count == 0 {
                continue;
            }
            let start = from + (minute - from).div_euclid(period) * period;
            match out.last_mut() {
                Some((at, sum)) if *at == start => sum.add(agg),
                _ => out.push((start, *agg)),
            }
        }
        out
    }
}

/// A metric-math alarm on a stream's usage: the larger of bytes and records over the capacity of
/// `shards` shards in the period (AWS's Go sample alarms this way; the emulator has no metric
/// math, this world has).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageAlarm {
    pub name: String,
    pub stream: String,
    pub shards: u32,
    pub period_secs: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    /// Breaching below the threshold (a scale-down alarm), else above it.
    pub below: bool,
    pub actions: Vec<String>,
}

/// What an alarm watches.
#[derive(Debug, Clone, PartialEq)]
enum Watch {
    /// A `PutMetricAlarm` of the tool's: one Kinesis metric's `Sum`.
    Spec(AlarmSpec),
    Usage(UsageAlarm),
}

#[derive(Debug, Clone)]
struct Alarm {
    watch: Watch,
    state: AlarmState,
    reason: String,
    updated_at: Option<DateTime<Utc>>,
}

/// An alarm's notification on its way to SNS.
#[derive(Debug, Clone)]
pub(crate) struct Notification {
    pub(crate) topic: String,
    pub(crate) message: String,
}

/// A metric of the world, once its key is resolved ([`World::metric`]): what a writer that
/// publishes every minute holds, so a minute's datapoint costs no key built and hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricId(usize);

#[derive(Debug, Default)]
pub(crate) struct CloudWatch {
    /// Each metric's series, by its resolved id.
    index: HashMap<MetricKey, MetricId>,
    metrics: Vec<Series>,
    alarms: BTreeMap<String, Alarm>,
    /// Every call made, oldest first, as `"SetAlarmState name OK"`.
    calls: Vec<String>,
    /// The `StatusCode` a query of these (sorted) dimensions reads with; `Complete` otherwise.
    read_status: BTreeMap<Vec<Dimension>, ReadStatus>,
    /// A `GetMetricData` call of more queries than this times out, as a large look-back does.
    time_out_above: Option<usize>,
    /// The last minute whose evaluation ran (minutes since the epoch).
    evaluated_through: Option<i64>,
}

fn minute_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

fn at_minute(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute.saturating_mul(60), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl CloudWatch {
    fn id(&mut self, key: MetricKey) -> MetricId {
        let next = MetricId(self.metrics.len());
        let id = *self.index.entry(key).or_insert(next);
        if id == next {
            self.metrics.push(Series::default());
        }
        id
    }

    fn put(&mut self, id: MetricId, minute: i64, value: f64) {
        if value.is_finite() {
            self.metrics[id.0].add(minute, value);
        }
    }

    /// The first minute whose datapoints are not readable at `now` (all are without a delay).
    fn readable_before(now: DateTime<Utc>, model: &Model) -> i64 {
        match model.metric_delay {
            Some(delay) => {
                let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                minute_of(now - delay)
            }
            None => i64::MAX,
        }
    }

    /// `key`'s datapoints summed by `stat` into periods of `period_secs` over `[start, end)`, as
    /// readable at `now`: what one `GetMetricData` query answers.
    fn read(
        &self,
        key: &MetricKey,
        stat: Statistic,
        period_secs: u32,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        readable_before: i64,
    ) -> Vec<(DateTime<Utc>, f64)> {
        let Some(series) = self.index.get(key).map(|id| &self.metrics[id.0]) else { return Vec::new() };
        let period = i64::from(period_secs.max(60) / 60);
        // CloudWatch rounds a recent start time down to the whole minute (GetMetricData,
        // `StartTime`); the end is exclusive.
        let from = minute_of(start);
        let to = minute_of(end + chrono::Duration::seconds(59)).min(readable_before);
        series
            .periods(from, to, period)
            .into_iter()
            .map(|(at, agg)| (at_minute(at), agg.value(stat)))
            .collect()
    }

    fn summary(name: &str, alarm: &Alarm) -> Option<AlarmSummary> {
        let Watch::Spec(spec) = &alarm.watch else { return None };
        Some(AlarmSummary {
            name: name.to_owned(),
            dimensions: Dimension::of_alarm(spec),
            definition: spec.definition(),
            state: Some(alarm.state),
            state_reason: alarm.reason.clone(),
            state_updated_at: alarm.updated_at,
        })
    }

    fn summaries(&self, wanted: impl Fn(&str, AlarmState) -> bool) -> Vec<AlarmSummary> {
        self.alarms
            .iter()
            .filter(|(name, alarm)| wanted(name, alarm.state))
            .filter_map(|(name, alarm)| CloudWatch::summary(name, alarm))
            .collect()
    }

    fn record(&mut self, call: &str, detail: String) {
        self.calls.push(format!("{call} {detail}").trim_end().to_owned());
    }

    /// Evaluates every alarm on each minute after the last evaluation up to `to`, oldest first;
    /// the notifications to send, with when they were sent.
    pub(crate) fn evaluate_through(
        &mut self,
        to: DateTime<Utc>,
        model: &Model,
    ) -> Vec<(DateTime<Utc>, Notification)> {
        let last = minute_of(to);
        let first = self.evaluated_through.map_or(last, |m| m + 1);
        self.evaluated_through = Some(last.max(self.evaluated_through.unwrap_or(last)));
        let mut out = Vec::new();
        for minute in first..=last {
            let at = at_minute(minute);
            let readable = CloudWatch::readable_before(at, model).min(minute);
            let names: Vec<String> = self.alarms.keys().cloned().collect();
            for name in names {
                out.extend(self.evaluate(&name, at, readable, model).into_iter().map(|n| (at, n)));
            }
        }
        out
    }

    /// One evaluation of alarm `name` at `at` over the periods readable before minute `readable`.
    fn evaluate(&mut self, name: &str, at: DateTime<Utc>, readable: i64, model: &Model) -> Vec<Notification> {
        let Some(alarm) = self.alarms.get(name) else { return Vec::new() };
        let (period_secs, periods, needed) = match &alarm.watch {
            Watch::Spec(s) => (s.period_secs, s.evaluation_periods, s.datapoints_to_alarm),
            Watch::Usage(u) => (u.period_secs, u.evaluation_periods, u.datapoints_to_alarm),
        };
        let per = i64::from(period_secs.max(60) / 60);
        let end = readable.div_euclid(per) * per;
        let start = end - per * i64::from(periods);
        let window = (at_minute(start), at_minute(end));
        let values: Vec<(DateTime<Utc>, f64)> = match &alarm.watch {
            Watch::Spec(spec) => {
                let key =
                    MetricKey::kinesis(spec.metric, &spec.stream, spec.shard.as_ref().map(|s| s.as_str()));
                self.read(&key, Statistic::Sum, period_secs, window, i64::MAX)
            }
            Watch::Usage(usage) => {
                let read = |metric| {
                    let key = MetricKey::kinesis(metric, &usage.stream, None);
                    self.read(&key, Statistic::Sum, period_secs, window, i64::MAX)
                };
                let (bytes, records) = (read(Metric::IncomingBytes), read(Metric::IncomingRecords));
                let capacity = f64::from(period_secs) * f64::from(usage.shards.max(1));
                let mut usage_of: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
                for (t, b) in bytes {
                    usage_of.insert(t, b / (capacity * SHARD_BYTES_PER_SEC));
                }
                for (t, r) in records {
                    let u = usage_of.entry(t).or_default();
                    *u = u.max(r / (capacity * SHARD_RECORDS_PER_SEC));
                }
                usage_of.into_iter().collect()
            }
        };
        let breaches = |v: f64| match &alarm.watch {
            Watch::Spec(s) => match s.comparison {
                Comparison::GreaterThanOrEqualToThreshold => v >= s.threshold,
                Comparison::GreaterThanThreshold => v > s.threshold,
            },
            Watch::Usage(u) if u.below => v < u.threshold,
            Watch::Usage(u) => v > u.threshold,
        };
        // Newest first, as AWS quotes them.
        let breaching: Vec<(DateTime<Utc>, f64)> =
            values.iter().rev().copied().filter(|(_, v)| breaches(*v)).collect();
        let firing = breaching.len() as u32 >= needed.max(1);
        let Some(alarm) = self.alarms.get_mut(name) else { return Vec::new() };
        match (alarm.state, firing) {
            (AlarmState::Alarm, true) | (AlarmState::Ok, false) => Vec::new(),
            (AlarmState::InsufficientData | AlarmState::Alarm, false) => {
                (alarm.state, alarm.updated_at) = (AlarmState::Ok, Some(at));
                alarm.reason = "Threshold Crossed: no datapoints were breaching".into();
                Vec::new()
            }
            (old, true) => {
                alarm.reason = quote(&breaching, periods, needed, &alarm.watch);
                (alarm.state, alarm.updated_at) = (AlarmState::Alarm, Some(at));
                let actions = match &alarm.watch {
                    Watch::Spec(s) => s.alarm_actions.clone(),
                    Watch::Usage(u) => u.actions.clone(),
                };
                let message = notification(name, alarm, old, model);
                actions.into_iter().map(|topic| Notification { topic, message: message.clone() }).collect()
            }
        }
    }
}

/// A state reason as AWS writes it: `Threshold Crossed: 1 out of the last 1 datapoints
/// [5.0331648E7 (23/11/26 10:04:00)] was greater than or equal to the threshold (4.0E7) (minimum
/// 1 datapoint for OK -> ALARM transition).` Values print in full precision, so whoever parses
/// them reads what was published.
fn quote(breaching: &[(DateTime<Utc>, f64)], periods: u32, needed: u32, watch: &Watch) -> String {
    let items: Vec<String> =
        breaching.iter().map(|(t, v)| format!("{v:E} ({})", t.format("%d/%m/%y %H:%M:%S"))).collect();
    let (comparison, threshold) = match watch {
        Watch::Spec(s) => match s.comparison {
            Comparison::GreaterThanOrEqualToThreshold => ("greater than or equal to", s.threshold),
            Comparison::GreaterThanThreshold => ("greater than", s.threshold),
        },
        Watch::Usage(u) if u.below => ("less than", u.threshold),
        Watch::Usage(u) => ("greater than", u.threshold),
    };
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    format!(
        "Threshold Crossed: {} out of the last {periods} datapoint{} [{}] {} {comparison} the threshold ({threshold:E}) \
         (minimum {needed} datapoint{} for OK -> ALARM transition).",
        breaching.len(),
        plural(periods),
        items.join(", "),
        if breaching.len() == 1 { "was" } else { "were" },
        plural(needed),
    )
}

/// AWS's display name of a region, as alarm notifications carry it.
fn region_name(region: &str) -> &str {
    match region {
        "us-east-1" => "US East (N. Virginia)",
        "us-east-2" => "US East (Ohio)",
        "us-west-2" => "US West (Oregon)",
        "eu-west-1" => "EU (Ireland)",
        "eu-central-1" => "EU (Frankfurt)",
        other => other,
    }
}

/// The alarm notification SNS carries, as AWS writes it (JSON inside the SNS message).
fn notification(name: &str, alarm: &Alarm, old: AlarmState, model: &Model) -> String {
    let at = alarm.updated_at.unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    let trigger = match &alarm.watch {
        Watch::Spec(spec) => {
            let dimensions: Vec<_> =
                Dimension::of_alarm(spec).iter().map(|d| json!({"value": d.value, "name": d.name})).collect();
            json!({
                "MetricName": spec.metric.as_str(), "Namespace": KINESIS_NAMESPACE,
                "StatisticType": "Statistic", "Statistic": "SUM", "Unit": null, "Dimensions": dimensions,
                "Period": spec.period_secs, "EvaluationPeriods": spec.evaluation_periods,
                "DatapointsToAlarm": spec.datapoints_to_alarm,
                "ComparisonOperator": spec.comparison.as_str(), "Threshold": spec.threshold,
                "TreatMissingData": AlarmSpec::TREAT_MISSING_DATA, "EvaluateLowSampleCountPercentile": ""
            })
        }
        Watch::Usage(usage) => json!({"Metrics": [{"Expression": "usage", "Label": usage.stream}]}),
    };
    let (description, actions) = match &alarm.watch {
        Watch::Spec(s) => (Some(s.description.clone()), s.alarm_actions.clone()),
        Watch::Usage(u) => (None, u.actions.clone()),
    };
    json!({
        "AlarmName": name, "AlarmDescription": description, "AWSAccountId": model.account,
        "NewStateValue": "ALARM", "NewStateReason": alarm.reason, "StateChangeTime": at,
        "Region": region_name(&model.region),
        "AlarmArn": format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", model.region, model.account),
        "OldStateValue": old.as_str(), "OKActions": [], "AlarmActions": actions, "InsufficientDataActions": [],
        "Trigger": trigger
    })
    .to_string()
}

impl World {
    /// Every CloudWatch call made so far, oldest first, as `"SetAlarmState name OK"`.
    pub fn cloudwatch_calls(&self) -> Vec<String> {
        self.lock().cloudwatch.calls.clone()
    }

    /// Queries of exactly `dimensions` read with `status` (e.g. `PartialData`) from now on.
    pub fn set_read_status(&self, mut dimensions: Vec<Dimension>, status: ReadStatus) {
        dimensions.sort();
        self.lock().cloudwatch.read_status.insert(dimensions, status);
    }

    /// Every `GetMetricData` call of more than `queries` queries times out from now on
    /// ([`ErrorKind::TimedOut`], recorded as `"GetMetricData 20 timed out"`).
    pub fn time_out_above(&self, queries: usize) {
        self.lock().cloudwatch.time_out_above = Some(queries);
    }

    /// `alarm` goes to `ALARM` at `at`, quoting `reason` as CloudWatch would: what
    /// `DescribeAlarms` then reports as its state reason and time.
    pub fn fire(&self, alarm: &str, reason: &str, at: DateTime<Utc>) {
        if let Some(a) = self.lock().cloudwatch.alarms.get_mut(alarm) {
            (a.state, a.reason, a.updated_at) = (AlarmState::Alarm, reason.to_owned(), Some(at));
        }
    }

    /// An alarm of the tool as last written, and its state.
    pub fn alarm(&self, name: &str) -> Option<(AlarmSpec, AlarmState)> {
        match self.lock().cloudwatch.alarms.get(name) {
            Some(Alarm { watch: Watch::Spec(spec), state, .. }) => Some((spec.clone(), *state)),
            _ => None,
        }
    }

    /// An alarm's state and when it last changed (`StateUpdatedTimestamp`), read without a call:
    /// an observer's view that no injected fault reaches.
    pub fn alarm_state(&self, name: &str) -> Option<(AlarmState, Option<DateTime<Utc>>)> {
        self.lock().cloudwatch.alarms.get(name).map(|a| (a.state, a.updated_at))
    }

    /// Writes (or rewrites, back to `INSUFFICIENT_DATA`) a metric-math usage alarm.
    pub fn put_usage_alarm(&self, alarm: UsageAlarm) {
        let name = alarm.name.clone();
        let alarm = Alarm {
            watch: Watch::Usage(alarm),
            state: AlarmState::InsufficientData,
            reason: String::new(),
            updated_at: Some(self.now()),
        };
        self.lock().cloudwatch.alarms.insert(name, alarm);
    }

    /// The metric `key` is, resolved once for a writer that publishes it every minute.
    pub fn metric(&self, key: MetricKey) -> MetricId {
        self.lock().cloudwatch.id(key)
    }

    /// Publishes datapoints as Kinesis would, without a call of anyone's (the writers' traffic):
    /// each a metric, the minute its value sums (minutes since the epoch), and the value.
    pub fn publish(&self, points: impl IntoIterator<Item = (MetricId, i64, f64)>) {
        let mut state = self.lock();
        for (id, minute, value) in points {
            state.cloudwatch.put(id, minute, value);
        }
    }

    /// `key`'s `stat` in periods of `period_secs` over `[start, end)`, as readable now: the
    /// answer of one `GetMetricData` query, for models that read without a call (the peers).
    pub fn read(
        &self,
        key: &MetricKey,
        stat: Statistic,
        period_secs: u32,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, f64)> {
        let now = self.now();
        let state = self.lock();
        let readable = CloudWatch::readable_before(now, self.model());
        state.cloudwatch.read(key, stat, period_secs, (start, end), readable)
    }
}

impl MetricPublisher for World {
    async fn put_metric_data(&self, points: &[MetricPoint]) -> Result<(), PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("PutMetricData");
        state.fault("PutMetricData")?;
        state.cloudwatch.record("PutMetricData", points.len().to_string());
        for p in points {
            let id = state.cloudwatch.id(MetricKey::new(&p.namespace, &p.metric, p.dimensions.clone()));
            state.cloudwatch.put(id, minute_of(p.timestamp), p.value);
        }
        Ok(())
    }
}

impl MetricsPort for World {
    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<MetricSeries>, PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let mut state = self.lock();
        state.request("GetMetricData");
        if state.cloudwatch.time_out_above.is_some_and(|limit| queries.len() > limit) {
            state.fault("GetMetricData")?;
            state.cloudwatch.record("GetMetricData", format!("{} timed out", queries.len()));
            return Err(PortError::new("GetMetricData", ErrorKind::TimedOut, "injected timeout"));
        }
        state.fault("GetMetricData")?;
        state.cloudwatch.record("GetMetricData", queries.len().to_string());
        let readable = CloudWatch::readable_before(now, self.model());
        let cloudwatch = &state.cloudwatch;
        Ok(queries
            .iter()
            .map(|q| {
                let key = MetricKey::new(&q.namespace, &q.metric, q.dimensions.clone());
                let status =
                    cloudwatch.read_status.get(&key.dimensions).copied().unwrap_or(ReadStatus::Complete);
                let points = cloudwatch.read(&key, q.stat, q.period_secs, (start, end), readable);
                MetricSeries { id: q.id.clone(), label: None, points, status }
            })
            .collect())
    }
}

impl AlarmPort for World {
    async fn put_alarm(&self, spec: &AlarmSpec) -> Result<(), PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let mut state = self.lock();
        state.request("PutMetricAlarm");
        state.fault("PutMetricAlarm")?;
        let cloudwatch = &mut state.cloudwatch;
        cloudwatch.record("PutMetricAlarm", spec.name.clone());
        // An update keeps the alarm's state; a new alarm starts in INSUFFICIENT_DATA (AWS).
        let alarm = match cloudwatch.alarms.remove(&spec.name) {
            Some(old) => Alarm { watch: Watch::Spec(spec.clone()), ..old },
            None => Alarm {
                watch: Watch::Spec(spec.clone()),
                state: AlarmState::InsufficientData,
                reason: "Unchecked: Initial alarm creation".into(),
                updated_at: Some(now),
            },
        };
        cloudwatch.alarms.insert(spec.name.clone(), alarm);
        Ok(())
    }

    async fn describe_alarms(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("DescribeAlarms");
        state.fault("DescribeAlarms")?;
        state.cloudwatch.record("DescribeAlarms", prefix.to_owned());
        let found = state.cloudwatch.summaries(|name, _| name.starts_with(prefix));
        (1..found.len().div_ceil(100)).for_each(|_| state.request("DescribeAlarms"));
        Ok(found)
    }

    async fn describe_alarm(&self, name: &str) -> Result<Option<AlarmSummary>, PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("DescribeAlarms");
        state.fault("DescribeAlarms")?;
        state.cloudwatch.record("DescribeAlarms", format!("name={name}"));
        Ok(state.cloudwatch.summaries(|n, _| n == name).pop())
    }

    async fn alarms_in_alarm(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        state.request("DescribeAlarms");
        state.fault("DescribeAlarms")?;
        state.cloudwatch.record("DescribeAlarms", format!("{prefix} state=ALARM"));
        let found = state.cloudwatch.summaries(|name, s| name.starts_with(prefix) && s == AlarmState::Alarm);
        (1..found.len().div_ceil(100)).for_each(|_| state.request("DescribeAlarms"));
        Ok(found)
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), PortError> {
        self.call_delay(false).await;
        let mut state = self.lock();
        (0..names.len().div_ceil(100).max(1)).for_each(|_| state.request("DeleteAlarms"));
        state.fault("DeleteAlarms")?;
        state.cloudwatch.record("DeleteAlarms", names.join(","));
        names.iter().for_each(|n| {
            state.cloudwatch.alarms.remove(n);
        });
        Ok(())
    }

    async fn set_alarm_state(&self, name: &str, new: AlarmState, reason: &str) -> Result<(), PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let mut state = self.lock();
        state.request("SetAlarmState");
        state.fault("SetAlarmState")?;
        state.cloudwatch.record("SetAlarmState", format!("{name} {}", new.as_str()));
        let model = self.model().clone();
        let crate::world::State { cloudwatch, sns, rng, .. } = &mut *state;
        let Some(alarm) = cloudwatch.alarms.get_mut(name) else {
            return Err(PortError::new("SetAlarmState", ErrorKind::NotFound, format!("no alarm {name}")));
        };
        let old = alarm.state;
        (alarm.state, alarm.reason, alarm.updated_at) = (new, reason.to_owned(), Some(now));
        // A change to ALARM runs the alarm's actions, as AWS does for SetAlarmState too.
        if new == AlarmState::Alarm && old != AlarmState::Alarm {
            let actions = match &alarm.watch {
                Watch::Spec(s) => s.alarm_actions.clone(),
                Watch::Usage(u) => u.actions.clone(),
            };
            let message = notification(name, alarm, old, &model);
            for topic in actions {
                sns.publish(&topic, &message, now, &model, rng);
            }
        }
        Ok(())
    }
}
