//! Stream tags are written by anyone allowed `AddTagsToStream`. Input: the policy tag, the
//! last-scaled tag and the update-calls tag on three lines, then bytes for the shard count and
//! raw `f64` loads (NaN, infinities and extremes included). Decoding must never panic, and any
//! policy and state that decode must plan a scale-up, a scale-down and a pre-scale (the forecast
//! over a hostile history) on a small tiling without panicking, within `maxShards`, and summarise the sweep's window without unbounded allocation.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use planner::*;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time")
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(4, |b| *b == b'\n');
    let mut line = || lines.next().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
    let (policy_tag, last_scaled, calls) = (line(), line(), line());
    let rest = lines.next().unwrap_or_default();

    let tags = BTreeMap::from([
        (POLICY_TAG.to_owned(), policy_tag.clone()),
        (LAST_SCALED_TAG.to_owned(), last_scaled),
        (UPDATE_CALLS_TAG.to_owned(), calls),
    ]);
    let state = ScalingState::from_tags(&tags, now());
    let Ok(policy) = decode_policy(&policy_tag) else { return };
    let state = state.unwrap_or_default();
    let _ = admit(now(), AlarmKind::Throttle, &state, &policy, now());

    let (head, floats) = rest.split_at(rest.len().min(2));
    let shards = u32::from(head.first().copied().unwrap_or(1) % 8) + 1;
    let throttling = match head.get(1).map(|b| b % 3) {
        Some(1) => Throttling::Now,
        Some(2) => Throttling::BeforeLastResize,
        _ => Throttling::None,
    };
    let mut values = floats.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")));
    let mut next = || values.next().unwrap_or(0.0);
    let tiling = Tiling::uniform(shards, 0);
    let stream = Rate { bytes_per_sec: next(), records_per_sec: next() };
    let per_shard: BTreeMap<ShardId, Rate> = tiling
        .ids()
        .into_iter()
        .map(|id| (id, Rate { bytes_per_sec: next(), records_per_sec: next() }))
        .collect();
    let load =
        LoadSnapshot { stream, per_shard, hot: BTreeSet::new(), throttling, ..LoadSnapshot::default() }
            .with_read_bytes([next()]);
    let up = plan_scale_up(ScaleUpInput {
        tiling: &tiling,
        load: &load,
        policy: &policy,
        update_calls_last_24h: state.update_calls_last_24h(now()),
    });
    assert!(up.target_shards <= policy.max_shards.max(shards), "{up:?}");
    let _ = up.boundaries();

    let window = Window::ending_at(now(), &policy);
    let step = Duration::seconds(i64::from(policy.scale_down.period_secs));
    let points =
        (0..8).map(|i| (window.start + step * i, Rate { bytes_per_sec: next(), records_per_sec: next() }));
    let series = LoadSeries { period_secs: policy.scale_down.period_secs, points: points.collect() };
    let times: Vec<_> = (0..8).map(|i| window.start + step * i).collect();
    let reads = ReadHistory {
        bytes_per_sec: times.iter().map(|t| (*t, next())).collect(),
        max_iterator_age_ms: times.iter().map(|t| (*t, next())).collect(),
        status: ReadStatus::Complete,
    };
    let down = plan_scale_down(ScaleDownInput {
        stream: "fuzz",
        tiling: &tiling,
        policy: &policy,
        now: now(),
        stream_load: &series,
        stream_status: ReadStatus::Complete,
        shard_load: &BTreeMap::new(),
        young: &BTreeSet::new(),
        last_scaled_at: state.last_scaled_at,
        created_at: now() - Duration::days(30),
        update_calls_last_24h: state.update_calls_last_24h(now()),
        reads: &reads,
    });
    assert!(down.target_shards >= policy.min_shards.min(shards), "{down:?}");

    // Four days of 5-minute history built from the rest of the loads, repeating: a hostile rhythm.
    let loads: Vec<Rate> = (0..16).map(|_| Rate { bytes_per_sec: next(), records_per_sec: next() }).collect();
    let start = now() - Duration::days(4);
    let points = (0..4 * 288).map(|i| (start + Duration::minutes(5 * i), loads[(i as usize * 7) % loads.len()]));
    let history = LoadSeries { period_secs: 300, points: points.collect() };
    let pre = plan_pre_scale(PreScaleInput {
        tiling: &tiling,
        history: &history,
        policy: &policy,
        now: now(),
        every: Duration::hours(1),
        update_calls_last_24h: state.update_calls_last_24h(now()),
    });
    if let PreScale::Plan { plan, .. } = &pre {
        assert!(plan.target_shards <= policy.max_shards.max(shards), "{plan:?}");
    }
    let _ = next_peak(&history, now(), Duration::minutes(15), Duration::days(28), Duration::days(1));
    let _ = Utilisation::of(&series, &window, shards);
});
