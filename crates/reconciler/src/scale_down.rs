//! The scale-down sweep: every managed stream, its look-back window of metrics in batched reads,
//! the core's merge decision, execution with bounded concurrency, and a cursor when time runs out.
//!
//! Streams are taken in name order, one *page* at a time: a page is as many managed streams as one
//! `GetMetricData` call covers ([`planner::streams_per_metrics_call`]), so the sweep costs about
//! `managed streams / 87` metric reads for 24 h of 5-minute data: four series a stream, the load's
//! two and the readers' two (plus one call per stream with shard-level metrics; `streams status`
//! reads a fifth series per stream in the same calls, see [`SweepSettings::advise`]). The
//! readers' series hold a merge while consumers are behind and keep merged shards under the
//! shared read limit ([`planner::plan_scale_down`]); see `SweepSettings::series_each` for their
//! price. Before each stream is read the deadline is checked; if too little time
//! is left the sweep stops reading, reviews what it has read, and returns the name of the last
//! stream read as a cursor. The next invocation starts after it, so a large account finishes the
//! cycle instead of silently skipping streams. Reshards of different streams run
//! concurrently, at most `concurrency` at a time (SplitShard/MergeShards allow 5 calls/s per
//! account); one stream's reshards stay sequential, as Kinesis requires.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use planner::{
    Advice, Execution, POLICY_TAG, Policy, ReadHistory, ReadSummary, ScaleDownAction, ScaleDownInput,
    ScaleDownPlan, ScalingState, SeriesRead, ShardId, Step, ThrottleEvidence, Utilisation, Window, Windows,
    advise, decode_policy_with, plan_scale_down, streams_per_metrics_call, throttled_records, young_shards,
};
use serde::{Deserialize, Serialize};

use crate::observe::{
    LOAD_SERIES, READ_SERIES, StreamHistory, history_of, read_queries, reads_of, series_of, throttle_query,
    throttles_of,
};
use crate::ports::{
    ActiveStream, AlarmPort, ErrorKind, MetricQuery, MetricsPort, PortError, Resharder, StreamReader,
};
use crate::rearm::{Reset, Rewrite, rearm, stream_alarms};
use crate::scale_up::{SkipCode, paused_reason};
use crate::{Context, ReconcileError, execute, load_queries, shard_load_series};

/// The scale-down function stops starting work this long before its deadline: time to report and
/// hand on.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// How deep a chain of hand-ons may go (`MAX_CONTINUATIONS`' default).
pub const MAX_CONTINUATIONS: u32 = 20;

/// Where a sweep starts: after `after` (none: the first stream), `depth` hand-ons deep. The
/// continuation topic carries it as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub depth: u32,
}

/// What a finished sweep leaves to the next invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum HandOn {
    /// The sweep reached the last stream.
    Done,
    /// The deadline stopped it: the next invocation starts here.
    Next(Start),
    /// The deadline stopped it, and handing on would not help; the next schedule starts over.
    Refused { after: String, why: &'static str },
}

/// The one rule for handing a sweep on: only when the deadline stopped it, never without
/// progress (a timeout too short for even one stream would loop for ever), never past
/// `max_continuations` deep.
pub fn continuation(start: &Start, report: &SweepReport, max_continuations: u32) -> HandOn {
    let Some(cursor) = &report.cursor else { return HandOn::Done };
    if report.reviews.is_empty() && start.after.as_deref().unwrap_or_default() == cursor.as_str() {
        let why = "no progress before the deadline: not handing on (is the timeout too short?)";
        return HandOn::Refused { after: cursor.clone(), why };
    }
    if start.depth >= max_continuations {
        let why = "continuation chain too deep; the next schedule starts over";
        return HandOn::Refused { after: cursor.clone(), why };
    }
    HandOn::Next(Start { after: Some(cursor.clone()), depth: start.depth + 1 })
}

