//! The hourly pre-scaling pass: every stream whose policy asks for prediction
//! (`scaleUp.predictive`), its weeks of history read in batched `GetMetricData` calls, the
//! planner's forecast ([`planner::plan_pre_scale`]), and a scale-up carried out *before* a
//! recurring peak, by the same executor, decision record and alarm re-arm as an alarm's
//! ([`crate::scale_up`]).
//!
//! # One pass
//!
//! 1. List the streams as the scale-down sweep does (name order, `STREAM_NAME_PREFIX`) and read
//!    each one (`DescribeStreamSummary`, `ListShards`, `ListTagsForStream`); keep the managed,
//!    `ACTIVE`, unpaused ones whose policy has `predictive`.
//! 2. Read their 5-minute `IncomingBytes` and `IncomingRecords` `Sum`s over each one's
//!    `lookbackDays`, as many streams a call as the limits allow (streams with the same look-back
//!    share calls). A read that is not `Complete` gives that stream no forecast (logged): a
//!    partial history could hide the very cycles the chance test counts.
//! 3. For each stream: the cooldown ([`planner::admit`], as a capacity alarm at `now`; anything
//!    but `Act` is held, logged), then [`planner::plan_pre_scale`] for the window
//!    `[now, now + 1 h + leadMinutes)`. A `Plan` re-reads the stream (waiting out another actor's
//!    reshard), admits and plans again from what *is*, and is carried out by
//!    `scale_up::scale_up_and_rearm`: recorded first (the cooldown starts, the day's
//!    `UpdateShardCount` quota counts it), executed, alarms re-armed for the new count and back to
//!    `OK`. The plan's first reason is the forecast; the record carries the peak too.
//!
//! Pre-scaled capacity comes down through the normal merge cycle: the sweep sees shards that are
//! cold outside the peak and merges them after its look-back, like any other.
//!
//! # The read's cost, bounded
//!
//! Two series a stream ([`LOAD_SERIES`]); a call holds at most 500 queries and 100,800
//! datapoints ([`planner::streams_per_metrics_call`]). So one pass makes
//! `ceil(predictive streams / streams per call)` calls for each look-back in use, more only when
//! a call times out and is read in halves by the I/O layer ([`crate::Io`]):
//!
//! | look-back | points a series | streams a call | calls a pass, 1,000 streams | calls a month (730 passes) |
//! |---|---|---|---|---|
//! | 14 days (default) | 4,032 | 12 | 84 | 61,320 |
//! | 28 days | 8,064 | 6 | 167 | 121,910 |
//!
//! `GetMetricData` is billed per metric requested ($0.01 per 1,000), not per call or datapoint:
//! 2,000 metrics a pass for 1,000 streams whatever the look-back, $0.02 a pass, $0.48 a day,
//! about $14.60 a month (1.46 million metrics). The pass's [`PredictReport::metrics_calls`] counts
//! the calls made; `crates/reconciler/tests/predict.rs` pins the figures.
//!
//! Kinesis reads: three calls a managed stream within the prefix each hour (the policy tag is what
//! says a stream is predictive), `ListTagsForStream` allowing 5 a second per account: about 200 s
//! for 1,000 streams. The pass starts reading no stream with less than
//! [`PredictSettings::review_reserve`] left; streams not reached are counted in
//! [`PredictReport::unread`] and logged, and the next hour starts over from the first name. Raise
//! `ScaleUpTimeout` or narrow `STREAM_NAME_PREFIX` where that warning shows.
//!
//! # History from before the stream existed
//!
//! Unlike `streams whatif` (which replays what *this* stream did with its shards), the pass does
//! not clamp the read to the stream's creation. CloudWatch keeps metrics by stream name, and on AWS
//! there are none from before a stream existed except where the name was deleted and created
//! again, almost always for the same producers (a re-partitioning, a restore): their rhythm is the
//! one to prepare for. A wrong inheritance costs at most one pre-scale, which the merge cycle takes
//! back, and the forecast's chance test still applies. The emulator test relies on it too: it
//! back-dates a week of history for a stream created seconds earlier.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::{
    Admission, AlarmKind, ExpectedPeak, LoadSeries, Policy, PreScale, PreScaleInput, ReadStatus,
    ScalingState, Tiling, Windows, align_down, next_peak, plan_pre_scale, streams_per_metrics_call,
};
use serde::Serialize;

