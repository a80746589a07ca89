//! The policies compared, each behind one small trait: once a simulated second, before that
//! second's traffic, a controller looks at what its real counterpart could see (published
//! metrics, the stream) and may start reshards.
//!
//! Only [`ours`] is this project's policy, and it decides by calling the `planner` crate exactly
//! as the Lambdas do; the others are written here from their published descriptions, each
//! module saying where its parameters come from.

pub mod baseline;
pub mod go_sample;
pub mod on_demand;
pub mod oracle;
pub mod ours;
pub mod scaling_utils;
pub mod static_peak;

use std::cell::Cell;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use planner::{HashKey, LoadSeries, Metric, Policy, ShardId, Tiling};
use reconciler::{Resharder, Statistic};
use simulated_aws::{Deployment, MetricKey, Stream, VirtualClock, World, answer};

use crate::SimError;
use crate::assumptions::at;
use crate::trace::Trace;

/// The simulated stream's name; nothing depends on it.
pub const STREAM: &str = "simulated";

/// A policy model in simulated time: once a simulated second, before that second's traffic, it
/// looks at what its real counterpart could see (published metrics, the stream, its alarms'
/// notifications) and may reshard, all through the one simulated AWS.
pub trait Controller {
    /// Called once per second `now`, after the world moved on to it.
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError>;
}

/// What a policy model may look at and act on: the world at second `now`.
#[derive(Debug)]
pub struct Env<'a> {
    world: &'a World,
    clock: &'a VirtualClock,
    pub trace: &'a Trace,
    now: i64,
    seen: &'a Seen,
}

/// What models ask every second, kept between the world's changes so that a quiet second costs
/// no lock: whether the stream is `ACTIVE`, and when the next SNS delivery falls due.
#[derive(Debug, Default)]
struct Seen {
    active: Cell<bool>,
    next_delivery: Cell<Option<DateTime<Utc>>>,
}

impl Seen {
    fn read(&self, world: &World) {
        self.active.set(world.stream(STREAM, Stream::is_active).unwrap_or(false));
        self.next_delivery.set(world.next_delivery());
    }
}

impl Env<'_> {
    pub fn world(&self) -> &World {
        self.world
    }

    /// The world's clock at this second, before anything a model does to the world.
    fn at_now(&self) -> DateTime<Utc> {
        let now = at(self.now);
        self.clock.advance_to(now);
        now
    }

    fn stream<R>(&self, f: impl FnOnce(&Stream) -> R) -> R {
        self.world.stream(STREAM, f).expect("the simulated stream exists")
    }

    /// `ACTIVE`: no reshard in progress.
    pub fn is_active(&self) -> bool {
        self.seen.active.get()
    }

    /// A reshard call's answer; one Kinesis took leaves the stream `UPDATING`.
    fn resharding(&self, result: Result<(), reconciler::PortError>) -> bool {
        let took = result.is_ok();
        if took {
            self.seen.active.set(false);
        }
        took
    }

    pub fn open(&self) -> u32 {
        self.stream(Stream::open)
    }

    pub fn tiling(&self) -> Tiling {
        self.stream(|s| s.tiling().clone())
    }

    pub fn shard_limit(&self) -> f64 {
        self.stream(|s| s.shard_limit)
    }

    /// Each open shard's share of demand (see [`Stream::shares`]).
    pub fn shares(&self, hot_key: HashKey, hot: f64) -> Vec<f64> {
        self.stream(|s| s.shares(hot_key, hot))
    }

    /// `SplitShard`; whether Kinesis took it (a refusal is counted by the world).
    pub fn split(&self, shard: &ShardId, at: HashKey) -> bool {
        self.at_now();
        self.resharding(answer(self.world.split_shard(STREAM, shard, at)))
    }

    /// `MergeShards`; whether Kinesis took it.
    pub fn merge(&self, low: &ShardId, high: &ShardId) -> bool {
        self.at_now();
        self.resharding(answer(self.world.merge_shards(STREAM, low, high)))
    }

    /// `UpdateShardCount`; whether Kinesis took it.
    pub fn update_shard_count(&self, target: u32) -> bool {
        self.at_now();
        self.resharding(answer(self.world.update_shard_count(STREAM, target)))
    }

    /// Replaces the open shards outside the reshard API (on-demand's adaptation, the oracle).
    pub fn reconfigure(&self, tiling: Tiling, shard_limit: f64) {
        self.at_now();
        self.world.with_stream(STREAM, |s| s.reconfigure(tiling, shard_limit));
    }

    /// The stream's published 1-minute-or-longer `Sum`s of bytes and records for periods starting
    /// in `[from, to)` seconds, as `GetMetricData` answers now.
    pub fn load_series(&self, period_secs: i64, from: i64, to: i64) -> LoadSeries {
        let now = self.at_now();
        let read = |metric| {
            let key = MetricKey::kinesis(metric, STREAM, None);
            self.world.read(&key, Statistic::Sum, period_secs as u32, at(from), at(to).min(now))
        };
        LoadSeries::from_sums(period_secs as u32, read(Metric::IncomingBytes), read(Metric::IncomingRecords))
    }

    /// The messages SNS delivered to `topic` by now.
    pub fn deliveries(&self, topic: &str) -> Vec<String> {
        if self.seen.next_delivery.get().is_none_or(|due| due > at(self.now)) {
            return Vec::new();
        }
        self.at_now();
        let delivered = self.world.take_deliveries(topic).into_iter().map(|d| d.message).collect();
        self.seen.next_delivery.set(self.world.next_delivery());
        delivered
    }
}

