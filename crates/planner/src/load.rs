//! What is known about where a stream's writes land.
//!
//! Scale-up decisions rarely have per-shard numbers: by default Kinesis publishes only stream-level
//! metrics, so a shard's load is *estimated* as the stream's load times the share of the key space it
//! owns (the uniform-key assumption). Shard-level metrics, where enabled, replace the estimate, and
//! a shard-level alarm marks a shard hot even when no number is known.
//!
//! The load metrics count only *accepted* writes, so while a stream throttles they read at most its
//! capacity, and for a minute or two after a reshard they still show the old one. A throttling
//! alarm is the evidence that demand passed a limit: its rejected-records count says by how much
//! ([`estimate_rate`]), and `ThrottleFloor` says where.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use chrono::{DateTime, Duration, Utc};

use crate::{
    AlarmKind, HashRange, Metric, Policy, Rate, SHARD_GET_RECORDS_PER_SEC, SHARD_READ_BYTES_PER_SEC,
    ScalingState, ShardId, SharedReads, Tiling,
};

/// A time series of write rates, keyed by the start of each period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadSeries {
    pub period_secs: u32,
    pub points: BTreeMap<DateTime<Utc>, Rate>,
}

impl LoadSeries {
    /// Aligns the `Sum` datapoints of `IncomingBytes` and `IncomingRecords` by timestamp and
    /// converts them to rates. A timestamp present in one metric only counts zero for the other.
    pub fn from_sums(
        period_secs: u32,
        bytes: impl IntoIterator<Item = (DateTime<Utc>, f64)>,
        records: impl IntoIterator<Item = (DateTime<Utc>, f64)>,
    ) -> LoadSeries {
        let mut sums: BTreeMap<DateTime<Utc>, (f64, f64)> = BTreeMap::new();
        for (t, v) in bytes {
            sums.entry(t).or_default().0 += v;
        }
        for (t, v) in records {
            sums.entry(t).or_default().1 += v;
        }
        let points = sums.into_iter().map(|(t, (b, r))| (t, Rate::from_sums(b, r, period_secs))).collect();
        LoadSeries { period_secs, points }
    }

    /// This series scaled by `factor`: a shard's estimated share of the stream's load.
    pub fn scaled(&self, factor: f64) -> LoadSeries {
        let points = self.points.iter().map(|(t, r)| (*t, r.scaled(factor))).collect();
        LoadSeries { period_secs: self.period_secs, points }
    }

    /// The time-aligned sum of two series: at each timestamp, what one shard would carry if both
    /// shards' writes had gone to it.
    pub fn plus(&self, other: &LoadSeries) -> LoadSeries {
        let mut points = self.points.clone();
        for (t, r) in &other.points {
            let sum = points.get(t).copied().unwrap_or(Rate::ZERO).plus(*r);
            points.insert(*t, sum);
        }
        LoadSeries { period_secs: self.period_secs, points }
    }

    /// Each dimension at its own maximum over the series (zero when empty): the per-shard load a
    /// scale-up sizes from where shard-level metrics are on.
    pub fn peak(&self) -> Rate {
        self.points.values().fold(Rate::ZERO, |peak, r| peak.max(*r))
    }

    /// The highest utilisation of `shards` shards at any datapoint, and when (`None` if empty).
    pub fn peak_utilisation(&self, shards: u32) -> Option<(DateTime<Utc>, f64)> {
        self.points
            .iter()
            .map(|(t, r)| (*t, r.utilisation(shards)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }
}

/// `t` rounded down to a whole multiple of `period_secs` since the epoch: where CloudWatch's
/// period buckets start when queried with aligned times.
pub fn align_down(t: DateTime<Utc>, period_secs: u32) -> DateTime<Utc> {
    let period = i64::from(period_secs.max(1));
    DateTime::from_timestamp(t.timestamp().div_euclid(period) * period, 0).unwrap_or(t)
}

/// The look-back window `[now - lookback, now)` and the datapoints it should hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub period_secs: u32,
}

impl Window {
    /// The window ending at `now`, aligned down to whole periods so datapoints line up.
    pub fn ending_at(now: DateTime<Utc>, policy: &Policy) -> Window {
        let end = align_down(now, policy.scale_down.period_secs);
        let lookback = Duration::seconds(i64::from(policy.scale_down.lookback_secs));
        let start = end.checked_sub_signed(lookback).unwrap_or(DateTime::<Utc>::MIN_UTC);
        Window { start, end, period_secs: policy.scale_down.period_secs }
    }

