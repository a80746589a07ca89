//! Input from outside the process (stream tags anyone with `AddTagsToStream` can write, alarm
//! datapoints, look-backs) is hostile until checked: each test pins one way it used to hold a
//! stream, panic, overflow or allocate without bound.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use planner::*;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// The default policy's tag with `field=value` replaced (or appended) by each of `edits`.
fn tag_with(edits: &[(&str, &str)]) -> String {
    let mut words: Vec<String> = encode_policy(&Policy::default()).split(' ').map(str::to_owned).collect();
    for (field, value) in edits {
        let word = format!("{field}={value}");
        match words.iter_mut().find(|w| w.starts_with(&format!("{field}="))) {
            Some(w) => *w = word,
            None => words.push(word),
        }
    }
    words.join(" ")
}

fn rejected(edits: &[(&str, &str)], why: &str) {
    let tag = tag_with(edits);
    match decode_policy(&tag) {
        Ok(policy) => panic!("{edits:?} decoded to {policy:?}"),
        Err(e) => assert!(e.to_string().contains(why), "{edits:?}: {e}"),
    }
}

#[test]
fn a_policy_tag_outside_the_files_bounds_is_rejected() {
    rejected(&[("min", "0")], "min=");
    rejected(&[("max", "10001")], "max=");
    rejected(&[("min", "40"), ("max", "32")], "min=40 is greater than max=32");
    rejected(&[("up", "80"), ("target", "80")], "target=");
    rejected(&[("down", "60"), ("target", "60")], "down=");
    rejected(&[("period", "45")], "period=");
    rejected(&[("period", "0")], "period=");
    rejected(&[("evals", "0")], "evals=");
    rejected(&[("evals", "101")], "evals=");
    rejected(&[("period", "3600"), ("evals", "100")], "one day");
    rejected(&[("cooldown", "86460")], "cooldown=");
    rejected(&[("cooldown", "30")], "cooldown=");
    rejected(&[("downperiod", "120")], "downperiod=");
    rejected(&[("downperiod", "7200")], "downperiod=");
    rejected(&[("lookback", "0")], "lookback=");
    rejected(&[("lookback", "4294967295")], "lookback=");
    rejected(&[("lookback", "1800")], "lookback=");
    rejected(&[("paused", "yes")], "paused= is neither on nor off");
}

#[test]
fn a_policy_tag_at_the_files_bounds_decodes() {
    for edits in [
        &[("min", "1"), ("max", "10000")][..],
        &[("period", "10"), ("evals", "100")],
        &[("period", "86400"), ("evals", "1")],
        &[("cooldown", "0")],
        &[("cooldown", "86400")],
        &[("downperiod", "60"), ("lookback", "3600")],
        &[("downperiod", "3600"), ("lookback", "604800")],
    ] {
        let tag = tag_with(edits);
        assert!(decode_policy(&tag).is_ok(), "{edits:?}: {:?}", decode_policy(&tag));
    }
}

fn state_tags(last: &str) -> BTreeMap<String, String> {
    [(LAST_SCALED_TAG.to_owned(), last.to_owned())].into()
}

#[test]
fn a_last_scaled_time_in_the_future_is_an_invalid_tag() {
    let tomorrow = (now() + Duration::days(1)).timestamp().to_string();
    let err = ScalingState::from_tags(&state_tags(&tomorrow), now()).unwrap_err();
    assert!(err.to_string().contains("in the future"), "{err}");
    let calls = [(UPDATE_CALLS_TAG.to_owned(), format!("{} {tomorrow}", now().timestamp()))].into();
    assert!(ScalingState::from_tags(&calls, now()).is_err());
}

#[test]
fn a_last_scaled_time_within_the_clock_skew_allowance_is_accepted() {
    let soon = (now() + Duration::seconds(5)).timestamp().to_string();
    let state = ScalingState::from_tags(&state_tags(&soon), now()).unwrap();
    assert_eq!(state.last_scaled_at, Some(now() + Duration::seconds(5)));
}

