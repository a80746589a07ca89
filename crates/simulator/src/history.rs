//! A stream's CloudWatch history as a trace: what `streams whatif` replays.
//!
//! The CLI reads `IncomingBytes`, `IncomingRecords` and `WriteProvisionedThroughputExceeded`
//! (`Sum` per period) over a [`HistoryWindow`]; this module turns those datapoints into the same
//! per-minute rates a recorded CSV gives ([`crate::recorded::from_minutes`], so both share the
//! bounds and the whole-series checks). The datapoints come from outside the process: one that
//! is not a number, negative, or beyond the simulated maximum of shards is left out and counted,
//! never trusted. A period with no datapoint is a gap: CloudWatch stores nothing for a period
//! without writes, so it replays as zero, and the gaps are counted so the report can say so.

use chrono::{DateTime, Duration, Utc};

use crate::SimError;
use crate::recorded::{MAX_BYTES_PER_SEC, MAX_RECORDS_PER_SEC, Rate, from_minutes, out_of_bounds};
use crate::trace::Trace;

/// CloudWatch keeps 1-minute datapoints for 15 days, 5-minute ones for 63 days.
pub const ONE_MINUTE_DAYS: u32 = 15;
pub const MAX_DAYS: u32 = 63;

/// What `GetMetricData` costs: US$0.01 per 1,000 metrics requested (CloudWatch pricing,
/// <https://aws.amazon.com/cloudwatch/pricing/>), each query of a call one metric.
pub const PRICE_PER_1000_METRICS: f64 = 0.01;

/// The span of history read for one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub period_secs: u32,
    /// The stream was created after the window asked for would have started: `start` is its
    /// first whole period instead.
    pub younger_than_window: bool,
}

impl HistoryWindow {
    /// The `days` up to `now` (whole periods; 1-minute periods up to [`ONE_MINUTE_DAYS`], else
    /// 5-minute), starting no earlier than the stream's first whole period after `created`.
    /// `None` when `days` is outside `1..=MAX_DAYS` or the stream has no whole period yet.
    pub fn new(now: DateTime<Utc>, days: u32, created: DateTime<Utc>) -> Option<HistoryWindow> {
        if !(1..=MAX_DAYS).contains(&days) {
            return None;
        }
        let period_secs = if days <= ONE_MINUTE_DAYS { 60 } else { 300 };
        let end = planner::align_down(now, period_secs);
        HistoryWindow::within(end - Duration::days(i64::from(days)), end, period_secs, created)
    }

    /// The whole periods of `[wanted, end)` (both on period boundaries) since the stream's first
    /// whole period after `created`: how `streams status` cuts the scale-down look-back it read.
    /// `None` when there is no such period, or when `period_secs` is not whole minutes (a trace
    /// is per minute).
    pub fn within(
        wanted: DateTime<Utc>,
        end: DateTime<Utc>,
        period_secs: u32,
        created: DateTime<Utc>,
    ) -> Option<HistoryWindow> {
        if period_secs == 0 || !period_secs.is_multiple_of(60) {
            return None;
        }
        let first_whole =
            planner::align_down(created + Duration::seconds(i64::from(period_secs) - 1), period_secs);
        let start = wanted.max(first_whole);
        (start < end).then_some(HistoryWindow {
            start,
            end,
            period_secs,
            younger_than_window: start > wanted,
        })
    }

    pub fn periods(&self) -> usize {
        ((self.end - self.start).num_seconds() / i64::from(self.period_secs)) as usize
    }

    pub fn hours(&self) -> f64 {
        (self.end - self.start).num_seconds() as f64 / 3600.0
    }

    /// The value of each period of the window from `points` (timestamp, value): `None` where
    /// there is none; points outside the window or off its period boundaries are ignored.
    pub fn align(&self, points: &[(DateTime<Utc>, f64)]) -> Vec<Option<f64>> {
        let mut values = vec![None; self.periods()];
        let period = i64::from(self.period_secs);
        for (t, v) in points {
            let offset = (*t - self.start).num_seconds();
            if offset >= 0
                && offset % period == 0
                && let Some(slot) = values.get_mut((offset / period) as usize)
            {
                *slot = Some(*v);
            }
        }
        values
    }
}