/// How the sweep paces itself.
#[derive(Debug, Clone)]
pub struct SweepSettings {
    /// Streams resharded at the same time.
    pub concurrency: usize,
    /// Decide and report, change nothing (`DRY_RUN`, `streams status`).
    pub dry_run: bool,
    /// No stream is read unless this much time is left before the deadline: enough to read the
    /// metrics of the streams read so far (a few seconds on AWS) and to start their merges, which
    /// themselves stop at the deadline. The next cycle finishes whatever a deadline cut short.
    pub review_reserve: Duration,
    /// Which scale-down windows a policy tag may have: `streams.yaml`'s, or compressed for the
    /// demo and the emulator tests (`COMPRESSED_WINDOWS`; see [`planner::Windows`]).
    pub windows: Windows,
    /// Also read each stream's `WriteProvisionedThroughputExceeded` in the same batched calls and
    /// advise on its policy ([`planner::advise`]): `streams status` sets it, the Lambda does not.
    /// The scale-down rule does not weigh throttling, and `GetMetricData` is billed per metric
    /// requested: a third series a stream is half as many metrics again (and 116 streams a call
    /// instead of 175), which the Lambda, running unattended and printing no advice, would pay on
    /// every sweep for a figure nobody reads. A person running `status` reads it.
    pub advise: bool,
}

impl SweepSettings {
    /// The series read for each stream in the batched read: the load's two, the readers' two
    /// (`GetRecords.Bytes`, `GetRecords.IteratorAgeMilliseconds`), and the throttles when advising.
    ///
    /// The readers' series are what the iterator-age guard and the read capacity check decide
    /// from, so the Lambda reads them on every sweep. `GetMetricData` is billed per metric
    /// requested ($0.01 per 1,000): four metrics a stream instead of two doubles a sweep's read
    /// cost (1,000 streams: $0.04 a sweep instead of $0.02, about $0.80 a month at a sweep every
    /// 36 hours), and a call covers 87 streams of 24 h of 5-minute data instead of 175 (70 when
    /// advising, instead of 116).
    fn series_each(&self) -> u32 {
        LOAD_SERIES + READ_SERIES + u32::from(self.advise)
    }
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            concurrency: 4,
            dry_run: false,
            review_reserve: Duration::from_secs(30),
            windows: Windows::File,
            advise: false,
        }
    }
}

/// One managed stream's review.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub stream: String,
    pub open_shards: u32,
    pub min_shards: u32,
    pub max_shards: u32,
    pub utilisation: Option<Utilisation>,
    /// The readers over the window: the oldest iterator age and the shared reads' peak.
    pub reads: Option<ReadSummary>,
    /// Enhanced fan-out consumers registered (`None`: unknown). They have 2 MiB/s per shard each,
    /// apart from the shared limit, so no decision weighs them; the record says how many.
    pub enhanced_fan_out_consumers: Option<u32>,
    pub plan: Option<ScaleDownPlan>,
    /// What its look-back argues for changing in its policy, when the sweep advises.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
    /// The look-back as read, kept when the sweep advises: `streams status` replays it for its
    /// capacity-mode advice. Not serialised: the sums are the caller's input, not the review.
    #[serde(skip)]
    pub lookback: Option<Lookback>,
    #[serde(flatten)]
    pub outcome: ReviewOutcome,
}

/// A reviewed stream's look-back as the sweep read it, for a caller that weighs more than the
/// planner does: `streams status` replays it through the simulator for the capacity-mode advice
/// (`simulator::whatif`, which the reconciler does not depend on). The raw `Sum`s of bytes,
/// records and throttled records of the batched call (no other read), the window they cover, and
/// what a replay needs of the stream.
#[derive(Debug, Clone)]
pub struct Lookback {
    pub window: Window,
    /// `calls`: the batched `GetMetricData` calls the series rode in, shared with the page's
    /// other streams.
    pub history: StreamHistory,
    pub policy: Policy,
    pub created: DateTime<Utc>,
    pub on_demand: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// Merged (or halved) now.
    Scaled { to: u32, steps: Vec<String>, complete: bool },
    /// The plan says nothing to do; its reasons say why.
    Unchanged,
    /// Dry run: the plan would have acted.
    WouldScale { to: u32 },
    /// Not reviewed (paused, not ACTIVE, bad policy or state tag, ...); `skip` codes the reasons
    /// a metric filter counts.
    Skipped {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        skip: Option<SkipCode>,
    },
    /// An AWS failure outlasted the retries; the next cycle tries again.
    Failed { error: String },
}

