//! Traces: seeded generators of write traffic, kept under version control as small JSON files
//! in `traces/` (a seed and a handful of shape parameters each, never generated data), or a
//! user's own traffic recorded per minute (`crate::recorded`, `simulate --trace FILE.csv`).
//!
//! A trace yields, for every second, the stream's demand (bytes and records per second) and, for
//! every minute, the share of that demand carried by one hot partition key. Demand is a per-minute
//! shape (steady, diurnal, spike, ...) times a slow seeded wander (±5 %) times a per-second seeded
//! jitter (±`noise`); the per-second jitter is a pure function of `(seed, second)`, so every policy
//! sees exactly the same traffic and a trace is identical on every machine.
//!
//! A trace also names its consumers (`crate::readers`): shared-throughput or enhanced fan-out,
//! each reading every record once, with spells when the application itself is slow or stalled.

use planner::{HashKey, SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use serde::Deserialize;

use crate::SimError;
use crate::assumptions::{
    GET_RECORDS_BATCH_RECORDS, GET_RECORDS_POLLS_PER_SEC, MAX_SHARDS, MIN_SHARDS, SHARD_GET_RECORDS_PER_SEC,
    SHARD_READ_BYTES_PER_SEC,
};

/// A trace as written in `traces/*.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub days: f64,
    /// Every record is this big (bytes); 2 KiB makes bytes, not records, the binding limit.
    pub record_bytes: f64,
    /// The shape's level 1.0, in MiB/s.
    pub base_mib_per_sec: f64,
    /// Per-second jitter: demand varies uniformly within ±this fraction from second to second.
    pub noise: f64,
    pub shape: Shape,
    /// Open shards at the start (every provisioned policy starts here, evenly split); by default
    /// the fewest that carry the first minute at the planner's 60 % target.
    #[serde(default)]
    pub initial_shards: Option<u32>,
    /// Part of the CI set (`--short`).
    #[serde(default)]
    pub short: bool,
    /// Who reads the stream (none by default).
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    /// Days of the same shape before minute 0 that exist only as CloudWatch history: the stream
    /// ran before this tool adopted it ([`crate::assumptions::HISTORY_BEFORE_ADOPTION`]). What a
    /// predictive policy's look-back reads; not simulated, not billed, not measured.
    #[serde(default)]
    pub history_days: f64,
}

/// One application reading every record of the stream once.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    pub name: String,
    /// On enhanced fan-out it has 2 MiB/s per shard of its own; otherwise it shares each shard's
    /// read limit with every other shared consumer.
    #[serde(default)]
    pub enhanced_fan_out: bool,
    /// Spells when the application processes no more than a given rate, whatever Kinesis would
    /// serve: stalled (0) or slowed by its own downstream.
    #[serde(default)]
    pub slowdowns: Vec<Slowdown>,
}

/// From `at_hours`, for `hours`, the consumer processes at most `mib_per_sec` (all shards together).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slowdown {
    pub at_hours: f64,
    pub hours: f64,
    pub mib_per_sec: f64,
}

impl Consumer {
    /// The one shared consumer a recorded trace is given: most streams have at least one reader,
    /// and a recording of writes says nothing about its readers.
    pub fn one_shared() -> Consumer {
        Consumer { name: "reader".into(), enhanced_fan_out: false, slowdowns: Vec::new() }
    }

    /// The most bytes per second the application processes during second `t` (unbounded outside
    /// its slowdowns).
    pub fn processing_limit(&self, t: i64) -> f64 {
        let h = t as f64 / 3600.0;
        self.slowdowns
            .iter()
            .filter(|s| (s.at_hours..s.at_hours + s.hours).contains(&h))
            .map(|s| s.mib_per_sec * SHARD_BYTES_PER_SEC)
            .fold(f64::INFINITY, f64::min)
    }
}

