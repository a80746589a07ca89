//! `streams apply`'s imperative half against Kinesis and CloudWatch in memory: what `observe`
//! reads as the tool's, and how `apply` records the shard counts it changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use planner::{Change, Policy, ScalingState, StreamPlan, SyncPlan, alarm_specs};
use reconciler::{
    AlarmPort, ApplySettings, Context, IoPolicy, Resharder, SeededJitter, StreamReader, TokioClock, apply,
    observe,
};
use simulated_aws::{Model, World};

fn at_noon() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("in range")
}

/// The CLI's context over `world`, on its clock.
fn cli(world: &World) -> Context<World, World> {
    Context::new(world.clone(), world.clone(), IoPolicy::new(world.clock()).jitter(SeededJitter::new(1)))
}

/// Which streams' alarms `observe` reports, with `managed` tagged as the tool's, `unmanaged`
/// not, and each of `alarmed` given the tool's alarms.
async fn alarmed_streams(alarmed: &[&str]) -> BTreeMap<String, usize> {
    let world = World::new(Arc::new(TokioClock::new(at_noon())), Model::instant());
    world.add_stream("managed", 1, at_noon());
    world.add_stream("unmanaged", 1, at_noon());
    let policy = BTreeMap::from([(planner::POLICY_TAG.to_owned(), "v1".to_owned())]);
    world.add_tags("managed", &policy).await.expect("tag");
    for stream in alarmed {
        for spec in alarm_specs(stream, 1, &Policy::default(), &[]) {
            world.put_alarm(&spec).await.expect("put alarm");
        }
    }
    let observed = observe(&cli(&world), &[]).await.expect("observe");
    let mut counts = BTreeMap::new();
    for alarm in &observed.alarms {
        *counts.entry(alarm.stream.clone().unwrap_or_default()).or_default() += 1;
    }
    counts
}

#[tokio::test(start_paused = true)]
async fn every_update_shard_count_apply_makes_is_recorded_in_the_scaling_state_tags() {
    let world = World::new(Arc::new(TokioClock::new(at_noon())), Model::instant());
    world.add_stream("orders", 1, at_noon());
    // A call the scale-up Lambda made an hour ago stays on record.
    let mut earlier = ScalingState::default();
    let mut tags = earlier.record_update_call(at_noon() - chrono::Duration::hours(1), 9);
    earlier.record(at_noon() - chrono::Duration::hours(1));
    tags.extend(earlier.to_tags());
    world.add_tags("orders", &tags).await.expect("tag");
    let plan = SyncPlan {
        streams: vec![StreamPlan {
            name: "orders".into(),
            observed: None,
            changes: vec![Change::Reshard { from: 1, to: 4, reason: "minShards".into() }],
        }],
        unlisted: vec![],
        orphan_alarms: vec![],
    };
    apply(&cli(&world), &plan, &ApplySettings::default(), |_| {}).await.expect("apply");
    let calls = world.kinesis_calls();
    let updates = calls.iter().filter(|c| c.starts_with("UpdateShardCount")).count();
    assert_eq!(updates, 2, "1 -> 2 -> 4: {calls:?}");
    let tags = world.describe("orders").await.expect("describe").tags;
    let state = ScalingState::from_tags(&tags, at_noon()).expect("valid state tags");
    assert_eq!(state.update_calls_last_24h(at_noon()), 3, "the Lambda's call and both of apply's");
    assert_eq!(state.last_scaled_at, Some(at_noon()));
    // Recorded before each call, as the Lambdas do: the tag write precedes the reshard.
    let first_tag = calls.iter().position(|c| c.starts_with("AddTagsToStream")).expect("tagged");
    let first_update = calls.iter().position(|c| c.starts_with("UpdateShardCount")).expect("updated");
    assert!(first_tag < first_update, "{calls:?}");
}

#[tokio::test]
async fn alarms_of_a_stream_that_exists_unmanaged_are_not_taken_for_orphans() {
    let counts = alarmed_streams(&["managed", "unmanaged", "gone"]).await;
    assert_eq!(counts, BTreeMap::from([("gone".to_owned(), 3), ("managed".to_owned(), 3)]));
}
