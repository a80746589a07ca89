//! The forecast behind predictive pre-scaling: it finds a recurring peak in a stream's own history
//! and stays silent on short, shuffled, one-off or noisy history.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc, Weekday};
use planner::*;
use proptest::prelude::*;

const MIB: f64 = 1_048_576.0;
const PERIOD: u32 = 300;

/// Monday 2026-11-02 00:00 UTC, plus `days`.
fn day(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap() + Duration::days(days)
}

/// `days` of 5-minute history ending at `now`, each period's bytes per second from `load`
/// (records at 1 KiB each).
fn history(now: DateTime<Utc>, days: i64, load: impl Fn(DateTime<Utc>) -> f64) -> LoadSeries {
    let mut t = now - Duration::days(days);
    let mut points = std::collections::BTreeMap::new();
    while t < now {
        let b = load(t);
        points.insert(t, Rate { bytes_per_sec: b, records_per_sec: b / 1024.0 });
        t += Duration::seconds(i64::from(PERIOD));
    }
    LoadSeries { period_secs: PERIOD, points }
}

/// 1 MiB/s, and 10 MiB/s from 02:00 to 02:30 every day.
fn daily_batch(t: DateTime<Utc>) -> f64 {
    if t.hour() == 2 && t.minute() < 30 { 10.0 * MIB } else { MIB }
}

/// 1 MiB/s, and 6 MiB/s from 08:00 to 11:00 on weekdays.
fn weekday_ramp(t: DateTime<Utc>) -> f64 {
    let weekday = !matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
    if weekday && (8..11).contains(&t.hour()) { 6.0 * MIB } else { MIB }
}

fn window(now: DateTime<Utc>, minutes: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    (now, now + Duration::minutes(minutes))
}

fn predict(history: &LoadSeries, now: DateTime<Utc>, minutes: i64) -> Forecast {
    let (from, to) = window(now, minutes);
    forecast(history, now, from, to, Duration::days(14))
}

#[test]
fn a_daily_batch_is_forecast_at_its_level_and_time_from_two_weeks_of_history() {
    let now = day(14) + Duration::hours(1);
    let h = history(now, 14, daily_batch);
    let f = predict(&h, now, 75);
    let peak = f.peak().unwrap_or_else(|| panic!("no peak: {}", f.explain()));
    assert_eq!(peak.season, Season::Daily);
    assert_eq!((peak.agreeing, peak.cycles), (14, 14));
    assert!((peak.rate.bytes_per_sec - 10.0 * MIB).abs() < 1.0, "{peak:?}");
    assert_eq!(peak.at, now + Duration::hours(1));
    assert!(peak.explain().contains("in 14 of the last 14 days"), "{}", peak.explain());
}

#[test]
fn a_window_without_the_batch_has_no_forecast() {
    let now = day(14) + Duration::hours(12);
    let f = predict(&history(now, 14, daily_batch), now, 75);
    assert!(matches!(f, Forecast::NotPeriodic { .. }), "{f:?}");
}

#[test]
fn two_days_of_history_are_too_short_for_a_forecast() {
    let now = day(2) + Duration::hours(1);
    let f = predict(&history(now, 2, daily_batch), now, 75);
    assert!(matches!(f, Forecast::TooShort { days } if (days - 2.0).abs() < 0.01), "{f:?}");
    assert!(f.explain().starts_with("no forecast"), "{}", f.explain());
}

#[test]
fn one_odd_day_does_not_make_a_forecast() {
    let now = day(14) + Duration::hours(1);
    let once = |t: DateTime<Utc>| if t.day() == 9 && t.hour() == 2 { 20.0 * MIB } else { MIB };
    let f = predict(&history(now, 14, once), now, 75);
    assert!(matches!(f, Forecast::NotPeriodic { .. }), "{f:?}");
}

#[test]
fn a_weekday_morning_ramp_is_forecast_weekly_on_a_monday_and_not_on_a_saturday() {
    // Three weeks of history; Monday 07:00 and Saturday 07:00 of the fourth week.
    let monday = day(21) + Duration::hours(7);
    let f = predict(&history(monday, 21, weekday_ramp), monday, 75);
    let peak = f.peak().unwrap_or_else(|| panic!("no peak: {}", f.explain()));
    assert!((peak.rate.bytes_per_sec - 6.0 * MIB).abs() < 1.0, "{peak:?}");
    assert_eq!(peak.at, day(21) + Duration::hours(8));
    let saturday = day(26) + Duration::hours(7);
    let f = forecast(
        &history(saturday, 21, weekday_ramp),
        saturday,
        saturday,
        saturday + Duration::minutes(75),
        Duration::days(21),
    );
    assert!(f.peak().is_none(), "{f:?}");
}