/// The per-minute level of demand, relative to `base_mib_per_sec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    Steady,
    /// `1 + amplitude·cos(2π(h − peak_hour)/24)`.
    Diurnal {
        amplitude: f64,
        peak_hour: f64,
    },
    /// `factor`× from `at_hours` for `hold_minutes`: an instant step up and down.
    Flash {
        at_hours: f64,
        factor: f64,
        hold_minutes: f64,
    },
    /// `factor`× from `at_hours` on (a drop when under 1).
    Step {
        at_hours: f64,
        factor: f64,
    },
    /// Linear from 1× to `to_factor`× over the whole trace.
    Ramp {
        to_factor: f64,
    },
    /// Steady; from `at_hours` one partition key (at `key_position` of the key space) carries
    /// `fraction` of all writes.
    HotKey {
        at_hours: f64,
        fraction: f64,
        key_position: f64,
    },
    /// A square wave between `1 − swing` and `1 + swing` with the given period.
    Flapping {
        swing: f64,
        period_minutes: f64,
    },
    /// Diurnal, with a surge of `factor`× from day `surge_day` for `surge_days`, ramping over
    /// `ramp_hours` at both ends.
    Holiday {
        amplitude: f64,
        peak_hour: f64,
        surge_day: f64,
        surge_days: f64,
        factor: f64,
        ramp_hours: f64,
    },
    /// `factor`× every day from `at_hour` (UTC) for `minutes`: a nightly batch.
    Daily {
        at_hour: f64,
        minutes: f64,
        factor: f64,
    },
    /// Monday to Friday only: from `at_hour`, a linear ramp to `factor`× over `ramp_minutes`,
    /// held for `hold_hours`, then back down over `ramp_minutes`.
    WeekdayRamp {
        at_hour: f64,
        ramp_minutes: f64,
        hold_hours: f64,
        factor: f64,
    },
    /// `factor`× once a week, on `weekday` (0 = Monday) from `at_hour` for `minutes`.
    Weekly {
        weekday: u32,
        at_hour: f64,
        minutes: f64,
        factor: f64,
    },
    /// `factor`× for `minutes` once a day at a time of day drawn from `seed` for each day: bursts
    /// with no rhythm, where a forecast must stay silent.
    Bursts {
        seed: u64,
        minutes: f64,
        factor: f64,
    },
}

/// When demand changes suddenly: time-to-capacity is measured from `at`, over `[at, until)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub at: i64,
    pub until: i64,
}

/// Where a trace's demand comes from. Only the per-second jitter and the metadata differ: both
/// sources fill the same per-minute series, so every accessor below serves either.
#[derive(Debug, Clone)]
pub enum Source {
    /// A committed spec: per-second seeded jitter on top of the per-minute shape.
    Generated(TraceSpec),
    /// A user's file of per-minute rates. Demand is flat within each minute: the file is the
    /// truth, and jitter would invent seconds it does not record. `initial_shards`: the count the
    /// stream had when the recording started, where it is known (`streams whatif` reads it).
    Recorded { file: String, initial_shards: Option<u32> },
}

/// A trace, generated or recorded.
#[derive(Debug, Clone)]
pub struct Trace {
    pub source: Source,
    name: String,
    description: String,
    pub secs: i64,
    /// Demand per minute in bytes per second (before any per-second jitter).
    minute_bytes: Vec<f64>,
    /// Demand per minute before minute 0, oldest first: the stream's history before this tool
    /// adopted it, as CloudWatch kept it (empty: none beyond the flat `HISTORY_MINUTES`).
    history_bytes: Vec<f64>,
    /// Share of demand on the hot key per minute (0 when there is none).
    minute_hot: Vec<f64>,
    /// Every record is this big (bytes): the spec's size, or a recording's mean.
    record_bytes: f64,
    pub hot_key: HashKey,
    pub event: Option<Event>,
    consumers: Vec<Consumer>,
}

