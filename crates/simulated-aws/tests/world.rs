//! The simulated AWS against what AWS documents: Kinesis's reshard rules and timing, CloudWatch's
//! publication delay and alarm evaluation, SNS's delivery, and the stack running the Lambdas'
//! own flows on them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use planner::{HashKey, Metric, POLICY_TAG, Policy, alarm_name, alarm_specs, encode_policy};
use reconciler::alarm_message::AlarmMessage;
use reconciler::scale_up::Decision;
use reconciler::{AlarmPort, AlarmState, ErrorKind, Resharder, Scope, StreamReader, StreamStatus};
use simulated_aws::model::{
    METRIC_DELAY_SECS, NOTIFY_LATENCY_SECS, RESHARD_SECS, next_evaluation, published_at,
};
use simulated_aws::{Config, Deployment, Event, MetricKey, Model, VirtualClock, World, answer};

const MIB: f64 = 1_048_576.0;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

/// A world as AWS behaves in time, at `t(0)`, with a stream `orders` of `shards` shards.
fn aws(shards: u32) -> (World, Arc<VirtualClock>) {
    let clock = VirtualClock::new(t(0));
    let world = World::new(clock.clone(), Model::aws());
    world.add_stream("orders", shards, t(-86_400));
    (world, clock)
}

/// The minute `at` falls in, counted from the epoch (what the writers publish by).
fn minute(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

fn refused(result: Result<(), reconciler::PortError>) -> ErrorKind {
    result.expect_err("refused").kind
}

#[test]
fn update_shard_count_beyond_double_or_half_is_refused_and_kept_as_a_refusal() {
    let (world, _) = aws(4);
    assert_eq!(refused(answer(world.update_shard_count("orders", 9))), ErrorKind::InvalidArgument);
    assert_eq!(refused(answer(world.update_shard_count("orders", 1))), ErrorKind::InvalidArgument);
    assert_eq!(world.refusals().len(), 2, "{:?}", world.refusals());
    assert_eq!(world.tiling("orders").unwrap().len(), 4);
}

#[test]
fn the_eleventh_update_shard_count_in_a_rolling_day_is_refused_as_a_quota() {
    let (world, clock) = aws(4);
    for i in 0..10 {
        clock.advance_to(t(i * 1_000));
        let target = if i % 2 == 0 { 8 } else { 4 };
        answer(world.update_shard_count("orders", target)).unwrap();
        clock.advance_to(t(i * 1_000 + 999));
    }
    clock.advance_to(t(10_000));
    assert_eq!(refused(answer(world.update_shard_count("orders", 8))), ErrorKind::QuotaExceeded);
    // A day after the first call, the quota has room again.
    clock.advance_to(t(24 * 3_600 + 1));
    answer(world.update_shard_count("orders", 8)).unwrap();
}

#[test]
fn a_second_reshard_while_updating_is_refused_and_children_open_when_it_is_done() {
    let (world, clock) = aws(2);
    let shard = world.tiling("orders").unwrap().shards()[0].clone();
    let mid = shard.range.midpoint().unwrap();
    answer(world.split_shard("orders", &shard.id, mid)).unwrap();
    assert_eq!(answer(world.status("orders")).unwrap(), StreamStatus::Updating);
    assert_eq!(world.tiling("orders").unwrap().len(), 2, "the parent stays open until the split is done");
    assert_eq!(refused(answer(world.split_shard("orders", &shard.id, mid))), ErrorKind::ResourceInUse);
    assert!(world.refusals().is_empty(), "a reshard in flight is not the caller's mistake");
    clock.advance_to(t(RESHARD_SECS));
    assert_eq!(world.tiling("orders").unwrap().len(), 3);
    let listed = answer(world.describe("orders")).unwrap();
    assert_eq!(listed.closed, std::slice::from_ref(&shard.id));
    assert_eq!(listed.with_listed_parent.len(), 2);
    clock.advance_to(t(RESHARD_SECS + 24 * 3_600));
    let listed = answer(world.describe("orders")).unwrap();
    assert!(listed.closed.is_empty() && listed.with_listed_parent.is_empty(), "aged out of retention");
}

#[test]
fn a_hot_key_concentrates_its_share_on_one_shard() {
    let (world, _) = aws(4);
    let shares = world.stream("orders", |s| s.shares(HashKey(u128::MAX / 8), 0.3)).unwrap();
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!((shares[0] - (0.7 / 4.0 + 0.3)).abs() < 1e-12);
}

#[test]
fn a_hot_shard_throttles_while_the_stream_has_capacity_to_spare() {
    let (world, _) = aws(4);
    let accepted = |hot| world.stream("orders", |s| s.accepts(3.0, HashKey(0), hot, 1.0)).unwrap();
    assert!((accepted(0.0) - 3.0).abs() < 1e-12, "3 units over 4 shards fit");
    // Half to one key: its shard is offered 1.875 units, takes 1; the others 0.375 each.
    assert!((accepted(0.5) - 2.125).abs() < 1e-12);
}

#[test]
fn a_minute_is_readable_exactly_its_delay_after_it_ends() {
    let (world, clock) = aws(1);
    let key = MetricKey::kinesis(Metric::IncomingBytes, "orders", None);
    world.publish([(world.metric(key.clone()), minute(t(0)), 60.0)]);
    let read = |at| {
        clock.advance_to(at);
        world.read(&key, reconciler::Statistic::Sum, 60, t(0), t(600))
    };
    assert!(read(t(published_at(0) - 1)).is_empty());
    assert_eq!(read(t(published_at(0))), [(t(0), 60.0)]);
    assert_eq!(published_at(0), 60 + METRIC_DELAY_SECS);
}

#[test]
fn evaluations_fall_on_the_minute() {
    assert_eq!(next_evaluation(150), 180);
    assert_eq!(next_evaluation(180), 180);
    assert_eq!(next_evaluation(-30), 0);
}

/// `orders` as `streams apply` leaves it, notifying the stack's alarm topic, with `mib` MiB/s
/// written in each of its first `minutes` minutes.
fn hot_stream(world: &World, config: &Config, shards: u32, mib: f64, minutes: i64) {
    let policy = Policy::default();
    answer(world.add_tags("orders", &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into())).unwrap();
    for spec in alarm_specs("orders", shards, &policy, std::slice::from_ref(&config.alarm_topic)) {
        answer(world.put_alarm(&spec)).unwrap();
    }
    let bytes = world.metric(MetricKey::kinesis(Metric::IncomingBytes, "orders", None));
    let records = world.metric(MetricKey::kinesis(Metric::IncomingRecords, "orders", None));
    world.publish((0..minutes).flat_map(|m| {
        let at = minute(t(m * 60));
        [(bytes, at, mib * MIB * 60.0), (records, at, mib * 512.0 * 60.0)]
    }));
}

#[test]
fn an_alarm_fires_on_the_evaluation_that_sees_its_breaching_minute_and_notifies_as_aws_does() {
    let (world, clock) = aws(1);
    let config = Config::stack(Scope {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        ..Scope::default()
    });
    hot_stream(&world, &config, 1, 0.9, 1);
    let name = alarm_name("orders", Metric::IncomingBytes);
    let fires = t(next_evaluation(published_at(0)));
    clock.advance_to(fires - chrono::Duration::seconds(1));
    world.advance_to(fires - chrono::Duration::seconds(1));
    assert_ne!(world.alarm(&name).unwrap().1, AlarmState::Alarm);
    clock.advance_to(fires);
    world.advance_to(fires);
    assert_eq!(world.alarm(&name).unwrap().1, AlarmState::Alarm);
    clock.advance_to(fires + chrono::Duration::seconds(NOTIFY_LATENCY_SECS));
    let delivered = world.take_deliveries(&config.alarm_topic);
    let [delivery] = &delivered[..] else { panic!("{delivered:?}") };
    let message = AlarmMessage::parse(&delivery.message).expect("the handler reads CloudWatch's own message");
    assert_eq!((message.name.as_str(), message.stream()), (name.as_str(), Some("orders")));
    assert_eq!(message.quoted().values, [0.9 * MIB * 60.0], "the datapoint quoted in full");
    assert_eq!(message.quoted().newest_period_start, Some(t(0)));
}

#[test]
fn the_stack_splits_a_hot_stream_through_its_own_alarm_sns_and_the_scale_up_flow() {
    let (world, clock) = aws(1);
    let scope = Scope { account: "123456789012".into(), region: "us-east-1".into(), ..Scope::default() };
    let config = Config::stack(scope);
    hot_stream(&world, &config, 1, 0.9, 3);
    let mut deployment = Deployment::new(world.clone(), clock, config);
    deployment.run_until(t(600));
    let events = deployment.take_events();
    let scaled: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ScaleUp { record, .. } => match &record.decision {
                Decision::Scaled { from, to, .. } => Some((*from, *to)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(scaled, [(1, 2)], "{events:#?}");
    assert_eq!(world.tiling("orders").unwrap().len(), 2);
    for spec in alarm_specs("orders", 2, &Policy::default(), &[deployment.config().alarm_topic.clone()]) {
        assert_eq!(world.alarm(&spec.name).unwrap().0, spec, "re-armed for the new count");
    }
}
