//! A deterministic soak: many streams, days of random traffic, through the real handlers.
//!
//! The stack runs as deployed (`simulated_aws::Deployment`) on the one simulated AWS in virtual
//! time: CloudWatch evaluates every alarm each minute and notifies the ones that change to `ALARM`
//! through SNS, which sometimes delivers twice; each delivery is an invocation of the scale-up
//! flow; the resync runs every 5 minutes and the sweep every 36 hours, concurrently with whatever
//! alarm invocations are running; reshards take 30 s and refuse a second one with
//! `ResourceInUse`. The soak plays only the writers: each minute it publishes what every stream
//! accepted and rejected, changes some demands, and injects faults at random. After every minute:
//!
//! * every stream's open count is within `[minShards, maxShards]` (the tiling is valid by type);
//! * Kinesis refused no reshard call but for a reshard in flight: no call beyond 2× / ½, no
//!   split of a closed shard, no eleventh `UpdateShardCount` in a rolling day;
//! * no alarm of a stream below `maxShards` stays in `ALARM` untouched for 30 minutes (never
//!   silent), nor is seen in `ALARM` every minute for an hour without the stream growing (no
//!   livelock of resets);
//! * nothing panics.
//!
//! And at the end: every time a stream grew, a scale-up decision on it within 15 minutes planned
//! at least that count (no double scaling).
//!
//! CI runs `SOAK_STREAMS=12 SOAK_DAYS=2` (the defaults); the long form is
//! `SOAK_STREAMS=1000 SOAK_DAYS=30 cargo test --release -p reconciler --test soak -- --nocapture`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use planner::{HashKey, Metric, POLICY_TAG, Policy, alarm_specs, encode_policy};
use reconciler::scale_up::Decision;
use reconciler::{AlarmPort, AlarmState, ErrorKind, Resharder, Scope};
use simulated_aws::{Config, Deployment, Event, MetricId, MetricKey, Model, VirtualClock, World, answer};

const MIB: f64 = 1_048_576.0;
/// Bytes per record: 2 KiB, so a shard's 1 MiB/s binds before its 1,000 records/s.
const RECORD_BYTES: f64 = 2_048.0;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64: the soak's one source of randomness, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }

    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

struct Soaked {
    name: String,
    policy: Policy,
    /// Offered write load, MiB/s.
    demand: f64,
    /// Since when the stream has been below `maxShards` (where an alarm may stay in `ALARM`).
    below_max_since: Option<DateTime<Utc>>,
    /// Since when each alarm (by name) has been seen in `ALARM` at every minute, below max.
    alarmed_since: BTreeMap<String, DateTime<Utc>>,
    /// When it last grew.
    grew_at: Option<DateTime<Utc>>,
    open: u32,
    /// What Kinesis publishes of it: bytes, records and rejected records.
    metrics: [MetricId; 3],
}

