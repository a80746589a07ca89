//! Predictive pre-scaling: the load a stream's own history says is coming, and the scale-up that
//! has the capacity in place before it arrives.
//!
//! A reactive scaler cannot beat its detection time (an alarm's period, CloudWatch's delay, the
//! reshard): the first minutes of every spike are throttled. Much of the load that hurts recurs —
//! the batch at 02:00, the weekday morning ramp, Monday's surge — and CloudWatch keeps weeks of it.
//!
//! # The method: seasonal windows, agreement, and chance
//!
//! To forecast the window `[from, to)` (the Lambda uses `[now, now + tick + lead)`), look at the
//! same window one, two, … days back (the *daily* season) and one, two, … weeks back (*weekly*),
//! within the look-back. Each past window (a *cycle*) has a peak. The forecast is the level that
//! **at least two cycles in three reached** (`AGREEMENT`): a robust high quantile, so one odd day
//! never moves it, and a sentence anyone can check: "in 13 of the last 14 days the load between
//! 02:00 and 03:15 reached 9.8 MiB/s". Bytes and records are taken apart (each its own level),
//! since either limit throttles. Where both seasons forecast, the higher level wins. A cycle
//! *agrees* when its peak came `NEAR` the level (four fifths of it): recurring peaks vary by a few
//! per cent, and a Monday 5 % quieter is the same rhythm.
//!
//! # When it says *no forecast*
//!
//! * **Too short:** fewer than three daily cycles of history before the window (two weekly ones
//!   for a weekly forecast). A stream younger than that has no rhythm to learn.
//! * **Does not stand out:** the agreed level must be `SURGE_FACTOR` times the stream's typical
//!   load (the median period of the look-back, periods without writes counting zero). Noise
//!   around a steady load and growth (on a ramp the agreed level is an older, lower day) fail it.
//! * **Chance explains it:** count how many of *all* windows of the same length in the look-back,
//!   at any time of day, come near the level. If that share is `b`, the chance that `k` of `n`
//!   cycles agree by accident is the binomial tail `P(X >= k | n, b)`; it must be under `MAX_CHANCE`
//!   (one in 100,000). A peak that comes at a different time each day (shuffled history, random
//!   bursts) reaches the level in many windows, so its agreement is no evidence; a batch at 02:00
//!   reaches it only around 02:00.
//! * **The week disagrees:** a daily forecast is dropped where two or more weekly cycles exist
//!   and fewer than two in three of them came near its level: a weekday rhythm, seen on a Saturday.
//!
//! A forecast is not yet an action: [`plan_pre_scale`] acts only when the forecast needs more
//! shards than are open, through the scale-up planner ([`plan_scale_up`]) like any alarm, and
//! the shell gates it with the same cooldown and quotas.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{LoadSeries, LoadSnapshot, Policy, Rate, ScaleUpInput, ScaleUpPlan, Tiling, plan_scale_up};

/// The share of cycles that must reach a level for it to be forecast: two in three (a weekday
/// rhythm is five days in seven).
pub const AGREEMENT: f64 = 2.0 / 3.0;

/// How near the level a cycle must come to agree with it, and a window to count as reaching it:
/// four fifths. Recurring peaks vary (a batch's size, a Monday's traffic); a surge 5 % under the
/// level is the same surge, and an exact level made a weekly rhythm with three Mondays agree in
/// two of them only.
pub const NEAR: f64 = 0.8;

/// How far the agreed level must rise above the typical load to count as a recurring peak.
pub const SURGE_FACTOR: f64 = 1.5;

/// The most a coincidence may explain: the chance that as many cycles reach the level by accident,
/// given how often any window of the look-back reaches it, must be under one in 100,000.
pub const MAX_CHANCE: f64 = 1e-5;

/// The fewest daily cycles a daily forecast needs.
pub const MIN_DAILY_CYCLES: usize = 3;

