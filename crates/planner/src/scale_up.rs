//! Scale-up planning: which shards to split where, or one uniform `UpdateShardCount`.
//!
//! The plan is a set of *target boundaries*: hash keys that must become a shard's starting key.
//! Each hot shard gets the equal cuts that bring every child down to the target utilisation.
//! Execution is level-triggered: [`Execution::next`](crate::Execution::next) looks at the live tiling and returns the next
//! `SplitShard` still missing, so a crash halfway, a duplicate alarm or a concurrent reshard never
//! repeats a split and never loses one: re-reading the stream finds exactly what is left.
//!
//! The load metrics count only accepted writes. A throttling alarm adds two things: its
//! rejected-records count, which `estimate_rate` adds to the stream's demand, and a *throttled
//! floor* (`load::ThrottleFloor`): the shards it points at (the hot ones where known, else the
//! widest) carry at least their capacity, so each gets at least one split.
//!
//! `UpdateShardCount` re-creates equal-width shards, which undoes targeted splits, so it is only
//! considered when the key space is already split evenly and the load is not skewed; then each
//! call reaches up to twice the open count where splits would take one call per new shard, and a
//! bigger need is reached by chaining calls in the same invocation.

use serde::Serialize;

use crate::capacity::count_up_to;
use crate::{
    HashKey, HashRange, LoadSnapshot, MAX_SHARDS_PER_STREAM, Policy, Rate, SHARD_GET_RECORDS_PER_SEC,
    SHARD_READ_BYTES_PER_SEC, ShardId, Throttling, Tiling,
};

/// UpdateShardCount may be called this many times per stream in a rolling 24 h (Kinesis quota).
pub const UPDATE_SHARD_COUNT_CALLS_PER_DAY: u32 = 10;

/// How far from the ideal width a shard may be and still count as evenly split. UpdateShardCount
/// itself leaves shards within one key of equal; 5 % tolerates nothing a targeted split produces.
pub const EVEN_TOLERANCE: f64 = 0.05;

/// How far above the mean the hottest measured shard may be before the load counts as skewed.
pub const SKEW_TOLERANCE: f64 = 0.25;

/// The inputs of one scale-up decision.
#[derive(Debug, Clone, Copy)]
pub struct ScaleUpInput<'a> {
    pub tiling: &'a Tiling,
    pub load: &'a LoadSnapshot,
    pub policy: &'a Policy,
    /// `UpdateShardCount` calls made on this stream in the last rolling 24 h.
    pub update_calls_last_24h: u32,
}

/// A complete, explained scale-up decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleUpPlan {
    /// The stream's demand the plan carries: what an execution re-plans for if the live tiling
    /// diverges from this plan (see [`Execution`](crate::Execution)).
    pub demand: Rate,
    /// The shared readers' demand the plan carries, in bytes per second (what a read-throttling
    /// alarm proves included); zero where the policy does not weigh reads.
    pub read_demand: f64,
    pub open_shards: u32,
    /// Shards needed to carry the load at the target utilisation, before the `maxShards` cap.
    pub needed_shards: u32,
    /// Open shards once the plan is carried out.
    pub target_shards: u32,
    pub action: ScaleUpAction,
    /// Why, in order; logged and printed by `streams plan`.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScaleUpAction {
    /// Nothing to do (enough capacity, or already at `maxShards`).
    None,
    /// Split these shards, hottest first, into equal-width children.
    Split { splits: Vec<PlannedSplit> },
    /// One `UpdateShardCount` to this count (uniform scaling).
    UpdateShardCount { target: u32 },
}

/// One shard of the snapshot and the boundaries that will cut it into equal children.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedSplit {
    pub shard: ShardId,
    pub range: HashRange,
    /// The `NewStartingHashKey`s, in the order they should be applied.
    pub cuts: Vec<HashKey>,
    pub utilisation: f64,
}

