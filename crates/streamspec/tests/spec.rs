//! `streams.yaml` validation, driven by the files under `config/`.
//!
//! `config/invalid/<case>.yaml` holds one rejection rule each; `<case>.expected` holds the exact
//! diagnostics, one per line, with the file named `<case>.yaml`. Every file in `config/valid/`,
//! and the documented `streams.yaml` at the repository root, must parse. The `.expected` files are
//! `expect_file!` snapshots: after an intended change of wording, run with `UPDATE_EXPECT=1` and
//! review the diff.

use std::collections::BTreeMap;
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use expect_test::expect_file;
use planner::Ratio;
use streamspec::{Config, Location, StreamSpec};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo().join("config").join(dir))
        .unwrap_or_else(|e| panic!("config/{dir}: {e}"))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().expect("a file").to_string_lossy().into_owned()
}

/// Validates `input` and compares its diagnostics with the snapshot `expected` (no file: valid).
/// Returns the mismatch as text, so one run can list every failing case; `expect_file!` prints the
/// diff, and under `UPDATE_EXPECT=1` rewrites the snapshot instead.
fn check(input: &Path, expected: Option<&Path>) -> Result<(), String> {
    let name = file_name(input);
    let text = fs::read_to_string(input).map_err(|e| format!("{name}: {e}"))?;
    let actual = match streamspec::parse(&name, &text) {
        Ok(_) => String::new(),
        Err(diagnostics) => format!("{diagnostics}\n"),
    };
    match expected {
        None if actual.is_empty() => Ok(()),
        None => Err(format!("{name} should be valid, but:\n{actual}")),
        Some(_) if actual.is_empty() => Err(format!("{name} should be invalid, but it parsed")),
        Some(expected) => panic::catch_unwind(|| expect_file![expected].assert_eq(&actual))
            .map_err(|_| format!("{name}: the diagnostics differ from {}", file_name(expected))),
    }
}