    /// The recent metrics a scale-up is sized from: `[now - lookback, now)` at the alarm's
    /// period, the look-back being the alarm's evaluation periods plus three (metrics are published
    /// a minute or two late) and at least five minutes.
    pub fn for_scale_up(now: DateTime<Utc>, policy: &Policy) -> Window {
        let up = &policy.scale_up;
        let lookback = (i64::from(up.period_secs) * (i64::from(up.evaluation_periods) + 3)).max(300);
        Window { start: now - Duration::seconds(lookback), end: now, period_secs: up.period_secs }
    }

    /// This window, started early enough to hold the period starting at `quoted` (the newest
    /// datapoint an alarm quotes), so its count is weighed against the writes of its own period
    /// ([`estimate_rate`]); never more than an hour before its end: a quoted time is untrusted.
    pub fn holding(mut self, quoted: Option<DateTime<Utc>>) -> Window {
        if let Some(quoted) = quoted {
            self.start = self.start.min(quoted.max(self.end - Duration::hours(1)));
        }
        self
    }

    /// The periods the window spans, saturating at `u32::MAX`: a count, never an allocation size
    /// (a look-back is bounded by validation, but this must not trust that).
    pub fn expected_points(&self) -> u32 {
        let points = (self.end - self.start).num_seconds() / i64::from(self.period_secs.max(1));
        u32::try_from(points.max(0)).unwrap_or(u32::MAX)
    }

    pub(crate) fn restrict(&self, series: &LoadSeries) -> LoadSeries {
        let points = series.points.range(self.start..self.end).map(|(t, r)| (*t, *r)).collect();
        LoadSeries { period_secs: series.period_secs, points }
    }
}

/// A snapshot of the recent write load of one stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadSnapshot {
    /// The stream's recent peak write rate (from the alarm's datapoint or a GetMetricData read).
    pub stream: Rate,
    /// Measured per-shard rates, where shard-level metrics exist.
    pub per_shard: BTreeMap<ShardId, Rate>,
    /// Shards named by shard-level alarms.
    pub hot: BTreeSet<ShardId>,
    /// Whether writes are being rejected, as the throttling alarm says.
    pub throttling: Throttling,
    /// The shared readers' demand, where the policy weighs reads (`scaleUp.readThrottleAlarm`).
    pub reads: SharedReads,
}

/// Whether a throttling alarm is among the evidence, and which tiling it speaks of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Throttling {
    /// No throttling alarm fired.
    #[default]
    None,
    /// Writes are rejected on the live tiling (or the alarm does not say when): the shards the
    /// throttling points at carry at least their capacity (`ThrottleFloor`).
    Now,
    /// The throttling alarm quotes only datapoints from before the last scaling, which resized
    /// the whole stream (`UpdateShardCount`) for the demand then measured: the tiling that
    /// rejected them is gone. Metrics are published a minute or two late and a scale-up sets every
    /// alarm back to `OK`, so a throttling alarm re-fires right after a throttled resize on the
    /// minutes before it. Its rejected count still measures the demand (whichever tiling it came
    /// from); flooring a shard of the *new* tiling on it added a split the demand did not need
    /// (one more round on the simulator's step trace). If the live tiling throttles too, the next
    /// minute's datapoint fires the alarm again. After targeted splits the throttling is still
    /// [`Throttling::Now`]: with stream-level metrics a split of the widest shard is a guess at
    /// where a hot key is, and a throttle that goes on is the only sign the guess missed (waiting
    /// for fresh minutes there slowed the hot-key trace's search from 7.6 to 19.6 minutes).
    BeforeLastResize,
}

/// One shard's estimated load and where the number came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardLoad {
    pub shard: ShardId,
    pub rate: Rate,
    /// Utilisation of this one shard's capacity.
    pub utilisation: f64,
    pub source: LoadSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LoadSource {
    /// Shard-level metrics.
    Measured,
    /// Stream load × the shard's share of the key space.
    Estimated,
    /// A shard-level alarm: at least the scale-up threshold, whatever the estimate says.
    AlarmFloor,
    /// Writes are throttled and this shard is where: at least one shard's capacity.
    ThrottleFloor,
}

