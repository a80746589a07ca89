//! Scenario tests for each decision the core makes, named for the behaviour they pin.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use expect_test::{Expect, expect};
use planner::*;

const MIB: f64 = 1_048_576.0;

fn key(s: &str) -> HashKey {
    s.parse().unwrap()
}

/// `n` equal-width shards named shardId-000000000000.. in key order.
fn even(n: u32) -> Tiling {
    Tiling::uniform(n, 0)
}

fn id(i: u32) -> ShardId {
    ShardId::new(format!("shardId-{i:012}"))
}

fn bytes(mib_per_sec: f64) -> Rate {
    Rate { bytes_per_sec: mib_per_sec * MIB, records_per_sec: 0.0 }
}

fn scale_up(tiling: &Tiling, load: LoadSnapshot, policy: &Policy) -> ScaleUpPlan {
    plan_scale_up(ScaleUpInput { tiling, load: &load, policy, update_calls_last_24h: 0 })
}

fn split_shards(plan: &ScaleUpPlan) -> Vec<(String, usize)> {
    match &plan.action {
        ScaleUpAction::Split { splits } => {
            splits.iter().map(|s| (s.shard.to_string(), s.cuts.len())).collect()
        }
        other => panic!("expected splits, got {other:?}"),
    }
}

/// Pins a plan's reasons, one per line as `streams plan` prints them, with a snapshot
/// (`UPDATE_EXPECT=1` rewrites it; review the diff).
fn check_reasons(reasons: &[String], expected: Expect) {
    expected.assert_eq(&reasons.iter().map(|reason| format!("{reason}\n")).collect::<String>());
}

// ---- hash keys and tilings ----

#[test]
fn hash_keys_parse_the_extremes_kinesis_prints() {
    assert_eq!(key("0"), HashKey(0));
    assert_eq!(key("170141183460469231731687303715884105728"), HashKey(1 << 127));
    assert_eq!(key("340282366920938463463374607431768211455"), HashKey::MAX);
}

#[test]
fn hash_keys_reject_anything_kinesis_would_not_print() {
    for bad in ["340282366920938463463374607431768211456", "-1", "+1", " 1", "", "1.0", "0x10", "１"] {
        assert_eq!(
            bad.parse::<HashKey>(),
            Err(PlannerError::InvalidHashKey { value: bad.into() }),
            "{bad:?} must be rejected"
        );
    }
}

#[test]
fn tiling_names_the_gap_between_two_shards() {
    let shards = vec![
        Shard::new("a", HashRange::new(HashKey(0), HashKey(9)).unwrap()),
        Shard::new("b", HashRange::new(HashKey(20), HashKey::MAX).unwrap()),
    ];
    assert_eq!(Tiling::new(shards), Err(PlannerError::Gap { from: HashKey(10), to: HashKey(19) }));
}

#[test]
fn tiling_names_overlapping_shards_and_where() {
    let shards = vec![
        Shard::new("a", HashRange::new(HashKey(0), HashKey(20)).unwrap()),
        Shard::new("b", HashRange::new(HashKey(10), HashKey::MAX).unwrap()),
    ];
    let err = Tiling::new(shards).unwrap_err();
    assert_eq!(err.to_string(), "open shards a and b overlap at hash keys 10..=20");
}

#[test]
fn tiling_must_start_at_zero_and_end_at_the_last_key() {
    let late = vec![Shard::new("a", HashRange::new(HashKey(5), HashKey::MAX).unwrap())];
    assert_eq!(Tiling::new(late), Err(PlannerError::Gap { from: HashKey(0), to: HashKey(4) }));
    let short = vec![Shard::new("a", HashRange::new(HashKey(0), HashKey(5)).unwrap())];
    assert_eq!(Tiling::new(short), Err(PlannerError::Gap { from: HashKey(6), to: HashKey::MAX }));
    assert_eq!(Tiling::new(vec![]), Err(PlannerError::NoOpenShards));
}

#[test]
fn tiling_rejects_a_shard_listed_twice() {
    let dup = vec![Shard::new("a", HashRange::FULL), Shard::new("a", HashRange::FULL)];
    assert_eq!(Tiling::new(dup), Err(PlannerError::DuplicateShard { shard: ShardId::new("a") }));
}

#[test]
fn even_tilings_are_recognised_and_targeted_splits_are_not() {
    assert!(even(7).is_even(EVEN_TOLERANCE));
    let split = even(2).split(&id(0), HashRange::FULL.equal_cuts(4)[0], [id(7), id(8)]).unwrap();
    assert!(!split.is_even(EVEN_TOLERANCE));
}

// ---- capacity ----

#[test]
fn sums_become_per_second_rates_for_one_and_five_minute_periods() {
    assert_eq!(
        Rate::from_sums(60.0 * MIB, 60_000.0, 60),
        Rate { bytes_per_sec: MIB, records_per_sec: 1000.0 }
    );
    assert_eq!(Rate::from_sums(300.0, 3_000.0, 300), Rate { bytes_per_sec: 1.0, records_per_sec: 10.0 });
}

#[test]
fn utilisation_is_the_larger_of_bytes_and_records() {
    let rate = Rate { bytes_per_sec: 0.5 * MIB, records_per_sec: 1_800.0 };
    assert_eq!(rate.utilisation(2), 0.9);
    assert_eq!(rate.shards_needed(Ratio::from_percent(60.0).unwrap()), 3);
}

#[test]
fn times_align_down_to_whole_periods() {
    // 1_800_000_000 is a whole number of 5-minute periods; 255 s later is 4 min 15 s past it.
    let t = DateTime::from_timestamp(1_800_000_255, 0).unwrap();
    assert_eq!(align_down(t, 300).timestamp(), 1_800_000_000);
    assert_eq!(align_down(t, 60).timestamp(), 1_800_000_240);
}

// ---- scale-up ----

#[test]
fn a_single_hot_shard_is_split_at_its_midpoint() {
    let plan =
        scale_up(&even(1), LoadSnapshot { stream: bytes(0.9), ..Default::default() }, &Policy::default());
    assert_eq!(split_shards(&plan), [("shardId-000000000000".into(), 1)]);
    assert_eq!(plan.boundaries(), [key("170141183460469231731687303715884105728")]);
    assert_eq!(plan.target_shards, 2);
}

#[test]
fn a_shard_named_by_a_shard_level_alarm_is_split_even_when_the_stream_is_cool() {
    let load = LoadSnapshot { stream: bytes(0.4), hot: [id(2)].into(), ..Default::default() };
    let plan = scale_up(&even(4), load, &Policy::default());
    assert_eq!(split_shards(&plan), [("shardId-000000000002".into(), 1)]);
}

