//! The executors against Kinesis in memory: plans reach their end state one live step at a time,
//! survive crashes and duplicates, retry throttles, and stop before the deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use planner::*;
use reconciler::{
    Context, ErrorKind, ExecuteSettings, IoPolicy, Outcome, ReconcileError, Resharder, SeededJitter,
    StreamReader, TokioClock, execute,
};
use simulated_aws::{Model, World};

const MIB: f64 = 1_048_576.0;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn settings() -> ExecuteSettings {
    ExecuteSettings { poll: Duration::from_millis(10), ..ExecuteSettings::default() }
}

fn far() -> Duration {
    Duration::from_secs(3600)
}

/// Kinesis in memory at `t0()` with a stream `orders` of `shards` shards.
fn kinesis_with(shards: u32) -> World {
    let world = World::new(std::sync::Arc::new(TokioClock::new(t0())), Model::instant());
    world.add_stream("orders", shards, t0());
    world
}

/// An invocation on the world's clock with `left` before its deadline.
fn invocation(kinesis: &World, settings: &ExecuteSettings, left: Duration) -> Context<World, World> {
    let io = IoPolicy::new(kinesis.clock())
        .until(kinesis.now() + chrono::Duration::from_std(left).unwrap())
        .backoff(settings.backoff)
        .jitter(SeededJitter::new(1));
    Context::new(kinesis.clone(), kinesis.clone(), io).with_execute(settings.clone())
}

/// Executes on stream `orders`.
async fn run(
    kinesis: &World,
    execution: Execution,
    settings: &ExecuteSettings,
    left: Duration,
) -> Result<Outcome, ReconcileError> {
    execute(&invocation(kinesis, settings, left), "orders", execution).await
}

async fn tiling(kinesis: &World, stream: &str) -> Tiling {
    kinesis.describe(stream).await.unwrap().open.unwrap()
}

/// A plan that splits shard 1 of 3 into four (it is measured at 210 %).
async fn hot_shard_plan(kinesis: &World) -> ScaleUpPlan {
    let live = tiling(kinesis, "orders").await;
    let ids: Vec<ShardId> = live.shards().iter().map(|s| s.id.clone()).collect();
    let mib = |m: f64| Rate { bytes_per_sec: m * MIB, records_per_sec: 0.0 };
    let per_shard: BTreeMap<ShardId, Rate> =
        [(ids[0].clone(), mib(0.1)), (ids[1].clone(), mib(2.1)), (ids[2].clone(), mib(0.1))].into();
    let load = LoadSnapshot { stream: mib(2.3), per_shard, ..LoadSnapshot::default() };
    plan_scale_up(ScaleUpInput {
        tiling: &live,
        load: &load,
        policy: &Policy::default(),
        update_calls_last_24h: 0,
    })
}

/// A plan for 3.6 MiB/s spread evenly over `orders`' 4 shards: one `UpdateShardCount` to 6.
async fn uniform_plan(kinesis: &World) -> ScaleUpPlan {
    let live = tiling(kinesis, "orders").await;
    let load = LoadSnapshot {
        stream: Rate { bytes_per_sec: 3.6 * MIB, records_per_sec: 0.0 },
        ..Default::default()
    };
    plan_scale_up(ScaleUpInput {
        tiling: &live,
        load: &load,
        policy: &Policy::default(),
        update_calls_last_24h: 0,
    })
}