/// Where a throttling alarm proves the load to be, and how much.
///
/// A write is rejected only when a shard was offered more than its limit in some second, so that
/// shard's demand was *at least its capacity*, whatever the (censored) load metrics say. The floor
/// takes exactly that: the capacity, not the alarm threshold (which a capacity alarm already
/// proves), and not a multiple (how far over, only the alarm's rejected-records count says; see
/// [`estimate_rate`]). It applies to the shards most specific knowledge points at:
///
/// 1. shards named by shard-level alarms ([`LoadSnapshot::hot`]);
/// 2. with measured per-shard rates, the shards at or over the scale-up threshold, or else the
///    hottest one;
/// 3. with stream-level numbers only, the widest shard: under the uniform-key assumption it takes
///    the largest share of the writes and throttles first.
///
/// So a hot key on an over-provisioned stream gets a targeted split, never a whole-stream resize.
///
/// Why not floor the whole stream at the capacity of its open shards (at least
/// `ceil(open / target)` shards) when no shard is known hot? Because the alarm does not say *which
/// tiling* throttled. Metrics are published a minute or two late and every alarm is set back to
/// `OK` after a scale-up, so a throttling alarm re-fires right after nearly every throttled
/// reshard on a datapoint from *before* it. Flooring the new count then grows the stream one more
/// round of 1 / target whether or not it still throttles: in the simulator that doubled the
/// flash-spike trace's shard-hours and added 39 % on the step trace. The rejected-records count,
/// added to the accepted writes of the same stream, measures the demand whichever tiling it came
/// from, and is the evidence that sizes a throttled stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThrottleFloor {
    pub shards: Vec<ShardId>,
    /// Which rule above picked them, for the plan's reasons.
    pub why: &'static str,
}

impl LoadSnapshot {
    /// The load a scale-up alarm is sized from: the recent metrics raised to what the alarm itself
    /// proves ([`estimate_rate`]), each shard's measured peak where shard-level metrics are on,
    /// the shard a shard-level alarm names, and whether writes are throttled.
    ///
    /// `evidence` is every alarm of the stream in `ALARM` that no scaling has answered yet: the
    /// triggering one and those that fired with it. The bytes and throttling alarms of one
    /// evaluation arrive as two notifications; planned from the first alone, a 10× spike was sized
    /// from capped, accepted bytes, and the throttling alarm, stale by then, waited for the re-arm
    /// to fire again (about 95 s) before its rejected count could size the next round.
    pub fn for_alarms(
        recent: &LoadSeries,
        evidence: &[AlarmEvidence],
        per_shard: BTreeMap<ShardId, Rate>,
        hot: Option<ShardId>,
        state: &ScalingState,
    ) -> LoadSnapshot {
        let throttles = evidence.iter().filter(|e| AlarmKind::of(e.metric) == AlarmKind::Throttle);
        let throttling = throttles.fold(Throttling::None, |t, e| match (t, e.answered_by_resize(state)) {
            (Throttling::Now, _) | (_, false) => Throttling::Now,
            (_, true) => Throttling::BeforeLastResize,
        });
        let read_throttled = evidence.iter().any(|e| AlarmKind::of(e.metric) == AlarmKind::ReadThrottle);
        LoadSnapshot {
            stream: estimate_rate(recent, evidence),
            per_shard,
            hot: hot.into_iter().collect(),
            throttling,
            reads: SharedReads { bytes_per_sec: 0.0, throttled: read_throttled },
        }
    }

    /// This snapshot with the shared readers' recent peak (`GetRecords.Bytes` per second over the
    /// scale-up window, the largest period's).
    pub fn with_read_bytes(mut self, read_bytes_per_sec: impl IntoIterator<Item = f64>) -> LoadSnapshot {
        self.reads.bytes_per_sec =
            read_bytes_per_sec.into_iter().filter(|b| b.is_finite()).fold(0.0, f64::max);
        self
    }