impl ReviewOutcome {
    /// Left alone because its policy says `paused`, whether read before deciding or just before
    /// acting.
    fn paused(stream: &str) -> ReviewOutcome {
        ReviewOutcome::Skipped { reason: paused_reason(stream), skip: Some(SkipCode::Paused) }
    }
}

/// What a sweep did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub reviews: Vec<Review>,
    /// `GetMetricData` calls made (each may follow result pages).
    pub metrics_calls: u32,
    /// Set when the deadline stopped the sweep: continue after this stream name.
    pub cursor: Option<String>,
}

/// A managed stream read, `ACTIVE`, and ready to decide on.
pub(crate) struct Candidate {
    pub(crate) stream: ActiveStream,
    pub(crate) policy: Policy,
    pub(crate) state: ScalingState,
}

/// What reading one stream found.
pub(crate) enum Read {
    /// Managed and ready to decide on.
    Candidate(Candidate),
    /// Managed, but not to be decided on now; the review says why.
    Skipped(Review),
    /// Not managed by this tool, or gone since it was listed.
    NotManaged,
}

/// Sweeps every managed stream within the context's scope after `after` (a continuation's
/// cursor), page by page, until done or the deadline.
pub async fn sweep<K, C>(
    cx: &Context<K, C>,
    settings: &SweepSettings,
    after: Option<&str>,
) -> Result<SweepReport, ReconcileError>
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    let now = cx.now();
    let names = stream_names(cx, after).await?;
    let mut report = SweepReport::default();
    let default_points = Window::ending_at(now, &Policy::default()).expected_points();
    let page_size = streams_per_metrics_call(default_points, settings.series_each());
    let mut page: Vec<Candidate> = Vec::new();
    let mut last_read: Option<&String> = None;
    for name in &names {
        // Checked before every stream, not every page: a page of 175 streams can take minutes
        // to read (ListTagsForStream allows 5 calls a second per account), longer than a timeout.
        if !cx.has(settings.review_reserve) {
            report.cursor = Some(last_read.map(String::as_str).or(after).unwrap_or_default().to_owned());
            break;
        }
        match read(cx, name, now, settings.windows).await {
            Ok(Read::Candidate(candidate)) => page.push(candidate),
            Ok(Read::Skipped(review)) => report.reviews.push(review),
            Ok(Read::NotManaged) => {}
            Err(e) => report.reviews.push(failed(name, e.to_string())),
        }
        last_read = Some(name);
        if page.len() == page_size {
            review_page(cx, std::mem::take(&mut page), now, settings, &mut report).await;
        }
    }
    // Everything read is reviewed, so the cursor (the last stream read) never skips one.
    review_page(cx, page, now, settings, &mut report).await;
    Ok(report)
}

/// The streams a pass over the deployment visits, in name order: every stream within the
/// context's `STREAM_NAME_PREFIX`, after `after` (a continuation's cursor). Which of them are
/// managed is told by [`read`], one stream at a time. The sweep and the predictive pass
/// ([`crate::predict`]) list alike.
pub(crate) async fn stream_names<K: Resharder + Sync, C>(
    cx: &Context<K, C>,
    after: Option<&str>,
) -> Result<Vec<String>, PortError> {
    let mut names = cx.kinesis().list_streams().await?;
    names.sort();
    let prefix = &cx.scope.stream_prefix;
    names.retain(|n| n.starts_with(prefix.as_str()) && after.is_none_or(|after| n.as_str() > after));
    Ok(names)
}