/// One stream's history, each series a `Sum` per period of its window ([`HistoryWindow::align`]).
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub stream: String,
    pub window: HistoryWindow,
    pub bytes: Vec<Option<f64>>,
    pub records: Vec<Option<f64>>,
    pub throttled: Vec<Option<f64>>,
    /// The stream's open shards now: where every provisioned replay starts, and the count
    /// provisioned by hand is compared at.
    pub shards: u32,
}

/// A history made replayable, with what had to be made of it.
#[derive(Debug, Clone)]
pub struct Replayable {
    pub trace: Trace,
    /// Periods with no datapoint of bytes or records: replayed as no writes.
    pub gaps: usize,
    /// Datapoints left out as implausible (not a number, negative, or beyond the simulated
    /// shards): replayed as no writes too.
    pub implausible: usize,
    /// Records the stream's writers had rejected (`WriteProvisionedThroughputExceeded`,
    /// plausible datapoints only: [`planner::throttled_records`]). When above zero, the demand
    /// replayed (accepted writes) is a lower bound.
    pub rejected_records: u64,
}

/// `history` as a trace named for its stream, starting from its shards.
pub fn replayable(history: &History) -> Result<Replayable, SimError> {
    let period = f64::from(history.window.period_secs);
    let per_period = (history.window.period_secs / 60).max(1) as usize;
    let (mut gaps, mut implausible) = (0, 0);
    let mut rows = Vec::with_capacity(history.window.periods() * per_period);
    for i in 0..history.window.periods() {
        let bytes = history.bytes.get(i).copied().flatten();
        let records = history.records.get(i).copied().flatten();
        let (bytes, records) = match (bytes, records) {
            (Some(b), Some(r)) => (b / period, r / period),
            _ => {
                gaps += 1;
                (0.0, 0.0)
            }
        };
        let plausible = out_of_bounds(bytes, MAX_BYTES_PER_SEC, "").is_none()
            && out_of_bounds(records, MAX_RECORDS_PER_SEC, "").is_none()
            && records <= bytes.max(0.0);
        let (bytes, records) = if plausible {
            (bytes, records)
        } else {
            implausible += 1;
            (0.0, 0.0)
        };
        rows.extend((0..per_period).map(|_| Rate { line: i + 1, bytes, records, hot: 0.0 }));
    }
    let file = format!("the CloudWatch history of {}", history.stream);
    let trace = from_minutes(&file, history.stream.clone(), &rows)?.with_initial_shards(history.shards);
    let rejected_records = planner::throttled_records(
        history.throttled.iter().flatten().copied(),
        history.shards,
        history.window.period_secs,
    );
    Ok(Replayable { trace, gaps, implausible, rejected_records })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn window(periods: i64) -> HistoryWindow {
        HistoryWindow {
            start: t("2026-11-01T00:00:00Z"),
            end: t("2026-11-01T00:00:00Z") + Duration::minutes(periods),
            period_secs: 60,
            younger_than_window: false,
        }
    }

    fn history(bytes: Vec<Option<f64>>, records: Vec<Option<f64>>) -> History {
        History {
            stream: "s".into(),
            window: window(bytes.len() as i64),
            throttled: vec![None; bytes.len()],
            bytes,
            records,
            shards: 2,
        }
    }

    #[test]
    fn up_to_15_days_is_read_per_minute_and_longer_per_5_minutes_up_to_63_days() {
        let (now, created) = (t("2026-12-01T12:34:56Z"), t("2025-01-01T00:00:00Z"));
        let w = HistoryWindow::new(now, 14, created).unwrap();
        assert_eq!(
            (w.period_secs, w.end, w.periods(), w.younger_than_window),
            (60, t("2026-12-01T12:34:00Z"), 14 * 1440, false)
        );
        let w = HistoryWindow::new(now, 16, created).unwrap();
        assert_eq!((w.period_secs, w.end, w.periods()), (300, t("2026-12-01T12:30:00Z"), 16 * 288));
        assert_eq!([HistoryWindow::new(now, 0, created), HistoryWindow::new(now, 64, created)], [None, None]);
    }

    #[test]
    fn a_stream_younger_than_the_window_starts_at_its_first_whole_period() {
        let now = t("2026-12-01T12:00:00Z");
        let w = HistoryWindow::new(now, 14, t("2026-12-01T10:00:30Z")).unwrap();
        assert_eq!((w.start, w.younger_than_window, w.periods()), (t("2026-12-01T10:01:00Z"), true, 119));
        assert_eq!(HistoryWindow::new(now, 14, t("2026-12-01T11:59:30Z")), None);
    }

    #[test]
    fn a_window_read_elsewhere_is_cut_at_the_streams_first_whole_period() {
        let (start, end) = (t("2026-11-30T12:00:00Z"), t("2026-12-01T12:00:00Z"));
        let old = HistoryWindow::within(start, end, 300, t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!((old.start, old.periods(), old.younger_than_window), (start, 288, false));
        let young = HistoryWindow::within(start, end, 300, t("2026-12-01T11:50:01Z")).unwrap();
        assert_eq!(
            (young.start, young.periods(), young.younger_than_window),
            (t("2026-12-01T11:55:00Z"), 1, true)
        );
        assert_eq!(HistoryWindow::within(start, end, 300, t("2026-12-01T11:55:01Z")), None);
        assert_eq!(
            HistoryWindow::within(start, end, 90, t("2026-01-01T00:00:00Z")),
            None,
            "not whole minutes"
        );
    }

    #[test]
    fn datapoints_align_to_their_periods_and_strays_are_ignored() {
        let w = window(3);
        let at = |m| w.start + Duration::minutes(m);
        let points =
            [(at(0), 1.0), (at(2), 3.0), (at(3), 9.0), (at(-1), 9.0), (at(1) + Duration::seconds(5), 9.0)];
        assert_eq!(w.align(&points), [Some(1.0), None, Some(3.0)]);
    }

    #[test]
    fn sums_become_per_second_rates_and_five_minute_periods_fill_five_minutes() {
        let r = replayable(&history(vec![Some(60.0 * 2048.0)], vec![Some(60.0)])).unwrap();
        assert_eq!((r.trace.minutes(), r.trace.minute_bytes(0), r.trace.record_bytes()), (1, 2048.0, 2048.0));
        assert_eq!(r.trace.initial_shards(), 2);
        let mut h = history(vec![Some(300.0 * 1024.0)], vec![Some(300.0)]);
        h.window.end = h.window.start + Duration::minutes(5);
        h.window.period_secs = 300;
        let r = replayable(&h).unwrap();
        assert_eq!((r.trace.minutes(), r.trace.minute_bytes(4)), (5, 1024.0));
    }

    #[test]
    fn gaps_replay_as_no_writes_and_are_counted() {
        let r =
            replayable(&history(vec![Some(6e4), None, Some(6e4)], vec![Some(60.0), Some(60.0), Some(60.0)]))
                .unwrap();
        assert_eq!((r.gaps, r.implausible, r.trace.minute_bytes(1)), (1, 0, 0.0));
    }

    #[test]
    fn hostile_datapoints_are_left_out_and_counted() {
        let ok = Some(6e4);
        let r = replayable(&history(
            vec![Some(f64::NAN), Some(-1.0), Some(1e300), Some(f64::INFINITY), ok, Some(10.0)],
            vec![ok, ok, ok, ok, Some(f64::NAN), Some(6e4)],
        ))
        .unwrap();
        // The last: more records than bytes in one period.
        assert_eq!((r.implausible, r.gaps), (6, 0));
        assert!((0..6).all(|m| r.trace.minute_bytes(m) == 0.0));
    }

    #[test]
    fn an_idle_history_replays_with_no_writes() {
        let r = replayable(&history(vec![None; 3], vec![None; 3])).unwrap();
        assert_eq!((r.gaps, r.trace.minutes(), r.trace.minute_bytes(2)), (3, 3, 0.0));
    }

    #[test]
    fn rejected_records_are_summed_from_plausible_datapoints() {
        let mut h = history(vec![Some(6e4); 3], vec![Some(60.0); 3]);
        h.throttled = vec![Some(5.0), Some(f64::NAN), Some(1e300)];
        assert_eq!(replayable(&h).unwrap().rejected_records, 5);
    }
}
