//! The design this project started from: the same stream-level capacity alarms (80 % of the live
//! count, 60 s period, one evaluation period), and each alarm splits *one* shard, the widest, at
//! its midpoint, then re-arms; no throttling alarm, no cooldown. Every 36 h, when every 5-minute
//! point of the last 24 h is under 50 % of capacity, adjacent pairs are merged left to right
//! (halving the stream) without checking what the merged pair will carry.

use std::collections::VecDeque;

use planner::{Policy, ShardId, alarm_specs};
use reconciler::{AlarmPort, AlarmState};
use simulated_aws::answer;

use super::{Controller, Env, STREAM, widest};
use crate::SimError;
use crate::assumptions::SCALE_DOWN_EVERY_SECS;
use crate::policies::ours::policy;

pub const PARAMETERS: &str = "capacity alarms at 80 % (60 s, 1 period); one SplitShard of the widest \
shard per alarm, no cooldown; every 36 h, if every 5-minute point of 24 h is under 50 %, merge \
adjacent pairs left to right";

/// The topic its alarms notify.
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:baseline";

#[derive(Debug)]
pub struct Baseline {
    policy: Policy,
    /// Alarm notifications delivered and not yet handled, one a second.
    queue: VecDeque<String>,
    merges: Vec<(ShardId, ShardId)>,
    busy: bool,
    next_sweep: i64,
}

impl Baseline {
    pub fn new(env: &Env<'_>) -> Baseline {
        let policy =
            Policy { scale_up: planner::ScaleUp { throttle_alarm: false, ..policy().scale_up }, ..policy() };
        let baseline = Baseline {
            policy,
            queue: VecDeque::new(),
            merges: Vec::new(),
            busy: false,
            next_sweep: SCALE_DOWN_EVERY_SECS,
        };
        baseline.rearm(env, false);
        baseline
    }

    /// Writes its alarms for the live count, back to `OK` if `reset`.
    fn rearm(&self, env: &Env<'_>, reset: bool) {
        for spec in alarm_specs(STREAM, env.open(), &self.policy, &[TOPIC.to_owned()]) {
            answer(env.world().put_alarm(&spec)).expect("the world takes any alarm");
            if reset {
                let _ = answer(env.world().set_alarm_state(&spec.name, AlarmState::Ok, "baseline: re-armed"));
            }
        }
    }
}

impl Controller for Baseline {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        self.queue.extend(env.deliveries(TOPIC));
        if !env.is_active() {
            return Ok(());
        }
        if let Some((low, high)) = self.merges.pop() {
            env.merge(&low, &high);
            return Ok(());
        }
        if self.busy {
            // The split or the last merge finished: re-arm for the new count.
            self.busy = false;
            self.rearm(env, true);
            return Ok(());
        }
        if now >= self.next_sweep {
            self.next_sweep += SCALE_DOWN_EVERY_SECS;
            let open = env.open();
            let load = env.load_series(300, now - 24 * 3600, now);
            let cold = load.points.values().all(|r| r.utilisation(open) < 0.5);
            if cold && open > self.policy.min_shards {
                let tiling = env.tiling();
                let shards = tiling.shards();
                let pairs = ((open - self.policy.min_shards) as usize).min(shards.len() / 2);
                self.merges = (0..pairs)
                    .rev()
                    .map(|i| (shards[2 * i].id.clone(), shards[2 * i + 1].id.clone()))
                    .collect();
                self.busy = !self.merges.is_empty();
                return Ok(());
            }
        }
        if self.queue.pop_front().is_some()
            && env.open() < self.policy.max_shards
            && let Some((shard, key)) = widest(&env.tiling())
        {
            env.split(&shard, key);
            self.busy = true;
        }
        Ok(())
    }
}
