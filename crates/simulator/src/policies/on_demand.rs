//! On-demand capacity mode, as AWS describes it: write capacity is twice the highest write
//! throughput of the previous 30 days (at least 4 MiB/s / 4,000 records/s); traffic beyond that
//! throttles while the stream adapts, which takes about 15 minutes. We model the adaptation as a
//! 15-minute lag on the observed peak of *demand* (per-minute average). The key space is split
//! evenly over `ceil(capacity)` shards, so one hot key is still capped by one shard's share.

use super::{Controller, Env};
use crate::SimError;
use crate::assumptions::{ON_DEMAND_ADAPT_SECS, ON_DEMAND_MIN_UNITS};
use crate::kinesis::even_tiling;
use crate::trace::Trace;

pub const PARAMETERS: &str = "capacity = max(4 MiB/s, 2 × peak demand seen up to 15 min ago, over \
30 days); even key space; billed per stream-hour and per GB";

#[derive(Debug)]
pub struct OnDemand {
    peak: f64,
    capacity: f64,
}

impl OnDemand {
    pub fn new(trace: &Trace) -> OnDemand {
        OnDemand { peak: trace.units(trace.minute_bytes(0)), capacity: 0.0 }
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
            let tiling = even_tiling(shards, env.kinesis.next_id());
            env.kinesis.reconfigure(tiling, capacity / f64::from(shards));
        }
        Ok(())
    }
}
