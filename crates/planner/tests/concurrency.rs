//! Executions of concurrent plans on one stream, interleaved step by step as Kinesis serialises
//! reshards: each step is derived from the tiling the previous one left, whoever made it.

use chrono::{DateTime, Duration, Utc};
use planner::*;
use proptest::prelude::*;

const MIB: f64 = 1_048_576.0;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("in range")
}

fn stream_load(mib_per_sec: f64) -> LoadSnapshot {
    LoadSnapshot {
        stream: Rate { bytes_per_sec: mib_per_sec * MIB, records_per_sec: 0.0 },
        ..Default::default()
    }
}

fn plan(tiling: &Tiling, load: &LoadSnapshot, policy: &Policy) -> ScaleUpPlan {
    plan_scale_up(ScaleUpInput { tiling, load, policy, update_calls_last_24h: 0 })
}

/// Kinesis in miniature: applies a step to the live tiling, as the real stream would.
struct Live {
    tiling: Tiling,
    next_id: u64,
}

impl Live {
    fn apply(&mut self, step: &Step) {
        let mut fresh = || {
            self.next_id += 1;
            ShardId::new(format!("shardId-{:012}", self.next_id))
        };
        self.tiling = match step {
            Step::Split { shard, at } => self.tiling.split(shard, *at, [fresh(), fresh()]),
            Step::Merge { low, high } => self.tiling.merge(low, high, fresh()),
            Step::UpdateShardCount { target } => {
                let t = Tiling::uniform(*target, self.next_id + 1);
                self.next_id += u64::from(*target);
                Some(t)
            }
        }
        .expect("every step an execution asks for is valid on the live tiling");
    }

    /// The narrowest shard as a share of the key space.
    fn narrowest(&self) -> f64 {
        self.tiling.shards().iter().map(|s| s.range.fraction()).fold(1.0, f64::min)
    }
}

/// Runs `executions` against `live`, letting `order` pick which takes the next step (the rest of
/// them in turn once `order` runs out), until every one is done or stale.
fn interleave(live: &mut Live, executions: &mut [Execution], order: &[usize], state: &ScalingState) {
    let n = executions.len();
    let mut done = vec![false; n];
    let mut picks = order.iter().copied().chain((0..).map(move |i| i % n.max(1)));
    let mut steps = 0;
    while !done.iter().all(|d| *d) {
        let i = picks.next().expect("endless") % n;
        if done[i] {
            continue;
        }
        match executions[i].next(&live.tiling, state, now()) {
            NextStep::Step(step) => live.apply(&step),
            NextStep::Done | NextStep::Stale(_) => done[i] = true,
        }
        steps += 1;
        assert!(steps < 10_000, "executions terminate");
    }
}

#[test]
fn two_scale_ups_interleaved_end_at_the_larger_need_without_slivers() {
    // One shard; A needs 2 (one cut at 1/2), B needs 3 (cuts at 1/3 and 2/3). Carried out blindly
    // after A's cut, B's two cuts would leave four shards, two of them a sixth wide.
    let policy = Policy { max_shards: 8, ..Policy::default() };
    let tiling = Tiling::uniform(1, 0);
    let (a, b) = (plan(&tiling, &stream_load(1.0), &policy), plan(&tiling, &stream_load(1.5), &policy));
    assert_eq!((a.target_shards, b.target_shards), (2, 3));
    let mut live = Live { tiling, next_id: 10 };
    let mut executions = [Execution::of_scale_up(&a, &policy), Execution::of_scale_up(&b, &policy)];
    interleave(&mut live, &mut executions, &[0, 1, 1, 1], &ScalingState::default());
    assert_eq!(live.tiling.len(), 3, "the larger need, not the sum of both plans: {:?}", live.tiling);
    assert!(live.narrowest() >= 0.25, "no sliver: {:?}", live.tiling);
}

#[test]
fn a_split_planned_before_a_concurrent_update_shard_count_is_planned_again_not_made_a_sliver() {
    let policy = Policy { max_shards: 16, ..Policy::default() };
    // Uneven, so the plan splits: a quarter, a quarter and a half.
    let tiling = Tiling::uniform(2, 0)
        .split(
            &ShardId::new("shardId-000000000000"),
            HashRange::FULL.equal_cuts(4)[0],
            [ShardId::new("shardId-000000000100"), ShardId::new("shardId-000000000101")],
        )
        .expect("valid split");
    let load = stream_load(3.0);
    let split = plan(&tiling, &load, &policy);
    assert!(matches!(split.action, ScaleUpAction::Split { .. }), "{split:?}");
    let mut execution = Execution::of_scale_up(&split, &policy);
    // Meanwhile another actor re-creates the stream as 6 equal shards.
    let mut live = Live { tiling: Tiling::uniform(6, 200), next_id: 300 };
    interleave(&mut live, std::slice::from_mut(&mut execution), &[], &ScalingState::default());
    assert!(live.tiling.len() <= split.needed_shards.max(6), "{:?}", live.tiling);
    assert!(live.narrowest() >= 1.0 / 12.0, "no sliver next to the uniform boundaries: {:?}", live.tiling);
}