#[test]
fn unparseable_or_out_of_range_state_tags_are_invalid() {
    for value in ["yesterday", "", "-5", "1.5", "99999999999999999999", "9223372036854775807"] {
        assert!(ScalingState::from_tags(&state_tags(value), now()).is_err(), "{value:?}");
    }
    let calls = [(UPDATE_CALLS_TAG.to_owned(), "1 two".to_owned())].into();
    assert!(ScalingState::from_tags(&calls, now()).is_err());
}

#[test]
fn a_cooldown_ending_past_the_last_representable_date_does_not_panic() {
    let last = DateTime::<Utc>::MAX_UTC - Duration::seconds(10);
    let state = ScalingState { last_scaled_at: Some(last), update_calls: Vec::new() };
    let changed = last + Duration::seconds(5);
    let admission = admit(changed, AlarmKind::Capacity, &state, &Policy::default(), changed);
    assert!(matches!(admission, Admission::Cooldown { .. }), "{admission:?}");
}

#[test]
fn a_huge_or_nan_rate_needs_a_bounded_shard_count() {
    let tiny = Ratio::new(f64::MIN_POSITIVE).unwrap();
    let huge = Rate { bytes_per_sec: f64::MAX, records_per_sec: 0.0 };
    assert_eq!(huge.shards_needed(tiny), MAX_SHARDS_PER_STREAM);
    let nan = Rate { bytes_per_sec: f64::NAN, records_per_sec: f64::NAN };
    assert_eq!(nan.shards_needed(tiny), 1, "a rate that is not a number is no evidence of load");
}

#[test]
fn a_huge_load_on_a_tiny_target_plans_within_max_shards() {
    let tiling = Tiling::uniform(4, 0);
    let mut policy = Policy { max_shards: MAX_SHARDS_PER_STREAM, ..Policy::default() };
    policy.scale_up.target = Ratio::new(f64::MIN_POSITIVE).unwrap();
    let load = LoadSnapshot {
        stream: Rate { bytes_per_sec: f64::MAX, records_per_sec: f64::MAX },
        ..LoadSnapshot::default()
    };
    let plan = plan_scale_up(ScaleUpInput {
        tiling: &tiling,
        load: &load,
        policy: &policy,
        update_calls_last_24h: 10,
    });
    assert_eq!(plan.target_shards, MAX_SHARDS_PER_STREAM);
}

#[test]
fn equal_cuts_beyond_the_shard_quota_allocate_nothing() {
    assert!(HashRange::FULL.equal_cuts(u32::MAX).is_empty());
    assert_eq!(HashRange::FULL.equal_cuts(MAX_SHARDS_PER_STREAM).len(), MAX_SHARDS_PER_STREAM as usize - 1);
}

#[test]
fn a_huge_look_back_summarises_without_materialising_every_missing_point() {
    let mut policy = Policy::default();
    policy.scale_down.period_secs = 1;
    policy.scale_down.lookback_secs = u32::MAX;
    let window = Window::ending_at(now(), &policy);
    assert_eq!(window.expected_points(), u32::MAX);
    let mut series = LoadSeries { period_secs: 1, points: BTreeMap::new() };
    series
        .points
        .insert(now() - Duration::seconds(10), Rate { bytes_per_sec: 1_048_576.0, records_per_sec: 0.0 });
    let u = Utilisation::of(&series, &window, 1);
    assert_eq!((u.bytes_peak, u.bytes_p95, u.records_peak), (1.0, 0.0, 0.0));
}

#[test]
fn missing_points_count_as_zero_in_the_percentile() {
    let policy = Policy::default();
    let window = Window::ending_at(now(), &policy);
    let mut series = LoadSeries { period_secs: 300, points: BTreeMap::new() };
    // 20 of the 288 points at full load: the 95th percentile (rank 274) is one of them.
    for i in 0..20 {
        series.points.insert(
            window.start + Duration::seconds(300 * i),
            Rate { bytes_per_sec: 1_048_576.0, records_per_sec: 0.0 },
        );
    }
    let u = Utilisation::of(&series, &window, 1);
    assert_eq!((u.bytes_peak, u.bytes_p95), (1.0, 1.0));
    series.points.retain(|t, _| *t >= window.start + Duration::seconds(300 * 6));
    let u = Utilisation::of(&series, &window, 1);
    assert_eq!((u.bytes_peak, u.bytes_p95), (1.0, 0.0), "14 points are not 5 %");
}