/// The trace files, compiled in so the binary needs no working directory.
pub const TRACE_FILES: &[(&str, &str)] = &[
    ("steady.json", include_str!("../traces/steady.json")),
    ("diurnal.json", include_str!("../traces/diurnal.json")),
    ("flash-spike.json", include_str!("../traces/flash-spike.json")),
    ("step.json", include_str!("../traces/step.json")),
    ("slow-ramp.json", include_str!("../traces/slow-ramp.json")),
    ("hot-key.json", include_str!("../traces/hot-key.json")),
    ("flapping.json", include_str!("../traces/flapping.json")),
    ("holiday.json", include_str!("../traces/holiday.json")),
    ("read-heavy.json", include_str!("../traces/read-heavy.json")),
    ("readers-behind.json", include_str!("../traces/readers-behind.json")),
    ("daily-batch.json", include_str!("../traces/daily-batch.json")),
    ("weekday-ramp.json", include_str!("../traces/weekday-ramp.json")),
    ("weekly-surge.json", include_str!("../traces/weekly-surge.json")),
    ("aperiodic-bursts.json", include_str!("../traces/aperiodic-bursts.json")),
];

/// Every committed trace, generated.
pub fn all() -> Result<Vec<Trace>, SimError> {
    TRACE_FILES.iter().map(|(file, text)| Trace::parse(file, text)).collect()
}

/// splitmix64: a counter-based generator, so the value for second `n` needs no state.
pub fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform value in `[0, 1)` for `(seed, n)`.
pub fn unit(seed: u64, n: u64) -> f64 {
    (mix(seed, n) >> 11) as f64 / (1u64 << 53) as f64
}

impl Trace {
    pub fn parse(file: &str, text: &str) -> Result<Trace, SimError> {
        let spec: TraceSpec = serde_json::from_str(text)
            .map_err(|source| SimError::TraceSyntax { file: file.to_owned(), source })?;
        Trace::generate(spec)
    }

    pub fn generate(spec: TraceSpec) -> Result<Trace, SimError> {
        let name = spec.name.clone();
        let bad = |why: String| SimError::TraceInvalid { trace: name.clone(), why };
        if !(spec.days > 0.0 && spec.days <= 31.0) {
            return Err(bad(format!("days must be in (0, 31], not {}", spec.days)));
        }
        if !(spec.noise >= 0.0 && spec.noise < 1.0) || spec.base_mib_per_sec <= 0.0 || spec.record_bytes < 1.0
        {
            return Err(bad("noise must be in [0, 1), base and record size positive".into()));
        }
        if let Some(why) = consumers_problem(&spec.consumers, spec.record_bytes) {
            return Err(bad(why));
        }
        if !(0.0..=28.0).contains(&spec.history_days) {
            return Err(bad(format!("history_days must be in [0, 28], not {}", spec.history_days)));
        }
        let minutes = (spec.days * 1440.0).round() as usize;
        let before = (spec.history_days * 1440.0).round() as usize;
        let (mut level, mut hot) = (Vec::with_capacity(before + minutes), Vec::with_capacity(minutes));
        let mut wander = 1.0;
        // The history's minutes first (negative hours), then the trace's: one wander throughout.
        for i in 0..before + minutes {
            let m = i as i64 - before as i64;
            let h = m as f64 / 60.0;
            let (l, k) = spec.shape.at(h, spec.days * 24.0);
            // Slow wander: a bounded random walk, ±5 %, seeded.
            wander = (wander + (unit(spec.seed ^ 0xA5A5, i as u64) - 0.5) * 0.01).clamp(0.95, 1.05);
            level.push(l * wander * spec.base_mib_per_sec * SHARD_BYTES_PER_SEC);
            if m >= 0 {
                hot.push(k);
            }
        }
        let level_now = level.split_off(before);
        let event = spec.shape.event(minutes as i64 * 60);
        let key_position = match spec.shape {
            Shape::HotKey { key_position, .. } => key_position,
            _ => 0.5,
        };
        let trace = Trace {
            name: spec.name.clone(),
            description: spec.description.clone(),
            secs: minutes as i64 * 60,
            minute_bytes: level_now,
            history_bytes: level,
            minute_hot: hot,
            record_bytes: spec.record_bytes,
            hot_key: HashKey((key_position.clamp(0.0, 1.0) * u128::MAX as f64) as u128),
            event,
            consumers: spec.consumers.clone(),
            source: Source::Generated(spec),
        };
        // A single key can never be spread over shards: if it alone exceeds a shard, every
        // policy (and the oracle) throttles, and the comparison says nothing.
        let worst_hot = (0..trace.minutes()).map(|m| trace.hot_key_shards(m)).fold(0.0, f64::max);
        if worst_hot > 1.0 {
            return Err(bad(format!("the hot key alone needs {worst_hot:.2} shards")));
        }
        Ok(trace)
    }