    /// The best estimate of every open shard's load, in key order. When writes are throttled, the
    /// shards the throttling points at carry at least their capacity (`ThrottleFloor`).
    pub fn per_shard_estimates(&self, tiling: &Tiling, policy: &Policy) -> Vec<ShardLoad> {
        let mut loads = self.estimates(tiling, policy);
        if let Some(floor) = self.throttle_floor(tiling, policy) {
            let full = Rate::capacity_of(1);
            for load in loads.iter_mut().filter(|l| floor.shards.contains(&l.shard) && l.utilisation < 1.0) {
                load.rate = load.rate.max(full);
                load.utilisation = load.rate.utilisation(1);
                load.source = LoadSource::ThrottleFloor;
            }
        }
        loads
    }

    /// What throttling proves, if writes are throttled; see `ThrottleFloor`.
    pub(crate) fn throttle_floor(&self, tiling: &Tiling, policy: &Policy) -> Option<ThrottleFloor> {
        if self.throttling != Throttling::Now {
            return None;
        }
        let named: Vec<ShardId> = tiling.ids().into_iter().filter(|id| self.hot.contains(id)).collect();
        if !named.is_empty() {
            return Some(ThrottleFloor { shards: named, why: "named by shard-level alarms" });
        }
        if tiling.shards().iter().any(|s| self.per_shard.contains_key(&s.id)) {
            let loads = self.estimates(tiling, policy);
            let threshold = policy.scale_up.threshold.get();
            let over: Vec<ShardId> =
                loads.iter().filter(|l| l.utilisation >= threshold).map(|l| l.shard.clone()).collect();
            if !over.is_empty() {
                return Some(ThrottleFloor { shards: over, why: "measured at or over the threshold" });
            }
            let hottest = loads.iter().rev().max_by(|a, b| a.utilisation.total_cmp(&b.utilisation))?;
            return Some(ThrottleFloor { shards: vec![hottest.shard.clone()], why: "the hottest measured" });
        }
        // Widest first, then lowest keys.
        let widest = tiling.shards().iter().rev().max_by_key(|s| s.range.last_offset())?;
        Some(ThrottleFloor {
            shards: vec![widest.id.clone()],
            why: "no shard known hot: the widest, which uniform keys fill first",
        })
    }

    /// Every open shard's load from measurements, the stream's share and alarms, in key order.
    fn estimates(&self, tiling: &Tiling, policy: &Policy) -> Vec<ShardLoad> {
        let floor = Rate::capacity_of(1).scaled(policy.scale_up.threshold.get());
        tiling
            .shards()
            .iter()
            .map(|shard| {
                let (mut rate, mut source) =
                    shard_share(self.per_shard.get(&shard.id), &self.stream, &shard.range);
                if self.hot.contains(&shard.id) && rate.utilisation(1) < floor.utilisation(1) {
                    (rate, source) = (rate.max(floor), LoadSource::AlarmFloor);
                }
                ShardLoad { shard: shard.id.clone(), utilisation: rate.utilisation(1), rate, source }
            })
            .collect()
    }

    /// Whether the measured per-shard load is skewed: the hottest shard carries more than
    /// `1 + tolerance` times the mean. Unknown (no per-shard numbers) counts as not skewed.
    pub fn is_skewed(&self, tiling: &Tiling, tolerance: f64) -> bool {
        if !self.hot.is_empty() {
            return true;
        }
        let measured: Vec<f64> = tiling
            .shards()
            .iter()
            .filter_map(|s| self.per_shard.get(&s.id))
            .map(|r| r.utilisation(1))
            .collect();
        if measured.len() < tiling.shards().len() {
            return false;
        }
        let mean = measured.iter().sum::<f64>() / measured.len() as f64;
        mean > 0.0 && measured.iter().any(|&u| u > mean * (1.0 + tolerance))
    }
}

/// A load that divides with the key space: a rate, or a series of rates.
pub(crate) trait KeyShare: Clone {
    fn share(&self, fraction: f64) -> Self;
}

impl KeyShare for Rate {
    fn share(&self, fraction: f64) -> Self {
        self.scaled(fraction)
    }
}

impl KeyShare for LoadSeries {
    fn share(&self, fraction: f64) -> Self {
        self.scaled(fraction)
    }
}

/// One shard's load by the one rule both decisions use: measured, where shard-level metrics exist;
/// else the stream's load times the share of the key space the shard owns (the uniform-key
/// assumption). For the point estimate of a scale-up and the series of a scale-down alike.
pub(crate) fn shard_share<L: KeyShare>(
    measured: Option<&L>,
    stream: &L,
    range: &HashRange,
) -> (L, LoadSource) {
    match measured {
        Some(load) => (load.clone(), LoadSource::Measured),
        None => (stream.share(range.fraction()), LoadSource::Estimated),
    }
}

