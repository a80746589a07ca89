//! What is known about where a stream's writes land.
//!
//! Scale-up decisions rarely have per-shard numbers: by default Kinesis publishes only stream-level
//! metrics, so a shard's load is *estimated* as the stream's load times the share of the key space it
//! owns (the uniform-key assumption). Shard-level metrics, where enabled, replace the estimate, and
//! a shard-level alarm marks a shard hot even when no number is known.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::{LoadSeries, Metric, Policy, Rate, ShardId, Tiling};

/// A snapshot of the recent write load of one stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadSnapshot {
    /// The stream's recent peak write rate (from the alarm's datapoint or a GetMetricData read).
    pub stream: Rate,
    /// Measured per-shard rates, where shard-level metrics exist.
    pub per_shard: BTreeMap<ShardId, Rate>,
    /// Shards named by shard-level alarms.
    pub hot: BTreeSet<ShardId>,
    /// Writes are being rejected (a `WriteProvisionedThroughputExceeded` alarm fired).
    pub throttled: bool,
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
}

impl LoadSnapshot {
    /// The best estimate of every open shard's load, in key order.
    pub fn per_shard_estimates(&self, tiling: &Tiling, policy: &Policy) -> Vec<ShardLoad> {
        let floor = Rate::capacity_of(1).scaled(policy.scale_up.threshold.get());
        tiling
            .shards()
            .iter()
            .map(|shard| {
                let (mut rate, mut source) = match self.per_shard.get(&shard.id) {
                    Some(rate) => (*rate, LoadSource::Measured),
                    None => (self.stream.scaled(shard.range.fraction()), LoadSource::Estimated),
                };
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

/// What a capacity alarm itself says about the load: the `Sum` datapoints quoted in its reason
/// and its threshold (the metric was at least that, or it would not have fired).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmEvidence {
    pub metric: Metric,
    pub period_secs: u32,
    /// `Sum` values quoted in the alarm's state reason (AWS quotes them; the emulator does not).
    pub datapoints: Vec<f64>,
    pub threshold: Option<f64>,
}

/// The stream's write rate to size a scale-up for: the peak of each dimension over the recent
/// metrics, raised to what the alarm's own datapoints (or, without them, its threshold) prove.
/// Metrics lag by a minute or two, so the alarm's evidence is often the freshest number.
pub fn estimate_rate(recent: &LoadSeries, evidence: Option<&AlarmEvidence>) -> Rate {
    let peak = recent.points.values().fold(Rate::ZERO, |peak, r| peak.max(*r));
    let Some(e) = evidence else { return peak };
    let quoted = e.datapoints.iter().copied().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let Some(sum) = quoted.or(e.threshold) else { return peak };
    let per_sec = sum / f64::from(e.period_secs.max(1));
    match e.metric {
        Metric::IncomingBytes => Rate { bytes_per_sec: peak.bytes_per_sec.max(per_sec), ..peak },
        Metric::IncomingRecords => Rate { records_per_sec: peak.records_per_sec.max(per_sec), ..peak },
        Metric::WriteProvisionedThroughputExceeded => peak,
    }
}
