//! The simulation loop: one trace, one policy, one-second steps.
//!
//! Each second: finish any reshard that is due, let the controller act, spread that second's
//! demand over the open shards by their key ranges and the hot key, throttle what exceeds each
//! shard's limit, and add the accepted and throttled amounts to the current minute; at the end of
//! each minute the sums become a CloudWatch datapoint (published after the metric delay). One
//! second is the granularity at which Kinesis enforces its limits, and the traces' per-second
//! jitter makes near-capacity seconds throttle as they would. A week of traffic is 604,800 steps;
//! the release build runs all 14 traces × 10 policies in 7 to 9 s on a busy 2-core machine (most
//! of it the predictive row, which rebuilds weeks of 5-minute history every simulated hour). Alarms and
//! pollers act on minute (or five-minute) sums, as CloudWatch gives them. Where the policy turns
//! shard-level metrics on, each open shard's accepted and rejected amounts are summed too and
//! published as its own series (only then: it costs a pass over the shards every second).
//! After the writes, the trace's consumers read what was accepted (`crate::readers`), and their
//! bytes, throttled calls and iterator age join the minute's datapoint.

use std::collections::BTreeMap;

use planner::{HashRange, Metric, ShardId};
use simulated_aws::{MetricId, MetricKey, Model, OpCounts, VirtualClock, World, accepted_units};

use crate::SimError;
use crate::assumptions::{
    HISTORY_MINUTES, MAX_SHARDS, MIN_SHARDS, ON_DEMAND_ADVANTAGE, ON_DEMAND_STANDARD, PRODUCER_RETRIES, at,
};
use crate::cost;
use crate::policies::{Billing, PolicyKind, STREAM};
use crate::readers::Readers;
use crate::trace::Trace;

/// A minute as the plots show it, in shard units (MiB/s when bytes bind).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minute {
    pub demand: f32,
    pub capacity: f32,
    pub throttled: f32,
    /// The oldest unread record's age at the minute's worst second, over every consumer (s).
    pub iterator_age: f32,
}

/// Throttling shorter than this after a clean stretch does not end "time to capacity".
pub const CLEAN_SECS: i64 = 300;

/// One policy on one trace.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub policy: PolicyKind,
    pub trace: String,
    pub demand_records: f64,
    /// Records written, at their first attempt or a retry.
    pub accepted_records: f64,
    /// Records rejected at least once: delayed (accepted on a retry) or lost. What the report
    /// calls *throttled*.
    pub throttled_records: f64,
    /// Records rejected at every attempt: lost to the producer's retries.
    pub lost_records: f64,
    /// Records still waiting for a retry when the trace ends.
    pub retrying_at_end: f64,
    /// Rejected attempts, retries included: what `WriteProvisionedThroughputExceeded` sums.
    pub rejected_attempts: f64,
    /// Open shards × hours (for on-demand: its even shards, which are not what it bills).
    pub shard_hours: f64,
    pub cost: f64,
    pub ops: OpCounts,
    pub peak_listed: u32,
    pub max_open: u32,
    /// The key range of the first shard split (`None`: no split).
    pub first_split: Option<HashRange>,
    /// Seconds from the trace's event until the stream stopped throttling for [`CLEAN_SECS`];
    /// `None` if it never did before the event ended (or the trace has no event).
    pub time_to_capacity: Option<i64>,
    /// The oldest unread record's greatest age over the trace, over every consumer (s).
    pub max_iterator_age: i64,
    /// Shared consumers' `GetRecords` calls, and those refused for a shard's read limit.
    pub read_calls: f64,
    pub read_throttled_calls: f64,
    /// Records that expired before a consumer read them, summed over consumers.
    pub expired_records: f64,
    pub minutes: Vec<Minute>,
}

impl Outcome {
    pub fn throttled_pct(&self) -> f64 {
        100.0 * self.throttled_records / self.demand_records.max(1.0)
    }

    /// The oldest unread record's age, over every consumer, averaged over the minutes (s).
    pub fn mean_iterator_age(&self) -> f64 {
        self.minutes.iter().map(|m| f64::from(m.iterator_age)).sum::<f64>() / self.minutes.len().max(1) as f64
    }

    /// The share of shared consumers' `GetRecords` calls refused for a shard's read limit.
    pub fn read_throttled_pct(&self) -> f64 {
        100.0 * self.read_throttled_calls / self.read_calls.max(1.0)
    }
}

/// Runs `policy` over `trace`, this project's variants with the report's policy
/// ([`crate::policies::ours::policy`]).
pub fn run(trace: &Trace, policy: PolicyKind) -> Result<Outcome, SimError> {
    run_with(trace, policy, &crate::policies::ours::policy())
}

