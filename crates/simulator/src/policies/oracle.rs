//! The oracle: knowing every second of the trace in hindsight, each minute it holds the fewest
//! shards that never throttle in that minute, reshaped instantly and for free. Without a hot key
//! that is `ceil(peak demand)` even shards; with one, a shard around the hot key takes the key
//! plus as much of the uniform traffic as fits, and the rest of the key space is split evenly on
//! each side (within one shard of the true minimum). It bounds shard-hours from below; it is
//! not a policy anyone can run.

use planner::{HashKey, HashRange, Shard, Tiling};

use super::{Controller, Env};
use crate::SimError;

pub const PARAMETERS: &str = "hindsight: each minute, the fewest shards (hot key isolated) that never \
throttle, free and instant";

#[derive(Debug)]
pub struct Oracle;

const KEY_SPACE: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;

fn key(fraction: f64) -> u128 {
    (fraction.clamp(0.0, 1.0) * KEY_SPACE) as u128
}

/// The oracle's tiling for `units` of demand (shard units), `hot` of it on `hot_key`.
pub fn tiling(units: f64, hot: f64, hot_key: HashKey, next_id: &mut u64) -> Tiling {
    // A hair of margin so float rounding never leaves a shard at 100.0000001 %.
    let units = units * (1.0 + 1e-6);
    let mut cuts: Vec<u128> = Vec::new();
    let even = |from: f64, to: f64, n: u32, cuts: &mut Vec<u128>| {
        for i in 1..n {
            cuts.push(key(from + (to - from) * f64::from(i) / f64::from(n)));
        }
    };
    if hot <= 0.0 || units <= 1.0 {
        even(0.0, 1.0, (units.ceil() as u32).max(1), &mut cuts);
    } else {
        let uniform = units * (1.0 - hot);
        // The hot key's shard absorbs this much of the key space besides the key itself.
        let width = ((1.0 - units * hot) / uniform).clamp(0.0, 1.0) * 0.999;
        let at = hot_key.0 as f64 / KEY_SPACE;
        let (lo, hi) = ((at - width / 2.0).max(0.0), (at + width / 2.0).min(1.0));
        let side = |w: f64| (uniform * w).ceil() as u32;
        if lo > 0.0 {
            even(0.0, lo, side(lo), &mut cuts);
            cuts.push(key(lo).min(hot_key.0));
        }
        if hi < 1.0 {
            cuts.push(key(hi).max(hot_key.0 + 1));
            even(hi, 1.0, side(1.0 - hi), &mut cuts);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.retain(|c| *c > 0);
    let mut starts = vec![0u128];
    starts.extend(cuts);
    let shards = (0..starts.len())
        .map(|i| {
            let end = starts.get(i + 1).map_or(u128::MAX, |k| k - 1);
            *next_id += 1;
            let range = HashRange::new(HashKey(starts[i]), HashKey(end)).expect("cuts ascend");
            Shard::new(format!("shardId-{:012}", *next_id - 1), range)
        })
        .collect();
    Tiling::new(shards).expect("ascending cuts tile the key space")
}

impl Controller for Oracle {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        if now % 60 == 0 {
            let m = now / 60;
            let (units, hot) = (env.trace.peak_units_in_minute(m), env.trace.hot_share(m));
            // No more shards than the demand's units and a hot shard's two neighbours.
            let mut next_id = env.world().reserve_shard_ids(units.ceil() as u64 + 3);
            env.reconfigure(tiling(units, hot, env.trace.hot_key, &mut next_id), 1.0);
        }
        Ok(())
    }
}