/// What moves one run forward each second: a policy model acting on the world, or this
/// project's stack deployed on it, running the Lambdas' own flows.
pub struct Driver<'a> {
    world: World,
    clock: Arc<VirtualClock>,
    trace: &'a Trace,
    runner: Runner,
    /// The stack has nothing to do before this second.
    quiet_until: i64,
    /// The world has nothing to do before this second (a minute's alarm evaluation, a reshard's
    /// completion).
    next_check: i64,
    version: u64,
    seen: Seen,
}

enum Runner {
    Model(Box<dyn Controller>),
    Stack(Box<Deployment>),
}

impl std::fmt::Debug for Driver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("next_check", &self.next_check).finish_non_exhaustive()
    }
}

impl Driver<'_> {
    /// Runs the world and the policy up to second `t`.
    pub fn run_until(&mut self, t: i64) -> Result<(), SimError> {
        match &mut self.runner {
            Runner::Stack(_) if t < self.quiet_until => {}
            Runner::Stack(deployment) => {
                deployment.run_until(at(t));
                self.quiet_until = crate::assumptions::secs(deployment.quiet_until());
                // The decision records are the Lambdas' log lines: the report measures the stream.
                drop(deployment.take_events());
            }
            Runner::Model(controller) => {
                if t >= self.next_check || self.world.version() != self.version {
                    self.clock.advance_to(at(t));
                    self.world.advance_to(at(t));
                    let minute = (t.div_euclid(60) + 1) * 60;
                    let change = self.world.next_change().map(crate::assumptions::secs);
                    self.next_check = change.map_or(minute, |c| c.min(minute));
                    self.version = self.world.version();
                    self.seen.read(&self.world);
                }
                let seen = &self.seen;
                let mut env = Env { world: &self.world, clock: &self.clock, trace: self.trace, now: t, seen };
                controller.tick(t, &mut env)?;
            }
        }
        Ok(())
    }
}

/// How a policy is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    Provisioned,
    OnDemand,
    OnDemandAdvantage,
}