use crate::observe::{LOAD_SERIES, series_of};
use crate::ports::{AlarmPort, MetricQuery, MetricsPort, Resharder};
use crate::rearm::stream_alarms;
use crate::scale_down::{Candidate, Read, read, stream_names};
use crate::scale_up::{self, Decision, Rearm};
use crate::{Context, ExecuteSettings, ReconcileError, load_queries};

/// How often the pass runs (`PredictSchedule`, `rate(1 hour)`): the forecast window is
/// `[now, now + EVERY + leadMinutes)`, so whichever tick sees a peak first has it covered.
pub const EVERY: chrono::Duration = chrono::Duration::hours(1);

/// The history's resolution: 5-minute `Sum`s (a day's periods divide evenly; 1-minute data would
/// cost five times the datapoints and CloudWatch keeps it only 15 days).
pub const PERIOD_SECS: u32 = 300;

/// Whether `secs` can be the history's period (`PREDICT_PERIOD_SECONDS`): whole minutes up to an
/// hour that divide a day, so every day and week lines up on the same periods. Coarser periods
/// average a short peak away; the emulator test uses an hour, since the emulator's `GetMetricData`
/// takes about a second per day of 5-minute buckets per series.
pub fn is_period(secs: u32) -> bool {
    (60..=3_600).contains(&secs) && secs.is_multiple_of(60) && 86_400 % secs == 0
}

/// The `trigger` of a decision the pass made, in its log line.
pub const PREDICT: &str = "predict";

/// How the pass paces itself.
#[derive(Debug, Clone)]
pub struct PredictSettings {
    /// Forecast and plan, change nothing (`streams status`); records then carry the outlook.
    pub dry_run: bool,
    /// No stream is read unless this much time is left: time to read the metrics of the streams
    /// read so far and to start their scale-ups (whose steps stop at the deadline themselves).
    pub review_reserve: Duration,
    /// The history's period: [`PERIOD_SECS`] unless the deployer says otherwise ([`is_period`]).
    pub period_secs: u32,
}

impl Default for PredictSettings {
    fn default() -> Self {
        PredictSettings {
            dry_run: false,
            // Reading a page takes seconds; what must remain after it is a reshard step's budget,
            // or the pass would record a scale-up it has no time to start.
            review_reserve: ExecuteSettings::default().step_budget + Duration::from_secs(15),
            period_secs: PERIOD_SECS,
        }
    }
}

/// One predictive stream's decision: the record the Lambda logs and `streams status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct PredictRecord {
    pub stream: String,
    pub trigger: &'static str,
    /// The peak the window expects, when the forecast found one (its `explain()` is the plan's
    /// first reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak: Option<ExpectedPeak>,
    /// Dry run only: the first peak of the next 24 h and the shards planned for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlook: Option<Outlook>,
    #[serde(flatten)]
    pub decision: Decision,
    pub elapsed_ms: u64,
}

/// What `streams status` shows for a predictive stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlook {
    pub open_shards: u32,
    /// The first peak expected in the next 24 h ([`planner::next_peak`]), if any.
    pub next_peak: Option<ExpectedPeak>,
    /// Shards that carry it at the scale-up target, capped at `maxShards`.
    pub planned_shards: Option<u32>,
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct PredictReport {
    pub records: Vec<PredictRecord>,
    /// Streams whose read or scale-up failed after the retries (a failed history read names every
    /// stream of its call, comma-separated); the next pass tries again.
    pub failures: Vec<(String, ReconcileError)>,
    /// `GetMetricData` calls made (timed-out halves included).
    pub metrics_calls: u32,
    /// Streams listed but not read because the deadline came first.
    pub unread: usize,
}