impl ScaleUpPlan {
    /// All target boundaries in execution order: the first cut of every planned shard (hottest
    /// first), then the second cut of each, and so on, so a deadline that interrupts the plan has
    /// relieved every hot shard a little rather than one completely.
    pub fn boundaries(&self) -> Vec<HashKey> {
        let ScaleUpAction::Split { splits } = &self.action else { return Vec::new() };
        let rounds = splits.iter().map(|s| s.cuts.len()).max().unwrap_or(0);
        (0..rounds).flat_map(|r| splits.iter().filter_map(move |s| s.cuts.get(r).copied())).collect()
    }
}

/// Decides how to scale a stream up. Pure: the same input always yields the same plan.
pub fn plan_scale_up(input: ScaleUpInput<'_>) -> ScaleUpPlan {
    let ScaleUpInput { tiling, load, policy, .. } = input;
    let open = tiling.len();
    let target = policy.scale_up.target;
    let for_writes = load.stream.shards_needed(target);
    let mut reasons = vec![format!(
        "load {:.0} B/s, {:.0} records/s is {:.0}% of {open} shard(s); {for_writes} shard(s) carry it at {:.0}%",
        load.stream.bytes_per_sec,
        load.stream.records_per_sec,
        load.stream.utilisation(open) * 100.0,
        target.percent(),
    )];
    let (read_demand, for_reads) = shared_read_need(tiling, load, policy, &mut reasons);
    let needed = for_writes.max(for_reads);
    if let Some(floor) = load.throttle_floor(tiling, policy) {
        let names: Vec<&str> = floor.shards.iter().map(ShardId::as_str).collect();
        reasons.push(format!(
            "throttled floor applied: writes are rejected, so shard(s) {} ({}) carry at least their capacity",
            names.join(", "),
            floor.why,
        ));
    }
    if load.throttling == Throttling::BeforeLastResize {
        reasons.push(
            "the throttling alarm quotes only minutes before the last resize: its rejected count \
             sizes the demand, and no shard of the new tiling is floored"
                .into(),
        );
    }
    let plan = |target_shards, action, reasons| ScaleUpPlan {
        demand: load.stream,
        read_demand,
        open_shards: open,
        needed_shards: needed,
        target_shards,
        action,
        reasons,
    };
    if open >= policy.max_shards {
        reasons.push(format!("already at maxShards ({}): nothing to split", policy.max_shards));
        return plan(open, ScaleUpAction::None, reasons);
    }
    let budget = policy.max_shards - open;
    let splits = split_candidates(input, budget.min(needed.saturating_sub(open)), &mut reasons);
    let added: u32 = splits.iter().map(|s| s.cuts.len() as u32).sum();
    if added == 0 {
        reasons.push("no shard is over the target and the stream has enough capacity".into());
        return plan(open, ScaleUpAction::None, reasons);
    }
    if let Some(first) = uniform_round(input, needed) {
        let goal = needed.min(policy.max_shards);
        let split_calls = added;
        let uniform_calls = doublings(open, goal);
        let split_leftover = (open + added).saturating_sub(needed);
        if (uniform_calls, 0) < (split_calls, split_leftover) {
            reasons.push(format!(
                "shards are evenly split and the load is not skewed: UpdateShardCount to {first}, \
                 {uniform_call} call(s) in all to reach {goal}, beats {split_calls} SplitShard call(s)",
                uniform_call = uniform_calls,
            ));
            return plan(goal, ScaleUpAction::UpdateShardCount { target: first }, reasons);
        }
    }
    if open + added < needed {
        reasons.push(format!("capped at maxShards ({})", policy.max_shards));
    }
    plan(open + added, ScaleUpAction::Split { splits }, reasons)
}

