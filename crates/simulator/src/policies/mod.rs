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

use planner::Policy;

use crate::SimError;
use crate::cloudwatch::{Metrics, ShardMetrics};
use crate::kinesis::Kinesis;
use crate::trace::Trace;

/// What a controller may look at and act on.
#[derive(Debug)]
pub struct Env<'a> {
    pub kinesis: &'a mut Kinesis,
    pub metrics: &'a Metrics,
    /// Per-shard metrics: empty unless the policy turns shard-level metrics on.
    pub shard_metrics: &'a ShardMetrics,
    pub trace: &'a Trace,
}

/// A scaling policy in simulated time.
pub trait Controller {
    /// Called once per second `now`, after reshards due by `now` completed.
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError>;
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

    /// Whether the policy starts from the trace's initial shard count (the autoscalers) or
    /// sets its own capacity from the first second. This project's variants run `policy`, the
    /// one the stream's `streams.yaml` entry gives (the report's: [`ours::policy`]), with
    /// shard-level metrics as the kind says, and prediction only in
    /// [`PolicyKind::OursPredictive`] (the policy's own `predictive` settings, else the report's,
    /// [`crate::assumptions::PREDICTIVE`]).
    pub fn controller(self, trace: &Trace, kinesis: &mut Kinesis, policy: &Policy) -> Box<dyn Controller> {
        let ours = |kinesis: &Kinesis, shard_level_metrics, scale_down, predictive| -> Box<dyn Controller> {
            let mut policy = Policy { shard_level_metrics, ..policy.clone() };
            policy.scale_up.predictive = predictive;
            Box::new(ours::Ours::new(kinesis.tiling(), policy, scale_down))
        };
        let predictive = policy.scale_up.predictive.or(Some(crate::assumptions::PREDICTIVE));
        match self {
            PolicyKind::Ours => ours(kinesis, false, true, None),
            PolicyKind::OursPredictive => ours(kinesis, false, true, predictive),
            PolicyKind::OursShardMetrics => ours(kinesis, true, true, None),
            PolicyKind::OursWithoutScaleDown => ours(kinesis, false, false, None),
            PolicyKind::Baseline => Box::new(baseline::Baseline::new(kinesis.open())),
            PolicyKind::ScalingUtils => Box::new(scaling_utils::ScalingUtils::default()),
            PolicyKind::GoSample => Box::new(go_sample::GoSample::new(kinesis.open())),
            PolicyKind::OnDemand | PolicyKind::OnDemandAdvantage => Box::new(on_demand::OnDemand::new(trace)),
            PolicyKind::StaticPeak => Box::new(static_peak::Static::at_peak(trace, kinesis)),
            PolicyKind::Unchanged => Box::new(static_peak::Static),
            PolicyKind::Oracle => Box::new(oracle::Oracle),
            PolicyKind::BoundPath => Box::new(crate::bound::BoundPath::new(trace)),
        }
    }
}

/// The open shard with the widest range (ties: the lowest keys), and its midpoint.
pub(crate) fn widest(kinesis: &Kinesis) -> Option<(planner::ShardId, planner::HashKey)> {
    let shard = kinesis.tiling().shards().iter().max_by(|a, b| {
        a.range.last_offset().cmp(&b.range.last_offset()).then(b.range.start().cmp(&a.range.start()))
    })?;
    Some((shard.id.clone(), shard.range.midpoint()?))
}

/// Whether now is a CloudWatch alarm evaluation (once a minute).
pub(crate) fn evaluation(now: i64) -> bool {
    crate::cloudwatch::next_evaluation(now) == now
}

/// CloudWatch's once-a-minute evaluation of `alarms`: each that goes to `ALARM` is delivered to
/// the Lambda after the SNS + Lambda latency. A per-shard alarm reads its shard's metrics; one
/// whose shard has no datapoint yet is not evaluated.
pub(crate) fn evaluate_alarms(
    alarms: &mut [crate::cloudwatch::Alarm],
    now: i64,
    env: &Env<'_>,
    queue: &mut std::collections::VecDeque<crate::cloudwatch::Notification>,
) {
    if !evaluation(now) {
        return;
    }
    for (i, alarm) in alarms.iter_mut().enumerate() {
        let metrics = match &alarm.shard {
            None => env.metrics,
            Some(id) => match env.shard_metrics.of(id) {
                Some(metrics) => metrics,
                None => continue,
            },
        };
        if let Some(reason) = alarm.evaluate(now, metrics) {
            let deliver_at = now + crate::assumptions::NOTIFY_LATENCY_SECS;
            queue.push_back(crate::cloudwatch::Notification {
                alarm: i,
                watch: alarm.watch,
                shard: alarm.shard.clone(),
                changed_at: now,
                reason,
                deliver_at,
            });
        }
    }
}
