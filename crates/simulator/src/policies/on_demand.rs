//! On-demand capacity mode, as AWS describes it: write capacity is twice the highest write
//! throughput of the previous 30 days (at least 4 MiB/s / 4,000 records/s); traffic beyond that
//! throttles while the stream adapts, which takes about 15 minutes. We model the adaptation as a
//! 15-minute lag on the observed peak of *demand* (per-minute average), spread evenly over
//! `ceil(capacity)` shards. On top of that, a shard written at more than 500 KB/s for 15 minutes
//! is split at its midpoint (see [`ON_DEMAND_SPLIT_UNITS`]), so a hot key's shard narrows; a
//! single key still cannot be spread over shards.
//!
//! One guard the documentation does not spell out: a shard that already carries its load and
//! holds a key over 500 KB/s on its own is not split again, since no split could bring it under
//! that rate; without the guard the model would halve that shard every 15 minutes for ever.

use std::collections::BTreeMap;

use planner::ShardId;

use super::{Controller, Env};
use crate::SimError;
use crate::assumptions::{ON_DEMAND_ADAPT_SECS, ON_DEMAND_MIN_UNITS, ON_DEMAND_SPLIT_UNITS};
use crate::trace::Trace;

pub const PARAMETERS: &str = "capacity = max(4 MiB/s, 2 × peak demand seen up to 15 min ago, over \
30 days), even key space; a shard above 500 KB/s for 15 min is split at its midpoint; billed per \
stream-hour and per GB written and read";

pub const ADVANTAGE_PARAMETERS: &str = "on-demand's capacity, billed as On-demand Advantage: no \
stream-hours, lower prices per GB written and read, and an account-wide 25 MiB/s commitment (shown \
beside the cost targets, not charged to this stream)";

#[derive(Debug)]
pub struct OnDemand {
    peak: f64,
    capacity: f64,
    /// The first minute of each shard's current run above [`ON_DEMAND_SPLIT_UNITS`].
    hot_since: BTreeMap<ShardId, i64>,
}

impl OnDemand {
    pub fn new(trace: &Trace) -> OnDemand {
        OnDemand { peak: trace.units(trace.minute_bytes(0)), capacity: 0.0, hot_since: BTreeMap::new() }
    }

    /// Splits every shard that has been above the split rate for the adaptation time, as of the
    /// end of minute `m`.
    fn split_hot_shards(&mut self, m: i64, env: &mut Env<'_>) {
        let (trace, limit) = (env.trace, env.shard_limit());
        let units = trace.units(trace.minute_bytes(m));
        let hot = trace.hot_share(m);
        let shares = env.shares(trace.hot_key, hot);
        let before = env.tiling();
        let mut tiling = before.clone();
        let mut split = false;
        for (shard, share) in before.shards().iter().zip(shares) {
            let load = units * share;
            if load <= ON_DEMAND_SPLIT_UNITS {
                self.hot_since.remove(&shard.id);
                continue;
            }
            let since = *self.hot_since.entry(shard.id.clone()).or_insert(m);
            let one_key_too_hot = shard.range.contains(trace.hot_key) && units * hot > ON_DEMAND_SPLIT_UNITS;
            if (m - since + 1) * 60 < ON_DEMAND_ADAPT_SECS || (one_key_too_hot && load <= limit) {
                continue;
            }
            let Some(mid) = shard.range.midpoint() else { continue };
            let next = env.world().reserve_shard_ids(2);
            let ids = [0, 1].map(|i| ShardId::new(format!("shardId-{:012}", next + i)));
            if let Some(children) = tiling.split(&shard.id, mid, ids) {
                tiling = children;
                self.hot_since.remove(&shard.id);
                split = true;
            }
        }
        if split {
            env.reconfigure(tiling, limit);
        }
    }
}

impl Controller for OnDemand {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        if now % 60 != 0 {
            return Ok(());
        }
        let seen = (now - ON_DEMAND_ADAPT_SECS) / 60;
        if seen >= 1 {
            self.peak = self.peak.max(env.trace.units(env.trace.minute_bytes(seen - 1)));
        }
        let capacity = (2.0 * self.peak).max(ON_DEMAND_MIN_UNITS);
        if capacity != self.capacity {
            self.capacity = capacity;
            let shards = capacity.ceil() as u32;
            env.reconfigure(env.world().even_tiling(shards), capacity / f64::from(shards));
            self.hot_since.clear();
        } else if now >= 60 {
            self.split_hot_shards(now / 60 - 1, env);
        }
        Ok(())
    }
}