/// The fewest weekly cycles a weekly forecast needs: a weekly rhythm takes two weeks to show.
pub const MIN_WEEKLY_CYCLES: usize = 2;

/// The longest history a forecast holds: four weeks of 1-minute periods (the policy's longest
/// look-back at the finest resolution), whatever a caller passes.
const MAX_PERIODS: usize = 28 * 1_440;

const DAY_SECS: i64 = 86_400;
const WEEK_SECS: i64 = 7 * DAY_SECS;

/// Which rhythm a forecast found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Season {
    Daily,
    Weekly,
}

impl Season {
    fn secs(self) -> i64 {
        match self {
            Season::Daily => DAY_SECS,
            Season::Weekly => WEEK_SECS,
        }
    }

    fn min_cycles(self) -> usize {
        match self {
            Season::Daily => MIN_DAILY_CYCLES,
            Season::Weekly => MIN_WEEKLY_CYCLES,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Season::Daily => "days",
            Season::Weekly => "weeks",
        }
    }
}

/// A recurring peak expected in the forecast window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedPeak {
    pub season: Season,
    /// The level at least [`AGREEMENT`] of the cycles reached (bytes and records each).
    pub rate: Rate,
    /// When the earliest agreeing cycle came [`NEAR`] it, carried forward to the window.
    pub at: DateTime<Utc>,
    /// Cycles that came [`NEAR`] the level, and cycles read.
    pub agreeing: usize,
    pub cycles: usize,
    /// The chance that as many cycles reach the level by accident ([`MAX_CHANCE`]).
    pub chance: f64,
    /// The typical load it stands out of: the look-back's median period.
    pub typical: Rate,
}

impl ExpectedPeak {
    /// The forecast as one sentence for decision records and `streams status`.
    pub fn explain(&self) -> String {
        format!(
            "forecast ({}): in {} of the last {} {} the load reached {:.0} B/s, {:.0} records/s by this time \
             (typical {:.0} B/s, {:.0} records/s; chance of a coincidence {:.0e}); expected from {}",
            match self.season {
                Season::Daily => "daily",
                Season::Weekly => "weekly",
            },
            self.agreeing,
            self.cycles,
            self.season.unit(),
            self.rate.bytes_per_sec,
            self.rate.records_per_sec,
            self.typical.bytes_per_sec,
            self.typical.records_per_sec,
            self.chance,
            self.at.format("%Y-%m-%d %H:%M UTC"),
        )
    }
}

/// What the history says about a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Forecast {
    Peak(ExpectedPeak),
    /// Fewer than [`MIN_DAILY_CYCLES`] days of history before the window (or periods that do
    /// not divide a day, which no season can line up).
    TooShort {
        days: f64,
    },
    /// No season's cycles agree on a level that stands out and that chance does not explain.
    /// `ratio` is the best agreed level over the typical load (one shard's utilisation each),
    /// `chance` the smallest chance of a coincidence.
    NotPeriodic {
        ratio: f64,
        chance: f64,
    },
}

impl Forecast {
    pub fn peak(&self) -> Option<&ExpectedPeak> {
        match self {
            Forecast::Peak(p) => Some(p),
            _ => None,
        }
    }

    /// Why there is no forecast, or the forecast, as one sentence.
    pub fn explain(&self) -> String {
        match self {
            Forecast::Peak(p) => p.explain(),
            Forecast::TooShort { days } => format!(
                "no forecast: {days:.1} day(s) of history, and a daily rhythm takes {MIN_DAILY_CYCLES} to show"
            ),
            Forecast::NotPeriodic { ratio, chance } => format!(
                "no forecast: no recurring peak (the level two cycles in three reached is {ratio:.2}x the typical \
                 load, a peak must stand out by {SURGE_FACTOR}x; chance of a coincidence {chance:.0e}, at most \
                 {MAX_CHANCE:.0e})"
            ),
        }
    }
}