#[test]
fn a_measured_hot_shard_is_cut_into_as_many_children_as_its_load_needs() {
    // Shard 1 measured at 2.1 MiB/s (210 %): at a 60 % target it needs 4 children.
    let per_shard = [(id(0), bytes(0.1)), (id(1), bytes(2.1)), (id(2), bytes(0.1))].into();
    let load = LoadSnapshot { stream: bytes(2.3), per_shard, ..Default::default() };
    let plan = scale_up(&even(3), load, &Policy::default());
    assert_eq!(split_shards(&plan), [("shardId-000000000001".into(), 3)]);
    // The first cut is the middle one, so an interrupted plan has halved the shard first.
    let ScaleUpAction::Split { splits } = &plan.action else { unreachable!() };
    assert_eq!(splits[0].cuts[0], splits[0].range.equal_cuts(4)[1]);
}

#[test]
fn an_evenly_split_uniformly_loaded_stream_scales_in_one_update_shard_count() {
    // 4 shards at 90 %: 6 shards carry it at 60 %; splitting every shard would leave 8.
    let plan =
        scale_up(&even(4), LoadSnapshot { stream: bytes(3.6), ..Default::default() }, &Policy::default());
    assert_eq!(plan.action, ScaleUpAction::UpdateShardCount { target: 6 });
    assert_eq!(plan.needed_shards, 6);
}

#[test]
fn uniform_scaling_is_not_used_after_targeted_splits() {
    let tiling = even(2).split(&id(0), HashRange::FULL.equal_cuts(4)[0], [id(7), id(8)]).unwrap();
    let plan =
        scale_up(&tiling, LoadSnapshot { stream: bytes(2.7), ..Default::default() }, &Policy::default());
    assert!(matches!(plan.action, ScaleUpAction::Split { .. }), "{plan:?}");
}

#[test]
fn uniform_scaling_is_not_used_once_the_daily_update_quota_is_spent() {
    let load = LoadSnapshot { stream: bytes(3.6), ..Default::default() };
    let input =
        ScaleUpInput { tiling: &even(4), load: &load, policy: &Policy::default(), update_calls_last_24h: 10 };
    assert!(matches!(plan_scale_up(input).action, ScaleUpAction::Split { .. }));
}

#[test]
fn uniform_scaling_is_not_used_when_measured_load_is_skewed() {
    let per_shard = [(id(0), bytes(1.6)), (id(1), bytes(0.2))].into();
    let load = LoadSnapshot { stream: bytes(1.8), per_shard, ..Default::default() };
    let plan = scale_up(&even(2), load, &Policy::default());
    assert_eq!(split_shards(&plan), [("shardId-000000000000".into(), 2)]);
}