    /// A recorded trace: one entry per minute of each series, `record_bytes` the mean record
    /// size, the hot key in the middle of the key space (where it falls does not change how
    /// much it needs), no event. The caller has validated the series (`crate::recorded`).
    pub(crate) fn recorded(
        file: &str,
        name: String,
        minute_bytes: Vec<f64>,
        minute_hot: Vec<f64>,
        record_bytes: f64,
    ) -> Trace {
        Trace {
            description: format!("recorded traffic from `{file}`, {} minutes", minute_bytes.len()),
            source: Source::Recorded { file: file.to_owned(), initial_shards: None },
            name,
            secs: minute_bytes.len() as i64 * 60,
            minute_bytes,
            history_bytes: Vec::new(),
            minute_hot,
            record_bytes,
            hot_key: HashKey(u128::MAX / 2),
            event: None,
            consumers: vec![Consumer::one_shared()],
        }
    }

    /// The same trace with its event from minute `m` to the end: a recording has no shape to
    /// say when its demand changed, so the user says it (`--event-minute`).
    pub fn with_event_at_minute(mut self, m: u32) -> Result<Trace, SimError> {
        let last = self.minutes() - 1;
        if i64::from(m) > last {
            return Err(SimError::TraceInvalid {
                trace: self.name,
                why: format!("the event minute {m} is past the last minute, {last}"),
            });
        }
        self.event = Some(Event { at: i64::from(m) * 60, until: self.secs });
        Ok(self)
    }

    /// The same trace with its first `days` as history only ([`Trace::history_bytes`]): what a
    /// recording's earlier part gives a predictive policy to learn from (`--history-days`).
    pub fn with_history_days(mut self, days: u32) -> Result<Trace, SimError> {
        let m = i64::from(days) * 1440;
        let minutes = self.minutes();
        if m >= minutes {
            return Err(SimError::TraceInvalid {
                trace: self.name,
                why: format!("{days} day(s) of history leave none of its {minutes} minutes to simulate"),
            });
        }
        let m = m as usize;
        let rest = self.minute_bytes.split_off(m);
        self.history_bytes.append(&mut self.minute_bytes);
        self.minute_bytes = rest;
        self.minute_hot.drain(..m);
        self.secs -= m as i64 * 60;
        self.event = self.event.and_then(|e| {
            let shift = m as i64 * 60;
            (e.at >= shift).then(|| Event { at: e.at - shift, until: e.until - shift })
        });
        Ok(self)
    }