/// Reads a stream and tells whether it can be decided on. One `describe` (whose tags tell managed
/// streams from others) rather than tags first and then `describe`: ListTagsForStream allows 5
/// calls a second per account, the slowest step of a large sweep, and this makes it once per stream.
pub(crate) async fn read<K: Resharder + Sync, C>(
    cx: &Context<K, C>,
    name: &str,
    now: DateTime<Utc>,
    windows: Windows,
) -> Result<Read, PortError> {
    let snapshot = match cx.kinesis().describe(name).await {
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(Read::NotManaged),
        other => other?,
    };
    let Some(tag) = snapshot.tags.get(POLICY_TAG) else { return Ok(Read::NotManaged) };
    let invalid = |e: planner::PlannerError, policy: Option<&Policy>| {
        let reason = format!("{e}; run `streams apply` to rewrite it");
        Read::Skipped(Review {
            outcome: ReviewOutcome::Skipped { reason, skip: Some(SkipCode::InvalidTag) },
            ..skipped(name, 0, policy, String::new())
        })
    };
    let policy = match decode_policy_with(tag, windows) {
        Ok(policy) => policy,
        Err(e) => return Ok(invalid(e, None)),
    };
    if policy.paused {
        let open = snapshot.tiling().map_or(0, |t| t.len());
        let outcome = ReviewOutcome::paused(name);
        return Ok(Read::Skipped(Review { outcome, ..skipped(name, open, Some(&policy), String::new()) }));
    }
    // Not ACTIVE: a reshard is under way (the scale-up Lambda), whose children have no history yet.
    let stream = match snapshot.into_active() {
        Ok(stream) => stream,
        Err(snapshot) => {
            let open = snapshot.tiling().map_or(0, |t| t.len());
            let reason = format!("stream is {}", snapshot.status);
            return Ok(Read::Skipped(skipped(name, open, Some(&policy), reason)));
        }
    };
    let state = match ScalingState::from_tags(&stream.tags, now) {
        Ok(state) => state,
        Err(e) => return Ok(invalid(e, Some(&policy))),
    };
    Ok(Read::Candidate(Candidate { stream, policy, state }))
}

fn skipped(stream: &str, open: u32, policy: Option<&Policy>, reason: String) -> Review {
    Review {
        stream: stream.to_owned(),
        open_shards: open,
        min_shards: policy.map_or(0, |p| p.min_shards),
        max_shards: policy.map_or(0, |p| p.max_shards),
        utilisation: None,
        reads: None,
        enhanced_fan_out_consumers: None,
        plan: None,
        advice: None,
        lookback: None,
        outcome: ReviewOutcome::Skipped { reason, skip: None },
    }
}

fn failed(stream: &str, error: String) -> Review {
    Review { outcome: ReviewOutcome::Failed { error }, ..skipped(stream, 0, None, String::new()) }
}