/// What a capacity alarm itself says about the load: the `Sum` datapoints quoted in its reason
/// and its threshold (the metric was at least that, or it would not have fired).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmEvidence {
    pub metric: Metric,
    pub period_secs: u32,
    /// `Sum` values quoted in the alarm's state reason (AWS quotes them; the emulator does not).
    pub datapoints: Vec<f64>,
    pub threshold: Option<f64>,
    /// Where the period of the newest quoted datapoint starts, as the reason quotes it
    /// (`2.5E8 (01/01/25 10:04:00)`); `None` when it quotes no time.
    pub newest_period_start: Option<DateTime<Utc>>,
}

/// How many attempts producers make per record, as [`estimate_rate`] reads a rejected count: the
/// AWS SDKs' legacy default (three retries). Fewer attempts (the SDKs' standard mode makes three,
/// a producer without retries one) lose more records for the same rejected share, so assuming
/// four never sizes a stream above its demand; a producer retrying without end (the KPL) is
/// under-sized and the next alarm's fresh numbers add a round.
pub const PRODUCER_ATTEMPTS: i32 = 4;

/// How many times the records capacity a throttling alarm's `Sum` of rejected records may quote.
///
/// Rejections count *attempts*, and producers retry: the AWS SDKs three times by default (four
/// attempts per record), the KPL until its record TTL. A stream offered 2.5× its capacity by SDK
/// producers can thus reject up to about 1.5 × 4 = 6× its capacity in records per period; 10×
/// leaves room for that and more while still telling a measurement from a forged number (which
/// [`estimate_rate`] in any case reads through the retries: on a stream accepting its capacity,
/// the largest count allowed, 10 rejected attempts per accepted record, is a demand of 3.2 times it).
pub const THROTTLE_RETRY_FACTOR: f64 = 10.0;

/// The largest `Sum` one datapoint of `metric` over `period_secs` seconds can hold on a stream of
/// `open_shards` open shards: what the shards can accept in that time (1 MiB/s and 1,000
/// records/s each), or for rejected records [`THROTTLE_RETRY_FACTOR`] times the records capacity.
/// Reads alike: the shared 2 MiB/s a shard serves, and for refused `GetRecords` calls
/// [`THROTTLE_RETRY_FACTOR`] times the 5 calls a second it answers. An iterator age is no `Sum`:
/// its bound is the longest retention, in milliseconds. A shard-level datapoint is bounded by the
/// same (one shard takes no more than the stream).
pub fn max_plausible_sum(metric: Metric, open_shards: u32, period_secs: u32) -> f64 {
    let capacity = Rate::capacity_of(open_shards);
    let (shards, secs) = (f64::from(open_shards), f64::from(period_secs));
    match metric {
        Metric::IncomingBytes => capacity.bytes_per_sec * secs,
        Metric::IncomingRecords => capacity.records_per_sec * secs,
        Metric::WriteProvisionedThroughputExceeded => capacity.records_per_sec * secs * THROTTLE_RETRY_FACTOR,
        Metric::GetRecordsBytes => shards * SHARD_READ_BYTES_PER_SEC * secs,
        Metric::ReadProvisionedThroughputExceeded => {
            shards * SHARD_GET_RECORDS_PER_SEC * secs * THROTTLE_RETRY_FACTOR
        }
        Metric::GetRecordsIteratorAge => f64::from(crate::bounds::MAX_ITERATOR_AGE_SECS) * 1_000.0,
    }
}

impl AlarmEvidence {
    /// This evidence without the quoted datapoints no stream of `open_shards` shards could have
    /// produced (above [`max_plausible_sum`], negative, or not a number). The datapoints come from
    /// the message's text, which anyone allowed to publish to the topic can write: a forged huge
    /// value must not size the stream to `maxShards`. Dropped ones leave the threshold (read from
    /// the alarm itself) and the metrics to size from.
    pub fn within_capacity(mut self, open_shards: u32) -> AlarmEvidence {
        let bound = max_plausible_sum(self.metric, open_shards, self.period_secs);
        self.datapoints.retain(|v| v.is_finite() && (0.0..=bound).contains(v));
        self
    }

