//! Scale-down planning: the every-datapoint-cold rule and which adjacent shards to merge.
//!
//! Scaling down is deliberately slow and conservative. A stream is merged only when every
//! datapoint of both metrics over the whole look-back window is under the scale-down threshold.
//! Even then a pair of shards is merged only if the *time-aligned sum* of the pair's load stays at
//! or under the scale-up target at every datapoint: two shards at 49 % must not become one at 98 %
//! that the next alarm splits again. Shards whose history does not cover the window (fresh children
//! of a reshard) are left alone, so one cycle merges each shard at most once and at most halves
//! the stream.
//!
//! **Complete evidence before merging.** CloudWatch stores no datapoint for a period in which
//! nothing was written, so an idle stream has an empty window: a missing *stream-level* datapoint
//! counts as zero load, but only when the read says it is complete. The rule, in full:
//!
//! 1. The stream-level series (bytes and records) must have been read [`ReadStatus::Complete`].
//!    `PartialData` (a page limit was hit), `InternalError` or `Forbidden` refuses the stream: an
//!    empty or short series then proves nothing, and treating it as zero merges two shards at 49 %
//!    into one at 98 %. A failed read is an error upstream, never an empty series.
//! 2. A shard-level series is used where it was read complete, point by point. Where it has no
//!    datapoint but the stream-level series does, the shard's load at that period is *unknown*,
//!    not zero (shard-level metrics turned on less than a window ago, or a shard whose metrics are
//!    absent): it takes the stream-level estimate (the stream's load × the shard's key-space
//!    share), which rule 1 has made complete. A shard-level series read incomplete is not used at
//!    all: the whole shard takes the estimate. Where neither series has a datapoint, nothing was
//!    written, so an idle stream with shard-level metrics still merges.
//! 3. The plan's reasons say how many shards were estimated that way.
//!
//! The risk that a not-yet-published tail hides a surge is covered by the scale-up alarm, which
//! re-checks within a minute. Every plan reports the coverage.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::capacity::count_up_to;
use crate::load::shard_share;
use crate::scale_up::{EVEN_TOLERANCE, UPDATE_SHARD_COUNT_CALLS_PER_DAY};
use crate::{HashRange, LoadSeries, Policy, ReadHistory, SHARD_READ_BYTES_PER_SEC, ShardId, Tiling, Window};

/// A time as reasons print it: to the second, UTC.
fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// How complete CloudWatch says a series' read was (`MetricDataResult.StatusCode`, after every
/// result page was followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReadStatus {
    Complete,
    /// Some datapoints were not returned (a page or datapoint limit was hit).
    PartialData,
    InternalError,
    Forbidden,
}

impl ReadStatus {
    pub fn is_complete(self) -> bool {
        self == ReadStatus::Complete
    }

    /// The less complete of two reads: what a series built from both (bytes and records) is worth.
    pub fn worst(self, other: ReadStatus) -> ReadStatus {
        if self.is_complete() { other } else { self }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReadStatus::Complete => "Complete",
            ReadStatus::PartialData => "PartialData",
            ReadStatus::InternalError => "InternalError",
            ReadStatus::Forbidden => "Forbidden",
        }
    }
}

/// A load series and how complete its read was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesRead {
    pub series: LoadSeries,
    pub status: ReadStatus,
}

/// The inputs of one scale-down decision.
#[derive(Debug, Clone, Copy)]
pub struct ScaleDownInput<'a> {
    pub stream: &'a str,
    pub tiling: &'a Tiling,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
    /// Stream-level load over (at least) the look-back window.
    pub stream_load: &'a LoadSeries,
    /// How complete the stream-level read was; anything but complete refuses the stream.
    pub stream_status: ReadStatus,
    /// Per-shard load, where shard-level metrics are enabled; other shards, and the periods a
    /// shard's series lacks, are estimated from the stream's load and their share of the key space
    /// (see the module documentation).
    pub shard_load: &'a BTreeMap<ShardId, SeriesRead>,
    /// Open shards whose history does not cover the whole window (see [`young_shards`]).
    pub young: &'a BTreeSet<ShardId>,
    /// When the stream was last resharded by anyone we know of (the scaler's tag).
    pub last_scaled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub update_calls_last_24h: u32,
    /// What the stream's readers did over the window: a merge waits while they are behind
    /// (`scaleDown.maxIteratorAgeSeconds`) and must keep their shared reads under the read limit.
    pub reads: &'a ReadHistory,
}