    /// Demand per minute in bytes per second before minute 0, oldest first.
    pub fn history_bytes(&self) -> &[f64] {
        &self.history_bytes
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Part of the CI set (`--short`): only committed traces can be.
    pub fn is_short(&self) -> bool {
        matches!(&self.source, Source::Generated(spec) if spec.short)
    }

    pub fn record_bytes(&self) -> f64 {
        self.record_bytes
    }

    pub fn consumers(&self) -> &[Consumer] {
        &self.consumers
    }

    pub fn minutes(&self) -> i64 {
        self.secs / 60
    }

    /// Demand in bytes per second during second `t`.
    pub fn bytes_at(&self, t: i64) -> f64 {
        let jitter = match &self.source {
            Source::Generated(spec) => 1.0 + spec.noise * (2.0 * unit(spec.seed, t as u64) - 1.0),
            Source::Recorded { .. } => 1.0,
        };
        self.minute_bytes[(t / 60) as usize] * jitter
    }

    /// Demand in bytes per second of minute `m` before jitter (minute 0 for the history).
    pub fn minute_bytes(&self, m: i64) -> f64 {
        self.minute_bytes[m.clamp(0, self.minutes() - 1) as usize]
    }

    pub fn hot_share(&self, m: i64) -> f64 {
        self.minute_hot[m.clamp(0, self.minutes() - 1) as usize]
    }

    /// Open shards every provisioned policy starts with: the spec's count, else the fewest that
    /// carry the first minute at the planner's 60 % target, within the simulated bounds.
    pub fn initial_shards(&self) -> u32 {
        let given = match &self.source {
            Source::Generated(spec) => spec.initial_shards,
            Source::Recorded { initial_shards, .. } => *initial_shards,
        };
        given.unwrap_or_else(|| {
            (self.units(self.minute_bytes(0)) / 0.6).ceil().clamp(1.0, f64::from(MAX_SHARDS)) as u32
        })
    }

    /// A recorded trace starting from the `shards` the stream really had (within the simulated
    /// bounds), so every provisioned policy starts where the stream was.
    pub fn with_initial_shards(mut self, shards: u32) -> Trace {
        if let Source::Recorded { initial_shards, .. } = &mut self.source {
            *initial_shards = Some(shards.clamp(MIN_SHARDS, MAX_SHARDS));
        }
        self
    }

    pub fn records_per_byte(&self) -> f64 {
        1.0 / self.record_bytes
    }

    /// Demand in "shard units": the larger of bytes and records over one shard's limits.
    pub fn units(&self, bytes_per_sec: f64) -> f64 {
        (bytes_per_sec / SHARD_BYTES_PER_SEC)
            .max(bytes_per_sec * self.records_per_byte() / SHARD_RECORDS_PER_SEC)
    }

    /// Shards the hot key alone needs in minute `m`: above 1, no tiling can carry it.
    pub fn hot_key_shards(&self, m: i64) -> f64 {
        self.hot_share(m) * self.peak_units_in_minute(m)
    }

    /// The highest per-second demand within minute `m`, in shard units.
    pub fn peak_units_in_minute(&self, m: i64) -> f64 {
        (m * 60..m * 60 + 60).map(|t| self.units(self.bytes_at(t))).fold(0.0, f64::max)
    }
}

/// Why a trace's consumers are outside what the read model plays, if they are.
fn consumers_problem(consumers: &[Consumer], record_bytes: f64) -> Option<String> {
    let shared = consumers.iter().filter(|c| !c.enhanced_fan_out).count() as f64;
    let calls = shared * GET_RECORDS_POLLS_PER_SEC;
    if calls > SHARD_GET_RECORDS_PER_SEC {
        return Some(format!(
            "{shared} shared consumers make {calls} GetRecords calls a second on each shard, over its \
             {SHARD_GET_RECORDS_PER_SEC}: use enhanced fan-out"
        ));
    }
    if shared > 0.0
        && record_bytes * GET_RECORDS_BATCH_RECORDS * GET_RECORDS_POLLS_PER_SEC < SHARD_READ_BYTES_PER_SEC
    {
        return Some(format!(
            "records of {record_bytes} bytes make a GetRecords batch of {GET_RECORDS_BATCH_RECORDS} records smaller \
             than a shard's 2 MiB/s: calls, not bytes, would bind"
        ));
    }
    consumers.iter().flat_map(|c| c.slowdowns.iter().map(move |s| (c, s))).find_map(|(c, s)| {
        let valid = s.at_hours >= 0.0 && s.hours > 0.0 && s.mib_per_sec >= 0.0 && s.mib_per_sec.is_finite();
        (!valid).then(|| {
            format!("consumer {}: a slowdown needs at_hours >= 0, hours > 0 and a rate >= 0", c.name)
        })
    })
}

/// The day of the week of the trace's day `day` (0 = Monday): minute 0 is
/// [`crate::assumptions::at`]`(0)`, a Monday.
fn weekday(day: f64) -> u32 {
    use chrono::Datelike;
    let first = crate::assumptions::at(0).weekday().num_days_from_monday();
    (i64::from(first) + day as i64).rem_euclid(7) as u32
}

impl Shape {
    /// (level, hot share) at hour `h` of a trace `total_hours` long.
    fn at(&self, h: f64, total_hours: f64) -> (f64, f64) {
        let diurnal =
            |amplitude: f64, peak: f64| 1.0 + amplitude * (std::f64::consts::TAU * (h - peak) / 24.0).cos();
        match *self {
            Shape::Steady => (1.0, 0.0),
            Shape::Diurnal { amplitude, peak_hour } => (diurnal(amplitude, peak_hour), 0.0),
            Shape::Flash { at_hours, factor, hold_minutes } => {
                let into = (h - at_hours) * 60.0;
                let level = if into < 0.0 || into >= hold_minutes { 1.0 } else { factor };
                (level, 0.0)
            }
            Shape::Step { at_hours, factor } => (if h >= at_hours { factor } else { 1.0 }, 0.0),
            Shape::Ramp { to_factor } => (1.0 + (to_factor - 1.0) * h / total_hours, 0.0),
            Shape::HotKey { at_hours, fraction, .. } => (1.0, if h >= at_hours { fraction } else { 0.0 }),
            Shape::Flapping { swing, period_minutes } => {
                let phase = (h * 60.0 / period_minutes).fract();
                (if phase < 0.5 { 1.0 + swing } else { 1.0 - swing }, 0.0)
            }
            Shape::Holiday { amplitude, peak_hour, surge_day, surge_days, factor, ramp_hours } => {
                let (start, end) = (surge_day * 24.0, (surge_day + surge_days) * 24.0);
                let up = ((h - start) / ramp_hours).clamp(0.0, 1.0);
                let down = ((end - h) / ramp_hours).clamp(0.0, 1.0);
                (diurnal(amplitude, peak_hour) * (1.0 + (factor - 1.0) * up.min(down)), 0.0)
            }
            Shape::Daily { at_hour, minutes, factor } => {
                let into = ((h - at_hour).rem_euclid(24.0)) * 60.0;
                (if into < minutes { factor } else { 1.0 }, 0.0)
            }
            Shape::WeekdayRamp { at_hour, ramp_minutes, hold_hours, factor } => {
                let day = (h / 24.0).floor();
                let into = (h - day * 24.0 - at_hour) * 60.0;
                let hold = hold_hours * 60.0;
                let up = (into / ramp_minutes).clamp(0.0, 1.0);
                let down = ((ramp_minutes + hold + ramp_minutes - into) / ramp_minutes).clamp(0.0, 1.0);
                let weekday = weekday(day) < 5;
                (if weekday { 1.0 + (factor - 1.0) * up.min(down) } else { 1.0 }, 0.0)
            }
            Shape::Weekly { weekday: on, at_hour, minutes, factor } => {
                let day = (h / 24.0).floor();
                let into = (h - day * 24.0 - at_hour) * 60.0;
                let surge = weekday(day) == on && (0.0..minutes).contains(&into);
                (if surge { factor } else { 1.0 }, 0.0)
            }
            Shape::Bursts { seed, minutes, factor } => {
                // The day's burst, or yesterday's running past midnight.
                let day = (h / 24.0).floor();
                let burst = [day, day - 1.0].iter().any(|d| {
                    let start = d * 24.0 + unit(seed, *d as i64 as u64) * 24.0;
                    (0.0..minutes).contains(&((h - start) * 60.0))
                });
                (if burst { factor } else { 1.0 }, 0.0)
            }
        }
    }

    fn event(&self, secs: i64) -> Option<Event> {
        let s = |hours: f64| (hours * 3600.0).round() as i64;
        match *self {
            Shape::Flash { at_hours, hold_minutes, .. } => {
                Some(Event { at: s(at_hours), until: s(at_hours) + (hold_minutes * 60.0) as i64 })
            }
            // A drop asks nothing of a policy's reaction: not an event.
            Shape::Step { factor, .. } if factor <= 1.0 => None,
            Shape::Step { at_hours, .. } | Shape::HotKey { at_hours, .. } => {
                Some(Event { at: s(at_hours), until: secs })
            }
            Shape::Holiday { surge_day, surge_days, .. } => {
                Some(Event { at: s(surge_day * 24.0), until: s((surge_day + surge_days) * 24.0) })
            }
            _ => None,
        }
    }
}