    /// Whether the last scaling resized the whole stream (made `UpdateShardCount` calls) and
    /// every quoted datapoint is of a period that began before its last call: evidence about a
    /// tiling the resize replaced, or was replacing; see [`Throttling::BeforeLastResize`]. A
    /// resize of several chained calls takes minutes, so its start alone would leave the minutes
    /// of the resize itself counted as fresh. Without a quoted time (the emulator, the resync) it
    /// cannot tell, and says no.
    pub fn answered_by_resize(&self, state: &ScalingState) -> bool {
        let (Some(newest), Some(last)) = (self.newest_period_start, state.last_scaled_at) else {
            return false;
        };
        let last_call = state.update_calls.iter().filter(|call| **call >= last).max();
        last_call.is_some_and(|call| newest < *call)
    }
}

/// The stream's write rate to size a scale-up for: the peak of each dimension over the recent
/// metrics, raised to what the alarm's own datapoints (or, without them, its threshold) prove.
/// Metrics lag by a minute or two, so the alarm's evidence is often the freshest number.
///
/// The load metrics count accepted writes only, so a throttled stream's read at most its capacity.
/// A throttling alarm's datapoints are `Sum`s of *rejected* attempts: demand the metrics miss. This
/// holds whichever tiling the datapoint came from, even one replaced a minute ago. Producers retry,
/// so the count is not the shortfall: a record lost after [`PRODUCER_ATTEMPTS`] attempts was
/// counted that many times, and one accepted at its second attempt once. With `p` the share of
/// attempts rejected (`rejected / (rejected + accepted)`), a record is lost when every attempt is
/// rejected, `p^attempts` of them, and the accepted writes are the rest of the demand: demand is
/// `accepted / (1 - p^attempts)`, bytes in proportion (rejected records taken to be the size of
/// accepted ones). Crediting the count in full instead would size a stream offered twice its
/// capacity for more than six times it; crediting it only up to the accepted rate (as before)
/// grew a 10× spike by at most ×2 per alarm.
///
/// Several alarms (bytes, records, throttling of one evaluation) each prove a lower bound; the
/// estimate is the largest in each dimension.
///
/// A rejected count is weighed against the writes accepted *in its own period* where the recent
/// metrics hold that period: a throttling alarm still in `ALARM` on a minute of a smaller tiling
/// (the resync finds it once a chain of `UpdateShardCount` calls is done) says how much of *that*
/// minute's demand was refused, and against the larger accepted peak of the new tiling it would
/// read as demand the stream never had.
pub fn estimate_rate(recent: &LoadSeries, evidence: &[AlarmEvidence]) -> Rate {
    let peak = recent.points.values().fold(Rate::ZERO, |peak, r| peak.max(*r));
    evidence.iter().fold(peak, |rate, e| rate.max(proven_rate(recent, peak, e)))
}

/// What one alarm proves, from the recent load metrics (their `peak`).
fn proven_rate(recent: &LoadSeries, peak: Rate, e: &AlarmEvidence) -> Rate {
    let quoted = e.datapoints.iter().copied().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let Some(sum) = quoted.or(e.threshold) else { return peak };
    let per_sec = sum / f64::from(e.period_secs.max(1));
    // The newest quoted datapoint and the writes accepted in its period, when the metrics hold it.
    let same_period = e
        .newest_period_start
        .and_then(|t| recent.points.get(&t))
        .zip(e.datapoints.first())
        .filter(|(accepted, _)| accepted.records_per_sec > 0.0 && recent.period_secs == e.period_secs);
    match e.metric {
        Metric::IncomingBytes => Rate { bytes_per_sec: peak.bytes_per_sec.max(per_sec), ..peak },
        Metric::IncomingRecords => Rate { records_per_sec: peak.records_per_sec.max(per_sec), ..peak },
        Metric::WriteProvisionedThroughputExceeded if same_period.is_some() => {
            let (accepted, newest) = same_period.expect("checked");
            demand(*accepted, newest / f64::from(e.period_secs.max(1)))
        }
        Metric::WriteProvisionedThroughputExceeded if peak.records_per_sec > 0.0 && per_sec > 0.0 => {
            demand(peak, per_sec)
        }
        // Reads say nothing about the writers' rate: their demand is `SharedReads`.
        Metric::WriteProvisionedThroughputExceeded
        | Metric::GetRecordsBytes
        | Metric::GetRecordsIteratorAge
        | Metric::ReadProvisionedThroughputExceeded => peak,
    }
}

