//! The design this project started from: the same stream-level capacity alarms (80 % of the live
//! count, 60 s period, one evaluation period), and each alarm splits *one* shard, the widest, at
//! its midpoint, then re-arms; no throttling alarm, no cooldown. Every 36 h, when every 5-minute
//! point of the last 24 h is under 50 % of capacity, adjacent pairs are merged left to right
//! (halving the stream) without checking what the merged pair will carry.

use std::collections::VecDeque;

use planner::{Policy, alarm_specs};

use super::{Controller, Env, evaluate_alarms, widest};
use crate::SimError;
use crate::assumptions::SCALE_DOWN_EVERY_SECS;
use crate::cloudwatch::{Alarm, Notification};
use crate::policies::ours::{load_series, policy};

pub const PARAMETERS: &str = "capacity alarms at 80 % (60 s, 1 period); one SplitShard of the widest \
shard per alarm, no cooldown; every 36 h, if every 5-minute point of 24 h is under 50 %, merge \
adjacent pairs left to right";

#[derive(Debug)]
pub struct Baseline {
    policy: Policy,
    alarms: Vec<Alarm>,
    queue: VecDeque<Notification>,
    merges: Vec<(planner::ShardId, planner::ShardId)>,
    busy: bool,
    next_sweep: i64,
}

impl Baseline {
    pub fn new(open: u32) -> Baseline {
        let policy =
            Policy { scale_up: planner::ScaleUp { throttle_alarm: false, ..policy().scale_up }, ..policy() };
        let alarms = alarm_specs("baseline", open, &policy, &[]).iter().map(Alarm::from_spec).collect();
        Baseline {
            policy,
            alarms,
            queue: VecDeque::new(),
            merges: Vec::new(),
            busy: false,
            next_sweep: SCALE_DOWN_EVERY_SECS,
        }
    }

    fn rearm(&mut self, open: u32, reset: bool) {
        for (alarm, spec) in self.alarms.iter_mut().zip(alarm_specs("baseline", open, &self.policy, &[])) {
            let state = (alarm.state, alarm.changed_at);
            *alarm = Alarm::from_spec(&spec);
            if !reset {
                (alarm.state, alarm.changed_at) = state;
            }
        }
    }
}

impl Controller for Baseline {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        evaluate_alarms(&mut self.alarms, now, env, &mut self.queue);
        if !env.kinesis.is_active() {
            return Ok(());
        }
        if let Some((low, high)) = self.merges.pop() {
            env.kinesis.merge(now, &low, &high)?;
            return Ok(());
        }
        if self.busy {
            // The split or the last merge finished: re-arm for the new count.
            self.busy = false;
            self.rearm(env.kinesis.open(), true);
            return Ok(());
        }
        if now >= self.next_sweep {
            self.next_sweep += SCALE_DOWN_EVERY_SECS;
            let open = env.kinesis.open();
            let load = load_series(env.metrics, 300, now - 24 * 3600, now);
            let cold = load.points.values().all(|r| r.utilisation(open) < 0.5);
            if cold && open > self.policy.min_shards {
                let shards = env.kinesis.tiling().shards();
                let pairs = ((open - self.policy.min_shards) as usize).min(shards.len() / 2);
                self.merges = (0..pairs)
                    .rev()
                    .map(|i| (shards[2 * i].id.clone(), shards[2 * i + 1].id.clone()))
                    .collect();
                self.busy = !self.merges.is_empty();
                return Ok(());
            }
        }
        if self.queue.front().is_some_and(|n| n.deliver_at <= now) {
            self.queue.pop_front();
            if env.kinesis.open() < self.policy.max_shards
                && let Some((shard, key)) = widest(env.kinesis)
            {
                env.kinesis.split(now, &shard, key)?;
                self.busy = true;
            }
        }
        Ok(())
    }
}