/// A complete, explained scale-down decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleDownPlan {
    pub open_shards: u32,
    pub target_shards: u32,
    pub action: ScaleDownAction,
    /// Peak utilisation of the stream over the window (the larger of bytes and records).
    pub peak_utilisation: f64,
    /// Datapoints present out of those the window should hold; missing ones counted as zero.
    pub datapoints: u32,
    pub expected_datapoints: u32,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScaleDownAction {
    None,
    /// `MergeShards` on each pair, coldest first.
    Merge {
        merges: Vec<PlannedMerge>,
    },
    /// One halving `UpdateShardCount`, where it does in one call what the merges would.
    UpdateShardCount {
        target: u32,
    },
}

/// Two adjacent open shards to merge: `low` ends right before `high` starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedMerge {
    pub low: ShardId,
    pub high: ShardId,
    pub merged_range: HashRange,
    /// The merged shard's peak utilisation over the window (time-aligned sum of the pair).
    pub peak_utilisation: f64,
}

/// Open shards born inside the look-back window, so without a full window of history: the open
/// shards whose parent is still listed (closed shards stay listed for the retention period), when
/// the last reshard we know of falls inside the window, or when we know of none (someone else
/// resharded: assume the worst). This over-approximates (an older child of an earlier reshard
/// also counts while its parent is listed) and never under-approximates.
pub fn young_shards(
    with_listed_parent: &BTreeSet<ShardId>,
    last_resharded_at: Option<DateTime<Utc>>,
    window_start: DateTime<Utc>,
) -> BTreeSet<ShardId> {
    match last_resharded_at {
        Some(t) if t < window_start => BTreeSet::new(),
        _ => with_listed_parent.clone(),
    }
}

/// Decides whether and how to scale a stream down. Pure: the same input always yields the same plan.
pub fn plan_scale_down(input: ScaleDownInput<'_>) -> ScaleDownPlan {
    let ScaleDownInput { stream, tiling, policy, now, last_scaled_at, created_at, .. } = input;
    let open = tiling.len();
    let window = Window::ending_at(now, policy);
    let series = window.restrict(input.stream_load);
    let threshold = policy.scale_down.threshold;
    let (peak_at, peak) = series.peak_utilisation(open).unwrap_or((window.start, 0.0));
    let mut plan = ScaleDownPlan {
        open_shards: open,
        target_shards: open,
        action: ScaleDownAction::None,
        peak_utilisation: peak,
        datapoints: series.points.len() as u32,
        expected_datapoints: window.expected_points(),
        reasons: vec![format!(
            "{stream}: peak {:.1}% of {open} shard(s) at {} over {} datapoint(s) of {} \
             (missing ones count as zero)",
            peak * 100.0,
            when(peak_at),
            series.points.len(),
            window.expected_points(),
        )],
    };
    let cooldown = Duration::seconds(i64::from(policy.scale_up.cooldown_secs));
    let refusal = if open <= policy.min_shards {
        Some(format!("at minShards ({})", policy.min_shards))
    } else if !input.stream_status.is_complete() {
        Some(format!(
            "the stream-level metrics read was {}: incomplete evidence never counts as cold",
            input.stream_status.as_str()
        ))
    } else if !input.reads.status.is_complete() {
        Some(format!(
            "the stream-level read metrics read was {}: incomplete evidence never says the consumers \
             keep up",
            input.reads.status.as_str()
        ))
    } else if let Some((age_at, age_ms, bound)) = lagging(input, &window) {
        Some(format!(
            "the consumers were behind: the iterator age peaked at {:.0} s at {}, over the {bound} s bound \
             (scaleDown.maxIteratorAgeSeconds)",
            age_ms / 1_000.0,
            when(age_at)
        ))
    } else if created_at > window.start {
        Some(format!(
            "created at {}, inside the look-back window: not a full window of history",
            when(created_at)
        ))
    } else if let Some(t) = last_scaled_at.filter(|t| *t + cooldown > now) {
        Some(format!("scaled at {}, still within the {}s cooldown", when(t), policy.scale_up.cooldown_secs))
    } else if peak >= threshold.get() {
        Some(format!(
            "a datapoint at {} is at {:.1}%, not under the {:.0}% scale-down threshold",
            when(peak_at),
            peak * 100.0,
            threshold.percent()
        ))
    } else {
        None
    };
    if let Some(refusal) = refusal {
        plan.reasons.push(format!("not scaling down: {refusal}"));
        return plan;
    }
    if let Some(target) = uniform_target(input, peak, &mut plan.reasons) {
        plan.target_shards = target;
        plan.action = ScaleDownAction::UpdateShardCount { target };
        return plan;
    }
    let merges = choose_merges(input, &window, open - policy.min_shards, &mut plan.reasons);
    if merges.is_empty() {
        plan.reasons.push("no adjacent pair can merge without going over the scale-up target".into());
        return plan;
    }
    let merged = merges.len() as u32;
    plan.target_shards = open - merged;
    let every_shard_paired = open % 2 == 0 && merged * 2 == open;
    plan.action = if merged >= 2
        && every_shard_paired
        && tiling.is_even(EVEN_TOLERANCE)
        && input.update_calls_last_24h < UPDATE_SHARD_COUNT_CALLS_PER_DAY
    {
        plan.reasons.push(format!(
            "every shard pairs up on an evenly split stream: one UpdateShardCount to {} instead of {merged} merges",
            plan.target_shards
        ));
        ScaleDownAction::UpdateShardCount { target: plan.target_shards }
    } else {
        plan.reasons.push(format!("merging {merged} pair(s), coldest first"));
        ScaleDownAction::Merge { merges }
    };
    plan
}