/// The demand behind `accepted` writes when `rejected` attempts a second were refused beside
/// them (see [`estimate_rate`]).
fn demand(accepted: Rate, rejected: f64) -> Rate {
    let rejected_share = rejected / (rejected + accepted.records_per_sec);
    let lost_share = rejected_share.powi(PRODUCER_ATTEMPTS);
    accepted.scaled(1.0 / (1.0 - lost_share))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(metric: Metric, datapoints: &[f64]) -> AlarmEvidence {
        AlarmEvidence {
            metric,
            period_secs: 60,
            datapoints: datapoints.to_vec(),
            threshold: Some(1.0),
            newest_period_start: None,
        }
    }

    #[test]
    fn the_peak_takes_each_dimension_at_its_own_maximum() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let series =
            LoadSeries::from_sums(60, [(t(0), 60.0), (t(60), 120.0)], [(t(0), 600.0), (t(60), 60.0)]);
        assert_eq!(series.peak(), Rate { bytes_per_sec: 2.0, records_per_sec: 10.0 });
    }

    #[test]
    fn the_plausible_sum_is_what_the_open_shards_accept_in_one_period() {
        assert_eq!(max_plausible_sum(Metric::IncomingBytes, 4, 60), 4.0 * 1_048_576.0 * 60.0);
        assert_eq!(max_plausible_sum(Metric::IncomingRecords, 4, 300), 4.0 * 1_000.0 * 300.0);
        assert_eq!(
            max_plausible_sum(Metric::WriteProvisionedThroughputExceeded, 2, 60),
            2.0 * 1_000.0 * 60.0 * THROTTLE_RETRY_FACTOR
        );
    }

    #[test]
    fn quoted_datapoints_beyond_the_streams_capacity_are_dropped() {
        let full = 2.0 * 1_048_576.0 * 60.0;
        let e =
            evidence(Metric::IncomingBytes, &[full, full + 1.0, 1e300, -1.0, f64::NAN, f64::INFINITY, 5.0]);
        assert_eq!(e.within_capacity(2).datapoints, vec![full, 5.0]);
    }

    #[test]
    fn a_forged_huge_datapoint_sizes_nothing_once_bounded() {
        let recent = LoadSeries::default();
        let forged = evidence(Metric::IncomingBytes, &[1e15]);
        let rate = estimate_rate(&recent, &[forged.within_capacity(1)]);
        assert_eq!(rate.bytes_per_sec, 1.0 / 60.0, "only the alarm's threshold is left");
    }

    #[test]
    fn a_rejected_count_is_weighed_against_the_writes_of_its_own_period() {
        // A minute at 4 shards: 4,000 records/s accepted, 12,000 attempts/s refused. The recent
        // peak is a later minute at 12 shards accepting 9,000. Against that peak the refusals
        // would prove 9,000 / (1 - 0.57^4) ≈ 10,000; against their own minute's 4,000 they prove
        // 4,000 / (1 - 0.75^4) ≈ 5,800, below the peak the metrics already show.
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let recent = LoadSeries::from_sums(
            60,
            [(t(0), 1.0), (t(60), 1.0)],
            [(t(0), 4_000.0 * 60.0), (t(60), 9_000.0 * 60.0)],
        );
        let throttled = AlarmEvidence {
            newest_period_start: Some(t(0)),
            ..evidence(Metric::WriteProvisionedThroughputExceeded, &[12_000.0 * 60.0])
        };
        let rate = estimate_rate(&recent, std::slice::from_ref(&throttled));
        assert_eq!(rate.records_per_sec, 9_000.0, "the refusals of a smaller tiling prove no more");
        let undated = AlarmEvidence { newest_period_start: None, ..throttled };
        assert!(estimate_rate(&recent, &[undated]).records_per_sec > 9_900.0, "without its minute: the peak");
    }

    #[test]
    fn rejected_records_may_reach_a_multiple_of_the_capacity() {
        let records = 1_000.0 * 60.0;
        let e = evidence(Metric::WriteProvisionedThroughputExceeded, &[6.0 * records, 11.0 * records]);
        assert_eq!(e.within_capacity(1).datapoints, vec![6.0 * records]);
    }
}
