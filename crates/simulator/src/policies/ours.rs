//! This project's policy: its stack deployed on the simulated AWS, running the Lambdas' own flows.
//!
//! Nothing of the flow is replayed here. The stream is left as `streams apply` leaves it (its
//! policy tag, its alarms notifying the alarm topic, enhanced monitoring where the policy turns
//! shard-level metrics on), and `simulated_aws::Deployment` runs the functions as
//! `infra/template.yaml` deploys them: CloudWatch's alarms, evaluated each minute over the
//! published datapoints, reach the scale-up function through SNS, which runs
//! `reconciler::scale_up::handle`; the resync every 5 minutes runs `scale_up::resync`; the
//! predictive rule every hour runs `predict::pass`; the sweep every 36 hours runs
//! `scale_down::sweep`. Each invocation takes a fresh context with the function's deadline, in
//! virtual time, so a reshard's wait, a retry's backoff and the executor's polls cost nothing.
//! Invocations run concurrently, as Lambda runs them: an alarm delivered while a reshard is in
//! flight reads the stream, waits for it to be `ACTIVE`, and decides from what it left.

use std::sync::Arc;
use std::time::Duration;

use planner::{POLICY_TAG, Policy, SHARD_METRICS, alarm_specs, encode_policy, shard_alarm_specs};
use reconciler::{AlarmPort, Resharder, Scope};
use simulated_aws::{Config, Deployment, Schedule, VirtualClock, World, answer};

use super::STREAM;
use crate::assumptions::{
    LAMBDA_TIMEOUT_SECS, MAX_SHARDS, MIN_SHARDS, PRE_SCALE_EVERY_SECS, SCALE_DOWN_EVERY_SECS,
};

pub const PARAMETERS: &str = "planner::Policy::default() (scale up at 80 % to a 60 % target, 60 s period, \
1 evaluation period, 5 min cooldown, throttling alarm bypasses it; every alarm of one evaluation sized together; \
scale down every 36 h when every 5-minute point of 24 h is under 50 %: an even stream to the fewest shards that \
carry the peak at 60 % by chained halving calls, else adjacent pairs merged to at most 60 %, shared reads \
held to 60 % of their limit too, nothing merged while a consumer's iterator age passed 600 s in the look-back), \
shards within [1, 256]; the stack as deployed: alarms through SNS to the scale-up function, its resync every \
5 min, the sweep every 36 h, each function's own flow in virtual time";

pub const SHARD_METRICS_PARAMETERS: &str = "the same, with shardLevelMetrics: true: Kinesis enhanced \
monitoring of IncomingBytes and IncomingRecords per shard, a bytes and a records alarm per open shard at \
80 % of one shard, each shard's measured load in both decisions; billed per shard-month as CloudWatch \
custom metrics and standard alarms";

pub const PREDICTIVE_PARAMETERS: &str = "the same, with scaleUp.predictive {lookbackDays: 21, leadMinutes: 15} (the stream's own settings in `streams whatif`): every hour, on the hour, the forecast of the next 75 min (the hour to the next pass plus the lead) from the 5-minute sums of the last 21 days (`planner::plan_pre_scale`), and a scale-up to carry it at the 60 % target when it needs more shards than are open, through the same cooldown gate, plan recording and executor as an alarm's";

pub const WITHOUT_SCALE_DOWN_PARAMETERS: &str = "the same, never scaling down: the counterfactual \
the readers target compares this project's iterator age with";

/// The policy the report runs: the defaults, with the simulator's shard bounds.
pub fn policy() -> Policy {
    Policy { min_shards: MIN_SHARDS, max_shards: MAX_SHARDS, ..Policy::default() }
}

/// Deploys the stack on `world` for the simulated stream under `policy`, as a platform team
/// would: `streams apply` has written the stream's policy tag and alarms (and turned on enhanced
/// monitoring where the policy asks for shard-level metrics), and the functions run on their
/// schedules from now, the sweep only with `scale_down`. The scale-up function's timeout is the
/// template's maximum ([`LAMBDA_TIMEOUT_SECS`]); the predictive rule fires on the hour from
/// adoption.
pub fn deploy(world: &World, clock: Arc<VirtualClock>, policy: &Policy, scale_down: bool) -> Deployment {
    let model = world.model();
    let scope = Scope { account: model.account.clone(), region: model.region.clone(), ..Scope::default() };
    let secs = |s: i64| Duration::from_secs(s.unsigned_abs());
    let config = Config {
        scale_up_timeout: secs(LAMBDA_TIMEOUT_SECS),
        predict_schedule: Some(Schedule { first: Duration::ZERO, every: secs(PRE_SCALE_EVERY_SECS) }),
        sweep_schedule: scale_down.then(|| Schedule::every(secs(SCALE_DOWN_EVERY_SECS))),
        ..Config::stack(scope)
    };
    let tag = [(POLICY_TAG.to_owned(), encode_policy(policy))].into();
    answer(world.add_tags(STREAM, &tag)).expect("the simulated stream exists");
    let tiling = world.tiling(STREAM).expect("the simulated stream exists");
    let actions = std::slice::from_ref(&config.alarm_topic);
    let mut specs = alarm_specs(STREAM, tiling.len(), policy, actions);
    specs.extend(shard_alarm_specs(STREAM, &tiling.ids(), policy, actions));
    for spec in &specs {
        answer(world.put_alarm(spec)).expect("the world takes any alarm");
    }
    if policy.shard_level_metrics {
        answer(world.enable_shard_metrics(STREAM, &SHARD_METRICS)).expect("the simulated stream exists");
    }
    Deployment::new(world.clone(), clock, config)
}