#[test]
fn days_of_random_traffic_concurrent_triggers_and_faults_break_no_invariant() {
    let (streams, days, seed) = (env("SOAK_STREAMS", 12), env("SOAK_DAYS", 2), env("SOAK_SEED", 1));
    let origin = DateTime::from_timestamp(1_800_000_000, 0).expect("in range");
    let clock = VirtualClock::new(origin);
    let model = Model { duplicate_deliveries: 0.05, seed, ..Model::aws() };
    let world = World::new(clock.clone(), model);
    let scope = Scope {
        account: world.model().account.clone(),
        region: world.model().region.clone(),
        ..Scope::default()
    };
    let config = Config { seed, ..Config::stack(scope) };
    let topic = config.alarm_topic.clone();
    let mut deployment = Deployment::new(world.clone(), clock, config);
    let mut rng = Rng(seed.max(1) * 0x9e37_79b9_7f4a_7c15);
    let mut soaked = Vec::new();
    for i in 0..streams {
        let max = [2, 4, 8, 16, 32][(rng.next() % 5) as usize];
        let policy = Policy { min_shards: 1, max_shards: max, ..Policy::default() };
        let name = format!("soak-{i:04}");
        let shards = 1 + (rng.next() % u64::from(max)) as u32;
        world.add_stream(&name, shards, origin - chrono::Duration::days(30));
        answer(world.add_tags(&name, &[(POLICY_TAG.to_owned(), encode_policy(&policy))].into())).unwrap();
        for spec in alarm_specs(&name, shards, &policy, std::slice::from_ref(&topic)) {
            answer(world.put_alarm(&spec)).unwrap();
        }
        let demand = rng.uniform(0.05, f64::from(max) * 0.7);
        let metrics =
            [Metric::IncomingBytes, Metric::IncomingRecords, Metric::WriteProvisionedThroughputExceeded]
                .map(|metric| world.metric(MetricKey::kinesis(metric, &name, None)));
        soaked.push(Soaked {
            name,
            policy,
            demand,
            below_max_since: None,
            alarmed_since: BTreeMap::new(),
            grew_at: None,
            open: shards,
            metrics,
        });
    }
    let (mut decisions, mut failed, mut notifications) = (0u64, 0u64, 0);
    // (stream, when, count it grew to), and every scale-up plan's (stream, when, target).
    let (mut growths, mut plans) = (Vec::new(), Vec::new());
    for minute in 0..days * 24 * 60 {
        let now = origin + chrono::Duration::minutes(minute as i64);
        // Traffic: mostly steady, sometimes a new level (a spike, a lull).
        for s in soaked.iter_mut() {
            if rng.chance(0.004) {
                s.demand = rng.uniform(0.02, f64::from(s.policy.max_shards) * 0.9);
            }
        }
        // Faults, now and then.
        if rng.chance(0.02) {
            let call =
                ["SplitShard", "MergeShards", "UpdateShardCount", "AddTagsToStream", "DescribeStreamSummary"]
                    [(rng.next() % 5) as usize];
            let kind = [ErrorKind::Throttled, ErrorKind::Transient, ErrorKind::ResourceInUse]
                [(rng.next() % 3) as usize];
            world.fail_next(call, kind);
        }
        if rng.chance(0.01) {
            let call = ["PutMetricAlarm", "SetAlarmState", "GetMetricData", "DescribeAlarms"]
                [(rng.next() % 4) as usize];
            world.fail_next(call, ErrorKind::Throttled);
        }
        // The writers: what each stream accepted and rejected in the minute that just ended, as
        // Kinesis publishes it (CloudWatch makes it readable after its delay). Their keys are
        // random, so the demand spreads by key range; each shard takes 1 MiB/s.
        let ended = now.timestamp() / 60 - 1;
        let accepted: Vec<f64> = soaked
            .iter()
            .map(|s| world.stream(&s.name, |k| k.accepts(s.demand, HashKey(0), 0.0, 1.0)).expect("exists"))
            .collect();
        world.publish(soaked.iter().zip(accepted).flat_map(|(s, accepted)| {
            let rejected = (s.demand - accepted).max(0.0) * MIB / RECORD_BYTES;
            let values = [accepted * MIB * 60.0, accepted * MIB / RECORD_BYTES * 60.0, rejected * 60.0];
            s.metrics.iter().zip(values).map(move |(id, value)| (*id, ended, value))
        }));
        deployment.run_until(now);
        for event in deployment.take_events() {
            match event {
                Event::ScaleUp { at, record } => {
                    decisions += 1;
                    if let (Decision::Scaled { plan, .. }, Some(stream)) = (&record.decision, &record.stream)
                    {
                        plans.push((stream.clone(), at, plan.target_shards));
                    }
                }
                Event::ScaleUpFailed { .. } | Event::Failed { .. } => failed += 1,
                Event::Malformed { error, .. } => {
                    panic!("CloudWatch's own notification did not parse: {error}")
                }
                Event::Sweep { .. } | Event::Predict { .. } => {}
            }
        }
        notifications = world.published().len();
        let refused = world.refusals();
        assert!(refused.is_empty(), "minute {minute}: Kinesis refused {refused:#?}");
        for s in soaked.iter_mut() {
            let open = world.tiling(&s.name).expect("exists").len();
            let case = format!(
                "minute {minute}, {}: {open} shards, policy [{}, {}]",
                s.name, s.policy.min_shards, s.policy.max_shards
            );
            assert!(open >= s.policy.min_shards && open <= s.policy.max_shards, "out of bounds: {case}");
            if open > s.open {
                growths.push((s.name.clone(), now, open));
                s.grew_at = Some(now);
            }
            s.open = open;
            // Never silent: no alarm stays in ALARM, untouched, for 30 minutes while the stream
            // could grow (at maxShards staying in ALARM is the documented end state). And no
            // livelock: an alarm reset and fired again, in ALARM at every minute for an hour,
            // has seen the stream grow in that hour.
            s.below_max_since = (open < s.policy.max_shards).then(|| s.below_max_since.unwrap_or(now));
            let Some(below_max) = s.below_max_since else {
                s.alarmed_since.clear();
                continue;
            };
            for spec in alarm_specs(&s.name, open, &s.policy, std::slice::from_ref(&topic)) {
                let Some((AlarmState::Alarm, changed)) = world.alarm_state(&spec.name) else {
                    s.alarmed_since.remove(&spec.name);
                    continue;
                };
                let untouched = changed.unwrap_or(below_max).max(below_max);
                assert!(
                    now - untouched <= chrono::Duration::minutes(30),
                    "{} in ALARM, untouched since {untouched}: {case}",
                    spec.name
                );
                let seen = *s.alarmed_since.entry(spec.name.clone()).or_insert(now);
                let idle = now - seen > chrono::Duration::minutes(60) && s.grew_at.is_none_or(|at| at < seen);
                assert!(!idle, "{} in ALARM since {seen} and the stream never grew: {case}", spec.name);
            }
        }
    }
    let window = chrono::Duration::minutes(15);
    for (stream, at, count) in &growths {
        let planned = plans.iter().any(|(s, when, target)| {
            s == stream && *when >= *at - window && *when <= *at + window && target >= count
        });
        assert!(planned, "{stream} grew to {count} at {at}, past every plan near then: {plans:?}");
    }
    let shards: u32 = soaked.iter().map(|s| s.open).sum();
    eprintln!(
        "soak: {streams} streams x {days} days = {} stream-days, {} minutes checked, \
         {notifications} SNS messages, {decisions} scale-up decisions, {failed} invocations failed \
         (retryable, as faults were injected), {} growths, {shards} shards at the end",
        streams * days,
        days * 24 * 60,
        growths.len(),
    );
}