fn all_pass(results: Vec<Result<(), String>>) {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn invalid_files_report_exactly_the_expected_diagnostics() {
    let cases = fixtures("invalid", "yaml");
    assert!(cases.len() >= 20, "the invalid fixtures went missing: {cases:?}");
    all_pass(cases.iter().map(|case| check(case, Some(&case.with_extension("expected")))).collect());
}

#[test]
fn every_invalid_file_has_an_expected_file_and_vice_versa() {
    let mut problems = Vec::new();
    for case in fixtures("invalid", "yaml") {
        if !case.with_extension("expected").is_file() {
            problems.push(format!("{} has no .expected file", file_name(&case)));
        }
    }
    for expected in fixtures("invalid", "expected") {
        if !expected.with_extension("yaml").is_file() {
            problems.push(format!("{} has no .yaml file", file_name(&expected)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn valid_files_and_the_documented_example_parse() {
    let mut files = fixtures("valid", "yaml");
    assert!(!files.is_empty());
    files.push(repo().join("streams.yaml"));
    all_pass(files.iter().map(|file| check(file, None)).collect());
}

fn load(path: &str) -> Config {
    streamspec::load(&repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn percent(ratio: Ratio) -> f64 {
    (ratio.percent() * 1e9).round() / 1e9
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn streams_inherit_defaults_and_override_them_field_by_field() {
    let config = load("config/valid/merging.yaml");
    assert_eq!(config.alarm_topic_arn.as_deref(), Some("arn:aws:sns:eu-west-1:123456789012:alarms"));
    assert_eq!(config.owner.as_ref().map(|o| o.as_str()), Some("team-data"));
    let names: Vec<&str> = config.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["inherits-everything", "overrides"]);

    let inherits: &StreamSpec = &config.streams[0];
    assert_eq!(inherits.location, Location { line: 19, column: 5 });
    assert_eq!(inherits.desired_shards, 2);
    assert_eq!(inherits.retention_hours, Some(72));
    assert_eq!(inherits.region.as_deref(), Some("eu-west-1"));
    assert_eq!(inherits.tags, tags(&[("env", "prod"), ("team", "data")]));
    assert!(!inherits.deletion_protection);
    let policy = &inherits.policy;
    assert_eq!((policy.min_shards, policy.max_shards), (2, 16));
    assert_eq!(percent(policy.scale_up.threshold), 70.0);
    assert_eq!(percent(policy.scale_up.target), 60.0, "built-in default");
    assert_eq!(policy.scale_up.period_secs, 60);
    assert_eq!(policy.scale_up.evaluation_periods, 1);
    assert_eq!(policy.scale_up.cooldown_secs, 600);
    assert!(policy.scale_up.throttle_alarm);
    assert!(policy.scale_up.throttle_bypasses_cooldown);
    assert_eq!(percent(policy.scale_down.threshold), 30.0);
    assert_eq!(policy.scale_down.period_secs, 300);
    assert_eq!(policy.scale_down.lookback_secs, 24 * 3600);
    assert!(policy.shard_level_metrics);

    let overrides = config.stream("overrides").expect("second stream");
    assert_eq!(overrides.desired_shards, 40);
    assert_eq!(overrides.retention_hours, Some(24));
    assert_eq!(overrides.region.as_deref(), Some("eu-central-1"));
    assert_eq!(overrides.tags, tags(&[("env", "staging"), ("owner", "search"), ("team", "data")]));
    assert!(overrides.deletion_protection);
    let policy = &overrides.policy;
    assert_eq!((policy.min_shards, policy.max_shards), (2, 100), "minShards from defaults, maxShards own");
    assert_eq!(percent(policy.scale_up.threshold), 70.0, "from defaults");
    assert_eq!(percent(policy.scale_up.target), 55.5);
    assert_eq!(policy.scale_up.period_secs, 300);
    assert_eq!(policy.scale_up.evaluation_periods, 3);
    assert_eq!(policy.scale_up.cooldown_secs, 600, "from defaults");
    assert!(!policy.scale_up.throttle_alarm);
    assert!(policy.scale_up.throttle_bypasses_cooldown);
    assert_eq!(percent(policy.scale_down.threshold), 30.0, "from defaults");
    assert_eq!(policy.scale_down.period_secs, 15 * 60);
    assert_eq!(policy.scale_down.lookback_secs, 6 * 3600);
    assert!(!policy.shard_level_metrics, "own false over the defaults' true");
}

#[test]
fn a_pause_in_defaults_pauses_every_stream_that_does_not_lift_it() {
    let config = load("config/valid/paused.yaml");
    let paused: Vec<(&str, bool)> =
        config.streams.iter().map(|s| (s.name.as_str(), s.policy.paused)).collect();
    assert_eq!(paused, [("paused-by-defaults", true), ("running", false)]);
    assert!(!load("config/valid/minimal.yaml").streams[0].policy.paused, "not paused unless written");
}

#[test]
fn the_iterator_age_guard_and_the_read_alarm_merge_from_defaults_and_the_guard_turns_off() {
    let config = load("config/valid/readers.yaml");
    let readers: Vec<(&str, Option<u32>, bool)> = config
        .streams
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.policy.scale_down.max_iterator_age_secs,
                s.policy.scale_up.read_throttle_alarm,
            )
        })
        .collect();
    assert_eq!(readers, [("analytics", Some(1_800), true), ("replayed-often", None, false)]);
    let minimal = &load("config/valid/minimal.yaml").streams[0].policy;
    assert_eq!(minimal.scale_down.max_iterator_age_secs, Some(planner::DEFAULT_MAX_ITERATOR_AGE_SECS));
}

#[test]
fn predictive_merges_from_defaults_as_one_value_and_turns_on_or_off() {
    let config = load("config/valid/predictive.yaml");
    let predictive: Vec<(&str, Option<(u32, u32)>)> = config
        .streams
        .iter()
        .map(|s| (s.name.as_str(), s.policy.scale_up.predictive.map(|p| (p.lookback_days, p.lead_minutes))))
        .collect();
    assert_eq!(
        predictive,
        [
            ("nightly-batch", Some((21, 20))),
            ("morning-ramp", Some((14, 30))),
            ("weekly-report", Some((14, 15))),
            ("random-bursts", None),
        ]
    );
    assert_eq!(
        load("config/valid/minimal.yaml").streams[0].policy.scale_up.predictive,
        None,
        "off unless written"
    );
}

#[test]
fn a_file_without_settings_gets_the_planner_defaults() {
    let config = load("config/valid/minimal.yaml");
    let stream = &config.streams[0];
    assert_eq!(stream.policy, planner::Policy::default());
    assert_eq!(stream.retention_hours, None, "unsaid: an existing stream keeps its own");
    assert_eq!(stream.region, None);
    assert!(stream.tags.is_empty());
    assert!(stream.deletion_protection);
    assert_eq!(config.alarm_topic_arn, None);
    assert_eq!(config.owner, None);
}

/// Positions as `(line, column, start of message)`.
fn check_positions(text: &str, expected: &[(usize, usize, &str)]) {
    let diagnostics = streamspec::parse("t.yaml", text).expect_err("should be invalid");
    let actual: Vec<(usize, usize, String)> =
        diagnostics.iter().map(|d| (d.line, d.column, d.message.clone())).collect();
    assert_eq!(actual.len(), expected.len(), "{actual:#?}");
    for ((line, column, message), (want_line, want_column, want_start)) in actual.iter().zip(expected) {
        assert_eq!((line, column), (want_line, want_column), "{message}");
        assert!(message.starts_with(want_start), "{message:?} should start with {want_start:?}");
    }
}

#[test]
fn diagnostics_point_at_the_line_and_column_of_the_offending_key_or_value() {
    check_positions(
        "streams:\n  - name: orders\n    desiredShards: four\n    minShard: 1\n    scaleUp: {targetPercent: 0.6}\n",
        &[
            (3, 20, "desiredShards: expected a whole number, found \"four\""),
            (4, 5, "unknown key \"minShard\" in stream \"orders\"; did you mean \"minShards\"?"),
            (5, 30, "scaleUp.targetPercent: 0.6 looks like a fraction; thresholds are percentages: write 60"),
        ],
    );
    check_positions(
        "defaults: {maxShards: 8}\nstreams:\n- name: a\n  desiredShards: 9\n- name: a\n  desiredShards: 1\n",
        &[
            (4, 18, "desiredShards 9 is above maxShards 8 (from defaults, line 1)"),
            (5, 9, "duplicate stream name \"a\""),
        ],
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_the_path() {
    let error = streamspec::load(Path::new("/nonexistent/streams.yaml")).expect_err("missing");
    assert!(matches!(error, streamspec::SpecError::Io { .. }));
    assert_eq!(error.to_string(), "cannot read /nonexistent/streams.yaml");
}

/// The file and the policy-tag decoder share one set of bounds: every policy the file accepts,
/// at either edge of every range, survives its tag.
#[test]
fn a_policy_at_the_files_bounds_survives_its_tag() {
    let stream = |settings: &str| {
        format!(
            "version: 1\nstreams:\n  - name: edge\n    desiredShards: 10000\n{settings}",
            settings = settings.lines().map(|l| format!("    {l}\n")).collect::<String>()
        )
    };
    let highs = "minShards: 1\nmaxShards: 10000\nscaleUp:\n  thresholdPercent: 100\n  targetPercent: 99.5\n  \
                 periodSeconds: 10\n  evaluationPeriods: 100\n  cooldownMinutes: 1440\nscaleDown:\n  \
                 thresholdPercent: 2\n  periodMinutes: 60\n  lookbackHours: 168";
    let lows = "minShards: 10000\nmaxShards: 10000\nscaleUp:\n  periodSeconds: 86400\n  evaluationPeriods: 1\n  \
                cooldownMinutes: 0\nscaleDown:\n  periodMinutes: 1\n  lookbackHours: 1";
    for settings in [highs, lows] {
        let config = streamspec::parse("edge.yaml", &stream(settings)).unwrap_or_else(|d| panic!("{d}"));
        let policy = &config.streams[0].policy;
        assert_eq!(planner::decode_policy(&planner::encode_policy(policy)).as_ref(), Ok(policy));
    }
}
