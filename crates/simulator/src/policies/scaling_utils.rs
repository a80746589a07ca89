//! A polling policy like AWS Labs' Java `amazon-kinesis-scaling-utils` (`StreamMonitor`):
//! every 45 s (`TIMEOUT_SECONDS`) it reads the last 60 minutes (the larger `scaleAfterMins`) of
//! 1-minute `Sum`s of PUT *bytes* only (`CLOUDWATCH_PERIOD = 60`), counts minutes over the
//! scale-up threshold and under the scale-down one (missing minutes count as low), and scales up
//! when at least `scaleAfterMins` minutes were high, else down when enough were low and the
//! cool-off since the last scale-down has passed.
//!
//! Parameters: the example configuration in the project's README (scale up at 80 % after 10
//! minutes by 20 %; scale down at 20 % after 60 minutes by 1 shard, 120-minute cool-off). The
//! utility resizes with `SplitShard`/`MergeShards` towards an even key space and waits for each;
//! we model the resize as exactly the splits (or the one merge) the count change needs, widest
//! first, which is optimistic for it. Polling stops while a resize runs.

use super::{Controller, Env, widest};
use crate::SimError;
use crate::assumptions::MAX_SHARDS;

pub const PARAMETERS: &str = "poll every 45 s over 60 min of 1-minute PUT-bytes sums; +20 % when \
≥ 10 minutes > 80 %; −1 shard when ≥ 60 minutes < 20 %, 120 min cool-off (README example)";

const POLL_SECS: i64 = 45;
const WINDOW_MINUTES: i64 = 60;
const UP_THRESHOLD: f64 = 0.8;
const UP_AFTER_MINUTES: u32 = 10;
const UP_PCT: f64 = 0.2;
const DOWN_THRESHOLD: f64 = 0.2;
const DOWN_AFTER_MINUTES: u32 = 60;
const COOL_OFF_SECS: i64 = 120 * 60;

#[derive(Debug, Default)]
pub struct ScalingUtils {
    next_poll: i64,
    splits_left: u32,
    last_down: Option<i64>,
}

impl Controller for ScalingUtils {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        if !env.is_active() {
            return Ok(());
        }
        if self.splits_left > 0 {
            if let Some((shard, key)) = widest(&env.tiling()) {
                env.split(&shard, key);
            }
            self.splits_left -= 1;
            self.next_poll = now + POLL_SECS;
            return Ok(());
        }
        if now < self.next_poll {
            return Ok(());
        }
        self.next_poll = now + POLL_SECS;
        let open = env.open();
        let capacity = f64::from(open) * planner::SHARD_BYTES_PER_SEC;
        let points = env.load_series(60, now - WINDOW_MINUTES * 60, now).points;
        let high = points.values().filter(|r| r.bytes_per_sec / capacity > UP_THRESHOLD).count() as u32;
        let low = points.values().filter(|r| r.bytes_per_sec / capacity < DOWN_THRESHOLD).count() as u32
            + (WINDOW_MINUTES as u32).saturating_sub(points.len() as u32);
        if high >= UP_AFTER_MINUTES {
            let target = ((f64::from(open) * (1.0 + UP_PCT)).ceil() as u32).max(open + 1).min(MAX_SHARDS);
            self.splits_left = target - open;
        } else if low >= DOWN_AFTER_MINUTES
            && open > 1
            && self.last_down.is_none_or(|t| now - t >= COOL_OFF_SECS)
        {
            let tiling = env.tiling();
            let pair = tiling
                .shards()
                .windows(2)
                .min_by_key(|w| w[0].range.last_offset() / 2 + w[1].range.last_offset() / 2)
                .map(|w| (w[0].id.clone(), w[1].id.clone()));
            if let Some((low, high)) = pair {
                env.merge(&low, &high);
                self.last_down = Some(now);
            }
        }
        Ok(())
    }
}