#[tokio::test(start_paused = true)]
async fn a_split_plan_runs_until_every_boundary_exists() {
    let kinesis = kinesis_with(3);
    let plan = hot_shard_plan(&kinesis).await;
    let outcome =
        run(&kinesis, Execution::of_scale_up(&plan, &Policy::default()), &settings(), far()).await.unwrap();
    assert!(outcome.complete);
    assert_eq!(outcome.steps.len(), 3);
    assert_eq!(tiling(&kinesis, "orders").await.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_run_cut_short_is_finished_by_the_next_run_without_repeating_a_split() {
    let kinesis = kinesis_with(3);
    let plan = hot_shard_plan(&kinesis).await;
    let settings = ExecuteSettings { step_budget: Duration::from_secs(60), ..settings() };
    // The first run has time for nothing: the deadline is inside the step budget.
    let short = Duration::from_secs(30);
    let cut =
        run(&kinesis, Execution::of_scale_up(&plan, &Policy::default()), &settings, short).await.unwrap();
    assert!(!cut.complete && cut.steps.is_empty(), "{cut:?}");
    assert!(cut.why_incomplete.unwrap().starts_with("deadline"));
    // One split happens behind our back (a previous run that crashed after its first call).
    let live = tiling(&kinesis, "orders").await;
    let NextStep::Step(Step::Split { shard, at }) =
        Execution::of_scale_up(&plan, &Policy::default()).next(&live, &ScalingState::default(), t0())
    else {
        panic!("the plan splits")
    };
    kinesis.split_shard("orders", &shard, at).await.unwrap();
    let rest =
        run(&kinesis, Execution::of_scale_up(&plan, &Policy::default()), &settings, far()).await.unwrap();
    assert!(rest.complete);
    assert_eq!(rest.steps.len(), 2, "only the two missing boundaries are split");
    assert_eq!(kinesis.kinesis_calls().iter().filter(|c| c.starts_with("SplitShard")).count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_trigger_with_the_same_plan_changes_nothing() {
    let kinesis = kinesis_with(3);
    let plan = hot_shard_plan(&kinesis).await;
    let cx = invocation(&kinesis, &settings(), far());
    execute(&cx, "orders", Execution::of_scale_up(&plan, &Policy::default())).await.unwrap();
    let again = execute(&cx, "orders", Execution::of_scale_up(&plan, &Policy::default())).await.unwrap();
    assert!(again.complete && again.steps.is_empty());
    assert_eq!(kinesis.kinesis_calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_split_is_retried() {
    let kinesis = kinesis_with(3);
    let plan = hot_shard_plan(&kinesis).await;
    kinesis.fail_next("SplitShard", ErrorKind::Throttled);
    kinesis.fail_next("SplitShard", ErrorKind::LimitExceeded);
    let outcome =
        run(&kinesis, Execution::of_scale_up(&plan, &Policy::default()), &settings(), far()).await.unwrap();
    assert!(outcome.complete);
    assert_eq!(outcome.steps.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_split_refused_twice_is_reported_not_looped() {
    let kinesis = kinesis_with(3);
    let plan = hot_shard_plan(&kinesis).await;
    kinesis.fail_next("SplitShard", ErrorKind::InvalidArgument);
    kinesis.fail_next("SplitShard", ErrorKind::InvalidArgument);
    let err = run(&kinesis, Execution::of_scale_up(&plan, &Policy::default()), &settings(), far())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SplitShard"), "{err}");
    assert!(kinesis.kinesis_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_uniform_scale_up_is_one_update_shard_count_and_is_not_repeated() {
    let kinesis = kinesis_with(4);
    let plan = uniform_plan(&kinesis).await;
    let cx = invocation(&kinesis, &settings(), far());
    let first = execute(&cx, "orders", Execution::of_scale_up(&plan, &Policy::default())).await.unwrap();
    assert_eq!(first.steps, [Step::UpdateShardCount { target: 6 }]);
    let again = execute(&cx, "orders", Execution::of_scale_up(&plan, &Policy::default())).await.unwrap();
    assert!(again.steps.is_empty() && again.complete);
}

#[tokio::test(start_paused = true)]
async fn a_step_still_in_flight_at_the_deadline_ends_the_run_incomplete_not_failed() {
    // UpdateShardCount takes minutes; the run has one: the step starts within the step budget and
    // Kinesis carries it on after the deadline. The run says so rather than fail, and names the
    // step, so the caller neither reports an error nor re-arms for a count that is not there yet.
    let kinesis =
        World::new(std::sync::Arc::new(TokioClock::new(t0())), Model::instant().with_reshard_time(far()));
    kinesis.add_stream("orders", 4, t0());
    let plan = uniform_plan(&kinesis).await;
    let outcome = run(
        &kinesis,
        Execution::of_scale_up(&plan, &Policy::default()),
        &settings(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert!(!outcome.complete);
    assert_eq!(outcome.steps, [Step::UpdateShardCount { target: 6 }]);
    assert_eq!(outcome.in_flight, Some(Step::UpdateShardCount { target: 6 }));
    assert_eq!(outcome.last.tiling().len(), 4, "the last settled read, before the step");
    assert!(outcome.why_incomplete.unwrap().contains("in progress"));
}

fn cold_day(now: DateTime<Utc>) -> LoadSeries {
    let points = (0..300)
        .map(|i| {
            (
                now - chrono::Duration::minutes(5 * (i + 1)),
                Rate { bytes_per_sec: 0.2 * MIB, records_per_sec: 10.0 },
            )
        })
        .collect();
    LoadSeries { period_secs: 300, points }
}

/// The sweep's plan for a cold `orders`, with `update_calls_last_24h` of the day's quota spent.
async fn scale_down_plan(kinesis: &World, now: DateTime<Utc>, update_calls_last_24h: u32) -> ScaleDownPlan {
    let live = tiling(kinesis, "orders").await;
    plan_scale_down(ScaleDownInput {
        stream: "orders",
        tiling: &live,
        policy: &Policy::default(),
        now,
        stream_load: &cold_day(now),
        stream_status: planner::ReadStatus::Complete,
        shard_load: &BTreeMap::new(),
        young: &BTreeSet::new(),
        last_scaled_at: None,
        created_at: t0(),
        update_calls_last_24h,
        reads: &planner::ReadHistory::default(),
    })
}

#[tokio::test(start_paused = true)]
async fn cold_pairs_are_merged_one_at_a_time() {
    let kinesis = kinesis_with(3);
    let now = t0() + chrono::Duration::days(3);
    // With the day's UpdateShardCount quota spent, as MergeShards.
    let plan = scale_down_plan(&kinesis, now, planner::UPDATE_SHARD_COUNT_CALLS_PER_DAY).await;
    let outcome = run(&kinesis, Execution::of_scale_down(&plan, now), &settings(), far()).await.unwrap();
    assert!(outcome.complete);
    assert_eq!(outcome.steps.len(), 1, "{:?}", plan.reasons);
    assert_eq!(tiling(&kinesis, "orders").await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_uniform_halving_planned_before_a_scale_up_is_not_made() {
    let kinesis = kinesis_with(4);
    let now = t0() + chrono::Duration::days(3);
    let plan = scale_down_plan(&kinesis, now, 0).await;
    assert_eq!(plan.action, ScaleDownAction::UpdateShardCount { target: 1 });
    // The scale-up Lambda doubles the stream between the metrics read and the merge.
    kinesis.update_shard_count("orders", 8).await.unwrap();
    let outcome = run(&kinesis, Execution::of_scale_down(&plan, now), &settings(), far()).await.unwrap();
    assert!(!outcome.complete && outcome.steps.is_empty());
    assert!(outcome.why_incomplete.unwrap().contains("stale"));
    assert_eq!(tiling(&kinesis, "orders").await.len(), 8);
}

#[tokio::test(start_paused = true)]
async fn a_scale_down_below_half_is_made_by_halving_calls_each_waiting_for_the_last() {
    // 0.2 MiB/s on 8 shards: one shard carries it at 60 %, three halvings away.
    let kinesis = kinesis_with(8);
    let now = t0() + chrono::Duration::days(3);
    let plan = scale_down_plan(&kinesis, now, 0).await;
    let outcome = run(&kinesis, Execution::of_scale_down(&plan, now), &settings(), far()).await.unwrap();
    assert!(outcome.complete, "{:?}", outcome.why_incomplete);
    let steps: Vec<String> = outcome.steps.iter().map(ToString::to_string).collect();
    assert_eq!(steps, ["UpdateShardCount to 4", "UpdateShardCount to 2", "UpdateShardCount to 1"]);
    assert_eq!(tiling(&kinesis, "orders").await.len(), 1);
}