/// The policies, in the order the report prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    Ours,
    /// This project's policy with `scaleUp.predictive` on: the hourly pre-scaling pass too.
    OursPredictive,
    /// This project's policy with `shardLevelMetrics: true`: per-shard metrics and alarms.
    OursShardMetrics,
    Baseline,
    ScalingUtils,
    GoSample,
    OnDemand,
    /// On-demand's capacity, billed as On-demand Advantage.
    OnDemandAdvantage,
    StaticPeak,
    Oracle,
    /// Not a policy: the physical bound's path, run through the same engine
    /// ([`crate::bound::BoundPath`]); not in [`PolicyKind::ALL`].
    BoundPath,
    /// Not a policy: this project's with its scale-downs turned off, what the readers target
    /// compares the iterator age with (`crate::report::readers_target`); not in [`PolicyKind::ALL`].
    OursWithoutScaleDown,
    /// Not a policy: the trace's initial count kept, what a stream provisioned by hand costs
    /// today (`streams whatif`); not in [`PolicyKind::ALL`].
    Unchanged,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 10] = [
        PolicyKind::Ours,
        PolicyKind::OursPredictive,
        PolicyKind::OursShardMetrics,
        PolicyKind::Baseline,
        PolicyKind::ScalingUtils,
        PolicyKind::GoSample,
        PolicyKind::OnDemand,
        PolicyKind::OnDemandAdvantage,
        PolicyKind::StaticPeak,
        PolicyKind::Oracle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Ours => "this project",
            PolicyKind::OursPredictive => "this project, predictive",
            PolicyKind::OursShardMetrics => "this project, shard-level metrics",
            PolicyKind::Baseline => "baseline design",
            PolicyKind::ScalingUtils => "scaling-utils (Java)",
            PolicyKind::GoSample => "AWS Go sample",
            PolicyKind::OnDemand => "on-demand",
            PolicyKind::OnDemandAdvantage => "on-demand Advantage",
            PolicyKind::StaticPeak => "static at peak",
            PolicyKind::Oracle => "oracle",
            PolicyKind::BoundPath => "bound path",
            PolicyKind::OursWithoutScaleDown => "this project, scale-downs off",
            PolicyKind::Unchanged => "current static count",
        }
    }

    /// The file-name-safe name (plots).
    pub fn slug(self) -> &'static str {
        match self {
            PolicyKind::Ours => "ours",
            PolicyKind::OursPredictive => "ours-predictive",
            PolicyKind::OursShardMetrics => "ours-shard-metrics",
            PolicyKind::Baseline => "baseline",
            PolicyKind::ScalingUtils => "scaling-utils",
            PolicyKind::GoSample => "go-sample",
            PolicyKind::OnDemand => "on-demand",
            PolicyKind::OnDemandAdvantage => "on-demand-advantage",
            PolicyKind::StaticPeak => "static",
            PolicyKind::Oracle => "oracle",
            PolicyKind::BoundPath => "bound-path",
            PolicyKind::OursWithoutScaleDown => "ours-without-scale-down",
            PolicyKind::Unchanged => "unchanged",
        }
    }

    /// Its parameters, as the report prints them.
    pub fn parameters(self) -> &'static str {
        match self {
            PolicyKind::Ours => ours::PARAMETERS,
            PolicyKind::OursPredictive => ours::PREDICTIVE_PARAMETERS,
            PolicyKind::OursShardMetrics => ours::SHARD_METRICS_PARAMETERS,
            PolicyKind::Baseline => baseline::PARAMETERS,
            PolicyKind::ScalingUtils => scaling_utils::PARAMETERS,
            PolicyKind::GoSample => go_sample::PARAMETERS,
            PolicyKind::OnDemand => on_demand::PARAMETERS,
            PolicyKind::OnDemandAdvantage => on_demand::ADVANTAGE_PARAMETERS,
            PolicyKind::StaticPeak => static_peak::PARAMETERS,
            PolicyKind::Oracle => oracle::PARAMETERS,
            PolicyKind::BoundPath => crate::bound::PARAMETERS,
            PolicyKind::OursWithoutScaleDown => ours::WITHOUT_SCALE_DOWN_PARAMETERS,
            PolicyKind::Unchanged => static_peak::UNCHANGED_PARAMETERS,
        }
    }

    pub fn billing(self) -> Billing {
        match self {
            PolicyKind::OnDemand => Billing::OnDemand,
            PolicyKind::OnDemandAdvantage => Billing::OnDemandAdvantage,
            _ => Billing::Provisioned,
        }
    }

    /// Whether the stream has shard-level metrics on (billed per shard: [`crate::cost`]).
    pub fn shard_level_metrics(self) -> bool {
        self == PolicyKind::OursShardMetrics
    }

    /// What runs this policy on `world`: this project's variants are its stack deployed there
    /// ([`ours::deploy`]) with `policy`, the one the stream's `streams.yaml` entry gives (the
    /// report's: [`ours::policy`]), shard-level metrics as the kind says, and prediction only in
    /// [`PolicyKind::OursPredictive`] (the policy's own `predictive` settings, else the report's,
    /// [`crate::assumptions::PREDICTIVE`]); the others are models acting on the world directly.
    pub fn driver<'a>(
        self,
        trace: &'a Trace,
        world: &World,
        clock: Arc<VirtualClock>,
        policy: &Policy,
    ) -> Driver<'a> {
        let ours = |shard_level_metrics, scale_down, predictive| {
            let mut policy = Policy { shard_level_metrics, ..policy.clone() };
            policy.scale_up.predictive = predictive;
            Runner::Stack(Box::new(ours::deploy(world, clock.clone(), &policy, scale_down)))
        };
        let model = |controller: Box<dyn Controller>| Runner::Model(controller);
        let predictive = policy.scale_up.predictive.or(Some(crate::assumptions::PREDICTIVE));
        let seen = Seen::default();
        seen.read(world);
        let env = Env { world, clock: &clock, trace, now: 0, seen: &seen };
        let runner = match self {
            PolicyKind::Ours => ours(false, true, None),
            PolicyKind::OursPredictive => ours(false, true, predictive),
            PolicyKind::OursShardMetrics => ours(true, true, None),
            PolicyKind::OursWithoutScaleDown => ours(false, false, None),
            PolicyKind::Baseline => model(Box::new(baseline::Baseline::new(&env))),
            PolicyKind::ScalingUtils => model(Box::<scaling_utils::ScalingUtils>::default()),
            PolicyKind::GoSample => model(Box::new(go_sample::GoSample::new(&env))),
            PolicyKind::OnDemand | PolicyKind::OnDemandAdvantage => {
                model(Box::new(on_demand::OnDemand::new(trace)))
            }
            PolicyKind::StaticPeak => model(Box::new(static_peak::Static::at_peak(&env))),
            PolicyKind::Unchanged => model(Box::new(static_peak::Static)),
            PolicyKind::Oracle => model(Box::new(oracle::Oracle)),
            PolicyKind::BoundPath => model(Box::new(crate::bound::BoundPath::new(trace))),
        };
        Driver {
            world: world.clone(),
            clock,
            trace,
            runner,
            quiet_until: 0,
            next_check: 0,
            version: world.version(),
            seen,
        }
    }
}

/// The open shard with the widest range (ties: the lowest keys), and its midpoint.
pub(crate) fn widest(tiling: &Tiling) -> Option<(ShardId, HashKey)> {
    let shard = tiling.shards().iter().max_by(|a, b| {
        a.range.last_offset().cmp(&b.range.last_offset()).then(b.range.start().cmp(&a.range.start()))
    })?;
    Some((shard.id.clone(), shard.range.midpoint()?))
}
