//! CloudWatch as the policies see it: stream-level `Sum` datapoints published a while after their
//! period ends, and alarms evaluated every minute that notify only on a change of state.
//!
//! Kinesis counts only *accepted* writes in `IncomingBytes` / `IncomingRecords` ("successfully
//! put", AWS docs); rejected ones appear only in `WriteProvisionedThroughputExceeded` (records).
//! So while a stream throttles, its load metrics show its capacity, not its demand: a policy
//! cannot see how far short it is from these metrics alone.
//!
//! Shard-level ("enhanced") metrics, where a policy turns them on (`EnableEnhancedMonitoring`),
//! are the same sums per open shard (`ShardId` dimension), published with the same delay: AWS
//! sends both levels every minute. A shard's series starts in the minute it opened and stops
//! after the minute it closed; a per-shard alarm reads its shard's series, so one on a closed
//! shard sees no data (`notBreaching`).

use std::collections::BTreeMap;

use planner::{AlarmSpec, Comparison, Metric, SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC, ShardId};

use crate::assumptions::METRIC_DELAY_SECS;

/// CloudWatch evaluates an alarm once a minute, on the minute.
pub const EVALUATION_SECS: i64 = 60;

/// When the datapoint of minute `m` is published: the minute's end plus the metric delay.
pub fn published_at(m: i64) -> i64 {
    (m + 1) * 60 + METRIC_DELAY_SECS
}

/// The first alarm evaluation at or after `t`.
pub fn next_evaluation(t: i64) -> i64 {
    -(-t).div_euclid(EVALUATION_SECS) * EVALUATION_SECS
}

/// One minute's datapoints: the `Sum`s of the write metrics, of `GetRecords.Bytes` and of
/// `ReadProvisionedThroughputExceeded`, and the `Maximum` of `GetRecords.IteratorAgeMilliseconds`.
/// The read metrics are the stream's; per-shard series leave them at zero.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Point {
    pub bytes: f64,
    pub records: f64,
    pub throttled: f64,
    pub read_bytes: f64,
    pub read_throttled: f64,
    pub iterator_age_ms: f64,
}

impl Point {
    /// Two periods as one: sums add, the maximum is the larger.
    pub fn add(&mut self, other: Point) {
        self.bytes += other.bytes;
        self.records += other.records;
        self.throttled += other.throttled;
        self.read_bytes += other.read_bytes;
        self.read_throttled += other.read_throttled;
        self.iterator_age_ms = self.iterator_age_ms.max(other.iterator_age_ms);
    }
}

/// Per-minute sums, including a history before the trace (minute indexes may be negative).
#[derive(Debug, Clone)]
pub struct Metrics {
    history: i64,
    points: Vec<Point>,
}

impl Metrics {
    /// `history` minutes of `before` precede minute 0.
    pub fn new(history: i64, before: Point) -> Metrics {
        Metrics { history, points: vec![before; history as usize] }
    }

    /// `points` precede minute 0, oldest first.
    pub fn with_history(points: Vec<Point>) -> Metrics {
        Metrics { history: points.len() as i64, points }
    }

    /// A series whose first minute is `m` (a shard opened in it), with no history before.
    pub fn from_minute(m: i64) -> Metrics {
        Metrics { history: -m, points: Vec::new() }
    }

    /// Records the sums of minute `m`, which must be the next one.
    pub fn push(&mut self, m: i64, point: Point) {
        debug_assert_eq!(m + self.history, self.points.len() as i64);
        self.points.push(point);
    }

    /// The first minute not yet published at `now` (the inverse of [`published_at`]).
    pub fn published_until(&self, now: i64) -> i64 {
        let recorded = self.points.len() as i64 - self.history;
        (now - METRIC_DELAY_SECS).div_euclid(60).min(recorded)
    }

    /// The sums over minutes `[from, to)`, if every one of them is published at `now`.
    pub fn sum(&self, from: i64, to: i64, now: i64) -> Option<Point> {
        if to > self.published_until(now) || from < -self.history {
            return None;
        }
        let mut sum = Point::default();
        for m in from..to {
            sum.add(self.points[(m + self.history) as usize]);
        }
        Some(sum)
    }

