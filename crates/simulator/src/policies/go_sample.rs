//! The alarm-driven sample from AWS (`aws-samples/kinesis-auto-scaling`, Go Lambda): two metric-
//! math alarms on usage, the larger of bytes and records over the live capacity, 5-minute
//! periods. Scale up when usage > 75 % in 5 of 5 periods (25 minutes); scale down when < 25 % in
//! 57 of 60 periods (5 hours). The Lambda doubles or halves with `UpdateShardCount` (within the
//! 10-a-day quota; a refused call changes nothing), rewrites both alarms for the new count and
//! sets them back to `OK`.

use super::{Controller, Env, evaluation};
use crate::SimError;
use crate::assumptions::{MAX_SHARDS, MIN_SHARDS, NOTIFY_LATENCY_SECS};
use crate::cloudwatch::{Alarm, Cmp, State, Watch};

pub const PARAMETERS: &str = "usage (max of bytes, records) > 75 % for 5 of 5 five-minute periods: \
UpdateShardCount ×2; < 25 % for 57 of 60: ×½";

#[derive(Debug)]
pub struct GoSample {
    up: Alarm,
    down: Alarm,
    /// (deliver at, scale up?)
    pending: Option<(i64, bool)>,
    resizing: bool,
}

fn alarm(shards: u32, evaluation_periods: u32, datapoints_to_alarm: u32, threshold: f64, cmp: Cmp) -> Alarm {
    Alarm {
        shard: None,
        watch: Watch::Usage { shards },
        period_secs: 300,
        evaluation_periods,
        datapoints_to_alarm,
        threshold,
        cmp,
        state: State::Ok,
        changed_at: i64::MIN,
        reason: Default::default(),
    }
}

impl GoSample {
    pub fn new(open: u32) -> GoSample {
        GoSample {
            up: alarm(open, 5, 5, 0.75, Cmp::Gt),
            down: alarm(open, 60, 57, 0.25, Cmp::Lt),
            pending: None,
            resizing: false,
        }
    }
}

impl Controller for GoSample {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        if evaluation(now) && self.pending.is_none() && !self.resizing {
            if self.up.evaluate(now, env.metrics).is_some() {
                self.pending = Some((now + NOTIFY_LATENCY_SECS, true));
            } else if self.down.evaluate(now, env.metrics).is_some() {
                self.pending = Some((now + NOTIFY_LATENCY_SECS, false));
            }
        }
        if self.resizing && env.kinesis.is_active() {
            self.resizing = false;
            let open = env.kinesis.open();
            self.up = alarm(open, 5, 5, 0.75, Cmp::Gt);
            self.down = alarm(open, 60, 57, 0.25, Cmp::Lt);
        }
        if let Some((due, up)) = self.pending
            && due <= now
            && env.kinesis.is_active()
        {
            self.pending = None;
            let open = env.kinesis.open();
            let target = if up { (open * 2).min(MAX_SHARDS) } else { (open / 2).max(MIN_SHARDS) };
            if target != open && env.kinesis.update_shard_count(now, target)?.is_none() {
                self.resizing = true;
            }
        }
        Ok(())
    }
}
