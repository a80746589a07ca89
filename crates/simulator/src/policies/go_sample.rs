//! The alarm-driven sample from AWS (`aws-samples/kinesis-auto-scaling`, Go Lambda): two metric-
//! math alarms on usage, the larger of bytes and records over the live capacity, 5-minute
//! periods. Scale up when usage > 75 % in 5 of 5 periods (25 minutes); scale down when < 25 % in
//! 57 of 60 periods (5 hours). The Lambda doubles or halves with `UpdateShardCount` (within the
//! 10-a-day quota; a refused call changes nothing), rewrites both alarms for the new count (back
//! to `INSUFFICIENT_DATA`, so they fire again if still breaching), and ignores notifications
//! while a resize is under way.

use simulated_aws::UsageAlarm;

use super::{Controller, Env, STREAM};
use crate::SimError;
use crate::assumptions::{MAX_SHARDS, MIN_SHARDS};

pub const PARAMETERS: &str = "usage (max of bytes, records) > 75 % for 5 of 5 five-minute periods: \
UpdateShardCount ×2; < 25 % for 57 of 60: ×½";

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:go-sample";
const UP: &str = "go-sample-up";

#[derive(Debug, Default)]
pub struct GoSample {
    /// A delivered notification to act on: scale up?
    pending: Option<bool>,
    resizing: bool,
}

/// Its two alarms for `shards` open shards.
fn write_alarms(env: &Env<'_>, shards: u32) {
    let alarm = |name: &str, evaluation_periods, datapoints_to_alarm, threshold, below| UsageAlarm {
        name: name.to_owned(),
        stream: STREAM.to_owned(),
        shards,
        period_secs: 300,
        evaluation_periods,
        datapoints_to_alarm,
        threshold,
        below,
        actions: vec![TOPIC.to_owned()],
    };
    env.world().put_usage_alarm(alarm(UP, 5, 5, 0.75, false));
    env.world().put_usage_alarm(alarm("go-sample-down", 60, 57, 0.25, true));
}

impl GoSample {
    pub fn new(env: &Env<'_>) -> GoSample {
        write_alarms(env, env.open());
        GoSample::default()
    }
}

impl Controller for GoSample {
    fn tick(&mut self, _now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        for message in env.deliveries(TOPIC) {
            if self.pending.is_none() && !self.resizing {
                let alarm: serde_json::Value = serde_json::from_str(&message).unwrap_or_default();
                self.pending = Some(alarm["AlarmName"] == UP);
            }
        }
        if self.resizing && env.is_active() {
            self.resizing = false;
            write_alarms(env, env.open());
        }
        if let Some(up) = self.pending
            && env.is_active()
        {
            self.pending = None;
            let open = env.open();
            let target = if up { (open * 2).min(MAX_SHARDS) } else { (open / 2).max(MIN_SHARDS) };
            if target != open && env.update_shard_count(target) {
                self.resizing = true;
            }
        }
        Ok(())
    }
}