    /// Published datapoints of `period_secs`, oldest first, as `(period start in seconds, sums)`,
    /// for periods starting in `[from, to)`.
    pub fn series(&self, period_secs: i64, from: i64, to: i64, now: i64) -> Vec<(i64, Point)> {
        let per = period_secs / 60;
        let first = from.div_euclid(period_secs);
        let last = to.div_euclid(period_secs) + i64::from(to.rem_euclid(period_secs) != 0);
        (first..last)
            .filter_map(|p| self.sum(p * per, (p + 1) * per, now).map(|s| (p * period_secs, s)))
            .collect()
    }
}

/// Each shard's own sums (enhanced monitoring), by shard id; empty where it is off.
#[derive(Debug, Clone, Default)]
pub struct ShardMetrics {
    by_shard: BTreeMap<ShardId, Metrics>,
}

impl ShardMetrics {
    /// The shards open at the start, each with `history` minutes of its share of `before`.
    pub fn new<'a>(
        history: i64,
        before: Point,
        shares: impl IntoIterator<Item = (&'a ShardId, f64)>,
    ) -> ShardMetrics {
        let by_shard = shares
            .into_iter()
            .map(|(id, share)| {
                let point = Point {
                    bytes: before.bytes * share,
                    records: before.records * share,
                    throttled: before.throttled * share,
                    ..Point::default()
                };
                (id.clone(), Metrics::new(history, point))
            })
            .collect();
        ShardMetrics { by_shard }
    }

    /// Records the sums of minute `m` for every shard open during it; a shard seen for the first
    /// time starts its series here.
    pub fn push(&mut self, m: i64, points: BTreeMap<ShardId, Point>) {
        for (id, point) in points {
            self.by_shard.entry(id).or_insert_with(|| Metrics::from_minute(m)).push(m, point);
        }
    }

    /// One shard's series, if it ever had one.
    pub fn of(&self, shard: &ShardId) -> Option<&Metrics> {
        self.by_shard.get(shard)
    }
}

/// What an alarm watches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Watch {
    Metric(Metric),
    /// Metric math: the larger of bytes and records over `shards` shards' limits for the period.
    Usage {
        shards: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Ge,
    Gt,
    Lt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ok,
    Alarm,
}

/// A CloudWatch alarm. Missing datapoints are `notBreaching`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub watch: Watch,
    /// The `ShardId` dimension of a per-shard alarm: it reads that shard's metrics.
    pub shard: Option<ShardId>,
    pub period_secs: i64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub cmp: Cmp,
    pub state: State,
    /// When the state last changed (seconds).
    pub changed_at: i64,
    /// What the state reason quotes: set on the change to `ALARM`, cleared by a reset.
    pub reason: Reason,
}

/// An alarm's state reason as the Lambda reads it, from the notification or `DescribeAlarms`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reason {
    /// The breaching datapoints quoted, newest first.
    pub datapoints: Vec<f64>,
    /// Where the newest quoted datapoint's period starts (seconds).
    pub newest_period_start: Option<i64>,
}

/// An alarm's transition to `ALARM`: what SNS delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub alarm: usize,
    /// What the alarm watches and, for a per-shard alarm, its shard (the Lambda reads the
    /// `ShardId` dimension): together they name the alarm across re-arms.
    pub watch: Watch,
    pub shard: Option<ShardId>,
    pub changed_at: i64,
    pub reason: Reason,
    pub deliver_at: i64,
}

impl Alarm {
    /// The alarm `streams apply` (or the scale-up Lambda's re-arm) writes for this spec.
    pub fn from_spec(spec: &AlarmSpec) -> Alarm {
        Alarm {
            watch: Watch::Metric(spec.metric),
            shard: spec.shard.clone(),
            period_secs: i64::from(spec.period_secs),
            evaluation_periods: spec.evaluation_periods,
            datapoints_to_alarm: spec.datapoints_to_alarm,
            threshold: spec.threshold,
            cmp: match spec.comparison {
                Comparison::GreaterThanOrEqualToThreshold => Cmp::Ge,
                Comparison::GreaterThanThreshold => Cmp::Gt,
            },
            state: State::Ok,
            changed_at: i64::MIN,
            reason: Reason::default(),
        }
    }