/// One minute's datapoints as Kinesis publishes them: the `Sum`s of the write metrics, of
/// `GetRecords.Bytes` and of `ReadProvisionedThroughputExceeded`, and the `Maximum` of
/// `GetRecords.IteratorAgeMilliseconds`. Per-shard series leave the read metrics at zero.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Point {
    bytes: f64,
    records: f64,
    throttled: f64,
    read_bytes: f64,
    read_throttled: f64,
    iterator_age_ms: f64,
}

impl Point {
    fn add(&mut self, other: Point) {
        self.bytes += other.bytes;
        self.records += other.records;
        self.throttled += other.throttled;
        self.read_bytes += other.read_bytes;
        self.read_throttled += other.read_throttled;
        self.iterator_age_ms = self.iterator_age_ms.max(other.iterator_age_ms);
    }

    /// Publishes the point as minute `m`'s datapoints of `metrics` (the stream's six, or a shard's
    /// three writes).
    fn publish(&self, world: &World, m: i64, metrics: &[MetricId]) {
        let minute = (at(0).timestamp() / 60) + m;
        let values = [
            self.bytes,
            self.records,
            self.throttled,
            self.read_bytes,
            self.read_throttled,
            self.iterator_age_ms,
        ];
        world.publish(metrics.iter().zip(values).map(|(id, value)| (*id, minute, value)));
    }
}

/// What Kinesis publishes of the stream (`shard` none: all six metrics) or of a shard (the three
/// writes), in [`Point`]'s order, resolved once.
fn metrics_of(world: &World, shard: Option<&ShardId>) -> Vec<MetricId> {
    let shard = shard.map(ShardId::as_str);
    let writes = [Metric::IncomingBytes, Metric::IncomingRecords, Metric::WriteProvisionedThroughputExceeded];
    let reads =
        [Metric::GetRecordsBytes, Metric::ReadProvisionedThroughputExceeded, Metric::GetRecordsIteratorAge];
    let metrics = writes.into_iter().chain(reads.into_iter().filter(|_| shard.is_none()));
    metrics.map(|metric| world.metric(MetricKey::kinesis(metric, STREAM, shard))).collect()
}

/// What the traffic engine keeps of the stream between its changes: each open shard's share of
/// the demand (by key range and the hot key), their write limit, and whether Kinesis publishes
/// their shard-level metrics.
#[derive(Debug, Default)]
struct View {
    ids: Vec<ShardId>,
    shares: Vec<f64>,
    limit: f64,
    open: u32,
    per_shard: bool,
    version: Option<u64>,
}

impl View {
    fn read(world: &World, trace: &Trace, m: i64) -> View {
        let version = Some(world.version());
        world
            .stream(STREAM, |s| View {
                ids: s.tiling().ids(),
                shares: s.shares(trace.hot_key, trace.hot_share(m)),
                limit: s.shard_limit,
                open: s.open(),
                per_shard: s.shard_level_metrics(),
                version,
            })
            .expect("the simulated stream exists")
    }
}