/// The shared readers' demand in bytes per second and the shards that serve it at the target:
/// `GetRecords.Bytes` split by key share like writes, each shard serving 2 MiB/s.
///
/// Reads served are capped at that limit while reads are throttled, as accepted writes are, so a
/// read-throttling alarm is evidence of more: where the widest shard (the first to fill under
/// uniform keys) served at least the scale-up threshold of its limit, the refusals were for bytes
/// and the demand is at least what the open shards serve (a ×1/target step per alarm, as the
/// write floor's). Where it served less, they were for the 5 `GetRecords` calls a second per
/// shard: every polling consumer calls every shard, so a new shard gets as many calls as the
/// others and splitting lifts nothing; the plan says so and adds no shard for it (the alarm stays
/// in `ALARM` for the resync, at no reshard).
fn shared_read_need(
    tiling: &Tiling,
    load: &LoadSnapshot,
    policy: &Policy,
    reasons: &mut Vec<String>,
) -> (f64, u32) {
    let reads = load.reads;
    let mut demand = reads.bytes_per_sec.max(0.0);
    let widest = tiling.shards().iter().map(|s| s.range.fraction()).fold(0.0, f64::max);
    let mib = |bytes: f64| bytes / 1_048_576.0;
    if reads.throttled && widest > 0.0 {
        let served = demand * widest / SHARD_READ_BYTES_PER_SEC;
        if served >= policy.scale_up.threshold.get() {
            demand = demand.max(SHARD_READ_BYTES_PER_SEC / widest);
            reasons.push(format!(
                "reads are throttled with the widest shard serving {:.0}% of its {} MiB/s shared read limit: \
                 the readers' demand is at least the {:.1} MiB/s the open shards serve",
                served * 100.0,
                mib(SHARD_READ_BYTES_PER_SEC),
                mib(demand),
            ));
        } else {
            reasons.push(format!(
                "reads are throttled while the widest shard serves {:.0}% of its {} MiB/s: the limit hit is \
                 the {SHARD_GET_RECORDS_PER_SEC} GetRecords calls a second per shard, which a new shard has \
                 as well (every polling consumer calls every shard); fewer polling consumers or enhanced \
                 fan-out lift it, more shards do not",
                served * 100.0,
                mib(SHARD_READ_BYTES_PER_SEC),
            ));
        }
    }
    let target = policy.scale_up.target;
    let need = count_up_to(demand / (SHARD_READ_BYTES_PER_SEC * target.get()), MAX_SHARDS_PER_STREAM);
    if need > load.stream.shards_needed(target) {
        reasons.push(format!(
            "shared reads of {:.1} MiB/s need {need} shard(s) at {:.0}% of their read limit",
            mib(demand),
            target.percent()
        ));
    }
    (demand, need)
}

/// The shards to split, hottest first, with the cuts each needs. Adds at least `min_new` shards
/// (so the stream reaches the capacity it needs) and never more than `budget`.
fn split_candidates(input: ScaleUpInput<'_>, min_new: u32, reasons: &mut Vec<String>) -> Vec<PlannedSplit> {
    let ScaleUpInput { tiling, load, policy, .. } = input;
    let budget = policy.max_shards - tiling.len();
    let target = policy.scale_up.target.get();
    let mut shards = load.per_shard_estimates(tiling, policy);
    // Hottest first; among equals, the widest range (it carries the most keys).
    shards.sort_by(|a, b| {
        b.utilisation.total_cmp(&a.utilisation).then_with(|| {
            let width = |id| tiling.get(id).map(|s| s.range.last_offset());
            width(&b.shard).cmp(&width(&a.shard))
        })
    });
    // Children each shard needs to bring every child under the target; never more than the
    // budget allows, however hot the estimate (a huge datapoint or a tiny target). The total is
    // summed in `u64`: thousands of shards each at the budget would overflow a `u32`.
    let most = budget.saturating_add(1);
    let mut parts: Vec<u32> =
        shards.iter().map(|s| count_up_to(s.utilisation / target, most).max(1)).collect();
    let mut added: u64 = parts.iter().map(|p| u64::from(p - 1)).sum();
    // The stream may need more than the hot shards' estimates say (per-shard numbers lag): add one
    // child at a time, widest share first. Throttling always adds at least one shard, even where
    // the throttled floor does not (a 100 % target, or a floored shard too narrow to cut).
    let mut minimum = min_new;
    if load.throttling == Throttling::Now && added == 0 {
        reasons.push(
            "writes are throttled and the throttled floor splits nothing: splitting the widest range".into(),
        );
        minimum = minimum.max(1);
    }
    while added < u64::from(minimum.min(budget)) {
        let i = (0..shards.len())
            .max_by(|&a, &b| {
                let share = |i: usize| {
                    tiling.get(&shards[i].shard).map_or(0.0, |s| s.range.fraction()) / f64::from(parts[i])
                };
                share(a).total_cmp(&share(b)).then(b.cmp(&a))
            })
            .expect("a tiling has at least one shard");
        parts[i] += 1;
        added += 1;
    }
    // Trim to the budget: the coolest shards give up their cuts first.
    let mut over = added.saturating_sub(u64::from(budget));
    for p in parts.iter_mut().rev() {
        let cut = over.min(u64::from(*p - 1));
        *p -= u32::try_from(cut).expect("at most *p - 1");
        over -= cut;
    }
    shards
        .into_iter()
        .zip(parts)
        .filter_map(|(load, parts)| {
            let range = tiling.get(&load.shard)?.range;
            let cuts = ordered_cuts(range.equal_cuts(parts));
            (!cuts.is_empty()).then_some(PlannedSplit {
                shard: load.shard,
                range,
                cuts,
                utilisation: load.utilisation,
            })
        })
        .collect()
}

