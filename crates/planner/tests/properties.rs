//! Property tests with an oracle: whatever sequence of scale-ups and scale-downs the planner
//! decides, carrying the plans out (as Kinesis would, in memory) leaves a valid tiling of the whole
//! key space, within [minShards, maxShards], with every split strictly inside its shard and every
//! merge between adjacent shards.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use planner::*;
use proptest::prelude::*;

/// A fixed wall-clock time for executions (the properties do not depend on it).
fn at0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("in range")
}

fn policy(min: u32, max: u32) -> Policy {
    Policy { min_shards: min, max_shards: max, ..Policy::default() }
}

/// Executes a scale-up plan step by step through `Execution::next`, checking each step.
fn execute_up(tiling: &Tiling, plan: &ScaleUpPlan, policy: &Policy, next_id: &mut u64) -> Tiling {
    let mut live = tiling.clone();
    match &plan.action {
        ScaleUpAction::None => {}
        ScaleUpAction::UpdateShardCount { target } => {
            assert!(*target <= 2 * tiling.len() && *target > tiling.len(), "UpdateShardCount within 2x");
            live = uniform(*target, next_id);
        }
        ScaleUpAction::Split { splits } => {
            let boundaries = plan.boundaries();
            let mut execution = Execution::of_scale_up(plan, policy);
            for s in splits {
                for cut in &s.cuts {
                    assert!(s.range.can_split_at(*cut), "cut {cut} strictly inside {}", s.range);
                }
            }
            let mut steps = 0;
            while let NextStep::Step(planner::Step::Split { shard, at }) =
                execution.next(&live, &ScalingState::default(), at0())
            {
                let parent = live.get(&shard).expect("the step names an open shard").range;
                assert!(parent.can_split_at(at), "split key strictly inside the live shard");
                live = live.split(&shard, at, [fresh(next_id), fresh(next_id)]).expect("valid split");
                steps += 1;
                assert!(steps <= boundaries.len(), "each boundary is split at most once");
            }
            assert_eq!(live.len(), plan.target_shards, "splits reach the planned count");
        }
    }
    live
}

fn execute_down(tiling: &Tiling, plan: &ScaleDownPlan, next_id: &mut u64) -> Tiling {
    let mut live = tiling.clone();
    match &plan.action {
        ScaleDownAction::None => {}
        ScaleDownAction::UpdateShardCount { target } => {
            let mut execution = Execution::of_scale_down(plan, at0());
            while let NextStep::Step(planner::Step::UpdateShardCount { target }) =
                execution.next(&live, &ScalingState::default(), at0())
            {
                assert!(2 * target >= live.len() && target < live.len(), "each call at most halves");
                live = uniform(target, next_id);
            }
            assert_eq!(live.len(), *target, "the chained calls reach the planned count");
        }
        ScaleDownAction::Merge { .. } => {
            let mut execution = Execution::of_scale_down(plan, at0());
            while let NextStep::Step(planner::Step::Merge { low, high }) =
                execution.next(&live, &ScalingState::default(), at0())
            {
                let (l, h) = (live.get(&low).unwrap(), live.get(&high).unwrap());
                assert!(l.range.is_followed_by(&h.range), "merges pair only adjacent shards");
                live = live.merge(&low, &high, fresh(next_id)).expect("valid merge");
            }
            assert_eq!(live.len(), plan.target_shards);
        }
    }
    live
}

fn fresh(next_id: &mut u64) -> ShardId {
    *next_id += 1;
    ShardId::new(format!("shardId-{:012}", *next_id))
}

fn uniform(count: u32, next_id: &mut u64) -> Tiling {
    let tiling = Tiling::uniform(count, *next_id);
    *next_id += u64::from(tiling.len());
    tiling
}

#[derive(Debug, Clone)]
enum Step {
    /// Stream load as a multiple of one shard's capacity, and which shards (by index) are hot.
    Up { load: f64, hot: Vec<usize>, throttled: bool },
    /// A cold day at this fraction of one shard's capacity, flat.
    Down { load: f64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0.0..40.0f64, prop::collection::vec(0usize..64, 0..3), any::<bool>())
            .prop_map(|(load, hot, throttled)| Step::Up { load, hot, throttled }),
        (0.0..8.0f64).prop_map(|load| Step::Down { load }),
    ]
}