/// One pass over every predictive stream within the context's scope, until done or the deadline.
pub async fn pass<K, C>(
    cx: &Context<K, C>,
    settings: &PredictSettings,
) -> Result<PredictReport, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let now = cx.now();
    let names = stream_names(cx, None).await?;
    let mut report = PredictReport::default();
    // Streams of one look-back share calls; a page is what one call holds.
    let mut pages: BTreeMap<u32, Vec<Candidate>> = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        if !cx.has(settings.review_reserve) {
            report.unread = names.len() - i;
            tracing::warn!(
                unread = report.unread,
                "predictive pass stopped at the deadline; the next hour starts over"
            );
            break;
        }
        let candidate = match read(cx, name, now, Windows::File).await {
            Ok(Read::Candidate(c)) => c,
            Ok(Read::Skipped(review)) => {
                tracing::debug!(stream = %name, outcome = ?review.outcome, "predictive pass: skipped");
                continue;
            }
            Ok(Read::NotManaged) => continue,
            Err(e) => {
                report.failures.push((name.clone(), e.into()));
                continue;
            }
        };
        let Some(predictive) = candidate.policy.scale_up.predictive else { continue };
        let page = pages.entry(predictive.lookback_days).or_default();
        page.push(candidate);
        if page.len() >= per_call(predictive.lookback_days, settings.period_secs) {
            let page = std::mem::take(page);
            review_page(
                cx,
                Page { streams: page, lookback_days: predictive.lookback_days, now },
                settings,
                &mut report,
            )
            .await;
        }
    }
    for (lookback_days, streams) in pages {
        review_page(cx, Page { streams, lookback_days, now }, settings, &mut report).await;
    }
    Ok(report)
}

/// Predictive streams of one look-back, read in one call, and the pass's time.
struct Page {
    streams: Vec<Candidate>,
    lookback_days: u32,
    now: DateTime<Utc>,
}

/// Streams one `GetMetricData` call covers at this look-back and period: 12 at 14 days of
/// 5-minute periods, 6 at 28.
pub fn per_call(lookback_days: u32, period_secs: u32) -> usize {
    streams_per_metrics_call(lookback_days.saturating_mul(86_400 / period_secs.max(1)), LOAD_SERIES)
}

/// The look-back's span, whole periods ending at `now`.
fn span(now: DateTime<Utc>, lookback_days: u32, period_secs: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = align_down(now, period_secs);
    (end - chrono::Duration::days(i64::from(lookback_days)), end)
}

/// Reads one page's history in one call (halved on a timeout), then decides and acts per stream.
async fn review_page<K, C>(
    cx: &Context<K, C>,
    page: Page,
    settings: &PredictSettings,
    report: &mut PredictReport,
) where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let Page { streams: page, lookback_days, now } = page;
    if page.is_empty() {
        return;
    }
    let period = settings.period_secs;
    let (start, end) = span(now, lookback_days, period);
    let queries: Vec<MetricQuery> = page
        .iter()
        .enumerate()
        .flat_map(|(i, c)| load_queries(&c.stream.name, None, period, &format!("s{i}")))
        .collect();
    let before = cx.policy().calls_of("GetMetricData");
    let read = cx.cloudwatch().get_metric_data(&queries, start, end).await;
    report.metrics_calls += u32::try_from(cx.policy().calls_of("GetMetricData") - before).unwrap_or(u32::MAX);
    let series = match read {
        Ok(series) => series,
        Err(e) => {
            // One failure for the call, naming every stream it covered.
            let streams: Vec<&str> = page.iter().map(|c| c.stream.name.as_str()).collect();
            tracing::warn!(streams = ?streams, "no forecast: the history read failed: {e}");
            report.failures.push((streams.join(", "), e.into()));
            return;
        }
    };
    for (i, c) in page.into_iter().enumerate() {
        let started = cx.now();
        let history = series_of(&series, period, &format!("s{i}"));
        let name = c.stream.name.clone();
        let result = if history.status == ReadStatus::Complete {
            decide(cx, c, &history.series, now, settings).await
        } else {
            let reason = format!(
                "no forecast: CloudWatch answered the {lookback_days}-day history read {:?}; the next pass reads it again",
                history.status
            );
            tracing::warn!(stream = %name, "{reason}");
            Ok((None, None, Decision::NoPreScale { reason }))
        };
        match result {
            Ok((peak, outlook, decision)) => report.records.push(PredictRecord {
                stream: name,
                trigger: PREDICT,
                peak,
                outlook,
                decision,
                elapsed_ms: cx.millis_since(started),
            }),
            Err(e) => report.failures.push((name, e)),
        }
    }
}

type Decided = (Option<ExpectedPeak>, Option<Outlook>, Decision);