/// Runs `policy` over `trace`, this project's variants with `ours` (a stream's own policy, as
/// `streams whatif` replays it). Only the policy under test (ours) and the bound's path have
/// invariants enforced: Kinesis refusing one of their calls for anything but a reshard in flight,
/// or their shard count leaving `[MIN_SHARDS, MAX_SHARDS]`, stops the run.
pub fn run_with(trace: &Trace, policy: PolicyKind, ours: &planner::Policy) -> Result<Outcome, SimError> {
    let strict = matches!(
        policy,
        PolicyKind::Ours
            | PolicyKind::OursPredictive
            | PolicyKind::OursShardMetrics
            | PolicyKind::OursWithoutScaleDown
            | PolicyKind::BoundPath
    );
    let invariant =
        |t: i64, what: String| SimError::Invariant { policy: policy.name().to_owned(), at: t, what };
    let clock = VirtualClock::new(at(0));
    let world = World::new(clock.clone(), Model::aws());
    world.add_stream(STREAM, trace.initial_shards(), at(-30 * 24 * 3600));
    let mut driver = policy.driver(trace, &world, clock, ours);
    let rpb = trace.records_per_byte();
    // Before the trace every consumer kept up: each shared one read every byte written.
    let shared = trace.consumers().iter().filter(|c| !c.enhanced_fan_out).count() as f64;
    let point = |bytes_per_sec: f64| {
        let bytes = bytes_per_sec * 60.0;
        Point { bytes, records: bytes * rpb, read_bytes: bytes * shared, ..Point::default() }
    };
    let before = point(trace.minute_bytes(0));
    let mut readers = Readers::new(trace.consumers(), trace.secs);
    // The trace's own history (its minutes before adoption, every write accepted: the
    // assumption of `HISTORY_BEFORE_ADOPTION`), after the first minute's level up to
    // `HISTORY_MINUTES` in all; shard-level metrics, where the policy turned them on, split it
    // by the initial shards' shares.
    let recorded = trace.history_bytes();
    let flat = usize::try_from(HISTORY_MINUTES).unwrap_or(0).saturating_sub(recorded.len());
    let first = recorded.first().map_or(before, |b| point(*b));
    let history: Vec<Point> =
        std::iter::repeat_n(first, flat).chain(recorded.iter().map(|b| point(*b))).collect();
    let stream_metrics = metrics_of(&world, None);
    let mut shard_metrics: BTreeMap<ShardId, Vec<MetricId>> = BTreeMap::new();
    let initial = View::read(&world, trace, 0);
    for (i, p) in history.iter().enumerate() {
        let m = i as i64 - history.len() as i64;
        p.publish(&world, m, &stream_metrics);
        if initial.per_shard {
            for (id, share) in initial.ids.iter().zip(&initial.shares) {
                let part = Point { bytes: p.bytes * share, records: p.records * share, ..Point::default() };
                let metrics = shard_metrics.entry(id.clone()).or_insert_with(|| metrics_of(&world, Some(id)));
                part.publish(&world, m, metrics);
            }
        }
    }
    let mut out = Outcome {
        policy,
        trace: trace.name().to_owned(),
        demand_records: 0.0,
        accepted_records: 0.0,
        throttled_records: 0.0,
        lost_records: 0.0,
        retrying_at_end: 0.0,
        rejected_attempts: 0.0,
        shard_hours: 0.0,
        cost: 0.0,
        ops: Default::default(),
        peak_listed: 0,
        max_open: 0,
        first_split: None,
        time_to_capacity: None,
        max_iterator_age: 0,
        read_calls: 0.0,
        read_throttled_calls: 0.0,
        expired_records: 0.0,
        minutes: Vec::with_capacity(trace.minutes() as usize),
    };
    let mut view = View::default();
    // This minute's per-shard sums: `shard_points` for the shards open now, folded into
    // `shard_minute` when the shards change and at the minute's end.
    let mut shard_points: Vec<Point> = Vec::new();
    let mut shard_minute: BTreeMap<ShardId, Point> = BTreeMap::new();
    let mut minute = Point::default();
    let (mut demand_units, mut capacity_units, mut throttled_units) = (0.0, 0.0, 0.0);
    let mut minute_age = 0;
    let mut shard_secs = 0u64;
    let mut clean_since: Option<i64> = None;
    // retrying[k]: records rejected at attempt k + 1, retried in the next second.
    let mut retrying = [0.0; PRODUCER_RETRIES];
    for t in 0..trace.secs {
        driver.run_until(t)?;
        if t % 60 == 0 || view.version != Some(world.version()) {
            if view.per_shard {
                fold(&mut shard_minute, &view.ids, &mut shard_points);
            }
            view = View::read(&world, trace, t / 60);
            shard_points = if view.per_shard { vec![Point::default(); view.ids.len()] } else { Vec::new() };
            if strict {
                if let Some(refused) = world.refusals().first() {
                    return Err(invariant(t, format!("Kinesis refused {refused}")));
                }
                if !(MIN_SHARDS..=MAX_SHARDS).contains(&view.open) {
                    let what = format!("{} open shards, outside [{MIN_SHARDS}, {MAX_SHARDS}]", view.open);
                    return Err(invariant(t, what));
                }
            }
        }
        let (shares, limit) = (&view.shares, view.limit);
        // Retries go to the same keys as first attempts, so they scale the second's demand.
        let fresh_bytes = trace.bytes_at(t);
        let fresh = fresh_bytes * rpb;
        let retries: f64 = retrying.iter().sum();
        let bytes = fresh_bytes + retries / rpb;
        let units = trace.units(bytes);
        let accepted = accepted_units(units, shares, limit);
        // Shares sum to 1 only to float precision: a shortfall below 1e-9 is rounding, not throttling.
        let fraction = (accepted / units).min(1.0);
        let throttled = fraction < 1.0 - 1e-9;
        let fraction = if throttled { fraction } else { 1.0 };
        let records = bytes * rpb;
        for (point, share) in shard_points.iter_mut().zip(shares) {
            let offered = units * share;
            let accepted = if offered > limit { limit / offered } else { 1.0 };
            point.bytes += bytes * share * accepted;
            point.records += records * share * accepted;
            point.throttled += records * share * (1.0 - accepted);
        }
        minute.bytes += bytes * fraction;
        minute.records += records * fraction;
        // The metric counts every rejected attempt, retries included.
        minute.throttled += records * (1.0 - fraction);
        let read = readers.second(t, bytes * fraction, shares, limit);
        minute.read_bytes += read.shared_bytes;
        minute.read_throttled += read.throttled_calls;
        minute.iterator_age_ms = minute.iterator_age_ms.max(read.shared_age as f64 * 1000.0);
        minute_age = minute_age.max(read.age);
        out.max_iterator_age = out.max_iterator_age.max(read.age);
        out.read_calls += read.calls;
        out.read_throttled_calls += read.throttled_calls;
        out.expired_records += read.expired_bytes * rpb;
        out.rejected_attempts += records * (1.0 - fraction);
        out.demand_records += fresh;
        out.accepted_records += records * fraction;
        out.throttled_records += fresh * (1.0 - fraction);
        out.lost_records += retrying[PRODUCER_RETRIES - 1] * (1.0 - fraction);
        for k in (1..PRODUCER_RETRIES).rev() {
            retrying[k] = retrying[k - 1] * (1.0 - fraction);
        }
        retrying[0] = fresh * (1.0 - fraction);
        shard_secs += u64::from(view.open);
        out.max_open = out.max_open.max(view.open);
        demand_units += trace.units(fresh_bytes);
        capacity_units += f64::from(view.open) * limit;
        throttled_units += units - accepted;
        if let Some(event) = trace.event
            && (event.at..event.until).contains(&t)
            && out.time_to_capacity.is_none()
        {
            clean_since = if throttled { None } else { clean_since.or(Some(t)) };
            if let Some(since) = clean_since
                && t - since + 1 >= CLEAN_SECS
            {
                out.time_to_capacity = Some(since - event.at);
            }
        }
        if t % 60 == 59 {
            std::mem::take(&mut minute).publish(&world, t / 60, &stream_metrics);
            if view.per_shard {
                fold(&mut shard_minute, &view.ids, &mut shard_points);
                for (id, p) in std::mem::take(&mut shard_minute) {
                    let metrics =
                        shard_metrics.entry(id).or_insert_with_key(|id| metrics_of(&world, Some(id)));
                    p.publish(&world, t / 60, metrics);
                }
            }
            out.minutes.push(Minute {
                demand: (demand_units / 60.0) as f32,
                capacity: (capacity_units / 60.0) as f32,
                throttled: (throttled_units / 60.0) as f32,
                iterator_age: std::mem::take(&mut minute_age) as f32,
            });
            (demand_units, capacity_units, throttled_units) = (0.0, 0.0, 0.0);
        }
    }
    if strict && let Some(refused) = world.refusals().first() {
        return Err(invariant(trace.secs, format!("Kinesis refused {refused}")));
    }
    out.retrying_at_end = retrying.iter().sum();
    out.shard_hours = shard_secs as f64 / 3600.0;
    (out.ops, out.peak_listed, out.first_split) =
        world.stream(STREAM, |s| (s.ops, s.peak_listed, s.first_split)).expect("the simulated stream exists");
    let hours = trace.secs as f64 / 3600.0;
    let reads = trace.consumers().len() as f64;
    let per_shard = policy.shard_level_metrics();
    out.cost = match policy.billing() {
        Billing::Provisioned => {
            let metrics = if per_shard { cost::shard_level_metrics(out.shard_hours) } else { 0.0 };
            cost::provisioned(out.shard_hours, out.accepted_records, trace.record_bytes()) + metrics
        }
        Billing::OnDemand => {
            cost::on_demand(ON_DEMAND_STANDARD, hours, out.accepted_records, reads, trace.record_bytes())
        }
        Billing::OnDemandAdvantage => {
            cost::on_demand(ON_DEMAND_ADVANTAGE, hours, out.accepted_records, reads, trace.record_bytes())
        }
    };
    Ok(out)
}

/// Adds the per-shard sums of `points` (for the shards `ids`) to the minute's, and zeroes them.
fn fold(minute: &mut BTreeMap<ShardId, Point>, ids: &[ShardId], points: &mut [Point]) {
    for (id, point) in ids.iter().zip(points.iter_mut()) {
        minute.entry(id.clone()).or_default().add(std::mem::take(point));
    }
}