#[test]
fn a_weekly_surge_whose_mondays_vary_by_a_few_percent_is_forecast_from_three_weeks() {
    // Mondays 09:00 to 11:00 at 8x, 7.6x and 8.2x the base; 21 days of history.
    let surge = |t: DateTime<Utc>| {
        let height = [8.0, 7.6, 8.2][(t.day0() / 7 % 3) as usize];
        if t.weekday() == Weekday::Mon && (9..11).contains(&t.hour()) { height * MIB } else { MIB }
    };
    let monday = day(21) + Duration::hours(8);
    let f = forecast(
        &history(monday, 21, surge),
        monday,
        monday,
        monday + Duration::minutes(75),
        Duration::days(21),
    );
    let peak = f.peak().unwrap_or_else(|| panic!("no peak: {}", f.explain()));
    assert_eq!((peak.season, peak.agreeing, peak.cycles), (Season::Weekly, 3, 3), "{}", peak.explain());
    assert_eq!(peak.at, monday + Duration::hours(1));
}

#[test]
fn steady_noise_gives_no_forecast() {
    let now = day(14) + Duration::hours(1);
    let noisy = |t: DateTime<Utc>| MIB * (1.0 + 0.3 * ((t.timestamp() / 300 * 7919 % 97) as f64 / 97.0));
    let f = predict(&history(now, 14, noisy), now, 75);
    assert!(matches!(f, Forecast::NotPeriodic { ratio, .. } if ratio < SURGE_FACTOR), "{f:?}");
}

#[test]
fn hostile_datapoints_count_as_no_writes_and_never_panic() {
    let now = day(14) + Duration::hours(1);
    let mut h = history(now, 14, daily_batch);
    for (i, r) in h.points.values_mut().enumerate() {
        match i % 4 {
            0 => r.bytes_per_sec = f64::NAN,
            1 => r.records_per_sec = f64::INFINITY,
            2 => r.bytes_per_sec = -1e300,
            _ => {}
        }
    }
    let f = predict(&h, now, 75);
    if let Some(p) = f.peak() {
        assert!(p.rate.bytes_per_sec.is_finite() && p.rate.records_per_sec.is_finite(), "{p:?}");
    }
    let far = DateTime::<Utc>::MAX_UTC - Duration::days(1);
    let _ = forecast(&h, far, far, DateTime::<Utc>::MAX_UTC, Duration::days(28));
    let _ = forecast(&h, now, now, now - Duration::hours(1), Duration::days(28));
}

fn predictive_policy(max_shards: u32) -> Policy {
    let mut policy = Policy { max_shards, ..Policy::default() };
    policy.scale_up.predictive = Some(Predictive::default());
    policy
}

fn pre_scale(policy: &Policy, open: u32, now: DateTime<Utc>) -> PreScale {
    let history = history(now, 14, daily_batch);
    plan_pre_scale(PreScaleInput {
        tiling: &Tiling::uniform(open, 0),
        history: &history,
        policy,
        now,
        every: Duration::hours(1),
        update_calls_last_24h: 0,
    })
}

#[test]
fn a_forecast_peak_over_the_open_capacity_plans_a_scale_up_that_gives_the_forecast_as_its_reason() {
    let now = day(14) + Duration::minutes(65);
    let PreScale::Plan { plan, peak } = pre_scale(&predictive_policy(64), 2, now) else {
        panic!("{:?}", pre_scale(&predictive_policy(64), 2, now))
    };
    // 10,240 records/s of 1 KiB at the 60 % target: 18 shards.
    assert_eq!((plan.open_shards, plan.needed_shards, plan.target_shards), (2, 18, 18), "{plan:#?}");
    assert_eq!(plan.reasons[0], peak.explain());
}