/// When and how far behind the consumers were, with the bound, if the window's oldest iterator
/// age passed `scaleDown.maxIteratorAgeSeconds`. A merge halves the merged pair's shared read
/// throughput (and a Lambda consumer's concurrent batches on it): consumers already behind would
/// fall further behind, so the stream waits for them.
fn lagging(input: ScaleDownInput<'_>, window: &Window) -> Option<(DateTime<Utc>, f64, u32)> {
    let bound = input.policy.scale_down.max_iterator_age_secs?;
    let (at, age_ms) = input.reads.peak_iterator_age(window)?;
    (age_ms > f64::from(bound) * 1_000.0).then_some((at, age_ms, bound))
}

/// The busiest period's shared reads over the window, in bytes per second (zero: none).
fn read_peak(input: ScaleDownInput<'_>, window: &Window) -> f64 {
    input.reads.peak_bytes(window).map_or(0.0, |(_, bytes)| bytes)
}

/// The count a cold, evenly split stream can shrink to in one cycle with `UpdateShardCount`, if
/// that is allowed and smaller than what merging pairs would reach.
///
/// Merging pairs at most halves a stream per 36-hour cycle, and only where each pair stays at
/// the target, so a spike's capacity came down one halving a cycle (32 shards bought for a 10×
/// spike took three cycles, four and a half days, to return to the 4 the traffic needs) and a
/// stream at 45 % of 6 shards never shrank (each pair would be at 90 %). On an even stream the
/// load is spread by key share, so the stream-level peak sizes every shard alike: the fewest
/// shards that carry the window's peak at the scale-up target, never under `minShards`, reached
/// by halving calls chained in one run (Kinesis refuses a call below half the open count), as
/// many as the rolling day's quota leaves. The shared readers' peak counts alike: the count must
/// also serve it at the target of each shard's 2 MiB/s shared read limit. Only without per-shard series: with shard-level
/// metrics the pairs' measured sums decide, as they see skew the stream-level peak hides. Young
/// shards (see [`young_shards`]) have less than a window of history, so their stream is merged
/// pair by pair as before, where they are left alone.
fn uniform_target(input: ScaleDownInput<'_>, peak: f64, reasons: &mut Vec<String>) -> Option<u32> {
    let ScaleDownInput { tiling, policy, update_calls_last_24h, .. } = input;
    let open = tiling.len();
    let quota = UPDATE_SHARD_COUNT_CALLS_PER_DAY.saturating_sub(update_calls_last_24h);
    if !input.shard_load.is_empty()
        || !input.young.is_empty()
        || !tiling.is_even(EVEN_TOLERANCE)
        || quota == 0
    {
        return None;
    }
    let target = policy.scale_up.target.get();
    let window = Window::ending_at(input.now, policy);
    let for_writes = count_up_to(peak * f64::from(open) / target, open);
    let for_reads = count_up_to(read_peak(input, &window) / (SHARD_READ_BYTES_PER_SEC * target), open);
    let needed = for_writes.max(for_reads).max(policy.min_shards).max(1);
    let mut count = open;
    let mut calls = 0;
    while count > needed && calls < quota {
        count = count.div_ceil(2).max(needed);
        calls += 1;
    }
    if count >= open {
        return None;
    }
    if for_reads > for_writes.max(policy.min_shards) {
        reasons.push(format!(
            "the shared reads' peak needs {for_reads} shard(s) at the {:.0}% target of {} MiB/s each",
            policy.scale_up.target.percent(),
            SHARD_READ_BYTES_PER_SEC / 1_048_576.0
        ));
    }
    reasons.push(format!(
        "evenly split and cold: the window's peak fits {needed} shard(s) at the {:.0}% target; \
         UpdateShardCount to {count} in {calls} call(s){}",
        policy.scale_up.target.percent(),
        if count > needed { format!(" (the rolling day's quota allows {quota})") } else { String::new() },
    ));
    Some(count)
}