/// The forecast for `[from, to)` from `history` (5-minute or 1-minute sums turned to rates,
/// ending at `now`), reading no further back than `lookback`.
///
/// Points that are not finite or are negative (a hostile or corrupt answer) count as no writes.
/// Periods without a point count as no writes too: CloudWatch publishes none for them.
pub fn forecast(
    history: &LoadSeries,
    now: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    lookback: Duration,
) -> Forecast {
    match Grid::new(history, now, lookback) {
        Some(grid) => grid.forecast(from, to, &grid.window_peaks(grid.width(from, to))),
        None => Forecast::TooShort { days: 0.0 },
    }
}

/// The history on a regular grid of periods, oldest first, missing periods zero.
struct Grid {
    start: DateTime<Utc>,
    period: i64,
    rates: Vec<Rate>,
    /// Each period's load as a share of one shard (the larger of bytes and records).
    load: Vec<f64>,
    typical: Rate,
}

impl Grid {
    fn new(history: &LoadSeries, now: DateTime<Utc>, lookback: Duration) -> Option<Grid> {
        let period = i64::from(history.period_secs);
        if period <= 0 || DAY_SECS % period != 0 {
            return None;
        }
        let earliest = now.checked_sub_signed(lookback).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let newest_allowed = now.checked_sub_signed(Duration::seconds(period * MAX_PERIODS as i64));
        let earliest = newest_allowed.map_or(earliest, |t| t.max(earliest));
        let mut points = history.points.range(earliest..now).peekable();
        let start = *points.peek()?.0;
        let periods = usize::try_from((now - start).num_seconds() / period).ok()?.min(MAX_PERIODS);
        let mut rates = vec![Rate::ZERO; periods];
        for (t, r) in points {
            let i = usize::try_from((*t - start).num_seconds() / period).ok()?;
            if let Some(slot) = rates.get_mut(i) {
                *slot = slot.max(sane(*r));
            }
        }
        let median = |f: fn(&Rate) -> f64| {
            let mut v: Vec<f64> = rates.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        let typical = Rate {
            bytes_per_sec: median(|r| r.bytes_per_sec),
            records_per_sec: median(|r| r.records_per_sec),
        };
        let load = rates.iter().map(|r| r.utilisation(1)).collect();
        Some(Grid { start, period, rates, load, typical })
    }

    /// Periods a window spans, at least one.
    fn width(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
        let secs = (to - from).num_seconds().max(1);
        usize::try_from((secs + self.period - 1) / self.period).unwrap_or(usize::MAX)
    }

    /// The peak load of every window of `width` periods in the history, ascending: how often a
    /// level is reached at any time, the yardstick of a coincidence.
    fn window_peaks(&self, width: usize) -> Vec<f64> {
        let mut peaks: Vec<f64> =
            self.load.windows(width.max(1)).map(|w| w.iter().copied().fold(0.0, f64::max)).collect();
        peaks.sort_by(f64::total_cmp);
        peaks
    }

    fn forecast(&self, from: DateTime<Utc>, to: DateTime<Utc>, window_peaks: &[f64]) -> Forecast {
        let days = self.load.len() as f64 * self.period as f64 / DAY_SECS as f64;
        let width = self.width(from, to);
        let Some(first) = (from - self.start).num_seconds().checked_div(self.period) else {
            return Forecast::TooShort { days };
        };
        let typical = self.typical.utilisation(1);
        let (mut ratio, mut chance) = (0.0_f64, 1.0_f64);
        let mut found: Option<ExpectedPeak> = None;
        let daily = self.cycles(first, width, Season::Daily);
        if daily.len() < MIN_DAILY_CYCLES {
            return Forecast::TooShort { days };
        }
        let weekly = self.cycles(first, width, Season::Weekly);
        for (season, cycles) in [(Season::Daily, &daily), (Season::Weekly, &weekly)] {
            if cycles.len() < season.min_cycles() || width as i64 * self.period > season.secs() {
                continue;
            }
            let level = agreed_level(cycles);
            let level_load = level.utilisation(1);
            // A cycle agrees when it came near the level: a surge 5 % lower is the same surge.
            let near = level_load * NEAR;
            let agreeing: Vec<&Cycle> = cycles.iter().filter(|c| c.load >= near).collect();
            let reached = window_peaks.len() - window_peaks.partition_point(|p| *p < near);
            let base = reached as f64 / window_peaks.len().max(1) as f64;
            let p = coincidence(cycles.len(), agreeing.len(), base);
            let r = level_load / typical.max(f64::MIN_POSITIVE);
            ratio = ratio.max(r.min(f64::MAX));
            chance = chance.min(p);
            let weekly_disagrees = season == Season::Daily
                && weekly.len() >= MIN_WEEKLY_CYCLES
                && (weekly.iter().filter(|c| c.load >= near).count() as f64)
                    < AGREEMENT * weekly.len() as f64;
            let recurring = level_load > 0.0 && r >= SURGE_FACTOR && p <= MAX_CHANCE && !weekly_disagrees;
            if !recurring || found.as_ref().is_some_and(|f| f.rate.utilisation(1) >= level_load) {
                continue;
            }
            let at = agreeing.iter().filter_map(|c| self.first_reaching(c, near)).min().unwrap_or(from);
            found = Some(ExpectedPeak {
                season,
                rate: level,
                at: at.clamp(from, to),
                agreeing: agreeing.len(),
                cycles: cycles.len(),
                chance: p,
                typical: self.typical,
            });
        }
        match found {
            Some(peak) => Forecast::Peak(peak),
            None => Forecast::NotPeriodic { ratio, chance },
        }
    }

    /// The season's past windows of `width` periods from index `first`, wholly inside the
    /// history, most recent first.
    fn cycles(&self, first: i64, width: usize, season: Season) -> Vec<Cycle> {
        let step = season.secs() / self.period;
        let mut cycles = Vec::new();
        for k in 1_i64.. {
            let Some(start) = first.checked_sub(step.saturating_mul(k)) else { break };
            let Ok(start) = usize::try_from(start) else { break };
            let Some(end) = start.checked_add(width) else { break };
            if end > self.load.len() {
                continue;
            }
            let span = start..end;
            let peak = self.rates[span.clone()].iter().fold(Rate::ZERO, |p, r| p.max(*r));
            let load = self.load[span].iter().copied().fold(0.0, f64::max);
            cycles.push(Cycle { shift: k * step, start, end, peak, load });
        }
        cycles
    }

    /// When the cycle first reached `level`, carried forward by the cycle's shift.
    fn first_reaching(&self, c: &Cycle, level: f64) -> Option<DateTime<Utc>> {
        let i = (c.start..c.end).find(|&i| self.load[i] >= level)?;
        let secs = (i as i64).checked_add(c.shift)?.checked_mul(self.period)?;
        self.start.checked_add_signed(Duration::try_seconds(secs)?)
    }
}

/// One past window: its place on the grid, how far back, and its peak.
struct Cycle {
    shift: i64,
    start: usize,
    end: usize,
    peak: Rate,
    load: f64,
}

/// The level at least [`AGREEMENT`] of the cycles reached, bytes and records each.
fn agreed_level(cycles: &[Cycle]) -> Rate {
    let need = ((AGREEMENT * cycles.len() as f64).ceil() as usize).clamp(1, cycles.len());
    let nth_highest = |f: fn(&Rate) -> f64| {
        let mut v: Vec<f64> = cycles.iter().map(|c| f(&c.peak)).collect();
        v.sort_by(|a, b| b.total_cmp(a));
        v[need - 1]
    };
    Rate {
        bytes_per_sec: nth_highest(|r| r.bytes_per_sec),
        records_per_sec: nth_highest(|r| r.records_per_sec),
    }
}

/// The chance that at least `k` of `n` windows reach a level any window reaches with probability
/// `p`: the binomial tail.
fn coincidence(n: usize, k: usize, p: f64) -> f64 {
    let p = p.clamp(0.0, 1.0);
    let mut choose = 1.0_f64;
    let mut tail = 0.0;
    for i in 0..=n {
        if i > 0 {
            choose = choose * (n - i + 1) as f64 / i as f64;
        }
        if i >= k {
            tail += choose * p.powi(i as i32) * (1.0 - p).powi((n - i) as i32);
        }
    }
    tail.min(1.0)
}

fn sane(r: Rate) -> Rate {
    let ok = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    Rate { bytes_per_sec: ok(r.bytes_per_sec), records_per_sec: ok(r.records_per_sec) }
}

/// What a pre-scaling tick reads and decides from.
#[derive(Debug)]
pub struct PreScaleInput<'a> {
    pub tiling: &'a Tiling,
    /// The stream's load over the predictive look-back.
    pub history: &'a LoadSeries,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
    /// How often the pre-scaling tick runs: the window forecast is `[now, now + every + lead)`,
    /// so a peak is covered whichever tick before it sees it first.
    pub every: Duration,
    pub update_calls_last_24h: u32,
}