#[test]
fn a_pre_scale_never_goes_above_max_shards() {
    let now = day(14) + Duration::minutes(65);
    let PreScale::Plan { plan, .. } = pre_scale(&predictive_policy(8), 2, now) else { panic!() };
    assert_eq!(plan.target_shards, 8);
}

#[test]
fn a_stream_that_already_carries_the_forecast_peak_is_left_alone() {
    let now = day(14) + Duration::minutes(65);
    assert!(matches!(pre_scale(&predictive_policy(64), 18, now), PreScale::Enough { open_shards: 18, .. }));
}

#[test]
fn a_stream_without_prediction_is_never_pre_scaled() {
    let now = day(14) + Duration::minutes(65);
    assert_eq!(pre_scale(&Policy::default(), 2, now), PreScale::Off);
}

#[test]
fn the_next_peak_is_found_hours_ahead() {
    let now = day(14) + Duration::hours(20);
    let h = history(now, 14, daily_batch);
    let p = next_peak(&h, now, Duration::minutes(15), Duration::days(14), Duration::days(1)).expect("a peak");
    assert_eq!(p.at, day(15) + Duration::hours(2));
}

#[test]
fn the_predictive_setting_round_trips_through_the_policy_tag() {
    let policy = Policy {
        scale_up: ScaleUp {
            predictive: Some(Predictive { lookback_days: 21, lead_minutes: 30 }),
            ..ScaleUp::default()
        },
        ..Policy::default()
    };
    let tag = encode_policy(&policy);
    assert!(tag.ends_with("predict=21/30"), "{tag}");
    assert_eq!(decode_policy(&tag).unwrap(), policy);
    let off = encode_policy(&Policy::default());
    assert!(off.ends_with("predict=off"), "{off}");
    assert_eq!(decode_policy(&off.replace(" predict=off", "")).unwrap(), Policy::default());
    for bad in ["predict=on", "predict=14", "predict=2/15", "predict=14/0", "predict=14/121", "predict=-1/5"]
    {
        let err = decode_policy(&off.replace("predict=off", bad)).unwrap_err().to_string();
        assert!(err.contains("predict"), "{bad}: {err}");
    }
}

/// A daily peak of `height` × the base, `len` periods long, at `offset` periods into the day.
fn periodic(offset: i64, len: i64, height: f64) -> impl Fn(DateTime<Utc>) -> f64 {
    move |t| {
        let slot = (t.timestamp().rem_euclid(86_400)) / i64::from(PERIOD);
        if (offset..offset + len).contains(&slot) { height * MIB } else { MIB }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With a week of history or more: on fewer days a long peak can still be a coincidence
    /// (4 days of a 35-minute peak: a chance of 1.5e-5, over `MAX_CHANCE`).
    #[test]
    fn a_daily_peak_is_found_in_the_window_that_holds_it(
        offset in 12i64..270, len in 1i64..12, height in 2.0f64..50.0, days in 7i64..15,
    ) {
        let now = day(days) + Duration::seconds((offset - 6) * i64::from(PERIOD));
        let h = history(now, days, periodic(offset, len, height));
        let f = predict(&h, now, 60);
        let peak = f.peak().cloned();
        prop_assert!(peak.is_some(), "{}", f.explain());
        let peak = peak.unwrap();
        prop_assert!((peak.rate.bytes_per_sec - height * MIB).abs() < 1.0);
        prop_assert_eq!(peak.at, now + Duration::seconds(6 * i64::from(PERIOD)));
    }

    #[test]
    fn the_same_history_shuffled_gives_no_forecast(
        offset in 12i64..270, len in 1i64..6, height in 2.0f64..50.0, seed in any::<u64>(),
    ) {
        let now = day(14) + Duration::seconds((offset - 6) * i64::from(PERIOD));
        let h = history(now, 14, periodic(offset, len, height));
        // Fisher-Yates with a small LCG: the same values at other times.
        let mut values: Vec<Rate> = h.points.values().copied().collect();
        let mut s = seed | 1;
        for i in (1..values.len()).rev() {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            values.swap(i, (s >> 33) as usize % (i + 1));
        }
        let shuffled = LoadSeries { period_secs: PERIOD, points: h.points.keys().copied().zip(values).collect() };
        let f = predict(&shuffled, now, 60);
        prop_assert!(f.peak().is_none(), "{}", f.explain());
    }
}