/// One shard's load series by the evidence rule (module documentation, rule 2): its own series
/// where it was read complete, the stream-level estimate ([`shard_share`]) for every period its
/// series lacks and for the whole window if its read was incomplete.
fn shard_series(read: Option<&SeriesRead>, stream_load: &LoadSeries, range: &HashRange) -> LoadSeries {
    let (estimate, _) = shard_share(None, stream_load, range);
    let Some(read) = read.filter(|r| r.status.is_complete()) else { return estimate };
    let (mut measured, _) = shard_share(Some(&read.series), stream_load, range);
    for (t, rate) in estimate.points {
        measured.points.entry(t).or_insert(rate);
    }
    measured
}

/// Greedy: every adjacent pair of shards with full history whose combined peak stays at or under
/// the scale-up target, coldest first, each shard at most once, at most `max_merges`.
fn choose_merges(
    input: ScaleDownInput<'_>,
    window: &Window,
    max_merges: u32,
    reasons: &mut Vec<String>,
) -> Vec<PlannedMerge> {
    let ScaleDownInput { tiling, policy, stream_load, shard_load, young, .. } = input;
    let ceiling = policy.scale_up.target.get();
    let reads = read_peak(input, window);
    let load_of = |id: &ShardId, range: &HashRange| {
        window.restrict(&shard_series(shard_load.get(id), stream_load, range))
    };
    if !shard_load.is_empty() {
        let unknown = tiling
            .shards()
            .iter()
            .filter(|s| {
                let read = shard_load.get(&s.id);
                read.is_none_or(|r| {
                    !r.status.is_complete()
                        || window
                            .restrict(stream_load)
                            .points
                            .keys()
                            .any(|t| !r.series.points.contains_key(t))
                })
            })
            .count();
        if unknown > 0 {
            reasons.push(format!(
                "{unknown} shard(s) without complete shard-level metrics: estimated from the stream's \
                 load where their own datapoints are missing or incomplete"
            ));
        }
    }
    let mut candidates: Vec<PlannedMerge> = tiling
        .shards()
        .windows(2)
        .filter_map(|pair| {
            let (low, high) = (&pair[0], &pair[1]);
            if young.contains(&low.id) || young.contains(&high.id) {
                return None;
            }
            let combined = load_of(&low.id, &low.range).plus(&load_of(&high.id, &high.range));
            let peak = combined.peak_utilisation(1).map_or(0.0, |(_, u)| u);
            if peak > ceiling {
                reasons.push(format!(
                    "{} + {} would peak at {:.1}%, over the {:.0}% target",
                    low.id,
                    high.id,
                    peak * 100.0,
                    ceiling * 100.0
                ));
                return None;
            }
            // Shared reads split by key share like writes: the merged shard serves the pair's.
            let merged_range = low.range.merged_with(&high.range)?;
            let read_share = reads * merged_range.fraction() / SHARD_READ_BYTES_PER_SEC;
            if read_share > ceiling {
                reasons.push(format!(
                    "{} + {} would serve {:.1}% of one shard's shared read limit at the reads' peak, \
                     over the {:.0}% target",
                    low.id,
                    high.id,
                    read_share * 100.0,
                    ceiling * 100.0
                ));
                return None;
            }
            Some(PlannedMerge {
                low: low.id.clone(),
                high: high.id.clone(),
                merged_range,
                peak_utilisation: peak,
            })
        })
        .collect();
    let skipped_young = tiling.shards().iter().filter(|s| young.contains(&s.id)).count();
    if skipped_young > 0 {
        reasons.push(format!("{skipped_young} shard(s) born inside the window are left alone"));
    }
    candidates.sort_by(|a, b| {
        a.peak_utilisation.total_cmp(&b.peak_utilisation).then_with(|| a.merged_range.cmp(&b.merged_range))
    });
    let mut used = BTreeSet::new();
    let mut chosen = Vec::new();
    for merge in candidates {
        if chosen.len() as u32 >= max_merges {
            break;
        }
        if used.contains(&merge.low) || used.contains(&merge.high) {
            continue;
        }
        used.insert(merge.low.clone());
        used.insert(merge.high.clone());
        chosen.push(merge);
    }
    chosen
}