/// Reads the page's metrics (one call per distinct window, more only if a long window's datapoints
/// exceed one call, or if a call times out and is read in halves), decides, and acts.
async fn review_page<K, C>(
    cx: &Context<K, C>,
    page: Vec<Candidate>,
    now: DateTime<Utc>,
    settings: &SweepSettings,
    report: &mut SweepReport,
) where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    if page.is_empty() {
        return;
    }
    let mut by_window: BTreeMap<(u32, u32), Vec<Candidate>> = BTreeMap::new();
    for c in page {
        by_window
            .entry((c.policy.scale_down.period_secs, c.policy.scale_down.lookback_secs))
            .or_default()
            .push(c);
    }
    let mut decided = Vec::new();
    let chunks = by_window.into_values().flat_map(|group| {
        let window = Window::ending_at(now, &group[0].policy);
        let per_call = streams_per_metrics_call(window.expected_points(), settings.series_each());
        let mut group = group.into_iter().peekable();
        let mut chunks = Vec::new();
        while group.peek().is_some() {
            chunks.push((window, group.by_ref().take(per_call).collect::<Vec<_>>()));
        }
        chunks
    });
    for (window, group) in chunks {
        let queries: Vec<MetricQuery> = group
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                let (name, prefix) = (&c.stream.name, format!("s{i}"));
                let throttles = settings.advise.then(|| throttle_query(name, window.period_secs, &prefix));
                load_queries(name, None, window.period_secs, &prefix)
                    .into_iter()
                    .chain(read_queries(name, window.period_secs, &prefix))
                    .chain(throttles)
            })
            .collect();
        let before = metrics_calls(cx);
        let read = cx.cloudwatch().get_metric_data(&queries, window.start, window.end).await;
        let calls = metrics_calls(cx) - before;
        report.metrics_calls += calls;
        let series = match read {
            Ok(series) => series,
            Err(e) => {
                report.reviews.extend(group.iter().map(|c| failed(&c.stream.name, e.to_string())));
                continue;
            }
        };
        for (i, c) in group.into_iter().enumerate() {
            let load = series_of(&series, window.period_secs, &format!("s{i}"));
            let reads = reads_of(&series, window.period_secs, &format!("s{i}"));
            let throttled = settings.advise.then(|| {
                throttled_records(
                    throttles_of(&series, &format!("s{i}")),
                    c.stream.tiling().len(),
                    window.period_secs,
                )
            });
            // Shard-level metrics are per stream and per shard: one more read for each such stream.
            let mut shard_load = BTreeMap::new();
            if c.policy.shard_level_metrics {
                let open: Vec<ShardId> = c.stream.tiling().ids();
                let read = shard_load_series(
                    cx.cloudwatch(),
                    &c.stream.name,
                    &open,
                    window.period_secs,
                    window.start,
                    window.end,
                )
                .await;
                match read {
                    Ok((loads, calls)) => {
                        (shard_load, report.metrics_calls) = (loads, report.metrics_calls + calls)
                    }
                    Err(e) => {
                        report.reviews.push(failed(&c.stream.name, e.to_string()));
                        continue;
                    }
                }
            }
            let lookback = settings.advise.then(|| Lookback {
                window,
                history: history_of(&series, &c.stream.name, &format!("s{i}"), calls),
                policy: c.policy.clone(),
                created: c.stream.created,
                on_demand: c.stream.on_demand,
            });
            let decision = decide(c, &load, &reads, &shard_load, throttled, &window, now);
            decided.push(Decided { lookback, ..decision });
        }
    }
    let reviews: Vec<Review> = stream::iter(decided)
        .map(|decided| act(cx, decided, settings))
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    report.reviews.extend(reviews);
}

/// `GetMetricData` calls this context has made, timed-out halves included.
fn metrics_calls<K, C>(cx: &Context<K, C>) -> u32 {
    u32::try_from(cx.policy().calls_of("GetMetricData")).unwrap_or(u32::MAX)
}

/// A candidate with its plan, ready to act on.
struct Decided {
    candidate: Candidate,
    plan: ScaleDownPlan,
    utilisation: Utilisation,
    reads: ReadSummary,
    advice: Option<Advice>,
    lookback: Option<Lookback>,
}

impl Decided {
    fn review(self, outcome: ReviewOutcome) -> Review {
        let Decided { candidate: c, plan, utilisation, reads, advice, lookback } = self;
        Review {
            stream: c.stream.name.clone(),
            open_shards: c.stream.tiling().len(),
            min_shards: c.policy.min_shards,
            max_shards: c.policy.max_shards,
            utilisation: Some(utilisation),
            reads: Some(reads),
            enhanced_fan_out_consumers: c.stream.enhanced_fan_out_consumers,
            plan: Some(plan),
            advice,
            lookback,
            outcome,
        }
    }
}