/// One stream: the cooldown, the forecast and plan, and the scale-up.
async fn decide<K, C>(
    cx: &Context<K, C>,
    c: Candidate,
    history: &LoadSeries,
    now: DateTime<Utc>,
    settings: &PredictSettings,
) -> Result<Decided, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let outlook = settings.dry_run.then(|| outlook(history, c.stream.tiling(), &c.policy, now));
    let (decision, peak) = match plan(c.stream.tiling(), history, &c.policy, &c.state, now) {
        Planned::Decided(decision, peak) => (decision, peak),
        Planned::Plan(peak, plan) if settings.dry_run => (Decision::WouldScale { plan }, Some(peak)),
        Planned::Plan(..) => {
            // Decided from a read made before the history's: decide again from what *is*.
            let fresh = scale_up::read(cx, &c.stream.name).await?;
            let (active, policy, state) = match fresh {
                Ok(read) => read,
                Err((reason, skip)) => return Ok((None, outlook, Decision::Ignored { reason, skip })),
            };
            match plan(active.tiling(), history, &policy, &state, now) {
                Planned::Decided(decision, peak) => (decision, peak),
                Planned::Plan(peak, plan) => {
                    tracing::info!(stream = %active.name, "pre-scaling: {}", peak.explain());
                    let replan = |calls| match pre_scale(active.tiling(), history, &policy, calls, now) {
                        PreScale::Plan { plan, .. } => Some(plan),
                        _ => None,
                    };
                    let alarms = stream_alarms(cx, &active.name).await?;
                    let target = Rearm { live: &active, policy: &policy, shard_alarm: None, alarms: &alarms };
                    let decision = scale_up::scale_up_and_rearm(cx, &target, plan, replan, state).await?;
                    (decision, Some(peak))
                }
            }
        }
    };
    Ok((peak, outlook, decision))
}

/// What the forecast and the cooldown make of a stream, before any call.
enum Planned {
    /// No scale-up: the decision says why (held, no forecast, enough shards).
    Decided(Decision, Option<ExpectedPeak>),
    Plan(ExpectedPeak, planner::ScaleUpPlan),
}

fn plan(
    tiling: &Tiling,
    history: &LoadSeries,
    policy: &Policy,
    state: &ScalingState,
    now: DateTime<Utc>,
) -> Planned {
    // A forecast is a trigger at `now`, gated like a capacity alarm: the cooldown holds it.
    match planner::admit(now, AlarmKind::Capacity, state, policy, now) {
        Admission::Act => {}
        admission => return Planned::Decided(Decision::Held { admission }, None),
    }
    match pre_scale(tiling, history, policy, state.update_calls_last_24h(now), now) {
        PreScale::Off => Planned::Decided(
            Decision::NoPreScale { reason: "the policy does not ask for prediction".into() },
            None,
        ),
        PreScale::NoForecast { forecast } => {
            Planned::Decided(Decision::NoPreScale { reason: forecast.explain() }, None)
        }
        PreScale::Enough { peak, open_shards } => {
            let reason =
                format!("{}; the {open_shards} open shard(s) carry it at the target", peak.explain());
            Planned::Decided(Decision::NoPreScale { reason }, Some(peak))
        }
        PreScale::Plan { peak, plan } => Planned::Plan(peak, plan),
    }
}

fn pre_scale(
    tiling: &Tiling,
    history: &LoadSeries,
    policy: &Policy,
    update_calls_last_24h: u32,
    now: DateTime<Utc>,
) -> PreScale {
    plan_pre_scale(PreScaleInput { tiling, history, policy, now, every: EVERY, update_calls_last_24h })
}

/// The next 24 h as `streams status` shows them: the first expected peak and the shards that
/// carry it at the target, never above `maxShards`.
fn outlook(history: &LoadSeries, tiling: &Tiling, policy: &Policy, now: DateTime<Utc>) -> Outlook {
    let next = policy.scale_up.predictive.and_then(|p| {
        let lead = chrono::Duration::minutes(i64::from(p.lead_minutes));
        let lookback = chrono::Duration::days(i64::from(p.lookback_days));
        next_peak(history, now, lead, lookback, chrono::Duration::hours(24))
    });
    let planned_shards =
        next.as_ref().map(|p| p.rate.shards_needed(policy.scale_up.target).min(policy.max_shards));
    Outlook { open_shards: tiling.len(), next_peak: next, planned_shards }
}