#[test]
fn scale_up_stops_at_max_shards_and_says_so() {
    let policy = Policy { max_shards: 3, ..Policy::default() };
    let plan = scale_up(&even(2), LoadSnapshot { stream: bytes(5.0), ..Default::default() }, &policy);
    assert_eq!(plan.target_shards, 3);
    check_reasons(
        &plan.reasons,
        expect![[r#"
        load 5242880 B/s, 0 records/s is 250% of 2 shard(s); 9 shard(s) carry it at 60%
        capped at maxShards (3)
    "#]],
    );
    let at_max = scale_up(&even(3), LoadSnapshot { stream: bytes(5.0), ..Default::default() }, &policy);
    assert_eq!(at_max.action, ScaleUpAction::None);
    check_reasons(
        &at_max.reasons,
        expect![[r#"
        load 5242880 B/s, 0 records/s is 167% of 3 shard(s); 9 shard(s) carry it at 60%
        already at maxShards (3): nothing to split
    "#]],
    );
}

#[test]
fn throttling_with_no_known_hot_shard_splits_the_widest_range() {
    let tiling = even(2).split(&id(0), HashRange::FULL.equal_cuts(4)[0], [id(7), id(8)]).unwrap();
    let load = LoadSnapshot { stream: bytes(0.2), throttling: Throttling::Now, ..Default::default() };
    let plan = scale_up(&tiling, load, &Policy::default());
    assert_eq!(split_shards(&plan), [("shardId-000000000001".into(), 1)]);
}

#[test]
fn throttling_with_stream_level_numbers_only_splits_the_widest_shard_not_the_whole_stream() {
    // 7 even shards whose (possibly stale) metrics show 57 %: the alarm cannot say which tiling
    // throttled, so the floor goes on the widest shard, not on all seven.
    let load = LoadSnapshot { stream: bytes(4.0), throttling: Throttling::Now, ..Default::default() };
    let plan = scale_up(&even(7), load, &Policy::default());
    assert_eq!(split_shards(&plan), [("shardId-000000000000".into(), 1)]);
    assert_eq!(plan.target_shards, 8);
    check_reasons(
        &plan.reasons,
        expect![[r#"
        load 4194304 B/s, 0 records/s is 57% of 7 shard(s); 7 shard(s) carry it at 60%
        throttled floor applied: writes are rejected, so shard(s) shardId-000000000000 (no shard known hot: the widest, which uniform keys fill first) carry at least their capacity
    "#]],
    );
}

/// A 30 % target: a shard at its capacity needs 4 children, one at the 80 % threshold only 3.
fn low_target() -> Policy {
    let mut policy = Policy::default();
    policy.scale_up.target = Ratio::from_percent(30.0).unwrap();
    policy
}

#[test]
fn a_throttled_hot_shard_on_an_over_provisioned_stream_gets_the_floor_not_the_stream() {
    // 20 shards at 10 %: one hot key throttles shard 3. Only shard 3 is cut, into children sized
    // for its full capacity (4 at 30 %), not the threshold (3); the stream is not resized.
    let load = LoadSnapshot {
        stream: bytes(2.0),
        hot: [id(3)].into(),
        throttling: Throttling::Now,
        ..Default::default()
    };
    let plan = scale_up(&even(20), load, &low_target());
    assert_eq!(split_shards(&plan), [("shardId-000000000003".into(), 3)]);
    assert_eq!(plan.target_shards, 23);
    check_reasons(
        &plan.reasons,
        expect![[r#"
        load 2097152 B/s, 0 records/s is 10% of 20 shard(s); 7 shard(s) carry it at 30%
        throttled floor applied: writes are rejected, so shard(s) shardId-000000000003 (named by shard-level alarms) carry at least their capacity
    "#]],
    );
}

#[test]
fn a_throttle_with_measured_rates_floors_the_shards_over_the_threshold() {
    let per_shard = [(id(0), bytes(0.05)), (id(1), bytes(0.85)), (id(2), bytes(0.05)), (id(3), bytes(0.05))];
    let load = LoadSnapshot {
        stream: bytes(1.0),
        per_shard: per_shard.into(),
        throttling: Throttling::Now,
        ..Default::default()
    };
    let plan = scale_up(&even(4), load, &low_target());
    assert_eq!(split_shards(&plan), [("shardId-000000000001".into(), 3)]);
}

#[test]
fn a_throttle_with_measured_rates_all_under_the_threshold_floors_the_hottest_shard() {
    // Per-shard numbers lag too: none reaches the threshold, the hottest is the likeliest culprit.
    let per_shard = [(id(0), bytes(0.1)), (id(1), bytes(0.1)), (id(2), bytes(0.5)), (id(3), bytes(0.1))];
    let load = LoadSnapshot {
        stream: bytes(0.8),
        per_shard: per_shard.into(),
        throttling: Throttling::Now,
        ..Default::default()
    };
    let plan = scale_up(&even(4), load, &low_target());
    assert_eq!(split_shards(&plan), [("shardId-000000000002".into(), 3)]);
}

/// The rejected attempts a minute of throttling quotes when `accepted` records/s got through and
/// producers making four attempts per record lost `lost_share` of their records.
fn rejected_per_minute(accepted: f64, lost_share: f64) -> f64 {
    let rejected_share = lost_share.powf(0.25);
    accepted * rejected_share / (1.0 - rejected_share) * 60.0
}

#[test]
fn a_throttled_stream_is_sized_from_the_records_its_producers_lost() {
    // 4 shards accept 4 MiB/s (2,048 records/s of 2 KiB) of an 8 MiB/s demand: half the records
    // are lost after four attempts, and the alarm quotes every rejected attempt. Demand is 8 MiB/s,
    // which needs 14 shards at 60 %, more than the 1 / target (7) the accepted writes could show.
    // The throttling stops at 10 (80 %): two rounds either way, and 4 → 5 → 10 reaches it sooner
    // than 4 → 7 → 14 reaches 14, as a call's duration grows with the count.
    let recent = LoadSeries::from_sums(60, [(at(0), 240.0 * MIB)], [(at(0), 122_880.0)]);
    let evidence = AlarmEvidence {
        metric: Metric::WriteProvisionedThroughputExceeded,
        period_secs: 60,
        datapoints: vec![rejected_per_minute(2_048.0, 0.5)],
        threshold: Some(0.0),
        newest_period_start: None,
    };
    let stream = estimate_rate(&recent, std::slice::from_ref(&evidence));
    assert!((stream.bytes_per_sec - 8.0 * MIB).abs() < 1.0, "{stream:?}");
    assert!((stream.records_per_sec - 4_096.0).abs() < 1e-3, "{stream:?}");
    let plan = scale_up(
        &even(4),
        LoadSnapshot { stream, throttling: Throttling::Now, ..Default::default() },
        &Policy::default(),
    );
    assert_eq!(plan.needed_shards, 14);
    assert_eq!(plan.target_shards, 14);
    assert_eq!(plan.action, ScaleUpAction::UpdateShardCount { target: 5 }, "5, 10, then 14");
}

/// What a throttling alarm quotes about a 4-shard stream accepting its 4 MiB/s of an 8 MiB/s
/// demand, from the minute starting at `minute` (seconds after `at(0)`), if it says.
fn throttle_evidence(minute: Option<i64>) -> AlarmEvidence {
    AlarmEvidence {
        metric: Metric::WriteProvisionedThroughputExceeded,
        period_secs: 60,
        datapoints: vec![rejected_per_minute(2_048.0, 0.5)],
        threshold: Some(0.0),
        newest_period_start: minute.map(at),
    }
}

#[test]
fn the_bytes_and_throttling_alarms_of_one_evaluation_size_one_plan_from_the_rejected_count() {
    let recent = LoadSeries::from_sums(60, [(at(0), 240.0 * MIB)], [(at(0), 122_880.0)]);
    let bytes_alarm = AlarmEvidence {
        metric: Metric::IncomingBytes,
        period_secs: 60,
        datapoints: vec![240.0 * MIB],
        threshold: Some(192.0 * MIB),
        newest_period_start: Some(at(0)),
    };
    let plan = |evidence: &[AlarmEvidence]| {
        let load =
            LoadSnapshot::for_alarms(&recent, evidence, BTreeMap::new(), None, &ScalingState::default());
        scale_up(&even(4), load, &Policy::default())
    };
    // Alone, the bytes alarm sees the capped, accepted 4 MiB/s: 7 shards.
    assert_eq!(plan(std::slice::from_ref(&bytes_alarm)).needed_shards, 7);
    // With the throttling alarm that fired with it, the demand of 8 MiB/s: 14.
    let both = plan(&[bytes_alarm, throttle_evidence(Some(0))]);
    assert_eq!(both.needed_shards, 14);
    assert!(both.reasons.iter().any(|r| r.contains("throttled floor")), "{:?}", both.reasons);
}

#[test]
fn a_throttle_quoted_from_before_the_last_resize_floors_no_shard_of_the_new_tiling() {
    // Resized 4 → 14 for that very demand: its call at +130 s, after the quoted minute began.
    let recent = LoadSeries::from_sums(60, [(at(0), 240.0 * MIB)], [(at(0), 122_880.0)]);
    let mut resized = ScalingState::default();
    resized.record(at(70));
    resized.record_update_call(at(130), 0);
    let load = |evidence: AlarmEvidence, state: &ScalingState| {
        LoadSnapshot::for_alarms(&recent, &[evidence], BTreeMap::new(), None, state)
    };
    let stale = load(throttle_evidence(Some(60)), &resized);
    assert_eq!(stale.throttling, Throttling::BeforeLastResize);
    let plan = scale_up(&even(14), stale, &Policy::default());
    assert_eq!((plan.needed_shards, &plan.action), (14, &ScaleUpAction::None), "{:?}", plan.reasons);
    // A minute that began after the last call, or a reason that quotes no time, is the live tiling's.
    assert_eq!(load(throttle_evidence(Some(180)), &resized).throttling, Throttling::Now);
    assert_eq!(load(throttle_evidence(None), &resized).throttling, Throttling::Now);
    // After targeted splits (no UpdateShardCount call), the floor stays: a split of the widest
    // shard was a guess at the hot one, and throttling that goes on says it missed.
    let mut split = ScalingState::default();
    split.record(at(70));
    assert_eq!(load(throttle_evidence(Some(60)), &split).throttling, Throttling::Now);
}

#[test]
fn rejected_attempts_are_not_counted_as_demand_one_for_one() {
    // 500 records/s accepted and 10,000 rejected attempts/s: mostly retries, so the demand is
    // 5.6× the accepted writes, not the 21× that counting every attempt as a record would say.
    let recent = LoadSeries::from_sums(60, [(at(0), 60.0 * MIB)], [(at(0), 30_000.0)]);
    let evidence = AlarmEvidence {
        metric: Metric::WriteProvisionedThroughputExceeded,
        period_secs: 60,
        datapoints: vec![600_000.0],
        threshold: Some(0.0),
        newest_period_start: None,
    };
    let rate = estimate_rate(&recent, std::slice::from_ref(&evidence));
    let expected = 1.0 / (1.0 - (20.0f64 / 21.0).powi(PRODUCER_ATTEMPTS));
    assert!((rate.records_per_sec / 500.0 - expected).abs() < 1e-9, "{rate:?}");
    assert!(rate.records_per_sec < 6.0 * 500.0);
    assert!((rate.bytes_per_sec / MIB - expected).abs() < 1e-9, "bytes in proportion: {rate:?}");
}

#[test]
fn a_need_beyond_twice_the_count_is_reached_by_update_shard_count_calls_chained_in_one_run() {
    // 20 MiB/s on 7 even shards: 34 shards at 60 %. The throttling stops at 25 (the demand at the
    // 80 % threshold), reached in two rounds where 34 takes three: 7 → 13 → 25 → 34.
    let plan = scale_up(
        &even(7),
        LoadSnapshot { stream: bytes(20.0), throttling: Throttling::Now, ..Default::default() },
        &Policy::default(),
    );
    assert_eq!((plan.needed_shards, plan.target_shards), (34, 34));
    let mut execution = Execution::of_scale_up(&plan, &Policy::default());
    let (mut live, mut state, mut counts) = (even(7), ScalingState::default(), vec![]);
    while let NextStep::Step(Step::UpdateShardCount { target }) = execution.next(&live, &state, now()) {
        state.record_update_call(now(), 0);
        counts.push(target);
        live = Tiling::uniform(target, 100 * u64::from(target));
    }
    assert_eq!(counts, vec![13, 25, 34]);
}

#[test]
fn a_chain_of_update_shard_count_calls_stops_at_the_daily_quota_and_splits_the_rest() {
    let plan =
        scale_up(&even(7), LoadSnapshot { stream: bytes(20.0), ..Default::default() }, &Policy::default());
    let mut execution = Execution::of_scale_up(&plan, &Policy::default());
    let mut state = ScalingState::default();
    for _ in 0..UPDATE_SHARD_COUNT_CALLS_PER_DAY - 1 {
        state.record_update_call(now() - Duration::hours(1), 0);
    }
    let NextStep::Step(Step::UpdateShardCount { target: 13 }) = execution.next(&even(7), &state, now())
    else {
        panic!("the last call of the day is made")
    };
    state.record_update_call(now(), 0);
    let next = execution.next(&even(13), &state, now());
    assert!(matches!(next, NextStep::Step(Step::Split { .. })), "{next:?}");
}

#[test]
fn a_stream_with_enough_capacity_is_left_alone() {
    let plan =
        scale_up(&even(4), LoadSnapshot { stream: bytes(1.0), ..Default::default() }, &Policy::default());
    assert_eq!(plan.action, ScaleUpAction::None);
}

#[test]
fn replaying_a_split_plan_after_it_ran_adds_nothing() {
    let per_shard = [(id(0), bytes(0.1)), (id(1), bytes(2.1)), (id(2), bytes(0.1))].into();
    let load = LoadSnapshot { stream: bytes(2.3), per_shard, ..Default::default() };
    let plan = scale_up(&even(3), load, &Policy::default());
    let boundaries = plan.boundaries();
    assert_eq!(boundaries.len(), 3);
    let mut live = even(3);
    let mut n = 100;
    // Run the first step only (a crash halfway), then resume from the live state with a fresh
    // execution of the same plan, as the next invocation would.
    let NextStep::Step(Step::Split { shard, at }) =
        Execution::of_scale_up(&plan, &Policy::default()).next(&live, &ScalingState::default(), now())
    else {
        panic!()
    };
    live = live.split(&shard, at, [id(n), id(n + 1)]).unwrap();
    let mut resumed = Execution::of_scale_up(&plan, &Policy::default());
    while let NextStep::Step(Step::Split { shard, at }) = resumed.next(&live, &ScalingState::default(), now())
    {
        n += 2;
        live = live.split(&shard, at, [id(n), id(n + 1)]).unwrap();
    }
    assert_eq!(live.len(), plan.target_shards);
    assert_eq!(
        Execution::of_scale_up(&plan, &Policy::default()).next(&live, &ScalingState::default(), now()),
        NextStep::Done,
        "a duplicate delivery finds nothing left to do"
    );
}

// ---- scale-down ----

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// A day of 5-minute points (the window plus an hour either side) at `rate`, with `f` per point.
fn day(rate: Rate, f: impl Fn(usize, Rate) -> Option<Rate>) -> LoadSeries {
    let start = now() - Duration::hours(25);
    let points =
        (0..300).filter_map(|i| Some((start + Duration::minutes(5 * i as i64), f(i, rate)?))).collect();
    LoadSeries { period_secs: 300, points }
}

struct Down {
    tiling: Tiling,
    policy: Policy,
    series: LoadSeries,
    status: ReadStatus,
    shard_load: BTreeMap<ShardId, SeriesRead>,
    young: BTreeSet<ShardId>,
    last_scaled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    reads: ReadHistory,
}

impl Down {
    fn new(tiling: Tiling, stream_mib: f64) -> Down {
        Down {
            tiling,
            policy: Policy::default(),
            series: day(bytes(stream_mib), |_, r| Some(r)),
            status: ReadStatus::Complete,
            shard_load: BTreeMap::new(),
            young: BTreeSet::new(),
            last_scaled_at: None,
            created_at: now() - Duration::days(30),
            reads: ReadHistory::default(),
        }
    }

    fn plan(&self) -> ScaleDownPlan {
        plan_scale_down(self.input())
    }

    fn input(&self) -> ScaleDownInput<'_> {
        ScaleDownInput {
            stream: "orders",
            tiling: &self.tiling,
            policy: &self.policy,
            now: now(),
            stream_load: &self.series,
            stream_status: self.status,
            shard_load: &self.shard_load,
            young: &self.young,
            last_scaled_at: self.last_scaled_at,
            created_at: self.created_at,
            update_calls_last_24h: 0,
            reads: &self.reads,
        }
    }
}

fn complete(series: LoadSeries) -> SeriesRead {
    SeriesRead { series, status: ReadStatus::Complete }
}

fn merged_pairs(plan: &ScaleDownPlan) -> Vec<(String, String)> {
    match &plan.action {
        ScaleDownAction::Merge { merges } => {
            merges.iter().map(|m| (m.low.to_string(), m.high.to_string())).collect()
        }
        other => panic!("expected merges, got {other:?}: {:?}", plan.reasons),
    }
}

/// The counts a scale-down's execution asks for, each call completing at once.
fn down_calls(plan: &ScaleDownPlan, mut live: Tiling) -> Vec<u32> {
    let mut execution = Execution::of_scale_down(plan, now());
    let (state, mut counts) = (ScalingState::default(), vec![]);
    while let NextStep::Step(Step::UpdateShardCount { target }) = execution.next(&live, &state, now()) {
        counts.push(target);
        live = Tiling::uniform(target, 100 * u64::from(target));
    }
    counts
}

#[test]
fn a_cold_evenly_split_stream_shrinks_to_the_count_its_peak_needs_by_chained_halvings() {
    // 2.4 MiB/s on 32 shards (7.5 %): 4 shards carry it at 60 %, three halving calls away.
    let plan = Down::new(even(32), 2.4).plan();
    assert_eq!(plan.action, ScaleDownAction::UpdateShardCount { target: 4 });
    assert_eq!((plan.datapoints, plan.expected_datapoints), (288, 288));
    assert_eq!(down_calls(&plan, even(32)), [16, 8, 4]);
    let idle = Down { series: LoadSeries::default(), ..Down::new(even(4), 0.0) }.plan();
    assert_eq!((idle.target_shards, down_calls(&idle, even(4))), (1, vec![2, 1]), "down to minShards");
}

#[test]
fn a_cold_stream_no_pair_of_which_can_merge_still_drops_to_a_count_that_carries_it() {
    // 45 % of 6 shards: any merged pair would be at 90 %, but 5 even shards carry it at 54 %.
    let plan = Down::new(even(6), 2.7).plan();
    assert_eq!(plan.action, ScaleDownAction::UpdateShardCount { target: 5 }, "{:?}", plan.reasons);
    assert_eq!(down_calls(&plan, even(6)), [5]);
}

#[test]
fn a_chained_scale_down_stops_where_the_daily_quota_does() {
    let mut down = Down::new(even(32), 0.0);
    down.policy.min_shards = 1;
    let plan = plan_scale_down(ScaleDownInput {
        update_calls_last_24h: UPDATE_SHARD_COUNT_CALLS_PER_DAY - 2,
        ..down.input()
    });
    assert_eq!(plan.action, ScaleDownAction::UpdateShardCount { target: 8 }, "two calls left: 32 → 16 → 8");
    let spent = plan_scale_down(ScaleDownInput {
        update_calls_last_24h: UPDATE_SHARD_COUNT_CALLS_PER_DAY,
        ..down.input()
    });
    assert!(matches!(spent.action, ScaleDownAction::Merge { .. }), "{spent:?}");
}

#[test]
fn a_scale_down_chain_stops_when_another_actor_moves_the_count() {
    let plan = Down::new(even(32), 2.4).plan();
    let mut execution = Execution::of_scale_down(&plan, now());
    let state = ScalingState::default();
    assert_eq!(
        execution.next(&even(32), &state, now()),
        NextStep::Step(Step::UpdateShardCount { target: 16 })
    );
    assert!(matches!(execution.next(&even(20), &state, now()), NextStep::Stale(_)));
}

#[test]
fn with_shard_level_metrics_a_cold_stream_still_merges_measured_pairs() {
    // The measured pairs see skew the stream-level peak hides: no chained whole-stream resize.
    let mut down = Down::new(even(4), 0.4);
    down.shard_load = (0..4).map(|i| (id(i), complete(day(bytes(0.1), |_, r| Some(r))))).collect();
    let plan = down.plan();
    assert_eq!(plan.action, ScaleDownAction::UpdateShardCount { target: 2 }, "{:?}", plan.reasons);
    assert!(plan.reasons.iter().any(|r| r.contains("every shard pairs up")), "{:?}", plan.reasons);
}

#[test]
fn a_cold_unevenly_split_stream_merges_adjacent_pairs_coldest_first() {
    let tiling = even(2).split(&id(0), HashRange::FULL.equal_cuts(4)[0], [id(7), id(8)]).unwrap();
    let mut down = Down::new(tiling, 0.3);
    // Measured: shard 7 is colder than 8 and 1.
    down.shard_load = [(id(7), 0.01), (id(8), 0.1), (id(1), 0.19)]
        .into_iter()
        .map(|(s, mib)| (s, complete(day(bytes(mib), |_, r| Some(r)))))
        .collect();
    let plan = down.plan();
    assert_eq!(merged_pairs(&plan), [("shardId-000000000007".into(), "shardId-000000000008".into())]);
    assert_eq!(plan.target_shards, 2);
}

#[test]
fn one_datapoint_over_the_threshold_keeps_the_stream_as_it_is() {
    let mut down = Down::new(even(4), 0.4);
    down.series = day(bytes(0.4), |i, r| Some(if i == 150 { bytes(2.1) } else { r }));
    let plan = down.plan();
    assert_eq!(plan.action, ScaleDownAction::None);
    check_reasons(
        &plan.reasons,
        expect![[r#"
        orders: peak 52.5% of 4 shard(s) at 2027-01-14 19:30:00Z over 288 datapoint(s) of 288 (missing ones count as zero)
        not scaling down: a datapoint at 2027-01-14 19:30:00Z is at 52.5%, not under the 50% scale-down threshold
    "#]],
    );
}

#[test]
fn missing_datapoints_count_as_zero_and_are_reported() {
    let mut down = Down::new(even(4), 0.4);
    down.series = day(bytes(0.4), |i, r| (i % 3 != 0).then_some(r));
    let plan = down.plan();
    assert_eq!(plan.action, ScaleDownAction::UpdateShardCount { target: 1 });
    assert_eq!((plan.datapoints, plan.expected_datapoints), (192, 288));
    let idle = Down { series: LoadSeries::default(), ..Down::new(even(4), 0.0) }.plan();
    assert_eq!(idle.target_shards, 1, "an idle stream with no datapoints at all is cold");
}

#[test]
fn an_incomplete_stream_level_read_never_counts_as_cold() {
    for status in [ReadStatus::PartialData, ReadStatus::InternalError, ReadStatus::Forbidden] {
        // Even an empty window (what an idle stream looks like) proves nothing when the read was cut short.
        let mut down = Down { series: LoadSeries::default(), ..Down::new(even(4), 0.0) };
        down.status = status;
        let plan = down.plan();
        assert_eq!(plan.action, ScaleDownAction::None, "{status:?}");
        let last = plan.reasons.last().unwrap();
        assert!(last.contains("incomplete") && last.contains(status.as_str()), "{last}");
    }
}

#[test]
fn a_shard_without_its_own_datapoints_is_estimated_from_the_stream_not_taken_as_idle() {
    // Shard-level metrics just turned on: shard 1 has no datapoints yet while shard 0 has.
    // Taken as zero, the pair would peak at 49 % and merge; estimated from the stream's load
    // (98 % of one shard, split by key space), it peaks at 98 %: no merge.
    let mut down = Down::new(even(2), 0.98);
    down.shard_load =
        [(id(0), complete(day(bytes(0.49), |_, r| Some(r)))), (id(1), complete(LoadSeries::default()))]
            .into();
    let plan = down.plan();
    assert_eq!(plan.action, ScaleDownAction::None, "{:?}", plan.reasons);
    assert!(
        plan.reasons.iter().any(|r| r.contains("1 shard(s) without complete shard-level metrics")),
        "{:?}",
        plan.reasons
    );
}

#[test]
fn a_shard_read_cut_short_is_estimated_from_the_stream() {
    // Shard 1's read came back PartialData with a quiet-looking series: its numbers are not used.
    let mut down = Down::new(even(2), 0.98);
    down.shard_load = [
        (id(0), complete(day(bytes(0.49), |_, r| Some(r)))),
        (id(1), SeriesRead { series: day(bytes(0.01), |_, r| Some(r)), status: ReadStatus::PartialData }),
    ]
    .into();
    assert_eq!(down.plan().action, ScaleDownAction::None);
}

#[test]
fn gaps_in_a_shard_series_are_unknown_where_the_stream_had_writes() {
    // Shard 1 reports only every other period; the stream wrote in every one. The gaps take the
    // stream's estimate (49 %), so the pair peaks at 98 %, not 49 %.
    let mut down = Down::new(even(2), 0.98);
    down.shard_load = [
        (id(0), complete(day(bytes(0.49), |_, r| Some(r)))),
        (id(1), complete(day(bytes(0.0), |i, r| (i % 2 == 0).then_some(r)))),
    ]
    .into();
    assert_eq!(down.plan().action, ScaleDownAction::None);
}

#[test]
fn an_idle_stream_with_shard_level_metrics_still_merges() {
    // No writes anywhere: every series empty, every read complete. Idle, not unknown.
    let mut down = Down { series: LoadSeries::default(), ..Down::new(even(4), 0.0) };
    down.shard_load = (0..4).map(|i| (id(i), complete(LoadSeries::default()))).collect();
    assert_eq!(down.plan().target_shards, 2);
}

#[test]
fn a_stream_at_min_shards_is_left_alone() {
    let mut down = Down::new(even(4), 0.1);
    down.policy.min_shards = 4;
    assert_eq!(down.plan().action, ScaleDownAction::None);
}

#[test]
fn merges_never_go_below_min_shards() {
    let mut down = Down::new(even(5), 0.1);
    down.policy.min_shards = 4;
    assert_eq!(down.plan().target_shards, 4);
}

#[test]
fn a_stream_scaled_within_its_cooldown_is_left_alone() {
    let mut down = Down::new(even(4), 0.1);
    down.last_scaled_at = Some(now() - Duration::seconds(60));
    let plan = down.plan();
    assert_eq!(plan.action, ScaleDownAction::None);
    check_reasons(
        &plan.reasons,
        expect![[r#"
        orders: peak 2.5% of 4 shard(s) at 2027-01-14 08:00:00Z over 288 datapoint(s) of 288 (missing ones count as zero)
        not scaling down: scaled at 2027-01-15 07:59:00Z, still within the 300s cooldown
    "#]],
    );
}

#[test]
fn a_stream_younger_than_the_window_is_left_alone() {
    let mut down = Down::new(even(4), 0.1);
    down.created_at = now() - Duration::hours(3);
    assert_eq!(down.plan().action, ScaleDownAction::None);
}

#[test]
fn two_shards_at_49_percent_are_not_merged_into_one_at_98() {
    let plan = Down::new(even(2), 0.98).plan();
    assert_eq!(plan.action, ScaleDownAction::None);
    check_reasons(
        &plan.reasons,
        expect![[r#"
        orders: peak 49.0% of 2 shard(s) at 2027-01-14 08:00:00Z over 288 datapoint(s) of 288 (missing ones count as zero)
        shardId-000000000000 + shardId-000000000001 would peak at 98.0%, over the 60% target
        no adjacent pair can merge without going over the scale-up target
    "#]],
    );
}

#[test]
fn pairs_are_judged_on_their_time_aligned_sum_not_their_separate_peaks() {
    // Each shard peaks at 40 % but at different times: aligned, the pair never exceeds 45 %.
    let mut down = Down::new(even(2), 0.45);
    let shard =
        |hot_half: usize| day(bytes(0.4), move |i, r| Some(if i % 2 == hot_half { r } else { bytes(0.05) }));
    down.shard_load = [(id(0), complete(shard(0))), (id(1), complete(shard(1)))].into();
    assert_eq!(down.plan().target_shards, 1);
    // In phase, the same peaks add to 80 %: over the 60 % target.
    down.shard_load = [(id(0), complete(shard(0))), (id(1), complete(shard(0)))].into();
    assert_eq!(down.plan().action, ScaleDownAction::None);
}

#[test]
fn shards_born_inside_the_window_are_not_merged() {
    let mut down = Down::new(even(3), 0.1);
    down.young = [id(0)].into();
    assert_eq!(merged_pairs(&down.plan()), [("shardId-000000000001".into(), "shardId-000000000002".into())]);
}

#[test]
fn young_shards_are_the_children_of_a_reshard_inside_the_window() {
    let with_listed_parent = [id(5), id(6)].into();
    let window_start = now() - Duration::hours(24);
    let young = young_shards(&with_listed_parent, Some(now() - Duration::hours(2)), window_start);
    assert_eq!(young, [id(5), id(6)].into());
    assert!(young_shards(&with_listed_parent, Some(now() - Duration::hours(30)), window_start).is_empty());
    assert_eq!(
        young_shards(&with_listed_parent, None, window_start),
        young,
        "an unknown reshard counts as recent"
    );
}

#[test]
fn a_stale_merge_is_skipped_not_forced() {
    let tiling = even(2).split(&id(1), HashRange::FULL.equal_cuts(4)[2], [id(7), id(8)]).unwrap();
    let plan = Down::new(tiling, 0.1).plan();
    let ScaleDownAction::Merge { merges } = &plan.action else { panic!("{plan:?}") };
    assert_eq!(merges.len(), 1);
    // A concurrent reshard replaced every shard before we ran: nothing planned is still open.
    assert_eq!(
        Execution::of_scale_down(&plan, now()).next(&even(1), &ScalingState::default(), now()),
        NextStep::Done
    );
}

// ---- alarms ----

#[test]
fn alarm_thresholds_follow_the_open_shard_count() {
    let actions = vec!["arn:aws:sns:us-east-1:123456789012:scale".to_string()];
    let specs = alarm_specs("orders", 4, &Policy::default(), &actions);
    let by_metric: BTreeMap<_, _> = specs.iter().map(|s| (s.metric.as_str(), s)).collect();
    assert_eq!(by_metric["IncomingBytes"].threshold, 0.8 * 4.0 * MIB * 60.0);
    assert_eq!(by_metric["IncomingRecords"].threshold, 0.8 * 4.0 * 1000.0 * 60.0);
    assert_eq!(by_metric["WriteProvisionedThroughputExceeded"].threshold, 0.0);
    assert_eq!(by_metric["IncomingBytes"].name, "kinesis-autoscaler-orders-IncomingBytes");
    assert!(specs.iter().all(|s| s.alarm_actions == actions && s.stream == "orders" && s.period_secs == 60));
}

#[test]
fn the_throttle_alarm_is_optional() {
    let mut policy = Policy::default();
    policy.scale_up.throttle_alarm = false;
    let specs = alarm_specs("orders", 1, &policy, &[]);
    assert_eq!(
        specs.iter().map(|s| s.metric).collect::<Vec<_>>(),
        [Metric::IncomingBytes, Metric::IncomingRecords]
    );
}

// ---- the trigger gate ----

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

#[test]
fn a_stream_never_scaled_admits_any_alarm() {
    assert_eq!(
        admit(at(0), AlarmKind::Capacity, &ScalingState::default(), &Policy::default(), at(1)),
        Admission::Act
    );
}

#[test]
fn an_alarm_older_than_the_last_scaling_is_stale() {
    let state = ScalingState { last_scaled_at: Some(at(10)), update_calls: vec![] };
    let admission = admit(at(5), AlarmKind::Capacity, &state, &Policy::default(), at(20));
    assert_eq!(admission, Admission::Stale { changed_at: at(5), last_scaled_at: at(10) });
}

#[test]
fn a_fresh_alarm_within_the_cooldown_waits_unless_it_is_throttling() {
    let state = ScalingState { last_scaled_at: Some(at(0)), update_calls: vec![] };
    let policy = Policy::default(); // 300 s cooldown, throttling bypasses it
    assert_eq!(
        admit(at(60), AlarmKind::Capacity, &state, &policy, at(61)),
        Admission::Cooldown { until: at(300) }
    );
    assert_eq!(admit(at(60), AlarmKind::Throttle, &state, &policy, at(61)), Admission::Act);
    let mut strict = policy.clone();
    strict.scale_up.throttle_bypasses_cooldown = false;
    assert_eq!(
        admit(at(60), AlarmKind::Throttle, &state, &strict, at(61)),
        Admission::Cooldown { until: at(300) }
    );
    assert_eq!(admit(at(301), AlarmKind::Capacity, &state, &policy, at(302)), Admission::Act);
}

#[test]
fn scaling_state_round_trips_through_tags_and_forgets_calls_older_than_a_day() {
    let mut tags = BTreeMap::new();
    let mut state = ScalingState::default();
    state.record(at(3600));
    tags.extend(state.to_tags());
    tags.extend(state.record_update_call(at(0), 1));
    tags.extend(state.record_update_call(at(3000), 1));
    assert!(tags.iter().all(|(k, v)| is_valid_tag_text(k) && is_valid_tag_text(v)), "{tags:?}");
    assert_eq!(ScalingState::from_tags(&tags, at(3601)), Ok(state.clone()));
    assert_eq!(state.update_calls_last_24h(at(3601)), 2);
    tags.extend(state.record_update_call(at(88_000), 1));
    assert_eq!(state.update_calls_last_24h(at(88_000)), 2, "the call at 0 is older than a day");
    let expired = format!("{UPDATE_CALL_TAG_PREFIX}{}-{:016x}", at(0).timestamp(), 1);
    assert_eq!(ScalingState::expired_tags(&tags, at(88_000)), [expired]);
}

#[test]
fn update_calls_recorded_by_two_actors_at_once_are_both_counted() {
    // Both read the same tags, then each records its own call in the same second: AddTagsToStream
    // merges the keys.
    let read = BTreeMap::from([(UPDATE_CALLS_TAG.to_owned(), at(100).timestamp().to_string())]);
    let read_now = || ScalingState::from_tags(&read, at(200)).expect("valid");
    let (mut a, mut b) = (read_now(), read_now());
    let mut written = read.clone();
    written.extend(a.record_update_call(at(200), 0xa));
    written.extend(b.record_update_call(at(200), 0xb));
    assert_eq!(ScalingState::from_tags(&written, at(300)).expect("valid").update_calls_last_24h(at(300)), 3);
}

// ---- load estimate ----

#[test]
fn the_alarms_quoted_datapoint_raises_a_lagging_metrics_estimate() {
    let recent = LoadSeries::from_sums(60, [(at(0), 30.0 * MIB)], [(at(0), 6_000.0)]);
    let evidence = AlarmEvidence {
        metric: Metric::IncomingBytes,
        period_secs: 60,
        datapoints: vec![60.0 * MIB, 90.0 * MIB],
        threshold: Some(48.0 * MIB),
        newest_period_start: None,
    };
    let rate = estimate_rate(&recent, std::slice::from_ref(&evidence));
    assert_eq!(rate, Rate { bytes_per_sec: 1.5 * MIB, records_per_sec: 100.0 });
}

#[test]
fn without_quoted_datapoints_the_threshold_is_the_floor() {
    let evidence = AlarmEvidence {
        metric: Metric::IncomingRecords,
        period_secs: 60,
        datapoints: vec![],
        threshold: Some(48_000.0),
        newest_period_start: None,
    };
    let rate = estimate_rate(&LoadSeries::default(), std::slice::from_ref(&evidence));
    assert_eq!(rate, Rate { bytes_per_sec: 0.0, records_per_sec: 800.0 });
}

// ---- the sweep's arithmetic ----

#[test]
fn a_day_of_five_minute_points_fits_175_streams_per_metrics_call() {
    assert_eq!(streams_per_metrics_call(288, 2), 175);
    // A week of 5-minute points: 2016 per series, 50 series, 25 streams.
    assert_eq!(streams_per_metrics_call(2016, 2), 25);
    // Short windows are bound by the 500-query limit instead.
    assert_eq!(streams_per_metrics_call(12, 2), 250);
    assert_eq!(streams_per_metrics_call(1_000_000, 2), 1);
    // With the throttled records too (`streams status`): 350 series of three.
    assert_eq!(streams_per_metrics_call(288, 3), 116);
    assert_eq!(streams_per_metrics_call(12, 3), 166);
}

#[test]
fn utilisation_reports_peak_and_p95_with_missing_points_as_zero() {
    let window = Window::ending_at(now(), &Policy::default());
    // 20 points at 100 % of one shard (bytes), the other 268 periods missing.
    let series = LoadSeries {
        period_secs: 300,
        points: (0..20).map(|i| (window.start + Duration::minutes(5 * i), bytes(1.0))).collect(),
    };
    let u = Utilisation::of(&series, &window, 1);
    assert_eq!((u.bytes_peak, u.records_peak), (1.0, 0.0));
    assert_eq!(u.bytes_p95, 1.0, "the top 5 % (15 points) are all at 100 %");
    let fewer = LoadSeries { points: series.points.into_iter().take(10).collect(), ..series };
    assert_eq!(Utilisation::of(&fewer, &window, 1).bytes_p95, 0.0, "10 points are under 5 %");
}

// ---- readers ----

/// The day's periods (as [`day`] lays them out) at `value` each, with `f` per point.
fn read_day(value: f64, f: impl Fn(usize, f64) -> Option<f64>) -> BTreeMap<DateTime<Utc>, f64> {
    let start = now() - Duration::hours(25);
    (0..300).filter_map(|i| Some((start + Duration::minutes(5 * i as i64), f(i, value)?))).collect()
}

/// Consumers that keep up (ages of a second) reading `mib_per_sec` from the shared limit.
fn readers(mib_per_sec: f64) -> ReadHistory {
    ReadHistory {
        bytes_per_sec: read_day(mib_per_sec * MIB, |_, v| Some(v)),
        max_iterator_age_ms: read_day(1_000.0, |_, v| Some(v)),
        status: ReadStatus::Complete,
    }
}

/// A cold, evenly split stream whose consumers fell 15 minutes behind at one period.
fn lagging() -> Down {
    let mut down = Down::new(even(4), 0.4);
    down.reads = readers(0.4);
    down.reads.max_iterator_age_ms = read_day(1_000.0, |i, v| Some(if i == 100 { 900_000.0 } else { v }));
    down
}

#[test]
fn a_merge_waits_while_the_consumers_are_behind_and_says_how_far_and_when() {
    let plan = lagging().plan();
    assert_eq!(plan.action, ScaleDownAction::None);
    check_reasons(
        &plan.reasons,
        expect![[r#"
            orders: peak 10.0% of 4 shard(s) at 2027-01-14 08:00:00Z over 288 datapoint(s) of 288 (missing ones count as zero)
            not scaling down: the consumers were behind: the iterator age peaked at 900 s at 2027-01-14 15:20:00Z, over the 600 s bound (scaleDown.maxIteratorAgeSeconds)
        "#]],
    );
}

#[test]
fn with_the_iterator_age_guard_off_consumers_behind_do_not_hold_a_merge() {
    let mut down = lagging();
    down.policy.scale_down.max_iterator_age_secs = None;
    assert_eq!(down.plan().action, ScaleDownAction::UpdateShardCount { target: 1 });
    down.policy.scale_down.max_iterator_age_secs = Some(901);
    assert_eq!(down.plan().action, ScaleDownAction::UpdateShardCount { target: 1 }, "under the bound");
}

#[test]
fn an_incomplete_read_of_the_readers_never_counts_as_keeping_up() {
    for status in [ReadStatus::PartialData, ReadStatus::InternalError, ReadStatus::Forbidden] {
        let mut down = Down::new(even(4), 0.4);
        down.reads = ReadHistory { status, ..ReadHistory::default() };
        let plan = down.plan();
        assert_eq!(plan.action, ScaleDownAction::None, "{status:?}");
        let last = plan.reasons.last().unwrap();
        assert!(last.contains("read metrics") && last.contains(status.as_str()), "{last}");
    }
}

#[test]
fn a_merge_that_would_put_the_shared_reads_over_the_read_limit_is_refused() {
    // Writes are cold (0.3 MiB/s on 3 shards), but nine polling consumers read 2.7 MiB/s: the
    // quarter-shards 7 + 8 merged would serve half of it, 1.35 MiB/s, 66 % of one shard's 2 MiB/s.
    let tiling = even(2).split(&id(0), HashRange::FULL.equal_cuts(4)[0], [id(7), id(8)]).unwrap();
    let mut down = Down::new(tiling, 0.3);
    down.reads = readers(2.7);
    let plan = down.plan();
    assert_eq!(plan.action, ScaleDownAction::None, "{:?}", plan.reasons);
    check_reasons(
        &plan.reasons,
        expect![[r#"
            orders: peak 10.0% of 3 shard(s) at 2027-01-14 08:00:00Z over 288 datapoint(s) of 288 (missing ones count as zero)
            shardId-000000000007 + shardId-000000000008 would serve 67.5% of one shard's shared read limit at the reads' peak, over the 60% target
            shardId-000000000008 + shardId-000000000001 would serve 101.3% of one shard's shared read limit at the reads' peak, over the 60% target
            no adjacent pair can merge without going over the scale-up target
        "#]],
    );
    down.reads = readers(2.0);
    assert_eq!(merged_pairs(&down.plan()), [("shardId-000000000007".into(), "shardId-000000000008".into())]);
}

#[test]
fn a_cold_even_stream_shrinks_only_to_the_count_its_shared_reads_need() {
    // Writes fit 2 shards at 60 % (0.8 MiB/s), but 6 MiB/s of shared reads need 5 (6 / 1.2).
    let mut down = Down::new(even(8), 0.8);
    down.reads = readers(6.0);
    let plan = down.plan();
    assert_eq!(plan.action, ScaleDownAction::UpdateShardCount { target: 5 }, "{:?}", plan.reasons);
    assert!(plan.reasons.iter().any(|r| r.contains("shared reads")), "{:?}", plan.reasons);
}

fn read_throttled(write_mib: f64, read_mib: f64) -> LoadSnapshot {
    LoadSnapshot {
        stream: bytes(write_mib),
        reads: SharedReads { bytes_per_sec: read_mib * MIB, throttled: true },
        ..Default::default()
    }
}

#[test]
fn a_read_throttle_sizes_the_scale_up_from_the_shared_readers_demand() {
    // Writes need one shard; reads served at 3.8 of 4 MiB/s and refused besides: the demand is
    // at least the 4 MiB/s two shards serve, which takes 4 shards at 60 % (4 / 1.2, rounded up).
    let mut policy = Policy::default();
    policy.scale_up.read_throttle_alarm = true;
    let plan = scale_up(&even(2), read_throttled(0.2, 3.8), &policy);
    assert_eq!(plan.action, ScaleUpAction::UpdateShardCount { target: 4 }, "{:?}", plan.reasons);
    assert_eq!((plan.needed_shards, plan.read_demand), (4, 4.0 * MIB));
    check_reasons(
        &plan.reasons,
        expect![[r#"
            load 209715 B/s, 0 records/s is 10% of 2 shard(s); 1 shard(s) carry it at 60%
            reads are throttled with the widest shard serving 95% of its 2 MiB/s shared read limit: the readers' demand is at least the 4.0 MiB/s the open shards serve
            shared reads of 4.0 MiB/s need 4 shard(s) at 60% of their read limit
            shards are evenly split and the load is not skewed: UpdateShardCount to 4, 1 call(s) in all to reach 4, beats 2 SplitShard call(s)
        "#]],
    );
}

#[test]
fn a_read_throttle_on_the_get_records_call_limit_adds_no_shard_and_says_why() {
    // Reads at 0.5 of 4 MiB/s yet refused: the consumers poll more than 5 times a second a shard,
    // which every new shard would get as well.
    let mut policy = Policy::default();
    policy.scale_up.read_throttle_alarm = true;
    let plan = scale_up(&even(2), read_throttled(0.2, 0.5), &policy);
    assert_eq!(plan.action, ScaleUpAction::None, "{:?}", plan.reasons);
    assert!(plan.reasons.iter().any(|r| r.contains("5 GetRecords calls")), "{:?}", plan.reasons);
}