#[test]
fn a_merge_plan_is_stale_once_another_actor_has_scaled_since() {
    let policy = Policy::default();
    let live = Tiling::uniform(4, 0);
    let ids = live.ids();
    let merges = vec![PlannedMerge {
        low: ids[0].clone(),
        high: ids[1].clone(),
        merged_range: live.shards()[0].range.merged_with(&live.shards()[1].range).expect("adjacent"),
        peak_utilisation: 0.1,
    }];
    let plan = ScaleDownPlan {
        open_shards: 4,
        target_shards: 3,
        action: ScaleDownAction::Merge { merges },
        peak_utilisation: 0.1,
        datapoints: 288,
        expected_datapoints: 288,
        reasons: vec![],
    };
    let recorded = now();
    let mut ours = ScalingState::default();
    ours.record(recorded);
    let step = Execution::of_scale_down(&plan, recorded).next(&live, &ours, now());
    assert!(matches!(step, NextStep::Step(Step::Merge { .. })), "our own record does not stop us: {step:?}");
    let mut split_since = ScalingState::default();
    split_since.record(recorded + Duration::seconds(40));
    let step = Execution::of_scale_down(&plan, recorded).next(&live, &split_since, now());
    assert!(matches!(step, NextStep::Stale(_)), "{step:?}");
    let _ = policy;
}

#[test]
fn a_uniform_count_is_not_made_once_the_days_quota_is_spent() {
    let policy = Policy { max_shards: 64, ..Policy::default() };
    let tiling = Tiling::uniform(4, 0);
    let up = plan(&tiling, &stream_load(4.0), &policy);
    assert!(matches!(up.action, ScaleUpAction::UpdateShardCount { .. }), "{up:?}");
    let mut state = ScalingState::default();
    for minute in 0..UPDATE_SHARD_COUNT_CALLS_PER_DAY {
        state.record_update_call(now() - Duration::minutes(i64::from(minute)), 7);
    }
    // Spent meanwhile by other actors: the scale-up is planned again, with splits.
    let step = Execution::of_scale_up(&up, &policy).next(&tiling, &state, now());
    assert!(matches!(step, NextStep::Step(Step::Split { .. })), "{step:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any interleaving of concurrent scale-ups (the bytes, records and throttle alarms of one
    /// evaluation) ends at the count the larger plan alone reaches, never above it or `maxShards`,
    /// with every step valid on the live tiling. It may end below that count only where the stream
    /// then carries the larger demand: a plan made again from a tiling others have cut finer can
    /// need fewer shards than one made from the coarse tiling (each shard's pieces are rounded up
    /// separately).
    #[test]
    fn concurrent_scale_ups_end_with_enough_shards_and_never_above_the_larger_plans_count(
        open in 1u32..6,
        widen in 0usize..3,
        loads in prop::collection::vec(0.2f64..12.0, 2..4),
        max in 4u32..40,
        order in prop::collection::vec(0usize..4, 0..64),
    ) {
        let policy = Policy { max_shards: max.max(open), ..Policy::default() };
        let mut tiling = Tiling::uniform(open, 0);
        for i in 0..widen.min(open as usize) {
            let shard = &tiling.shards()[i];
            let at = shard.range.midpoint().expect("wide");
            let ids = [ShardId::new(format!("w{i}a")), ShardId::new(format!("w{i}b"))];
            tiling = tiling.split(&shard.id.clone(), at, ids).expect("valid split");
        }
        let start = tiling.len();
        let plans: Vec<ScaleUpPlan> = loads.iter().map(|l| plan(&tiling, &stream_load(*l), &policy)).collect();
        let mut executions: Vec<Execution> = plans.iter().map(|p| Execution::of_scale_up(p, &policy)).collect();
        let mut live = Live { tiling, next_id: 1_000 };
        interleave(&mut live, &mut executions, &order, &ScalingState::default());
        let count = live.tiling.len();
        let larger_target = plans.iter().map(|p| p.target_shards).max().unwrap_or(start).max(start);
        prop_assert!(count <= policy.max_shards.max(start), "{count} > maxShards");
        prop_assert!(count <= larger_target, "{count} > {larger_target}: more than the larger plan's count");
        if count < larger_target {
            let (_, larger) = plans.iter().zip(&loads).max_by_key(|(p, _)| p.target_shards).expect("two or more");
            let again = plan(&live.tiling, &stream_load(*larger), &policy);
            prop_assert!(
                matches!(again.action, ScaleUpAction::None),
                "{count} of {larger_target} shards, and the larger demand still needs more: {again:?}"
            );
        }
    }
}