fn flat_day(now: DateTime<Utc>, rate: Rate) -> LoadSeries {
    let start = now - Duration::hours(25);
    LoadSeries {
        period_secs: 300,
        points: (0..300).map(|i| (start + Duration::minutes(5 * i), rate)).collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_of_plans_keeps_a_valid_tiling_within_bounds(
        initial in 1u32..12,
        bounds in (1u32..6, 6u32..48),
        steps in prop::collection::vec(step(), 1..12),
    ) {
        let (min, max) = bounds;
        let policy = policy(min, max);
        let mut next_id = 0;
        let mut live = uniform(initial.clamp(min, max), &mut next_id);
        let mut now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let created = now - Duration::days(30);
        for step in steps {
            now += Duration::hours(36);
            let before = live.len();
            live = match step {
                Step::Up { load, hot, throttled } => {
                    let hot: BTreeSet<ShardId> =
                        hot.iter().filter_map(|&i| live.shards().get(i).map(|s| s.id.clone())).collect();
                    let load = LoadSnapshot {
                        stream: Rate::capacity_of(1).scaled(load),
                        hot,
                        throttling: if throttled { Throttling::Now } else { Throttling::None },
                        ..LoadSnapshot::default()
                    };
                    let plan = plan_scale_up(ScaleUpInput {
                        tiling: &live, load: &load, policy: &policy, update_calls_last_24h: 0,
                    });
                    let after = execute_up(&live, &plan, &policy, &mut next_id);
                    prop_assert!(after.len() >= before, "scale-up never removes shards");
                    after
                }
                Step::Down { load } => {
                    let series = flat_day(now, Rate::capacity_of(1).scaled(load));
                    let plan = plan_scale_down(ScaleDownInput {
                        stream: "s", tiling: &live, policy: &policy, now,
                        stream_load: &series, stream_status: ReadStatus::Complete, shard_load: &BTreeMap::new(), young: &BTreeSet::new(),
                        last_scaled_at: None, created_at: created, update_calls_last_24h: 0,
                        reads: &ReadHistory::default(),
                    });
                    let after = execute_down(&live, &plan, &mut next_id);
                    prop_assert!(after.len() <= before, "scale-down never adds shards");
                    // A whole-stream resize lands where every even shard carries the load at the
                    // target (merges on an uneven tiling pair only shards that can take it).
                    if let ScaleDownAction::UpdateShardCount { target } = plan.action {
                        let fits = |n: u32| load / f64::from(n) <= policy.scale_up.target.get() + 1e-9;
                        prop_assert!(target == min || fits(target), "{before} → {target} carries {load}");
                        prop_assert!(target == min || !fits(target - 1), "{before} → {target}: the fewest");
                    }
                    after
                }
            };
            // The oracle: Tiling::new re-validates from scratch (sorted, no gap, no overlap, 0..=MAX).
            prop_assert!(Tiling::new(live.shards().to_vec()).is_ok());
            prop_assert!(live.len() <= max.max(before), "never above maxShards");
            prop_assert!(live.len() >= min.min(before), "never below minShards");
        }
    }

    #[test]
    fn hash_keys_round_trip_through_their_decimal_form(key in any::<u128>()) {
        let text = HashKey(key).to_string();
        prop_assert_eq!(text.parse::<HashKey>().unwrap(), HashKey(key));
    }

    #[test]
    fn equal_cuts_are_strictly_inside_and_nearly_equal(start in any::<u128>(), len in any::<u128>(), parts in 2u32..40) {
        let end = start.saturating_add(len);
        let range = HashRange::new(HashKey(start), HashKey(end)).unwrap();
        let cuts = range.equal_cuts(parts);
        if range.last_offset() < u128::from(parts) - 1 {
            prop_assert!(cuts.is_empty());
        } else {
            prop_assert_eq!(cuts.len(), parts as usize - 1);
            let mut edges = vec![start];
            edges.extend(cuts.iter().map(|c| c.0));
            for pair in edges.windows(2) {
                prop_assert!(pair[0] < pair[1]);
            }
            prop_assert!(cuts.iter().all(|c| range.can_split_at(*c)));
            // Child widths differ by at most one key.
            let mut widths: Vec<u128> = edges.windows(2).map(|w| w[1] - w[0]).collect();
            widths.push(end - cuts.last().unwrap().0 + 1);
            let (lo, hi) = (widths.iter().min().unwrap(), widths.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "widths {:?}", widths);
        }
    }
}