    fn value(&self, p: &Point) -> f64 {
        match self.watch {
            Watch::Metric(Metric::IncomingBytes) => p.bytes,
            Watch::Metric(Metric::IncomingRecords) => p.records,
            Watch::Metric(Metric::WriteProvisionedThroughputExceeded) => p.throttled,
            // The model has no consumers yet: nothing is read.
            Watch::Metric(
                Metric::GetRecordsBytes
                | Metric::GetRecordsIteratorAge
                | Metric::ReadProvisionedThroughputExceeded,
            ) => 0.0,
            Watch::Usage { shards } => {
                let secs = self.period_secs as f64 * f64::from(shards.max(1));
                (p.bytes / (secs * SHARD_BYTES_PER_SEC)).max(p.records / (secs * SHARD_RECORDS_PER_SEC))
            }
        }
    }

    fn breaches(&self, v: f64) -> bool {
        match self.cmp {
            Cmp::Ge => v >= self.threshold,
            Cmp::Gt => v > self.threshold,
            Cmp::Lt => v < self.threshold,
        }
    }

    /// One evaluation at `now` over the last `evaluation_periods` published periods. Returns
    /// the quoted breaching datapoints (newest first) when the alarm goes from `OK` to `ALARM`.
    pub fn evaluate(&mut self, now: i64, metrics: &Metrics) -> Option<Reason> {
        let per = self.period_secs / 60;
        let end = metrics.published_until(now).div_euclid(per) * per;
        let start = end - per * i64::from(self.evaluation_periods);
        let breaching: Vec<(i64, f64)> = metrics
            .series(self.period_secs, start * 60, end * 60, now)
            .iter()
            .rev()
            .map(|(t, p)| (*t, self.value(p)))
            .filter(|(_, v)| self.breaches(*v))
            .collect();
        let alarm = breaching.len() as u32 >= self.datapoints_to_alarm;
        match (self.state, alarm) {
            (State::Ok, true) => {
                self.state = State::Alarm;
                self.changed_at = now;
                self.reason = Reason {
                    datapoints: breaching.iter().map(|(_, v)| *v).collect(),
                    newest_period_start: breaching.first().map(|(t, _)| *t),
                };
                Some(self.reason.clone())
            }
            (State::Alarm, false) => {
                self.state = State::Ok;
                self.changed_at = now;
                self.reason = Reason::default();
                None
            }
            _ => None,
        }
    }

    /// `SetAlarmState OK`: CloudWatch re-evaluates at the next minute and fires again if still
    /// breaching.
    pub fn reset(&mut self, now: i64) {
        if self.state != State::Ok {
            self.state = State::Ok;
            self.changed_at = now;
            self.reason = Reason::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_is_published_exactly_at_published_at() {
        let mut metrics = Metrics::new(0, Point::default());
        for m in 0..10 {
            metrics.push(m, Point::default());
        }
        for m in 0..5 {
            assert_eq!(metrics.published_until(published_at(m) - 1), m);
            assert_eq!(metrics.published_until(published_at(m)), m + 1);
        }
    }

    #[test]
    fn a_shard_opened_later_has_datapoints_only_from_its_first_minute() {
        let (old, new) = (ShardId::new("shardId-000000000000"), ShardId::new("shardId-000000000001"));
        let before = Point { bytes: 60.0, records: 6.0, ..Point::default() };
        let mut shards = ShardMetrics::new(2, before, [(&old, 0.5)]);
        let point = Point { bytes: 1.0, records: 1.0, ..Point::default() };
        shards.push(0, [(old.clone(), point)].into());
        shards.push(1, [(old.clone(), point), (new.clone(), point)].into());
        let now = published_at(1);
        assert_eq!(shards.of(&old).unwrap().sum(-2, -1, now).unwrap().bytes, 30.0);
        assert_eq!(shards.of(&new).unwrap().sum(0, 2, now), None, "no datapoint before it opened");
        assert_eq!(shards.of(&new).unwrap().sum(1, 2, now), Some(point));
    }

    #[test]
    fn evaluations_fall_on_the_minute() {
        assert_eq!(next_evaluation(150), 180);
        assert_eq!(next_evaluation(180), 180);
        assert_eq!(next_evaluation(-30), 0);
    }
}