/// `throttled`: the records rejected over the window, read only when the sweep advises.
fn decide(
    c: Candidate,
    load: &SeriesRead,
    reads: &ReadHistory,
    shard_load: &BTreeMap<ShardId, SeriesRead>,
    throttled: Option<u64>,
    window: &Window,
    now: DateTime<Utc>,
) -> Decided {
    let tiling = c.stream.tiling();
    let young = young_shards(&c.stream.with_listed_parent, c.state.last_scaled_at, window.start);
    let plan = plan_scale_down(ScaleDownInput {
        stream: &c.stream.name,
        tiling,
        policy: &c.policy,
        now,
        stream_load: &load.series,
        stream_status: load.status,
        shard_load,
        young: &young,
        last_scaled_at: c.state.last_scaled_at,
        created_at: c.stream.created,
        update_calls_last_24h: c.state.update_calls_last_24h(now),
        reads,
    });
    let utilisation = Utilisation::of(&load.series, window, tiling.len());
    let read_summary = ReadSummary::of(reads, window, tiling.len());
    let advice = throttled.and_then(|throttled_records| {
        let evidence = ThrottleEvidence {
            throttled_records,
            peak_utilisation: utilisation.peak(),
            load_status: load.status,
            open_shards: tiling.len(),
        };
        advise(&c.policy, &evidence)
    });
    Decided { candidate: c, plan, utilisation, reads: read_summary, advice, lookback: None }
}

/// Carries out one stream's plan: record the scaling on the stream, merge, re-arm its alarms.
async fn act<K, C>(cx: &Context<K, C>, mut decided: Decided, settings: &SweepSettings) -> Review
where
    K: Resharder + Sync,
    C: MetricsPort + AlarmPort + Sync,
{
    if decided.plan.action == ScaleDownAction::None {
        return decided.review(ReviewOutcome::Unchanged);
    }
    if settings.dry_run {
        let to = decided.plan.target_shards;
        return decided.review(ReviewOutcome::WouldScale { to });
    }
    let c = &mut decided.candidate;
    let name = c.stream.name.clone();
    let result = async {
        // Decided from tags read minutes ago: if anyone has scaled since, this plan is stale, and
        // writing the old state back would erase their record.
        let fresh = cx.kinesis().describe(&name).await?;
        let now = cx.now();
        let mut state = match ScalingState::from_tags(&fresh.tags, now) {
            Ok(state) => state,
            Err(e) => {
                let reason = format!("{e}; run `streams apply` to rewrite it");
                return Ok(ReviewOutcome::Skipped { reason, skip: Some(SkipCode::InvalidTag) });
            }
        };
        if state.last_scaled_at != c.state.last_scaled_at {
            let reason = "scaled by another actor since it was read; the next cycle decides again".to_owned();
            return Ok(ReviewOutcome::Skipped { reason, skip: None });
        }
        // A `streams apply` since the read may have paused the stream or changed its bounds: the
        // plan was made under the policy read then, so only that policy lets it go ahead.
        match fresh.tags.get(POLICY_TAG).map(|tag| decode_policy_with(tag, settings.windows)) {
            Some(Ok(policy)) if policy.paused => return Ok(ReviewOutcome::paused(&name)),
            Some(Ok(policy)) if policy == c.policy => {}
            _ => {
                let reason =
                    "its policy tag changed since it was read; the next cycle decides again".to_owned();
                return Ok(ReviewOutcome::Skipped { reason, skip: None });
            }
        }
        let recorded = state.record(now);
        let execution = Execution::of_scale_down(&decided.plan, recorded);
        cx.kinesis().add_tags(&name, &state.to_tags()).await?;
        let outcome = execute(cx, &name, execution).await?;
        let to = outcome.last.tiling().len();
        // A step still in flight at the deadline: the count it leads to is not there to re-arm for.
        if outcome.in_flight.is_none() {
            let alarms = stream_alarms(cx, &name).await?;
            rearm(cx, &outcome.last, &c.policy, &Reset::Keep, Rewrite::Always, &alarms).await?;
        }
        Ok::<_, ReconcileError>(ReviewOutcome::Scaled {
            to,
            steps: outcome.steps.iter().map(Step::to_string).collect(),
            complete: outcome.complete,
        })
    }
    .await;
    decided.review(result.unwrap_or_else(|e| ReviewOutcome::Failed { error: e.to_string() }))
}