/// Orders cuts so the first lands nearest the middle and each later one halves the widest piece
/// left: after `k` steps the shard is as evenly divided as `k` splits allow.
fn ordered_cuts(cuts: Vec<HashKey>) -> Vec<HashKey> {
    fn visit(cuts: &[HashKey], out: &mut Vec<HashKey>) {
        if cuts.is_empty() {
            return;
        }
        let mid = cuts.len() / 2;
        out.push(cuts[mid]);
        visit(&cuts[..mid], out);
        visit(&cuts[mid + 1..], out);
    }
    let mut out = Vec::with_capacity(cuts.len());
    visit(&cuts, &mut out);
    out
}

/// The first of the `UpdateShardCount` rounds that reach `needed`, if uniform scaling is allowed
/// here, else `None`. One call at most doubles the count, so a bigger need takes several, which
/// the execution chains in one invocation (each re-planned from the live stream, within the daily
/// quota). The rounds are sized backwards from where they stop, so none is wasted: the first that
/// stops the throttling (the demand at the scale-up threshold) where it takes fewer rounds than
/// the need, then the need itself. A call's
/// duration grows with the count, so 7 → 13 → 25 → 33 reaches a 20-shard demand sooner than
/// 7 → 14 → 28 → 33.
fn uniform_round(input: ScaleUpInput<'_>, needed: u32) -> Option<u32> {
    let ScaleUpInput { tiling, load, policy, update_calls_last_24h } = input;
    let open = tiling.len();
    let allowed = update_calls_last_24h < UPDATE_SHARD_COUNT_CALLS_PER_DAY
        && tiling.is_even(EVEN_TOLERANCE)
        && !load.is_skewed(tiling, SKEW_TOLERANCE);
    let goal = needed.min(policy.max_shards);
    let relief = load.stream.shards_needed(policy.scale_up.threshold);
    let (to_relief, to_goal) = (doublings(open, relief), doublings(open, goal));
    let sooner =
        open < relief && relief < goal && (to_relief < to_goal || to_relief >= 2 && to_relief == to_goal);
    let stop = if sooner { relief } else { goal };
    (allowed && goal > open).then(|| first_of_rounds(open, stop))
}

/// The first count on the fewest doubling rounds from `open` to `stop` (> `open`) whose last round
/// lands exactly on `stop`: `stop` halved, rounded up, once per round after the first.
fn first_of_rounds(open: u32, stop: u32) -> u32 {
    let later_rounds = doublings(open, stop).saturating_sub(1);
    let mut first = stop;
    for _ in 0..later_rounds {
        first = first.div_ceil(2);
    }
    first
}

/// `UpdateShardCount` calls needed to grow from `open` to `needed`, doubling at most per call.
fn doublings(open: u32, needed: u32) -> u32 {
    let mut calls = 0;
    let mut count = open.max(1);
    while count < needed {
        count = count.saturating_mul(2);
        calls += 1;
    }
    calls
}
