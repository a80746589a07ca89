//! Static provisioning at the trace's peak, as someone sizing by hand from last week's graph
//! would: the fewest evenly split shards that never throttle at any second of the trace.

use super::{Controller, Env};
use crate::SimError;
use crate::trace::Trace;

pub const PARAMETERS: &str = "the fewest evenly split shards that never throttle over the whole trace";

pub const UNCHANGED_PARAMETERS: &str = "the stream's shards when the recording started, never changed";

/// A count that never changes: the trace's peak ([`Static::at_peak`]) or its initial count.
#[derive(Debug)]
pub struct Static;

/// The fewest even shards that carry `units` with `hot` of it on one key: the hot key's shard
/// carries `units·(hot + (1 − hot)/n) ≤ 1`.
pub fn even_shards_needed(units: f64, hot: f64) -> u32 {
    let units = units * (1.0 + 1e-9);
    let n = if hot > 0.0 { units * (1.0 - hot) / (1.0 - units * hot) } else { units };
    (n.ceil() as u32).max(1)
}

/// The static count for a trace.
pub fn static_count(trace: &Trace) -> u32 {
    (0..trace.minutes())
        .map(|m| even_shards_needed(trace.peak_units_in_minute(m), trace.hot_share(m)))
        .max()
        .unwrap_or(1)
}

impl Static {
    pub fn at_peak(env: &Env<'_>) -> Static {
        env.reconfigure(env.world().even_tiling(static_count(env.trace)), 1.0);
        Static
    }
}

impl Controller for Static {
    fn tick(&mut self, _now: i64, _env: &mut Env<'_>) -> Result<(), SimError> {
        Ok(())
    }
}