/// A pre-scaling tick's decision for one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PreScale {
    /// The policy does not ask for prediction.
    Off,
    /// No peak expected in the window (the forecast says why).
    NoForecast { forecast: Forecast },
    /// A peak is expected and the open shards carry it at the target.
    Enough { peak: ExpectedPeak, open_shards: u32 },
    /// Scale up now: the plan's first reason is the forecast.
    Plan { peak: ExpectedPeak, plan: ScaleUpPlan },
}

/// Forecasts the window the next tick cannot see in time and plans the scale-up that carries it,
/// with the same planner an alarm uses ([`plan_scale_up`], never above `maxShards`). The forecast
/// knows the stream's load, not where its hot keys are, so the plan sizes from the stream level.
pub fn plan_pre_scale(input: PreScaleInput<'_>) -> PreScale {
    let PreScaleInput { tiling, history, policy, now, every, update_calls_last_24h } = input;
    let Some(predictive) = policy.scale_up.predictive else { return PreScale::Off };
    let lead = Duration::minutes(i64::from(predictive.lead_minutes));
    let lookback = Duration::days(i64::from(predictive.lookback_days));
    let to = now.checked_add_signed(every + lead).unwrap_or(DateTime::<Utc>::MAX_UTC);
    let forecast = forecast(history, now, now, to, lookback);
    let Forecast::Peak(peak) = forecast else { return PreScale::NoForecast { forecast } };
    let load = LoadSnapshot { stream: peak.rate, ..LoadSnapshot::default() };
    let mut plan = plan_scale_up(ScaleUpInput { tiling, load: &load, policy, update_calls_last_24h });
    if plan.target_shards <= plan.open_shards {
        return PreScale::Enough { peak, open_shards: plan.open_shards };
    }
    plan.reasons.insert(0, peak.explain());
    PreScale::Plan { peak, plan }
}

/// The first peak expected in the next `horizon` after `now`, scanning windows of the lead's
/// length: what `streams status` shows. `None` where no window has one.
pub fn next_peak(
    history: &LoadSeries,
    now: DateTime<Utc>,
    lead: Duration,
    lookback: Duration,
    horizon: Duration,
) -> Option<ExpectedPeak> {
    let grid = Grid::new(history, now, lookback)?;
    let step = lead.max(Duration::minutes(5));
    let peaks = grid.window_peaks(grid.width(now, now + step));
    let mut from = now;
    while from < now + horizon {
        let to = from + step;
        if let Forecast::Peak(p) = grid.forecast(from, to, &peaks) {
            return Some(p);
        }
        from = to;
    }
    None
}
