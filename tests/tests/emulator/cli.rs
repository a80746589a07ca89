//! `streams validate / plan / diff / apply` driven from outside, as CI runs them: the built binary
//! as a child process with `--endpoint-url` pointed at the emulator, judged by its exit code, its
//! output, and the AWS state read back through the adapters.
//!
//! The binary belongs to another package, so Cargo does not build it for this test binary:
//! `scripts/test` runs `cargo build --workspace --bins` first, and `common::binary` finds it next
//! to this test executable. The emulator is shared by every test running in parallel, so every stream
//! is uniquely named, and assertions look only at this test's streams and alarms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::{TimeDelta, Utc};
use emulator_tests::{REGION, emulator_clients, unique_name};
use planner::{
    ALARM_NAME_PREFIX, KINESIS_NAMESPACE, Metric, Policy, ScalingState, alarm_specs, align_down,
    shard_alarm_prefix, shard_alarm_specs,
};
use reconciler::{
    AlarmPort, AlarmSummary, Dimension, ErrorKind, MetricPoint, MetricPublisher, Resharder, StreamAdmin,
    StreamReader, Unit,
};

use crate::common::{Cli, TOPIC, remove, stderr, stdout, streams_at, transcript};
use crate::settle;

/// Closed on any sane machine (the discard port): every call to it fails.
const UNREACHABLE: &str = "http://127.0.0.1:9";
const MIB: f64 = 1024.0 * 1024.0;

/// The policy tag of a stream with the built-in defaults but these bounds and scale-up threshold.
fn policy_tag(min: u32, max: u32, up: u32) -> String {
    format!(
        "v1 min={min} max={max} up={up} target=60 period=60 evals=1 cooldown=300 throttle=on bypass=on \
         down=50 downperiod=300 lookback=86400 shards=off paused=off maxage=600 readthrottle=off predict=off"
    )
}

/// The lines of `stream`'s section of a plan, trimmed: its header (`+`, `~`, `=`, `-` or `!` and
/// the name) and the indented change lines under it.
fn section<'a>(plan: &'a str, stream: &str) -> Vec<&'a str> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in plan.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            inside = line.split_whitespace().nth(1) == Some(stream);
            if inside {
                lines.push(line.trim());
            }
        } else if inside && line.starts_with("      ") {
            lines.push(line.trim());
        } else {
            inside = false;
        }
    }
    lines
}

/// Asserts that the command exited with `code` and that the plan it printed shows `stream` as
/// exactly `expected`: one entry per line of the stream's section, each contained in its line.
#[track_caller]
fn check(output: &Output, code: i32, stream: &str, expected: &[&str]) {
    let text = stdout(output);
    let got = section(&text, stream);
    let matches = got.len() == expected.len() && got.iter().zip(expected).all(|(line, e)| line.contains(e));
    assert!(
        output.status.code() == Some(code) && matches,
        "expected exit {code} and the plan of {stream} to read (line by line, as substrings)\n{expected:#?}\n\
         got {got:#?}\n{}",
        transcript(output)
    );
}

// ---------------------------------------------------------------------------------------------
// Reading AWS back.

/// The tool's stream-level alarms for `stream`, by name.
async fn alarms_of(cloudwatch: &impl AlarmPort, stream: &str) -> BTreeMap<String, AlarmSummary> {
    let prefix = format!("{ALARM_NAME_PREFIX}{stream}-");
    let alarms = cloudwatch.describe_alarms(&prefix).await.expect("describe alarms");
    alarms.into_iter().map(|a| (a.name.clone(), a)).collect()
}

/// Asserts the stream has exactly the three scale-up alarms for `shards` open shards at
/// `percent`% of capacity (per 60 s period), notifying the test topic. The thresholds are worked
/// out here from the per-shard limits, not by the code under test.
pub(crate) async fn assert_alarms(cloudwatch: &impl AlarmPort, stream: &str, percent: f64, shards: u32) {
    let share = percent / 100.0 * f64::from(shards) * 60.0;
    let expected = BTreeMap::from([
        (format!("{ALARM_NAME_PREFIX}{stream}-IncomingBytes"), (share * MIB).round()),
        (format!("{ALARM_NAME_PREFIX}{stream}-IncomingRecords"), (share * 1000.0).round()),
        (format!("{ALARM_NAME_PREFIX}{stream}-WriteProvisionedThroughputExceeded"), 0.0),
    ]);
    let alarms = alarms_of(cloudwatch, stream).await;
    let thresholds: BTreeMap<String, f64> =
        alarms.iter().map(|(name, a)| (name.clone(), a.definition.threshold.unwrap_or(f64::NAN))).collect();
    assert_eq!(thresholds, expected, "alarm thresholds of {stream} for {shards} shard(s) at {percent}%");
    for alarm in alarms.values() {
        assert_eq!(alarm.definition.actions, vec![TOPIC.to_owned()], "{}", alarm.name);
        assert_eq!(alarm.stream(), Some(stream), "{}", alarm.name);
        assert_eq!(alarm.definition.period_secs, Some(60), "{}", alarm.name);
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
}

// ---------------------------------------------------------------------------------------------
// Plan and apply against the emulator.

#[tokio::test]
async fn apply_creates_the_stream_with_its_tags_and_alarms() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let s = unique_name("cli-create");
    cli.write_config(&[format!(
        "{{name: {s}, desiredShards: 2, minShards: 1, maxShards: 8, retentionHours: 48, \
         tags: {{team: data, env: test}}, scaleUp: {{thresholdPercent: 70}}}}"
    )]);

    let plan = cli.run(&["plan"]);
    check(
        &plan,
        2,
        &s,
        &[
            &format!("+ {s}  (new stream)"),
            "+ stream with 2 shard(s), provisioned mode",
            "~ retention: 24 → 48 hours",
            "+ tag env = \"test\"",
            "+ tag kinesis-autoscaler/deletion-protection = \"on\"",
            &format!("+ tag kinesis-autoscaler/policy = \"{}\"", policy_tag(1, 8, 70)),
            "+ tag team = \"data\"",
            &format!("+ alarm {ALARM_NAME_PREFIX}{s}-IncomingBytes  (IncomingBytes Sum >= 88080384 per 60s)"),
            &format!(
                "+ alarm {ALARM_NAME_PREFIX}{s}-IncomingRecords  (IncomingRecords Sum >= 84000 per 60s)"
            ),
            &format!(
                "+ alarm {ALARM_NAME_PREFIX}{s}-WriteProvisionedThroughputExceeded  \
                 (WriteProvisionedThroughputExceeded Sum > 0 per 60s)"
            ),
        ],
    );
    assert_eq!(
        streams.describe(&s).await.map_err(|e| e.kind).err(),
        Some(ErrorKind::NotFound),
        "plan must not create anything"
    );

    let apply = cli.expect(0, &["apply"]);
    assert!(stdout(&apply).contains("Apply complete."), "{}", transcript(&apply));

    let live = settle(&streams, &s).await;
    assert_eq!(live.tiling().len(), 2, "desiredShards open shards");
    assert_eq!(live.retention_hours, 48);
    assert_eq!(
        live.tags,
        tags(&[
            ("env", "test"),
            ("kinesis-autoscaler/deletion-protection", "on"),
            ("kinesis-autoscaler/policy", &policy_tag(1, 8, 70)),
            ("team", "data"),
        ])
    );
    assert_alarms(&cloudwatch, &s, 70.0, 2).await;
    remove(&clients, &s).await;
}

#[tokio::test]
async fn re_running_after_apply_plans_and_changes_nothing() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let s = unique_name("cli-noop");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1, tags: {{team: data}}}}")]);
    cli.expect(0, &["apply"]);
    let before = (streams.describe(&s).await.expect("describe").tags, alarms_of(&cloudwatch, &s).await.len());

    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 1 open shard(s), ACTIVE): no changes")]);
    let diff = cli.expect(0, &["diff"]);
    assert!(!stdout(&diff).contains(&s), "diff lists only streams with changes\n{}", transcript(&diff));

    let again = cli.expect(0, &["apply"]);
    let text = stdout(&again);
    assert!(text.contains("Nothing to do: AWS matches the file."), "{}", transcript(&again));
    assert!(!text.lines().any(|l| l.starts_with(&format!("{s}:"))), "no change made to {s}\n{text}");
    let after = (streams.describe(&s).await.expect("describe").tags, alarms_of(&cloudwatch, &s).await.len());
    assert_eq!(after, before);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn a_new_threshold_updates_the_alarms_and_the_policy_tag() {
    let clients = emulator_clients().await;
    let cloudwatch = clients.cloudwatch();
    let cli = Cli::new();
    let s = unique_name("cli-threshold");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1}}")]);
    cli.expect(0, &["apply"]);
    assert_alarms(&cloudwatch, &s, 80.0, 1).await;

    cli.write_config(&[format!("{{name: {s}, desiredShards: 1, scaleUp: {{thresholdPercent: 90}}}}")]);
    check(
        &cli.run(&["plan"]),
        2,
        &s,
        &[
            &format!("~ {s}  (observed: 1 open shard(s), ACTIVE)"),
            &format!(
                "~ tag kinesis-autoscaler/policy: \"{}\" → \"{}\"",
                policy_tag(1, 64, 80),
                policy_tag(1, 64, 90)
            ),
            &format!("~ alarm {ALARM_NAME_PREFIX}{s}-IncomingBytes"),
            "description: \"Scale up",
            "threshold: \"50331648\" → \"56623104\"",
            &format!("~ alarm {ALARM_NAME_PREFIX}{s}-IncomingRecords"),
            "description: \"Scale up",
            "threshold: \"48000\" → \"54000\"",
        ],
    );
    cli.expect(0, &["apply"]);
    assert_alarms(&cloudwatch, &s, 90.0, 1).await;
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 1 open shard(s), ACTIVE): no changes")]);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn shard_level_metrics_turn_on_enhanced_monitoring_and_an_alarm_per_shard_and_off_again() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let s = unique_name("cli-shards");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 2, shardLevelMetrics: true}}")]);
    let plan = cli.run(&["plan"]);
    assert!(
        stdout(&plan).contains(
            "~ shard-level monitoring: enable enhanced metrics IncomingBytes, IncomingRecords; per-shard alarms 0 → 4"
        ),
        "{}",
        transcript(&plan)
    );
    cli.expect(0, &["apply"]);
    let snapshot = streams.describe(&s).await.expect("describe");
    assert_eq!(
        snapshot.shard_level_metrics,
        ["IncomingBytes".to_owned(), "IncomingRecords".to_owned()].into()
    );
    let per_shard = cloudwatch.describe_alarms(&shard_alarm_prefix(&s)).await.expect("alarms");
    let mut names: Vec<String> = per_shard.iter().map(|a| a.name.clone()).collect();
    names.sort();
    let policy = Policy { shard_level_metrics: true, ..Policy::default() };
    let ids = snapshot.tiling().expect("ACTIVE").ids();
    let want: Vec<String> =
        shard_alarm_specs(&s, &ids, &policy, &[TOPIC.to_owned()]).into_iter().map(|a| a.name).collect();
    assert_eq!(names, want);
    assert!(per_shard.iter().all(|a| a.dimensions.iter().any(|d| d.name == "ShardId")), "{per_shard:#?}");
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 2 open shard(s), ACTIVE): no changes")]);

    cli.write_config(&[format!("{{name: {s}, desiredShards: 2}}")]);
    cli.expect(0, &["apply"]);
    assert!(cloudwatch.describe_alarms(&shard_alarm_prefix(&s)).await.expect("alarms").is_empty());
    remove(&clients, &s).await;
}

#[tokio::test]
async fn retention_is_increased_and_decreased_to_the_file_the_decrease_only_when_allowed() {
    let clients = emulator_clients().await;
    let streams = clients.streams();
    let cli = Cli::new();
    let s = unique_name("cli-retention");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1}}")]);
    cli.expect(0, &["apply"]);
    assert_eq!(settle(&streams, &s).await.retention_hours, 24);

    for (from, to) in [(24, 72), (72, 48)] {
        cli.write_config(&[format!("{{name: {s}, desiredShards: 1, retentionHours: {to}}}")]);
        check(
            &cli.run(&["plan"]),
            2,
            &s,
            &[
                &format!("~ {s}  (observed: 1 open shard(s), ACTIVE)"),
                &format!("~ retention: {from} → {to} hours"),
            ],
        );
        cli.expect(0, &["apply", "--allow-destructive"]);
        assert_eq!(settle(&streams, &s).await.retention_hours, to);
    }
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 1 open shard(s), ACTIVE): no changes")]);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn a_live_count_below_min_shards_is_raised_to_the_bound_and_the_alarms_follow() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let s = unique_name("cli-clamp");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1, minShards: 1, maxShards: 8}}")]);
    cli.expect(0, &["apply"]);

    cli.write_config(&[format!("{{name: {s}, desiredShards: 3, minShards: 3, maxShards: 8}}")]);
    check(
        &cli.run(&["plan"]),
        2,
        &s,
        &[
            &format!("~ {s}  (observed: 1 open shard(s), ACTIVE)"),
            "~ shards: 1 → 3  (below minShards (3);",
            &format!(
                "~ tag kinesis-autoscaler/policy: \"{}\" → \"{}\"",
                policy_tag(1, 8, 80),
                policy_tag(3, 8, 80)
            ),
            &format!("~ alarm {ALARM_NAME_PREFIX}{s}-IncomingBytes"),
            "description: \"Scale up",
            "threshold: \"50331648\" → \"150994944\"",
            &format!("~ alarm {ALARM_NAME_PREFIX}{s}-IncomingRecords"),
            "description: \"Scale up",
            "threshold: \"48000\" → \"144000\"",
        ],
    );
    cli.expect(0, &["apply"]);
    assert_eq!(settle(&streams, &s).await.tiling().len(), 3);
    assert_alarms(&cloudwatch, &s, 80.0, 3).await;
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 3 open shard(s), ACTIVE): no changes")]);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn every_update_shard_count_apply_makes_is_recorded_in_the_scaling_state_tags() {
    let clients = emulator_clients().await;
    let streams = clients.streams();
    let cli = Cli::new();
    let s = unique_name("cli-record");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1, minShards: 1, maxShards: 8}}")]);
    cli.expect(0, &["apply"]);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    cli.write_config(&[format!("{{name: {s}, desiredShards: 3, minShards: 3, maxShards: 8}}")]);
    cli.expect(0, &["apply"]);
    let state = ScalingState::from_tags(&settle(&streams, &s).await.tags, chrono::Utc::now())
        .expect("valid state tags");
    // 1 → 2 → 3: two calls, both counted against the Lambdas' 10 a day, and the cooldown started.
    assert_eq!(state.update_calls_last_24h(chrono::Utc::now()), 2, "{state:?}");
    assert!(state.last_scaled_at.is_some_and(|t| t >= before), "{state:?}");
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 3 open shard(s), ACTIVE): no changes")]);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn a_live_count_within_bounds_is_observed_and_only_the_alarms_follow_it() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let s = unique_name("cli-observed");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 2, minShards: 1, maxShards: 8}}")]);
    cli.expect(0, &["apply"]);

    // The autoscaler's doing, as far as the CLI knows: one shard split out of band.
    let live = settle(&streams, &s).await;
    let shard = live.tiling().shards()[0].clone();
    let at = shard.range.midpoint().expect("a full shard has a midpoint");
    streams.split_shard(&s, &shard.id, at).await.expect("split");
    assert_eq!(settle(&streams, &s).await.tiling().len(), 3);

    // No `shards:` line: 3 lies within [1, 8]. Only the alarms follow the live count.
    check(
        &cli.run(&["plan"]),
        2,
        &s,
        &[
            &format!("~ {s}  (observed: 3 open shard(s), ACTIVE)"),
            &format!("~ alarm {ALARM_NAME_PREFIX}{s}-IncomingBytes"),
            "description: \"Scale up",
            "threshold: \"100663296\" → \"150994944\"",
            &format!("~ alarm {ALARM_NAME_PREFIX}{s}-IncomingRecords"),
            "description: \"Scale up",
            "threshold: \"96000\" → \"144000\"",
        ],
    );
    cli.expect(0, &["apply"]);
    assert_alarms(&cloudwatch, &s, 80.0, 3).await;
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 3 open shard(s), ACTIVE): no changes")]);
    assert_eq!(settle(&streams, &s).await.tiling().len(), 3, "desiredShards is not forced back");
    remove(&clients, &s).await;
}

#[tokio::test]
async fn hand_made_drift_in_alarms_and_tags_is_undone_but_state_tags_are_kept() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let s = unique_name("cli-drift");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1}}")]);
    cli.expect(0, &["apply"]);

    let specs = alarm_specs(&s, 1, &Policy::default(), &[TOPIC.to_owned()]);
    let (bytes, records) = (&specs[0], &specs[1]);
    let edited = planner::AlarmSpec { threshold: 1.0, ..bytes.clone() };
    cloudwatch.put_alarm(&edited).await.expect("edit an alarm by hand");
    cloudwatch.delete_alarms(std::slice::from_ref(&records.name)).await.expect("delete an alarm by hand");
    let extra = planner::AlarmSpec { name: format!("{ALARM_NAME_PREFIX}{s}-Extra"), ..bytes.clone() };
    cloudwatch.put_alarm(&extra).await.expect("add an alarm by hand");
    let state_tag = ("kinesis-autoscaler/state-last-scale-up", "1700000000");
    streams.add_tags(&s, &tags(&[("owner", "someone"), state_tag])).await.expect("tag by hand");

    check(
        &cli.run(&["plan"]),
        2,
        &s,
        &[
            &format!("~ {s}  (observed: 1 open shard(s), ACTIVE)"),
            "- tag owner = \"someone\"",
            &format!("~ alarm {}", bytes.name),
            "threshold: \"1\" → \"50331648\"",
            &format!("+ alarm {}", records.name),
            &format!("- alarm {}  (not wanted by streams.yaml)", extra.name),
        ],
    );
    cli.expect(0, &["apply"]);
    assert_alarms(&cloudwatch, &s, 80.0, 1).await;
    let live = streams.describe(&s).await.expect("describe");
    assert_eq!(live.tags.get("owner"), None, "the hand-added tag is removed");
    assert_eq!(live.tags.get(state_tag.0).map(String::as_str), Some(state_tag.1), "the Lambdas' tag is kept");
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 1 open shard(s), ACTIVE): no changes")]);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn streams_leave_the_file_but_are_deleted_only_with_prune_and_protection_off() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::with_owner(&unique_name("o"));
    let (a, b, c) = (unique_name("cli-prune-a"), unique_name("cli-prune-b"), unique_name("cli-prune-c"));
    // C is not the tool's: never in the file, never tagged.
    streams.create_stream(&c, 1).await.expect("create an unmanaged stream");
    let stream_a = format!("{{name: {a}, desiredShards: 1}}");
    let stream_b = format!("{{name: {b}, desiredShards: 1, deletionProtection: false}}");
    cli.write_config(&[stream_a.clone(), stream_b.clone()]);
    cli.expect(0, &["apply"]);

    // A leaves the file: reported, kept, even with --prune (protection is on by default).
    cli.write_config(std::slice::from_ref(&stream_b));
    let kept = "is managed but not in the file; kept: deletion protection is on";
    check(&cli.run(&["plan"]), 0, &a, &[&format!("! {a}  {kept}")]);
    check(&cli.run(&["plan", "--prune"]), 0, &a, &[&format!("! {a}  {kept}")]);
    cli.expect(0, &["apply", "--prune"]);
    assert!(streams.describe(&a).await.is_ok(), "a protected stream survives --prune");

    // B leaves the file: deleted only by apply --prune, with its alarms.
    cli.write_config(std::slice::from_ref(&stream_a));
    check(
        &cli.run(&["plan"]),
        0,
        &b,
        &[&format!("! {b}  is managed but not in the file; kept: run with --prune")],
    );
    check(
        &cli.run(&["plan", "--prune"]),
        2,
        &b,
        &[&format!(
            "- {b}  (not in the file; --prune, this file's owner, deletion protection off: deleted with 3 \
             alarm(s); DESTRUCTIVE"
        )],
    );
    cli.expect(0, &["apply"]);
    assert!(streams.describe(&b).await.is_ok(), "apply without --prune deletes nothing");
    let refused = cli.expect(1, &["apply", "--prune"]);
    assert!(stderr(&refused).contains("--allow-destructive was not given"), "{}", transcript(&refused));
    assert!(streams.describe(&b).await.is_ok(), "a deletion needs --allow-destructive too");
    assert_eq!(alarms_of(&cloudwatch, &b).await.len(), 3);
    let pruned = cli.expect(0, &["apply", "--prune", "--allow-destructive"]);
    assert!(
        stdout(&pruned).contains(&format!("{b}: deleting the stream and its alarms")),
        "{}",
        transcript(&pruned)
    );
    match streams.describe(&b).await {
        Err(e) => assert_eq!(e.kind, ErrorKind::NotFound, "{e}"),
        Ok(snap) => assert_eq!(snap.status, reconciler::StreamStatus::Deleting),
    }
    assert!(alarms_of(&cloudwatch, &b).await.is_empty(), "B's alarms are deleted with it");

    // The unmanaged stream was never touched.
    let unmanaged = settle(&streams, &c).await;
    assert!(unmanaged.tags.is_empty(), "{:?}", unmanaged.tags);
    assert!(alarms_of(&cloudwatch, &c).await.is_empty());
    for stream in [&a, &c] {
        remove(&clients, stream).await;
    }
}

#[tokio::test]
async fn adopting_a_stream_keeps_its_retention_and_a_decrease_is_applied_only_when_allowed() {
    let clients = emulator_clients().await;
    let streams = clients.streams();
    let cli = Cli::new();
    let s = unique_name("cli-adopt-retention");
    streams.create_stream(&s, 1).await.expect("create a stream the tool does not manage");
    settle(&streams, &s).await;
    streams.set_retention(&s, 24, 168).await.expect("keep records for a week");
    assert_eq!(settle(&streams, &s).await.retention_hours, 168);

    // The file does not say: the week stays.
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1}}")]);
    let adopting = cli.expect(2, &["plan"]);
    let text = stdout(&adopting);
    let lines = section(&text, &s);
    assert!(lines[0].contains("adopting it"), "{}", transcript(&adopting));
    assert!(!lines.iter().any(|l| l.contains("~ retention")), "{}", transcript(&adopting));
    cli.expect(0, &["apply"]);
    assert_eq!(settle(&streams, &s).await.retention_hours, 168, "adoption keeps the retention");

    // The file says less: the plan marks it destructive, and apply refuses it unless allowed.
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1, retentionHours: 48}}")]);
    let planned = cli.run(&["plan"]);
    check(&planned, 2, &s, &[&format!("~ {s}"), "~ retention: 168 → 48 hours  (DESTRUCTIVE"]);
    assert!(stdout(&planned).contains("1 destructive change(s)"), "{}", transcript(&planned));
    let json: serde_json::Value =
        serde_json::from_slice(&cli.expect(2, &["--output", "json", "plan"]).stdout)
            .expect("one JSON document");
    let change = &json["regions"][0]["plan"]["streams"][0]["changes"][0];
    assert_eq!((&change["kind"], &change["destructive"]), (&"retention".into(), &true.into()), "{json:#}");
    assert_eq!(json["destructive"][0]["stream"], s.as_str());

    let refused = cli.expect(1, &["apply"]);
    assert!(
        stderr(&refused)
            .contains("1 destructive change(s) and --allow-destructive was not given; nothing was applied"),
        "{}",
        transcript(&refused)
    );
    let plan_file = cli.path("plan.json");
    cli.expect(2, &["plan", "--out", &plan_file]);
    cli.expect(1, &["apply", &plan_file]);
    assert_eq!(settle(&streams, &s).await.retention_hours, 168, "refused: nothing was applied");

    // Allowed when the plan is saved: the saved plan records it.
    cli.expect(2, &["plan", "--allow-destructive", "--out", &plan_file]);
    cli.expect(0, &["apply", &plan_file]);
    assert_eq!(settle(&streams, &s).await.retention_hours, 48);
    remove(&clients, &s).await;
}

#[tokio::test]
async fn two_files_in_one_account_each_pruning_never_touch_each_others_streams() {
    let clients = emulator_clients().await;
    let streams = clients.streams();
    let (owner_a, owner_b) = (unique_name("a"), unique_name("b"));
    let (cli_a, cli_b) = (Cli::with_owner(&owner_a), Cli::with_owner(&owner_b));
    let (a1, a2, b1) = (unique_name("cli-own-a1"), unique_name("cli-own-a2"), unique_name("cli-own-b1"));
    let hand = unique_name("cli-own-hand");
    let unprotected = |name: &str| format!("{{name: {name}, desiredShards: 1, deletionProtection: false}}");
    cli_a.write_config(&[unprotected(&a1), unprotected(&a2)]);
    cli_b.write_config(&[unprotected(&b1)]);
    cli_a.expect(0, &["apply"]);
    cli_b.expect(0, &["apply"]);
    assert_eq!(
        settle(&streams, &a1).await.tags.get(planner::OWNER_TAG),
        Some(&owner_a),
        "a file's streams carry its id"
    );
    // A stream someone tagged by hand as managed and unprotected, which no file created.
    streams.create_stream(&hand, 1).await.expect("create");
    settle(&streams, &hand).await;
    let tags_by_hand =
        tags(&[(planner::POLICY_TAG, &policy_tag(1, 4, 80)), (planner::DELETION_PROTECTION_TAG, "off")]);
    streams.add_tags(&hand, &tags_by_hand).await.expect("tag by hand");

    // A drops a2 and prunes: only a2 goes; B's stream and the hand-tagged one are kept, and said why.
    cli_a.write_config(&[unprotected(&a1)]);
    let plan = cli_a.run(&["plan", "--prune"]);
    check(&plan, 2, &a2, &[&format!("- {a2}  (not in the file; --prune, this file's owner")]);
    check(&plan, 2, &hand, &[&format!("! {hand}  has the tool's policy tag but no owner tag; kept")]);
    assert!(section(&stdout(&plan), &b1).is_empty(), "another file's stream is summarised, not listed");
    assert!(stdout(&plan).contains(&owner_b), "the summary names the other owner: {}", transcript(&plan));
    let json: serde_json::Value =
        serde_json::from_slice(&cli_a.run(&["--output", "json", "plan", "--prune"]).stdout)
            .expect("JSON plan");
    let unlisted = json["regions"][0]["plan"]["unlisted"].as_array().expect("unlisted").clone();
    let of = |name: &str| unlisted.iter().find(|u| u["name"] == name).cloned().unwrap_or_default();
    assert_eq!(
        of(&b1)["disposition"]["reason"],
        serde_json::json!({"kind": "other_owner", "owner": owner_b})
    );
    assert_eq!(of(&hand)["disposition"]["reason"]["kind"], "no_owner_tag");
    cli_a.expect(0, &["apply", "--prune", "--allow-destructive"]);
    match streams.describe(&a2).await {
        Err(e) => assert_eq!(e.kind, ErrorKind::NotFound, "{e}"),
        Ok(snap) => assert_eq!(snap.status, reconciler::StreamStatus::Deleting),
    }

    // B prunes too: A's remaining stream and the hand-tagged one survive.
    cli_b.expect(0, &["apply", "--prune", "--allow-destructive"]);
    for kept in [&a1, &b1, &hand] {
        assert_eq!(settle(&streams, kept).await.status, reconciler::StreamStatus::Active, "{kept} is kept");
    }

    // A file that names no owner cannot prune at all.
    let ownerless = Cli::new();
    ownerless.write_config(&[unprotected(&a1)]);
    let refused = ownerless.expect(1, &["plan", "--prune"]);
    assert!(stderr(&refused).contains("--prune needs `owner:`"), "{}", transcript(&refused));
    for stream in [&a1, &b1, &hand] {
        remove(&clients, stream).await;
    }
}

#[tokio::test]
async fn import_writes_a_file_whose_first_plan_only_adds_the_tools_tags_and_alarms() {
    use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails};
    let clients = emulator_clients().await;
    let streams = clients.streams();
    let cli = Cli::new();
    let prefix = unique_name("cli-import");
    let (a, b, on_demand) = (format!("{prefix}-a"), format!("{prefix}-b"), format!("{prefix}-c"));
    streams.create_stream(&a, 3).await.expect("create");
    streams.create_stream(&b, 1).await.expect("create");
    let mode = StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().expect("mode");
    clients
        .kinesis
        .create_stream()
        .stream_name(&on_demand)
        .stream_mode_details(mode)
        .send()
        .await
        .expect("create");
    settle(&streams, &a).await;
    settle(&streams, &b).await;
    settle(&streams, &on_demand).await;
    streams.add_tags(&a, &tags(&[("team", "data"), ("cost-center", "4711")])).await.expect("tag");
    streams.set_retention(&b, 24, 72).await.expect("retention");
    settle(&streams, &b).await;

    let file = cli.path("imported.yaml");
    let owner = unique_name("o");
    let imported = cli.expect(
        0,
        &["import", "--prefix", &prefix, "--owner", &owner, "--alarm-topic-arn", TOPIC, "--out", &file],
    );
    assert!(
        stderr(&imported).contains(&format!("{on_demand}: not imported: on-demand")),
        "{}",
        transcript(&imported)
    );
    cli.expect(0, &["validate", &file]);
    let plan = cli.expect(2, &["plan", &file]);
    let text = stdout(&plan);
    for stream in [&a, &b] {
        let lines = section(&text, stream);
        assert!(lines[0].contains("adopting it"), "{}", transcript(&plan));
        let changes = &lines[1..];
        let adds_only_tools_tags_and_alarms = changes.iter().all(|l| {
            l.starts_with("+ tag kinesis-autoscaler/") || l.starts_with("+ alarm kinesis-autoscaler-")
        });
        assert!(adds_only_tools_tags_and_alarms && changes.len() == 6, "{stream}: {changes:#?}");
    }
    assert!(section(&text, &on_demand).is_empty(), "{}", transcript(&plan));
    cli.expect(0, &["apply", &file]);
    let adopted_b = settle(&streams, &b).await;
    assert_eq!((adopted_b.retention_hours, adopted_b.tags.get(planner::OWNER_TAG)), (72, Some(&owner)));
    assert_eq!(settle(&streams, &a).await.tags.get("cost-center").map(String::as_str), Some("4711"));
    check(
        &cli.run(&["plan", &file]),
        0,
        &a,
        &[&format!("= {a}  (observed: 3 open shard(s), ACTIVE): no changes")],
    );

    // Import never overwrites, and names a stream that does not exist.
    let kept = cli.expect(1, &["import", &a, "--out", &file]);
    assert!(stderr(&kept).contains("never overwrites"), "{}", transcript(&kept));
    let missing = cli.expect(1, &["import", &format!("{prefix}-nope")]);
    assert!(stderr(&missing).contains("no such stream"), "{}", transcript(&missing));
    for stream in [&a, &b, &on_demand] {
        remove(&clients, stream).await;
    }
}

#[tokio::test]
async fn a_saved_plan_is_applied_exactly_and_refused_once_the_live_state_changed() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let s = unique_name("cli-saved");
    let with_retention = |hours: u32| format!("{{name: {s}, desiredShards: 1, retentionHours: {hours}}}");
    cli.write_config(&[with_retention(48)]);
    let plan_file = cli.path("plan.json");
    let saved = cli.run(&["plan", "--out", &plan_file]);
    check(
        &saved,
        2,
        &s,
        &[
            &format!("+ {s}  (new stream)"),
            "+ stream with 1 shard(s)",
            "~ retention: 24 → 48 hours",
            "+ tag kinesis-autoscaler/deletion-protection",
            "+ tag kinesis-autoscaler/policy",
            "+ alarm",
            "+ alarm",
            "+ alarm",
        ],
    );
    assert!(stdout(&saved).contains(&format!("Saved the plan to {plan_file}")), "{}", transcript(&saved));

    // The file changes after the plan was saved: apply PLANFILE still applies the plan.
    cli.write_config(&[with_retention(72)]);
    cli.expect(0, &["apply", &plan_file]);
    assert_eq!(settle(&streams, &s).await.retention_hours, 48, "the saved plan, not the file");
    assert_alarms(&cloudwatch, &s, 80.0, 1).await;
    check(&cli.run(&["plan"]), 2, &s, &[&format!("~ {s}"), "~ retention: 48 → 72 hours"]);
    cli.write_config(&[with_retention(48)]);
    check(&cli.run(&["plan"]), 0, &s, &[&format!("= {s}  (observed: 1 open shard(s), ACTIVE): no changes")]);

    // A second plan, then a hand-made change: applying the stale plan is refused, changing nothing.
    cli.write_config(&[with_retention(72)]);
    cli.expect(2, &["plan", "--out", &plan_file]);
    streams.add_tags(&s, &tags(&[("owner", "someone")])).await.expect("tag by hand");
    let refused = cli.expect(1, &["apply", &plan_file]);
    assert!(stderr(&refused).contains("changed since the plan was made"), "{}", transcript(&refused));
    let live = streams.describe(&s).await.expect("describe");
    assert_eq!(live.retention_hours, 48, "nothing was applied");
    assert_eq!(live.tags.get("owner").map(String::as_str), Some("someone"), "nothing was applied");
    remove(&clients, &s).await;
}

#[tokio::test]
async fn plan_as_json_is_one_versioned_document_of_typed_changes() {
    let clients = emulator_clients().await;
    let cli = Cli::new();
    let s = unique_name("cli-json");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1}}")]);
    let output = cli.expect(2, &["--output", "json", "plan"]);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", transcript(&output)));
    assert_eq!(doc["kind"], "streams-plan");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["changes"], true);
    let region = &doc["regions"][0];
    assert_eq!(region["region"], REGION);
    let stream = &region["plan"]["streams"][0];
    assert_eq!(stream["name"], s.as_str());
    let kinds: Vec<&str> =
        stream["changes"].as_array().expect("changes").iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["create_stream", "set_tag", "set_tag", "create_alarm", "create_alarm", "create_alarm"]
    );
    assert_eq!(
        clients.streams().describe(&s).await.map_err(|e| e.kind).err(),
        Some(ErrorKind::NotFound),
        "plan must not create anything"
    );
}

// ---------------------------------------------------------------------------------------------
// Status.

/// Back-dated 5-minute `Sum`s of the stream (the emulator's Kinesis publishes none): `metric` at
/// `value` in each of the periods `periods` back from the newest whole one.
async fn publish(cloudwatch: &impl MetricPublisher, stream: &str, metric: Metric, periods: &[(i32, f64)]) {
    let newest = align_down(Utc::now(), 300) - TimeDelta::minutes(5);
    let unit = if metric == Metric::IncomingBytes { Unit::Bytes } else { Unit::Count };
    let points: Vec<MetricPoint> = periods
        .iter()
        .map(|&(back, value)| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: metric.as_str().into(),
            dimensions: vec![Dimension::stream(stream)],
            timestamp: newest - TimeDelta::minutes(5) * back,
            value,
            unit,
        })
        .collect();
    cloudwatch.put_metric_data(&points).await.expect("put metric data");
}

#[tokio::test]
async fn status_hints_shard_level_metrics_for_a_stream_throttled_while_its_utilisation_was_low() {
    let clients = emulator_clients().await;
    let cloudwatch = clients.cloudwatch();
    let cli = Cli::new();
    let run = unique_name("cli-status");
    let (hot_key, calm) = (format!("{run}-hot-key"), format!("{run}-calm"));
    // Only this test's streams: the emulator's others (other tests') cost reads, not evidence.
    let prefix = format!("{run}-");
    cli.write_config(&[
        format!("{{name: {hot_key}, desiredShards: 2}}"),
        format!("{{name: {calm}, desiredShards: 2}}"),
    ]);
    cli.expect(0, &["apply"]);
    // 2 shards at 0.2 MiB/s: 10 % of their capacity, every period. Only one stream throttled.
    let cold = [(0, 0.2 * MIB * 300.0), (12, 0.2 * MIB * 300.0), (100, 0.2 * MIB * 300.0)];
    for s in [&hot_key, &calm] {
        publish(&cloudwatch, s, Metric::IncomingBytes, &cold).await;
    }
    publish(
        &cloudwatch,
        &hot_key,
        Metric::WriteProvisionedThroughputExceeded,
        &[(12, 1_000.0), (100, 234.0)],
    )
    .await;

    let output = cli.expect(0, &["--output", "json", "status", "--prefix", &prefix]);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", transcript(&output)));
    assert_eq!(doc["streams"].as_array().map(Vec::len), Some(2), "{}", transcript(&output));
    let review = |s: &str| {
        doc["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .find(|r| r["stream"] == s)
            .cloned()
            .unwrap_or_else(|| panic!("{s} not reviewed\n{}", transcript(&output)))
    };
    let advice = &review(&hot_key)["advice"];
    assert_eq!(advice["kind"], "shard_level_metrics", "{}", transcript(&output));
    assert_eq!(advice["throttled_records"], 1_234);
    let peak = advice["peak_utilisation"].as_f64().expect("a number");
    assert!((peak - 0.1).abs() < 1e-9, "{peak}");
    assert!(review(&calm).get("advice").is_none(), "no throttles, no advice: {}", review(&calm));
    // Seconds old, with 5-minute periods: no whole period of its look-back to replay for the
    // capacity-mode advice, and the JSON says so (tests/emulator/whatif.rs has the advice itself).
    for s in [&hot_key, &calm] {
        let r = review(s);
        assert!(r["mode_advice"].is_null(), "{r:#}");
        let why = r["no_mode_advice"].as_str().unwrap_or_else(|| panic!("no reason: {r:#}"));
        assert!(why.ends_with("no whole 300-second period of its look-back to replay yet"), "{why}");
    }

    let text = stdout(&cli.expect(0, &["status", "--prefix", &prefix]));
    let mine: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("hint: ") && (l.contains(&hot_key) || l.contains(&calm)))
        .collect();
    assert_eq!(mine.len(), 1, "{text}");
    let modes =
        text.lines().filter(|l| l.starts_with("mode: ") && (l.contains(&hot_key) || l.contains(&calm)));
    assert_eq!(modes.count(), 0, "{text}");
    assert!(
        mine[0].starts_with(&format!(
            "hint: {hot_key} throttled 1,234 records in 24 h while its busiest 5-minute period used 10 % of its \
             capacity"
        )) && mine[0].contains("shardLevelMetrics: true"),
        "{text}"
    );
    remove(&clients, &hot_key).await;
    remove(&clients, &calm).await;
}

// ---------------------------------------------------------------------------------------------
// Exit codes and invalid files.

/// The repository's `config/` directory.
fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// Every `config/invalid/*.yaml` fails `validate` and `plan` with exactly the diagnostics of its
/// `.expected` file; `plan` fails before any AWS call (its endpoint is unreachable).
#[test]
fn invalid_files_fail_validate_and_plan_with_their_diagnostics_and_no_aws_call() {
    let dir = config_dir().join("invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("config/invalid")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "found only {} invalid examples in {}", files.len(), dir.display());
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
        let expected = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|e| panic!("{name} has no .expected file: {e}"));
        let expected: Vec<&str> = expected.lines().collect();
        for command in ["validate", "plan"] {
            let output = streams_at(&dir, UNREACHABLE, &[command, name]);
            let err = stderr(&output);
            let (summary, diagnostics) = err.lines().collect::<Vec<_>>().split_last().map_or_else(
                || panic!("streams {command} {name}: nothing on stderr"),
                |(last, rest)| (*last, rest.to_vec()),
            );
            assert_eq!(output.status.code(), Some(1), "streams {command} {name}\n{}", transcript(&output));
            assert_eq!(diagnostics, expected, "streams {command} {name}");
            assert!(
                summary.starts_with(&format!("error: {name} has "))
                    && summary.ends_with("; nothing was changed"),
                "streams {command} {name}: the summary line, not an AWS error\n{}",
                transcript(&output)
            );
            assert!(output.stdout.is_empty(), "streams {command} {name}\n{}", transcript(&output));
        }
    }
}

#[tokio::test]
async fn exit_codes_tell_success_from_failure_or_misuse_from_pending_changes() {
    let clients = emulator_clients().await;
    let cli = Cli::new();
    let s = unique_name("cli-exit");
    cli.write_config(&[format!("{{name: {s}, desiredShards: 1}}")]);
    let valid = config_dir().join("valid/minimal.yaml").display().to_string();
    let invalid = config_dir().join("invalid/tags.yaml").display().to_string();
    // Plan exiting 0 (in sync) and apply exiting 0 are pinned by the tests above. A usage error
    // exits 1, never 2, which plan and diff reserve for pending changes.
    let cases: &[(&[&str], i32)] = &[
        (&["validate", &valid], 0),
        (&["validate", &invalid], 1),
        (&["validate", "no-such-file.yaml"], 1),
        (&["validate", "--no-such-flag"], 1),
        (&["no-such-command"], 1),
        (&["plan", "--no-such-flag"], 1),
        (&["apply", "--output", "yaml"], 1),
        (&["plan"], 2),
        (&["diff"], 2),
        (&["plan", &invalid], 1),
    ];
    for (args, code) in cases {
        cli.expect(*code, args);
    }
    assert_eq!(
        clients.streams().describe(&s).await.map_err(|e| e.kind).err(),
        Some(ErrorKind::NotFound),
        "plan and diff must not create anything"
    );
}

#[test]
fn plan_against_an_unreachable_endpoint_fails_with_one_error_and_a_hint() {
    let cli = Cli::new();
    cli.write_config(&[format!("{{name: {}, desiredShards: 1}}", unique_name("cli-unreachable"))]);
    let output = streams_at(&cli.dir, UNREACHABLE, &["plan"]);
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(lines.len(), 2, "{}", transcript(&output));
    assert!(lines[0].starts_with("error: ") && lines[0].contains("failed"), "{}", transcript(&output));
    assert!(
        lines[1].starts_with("hint: AWS (or --endpoint-url) could not be reached"),
        "{}",
        transcript(&output)
    );
    assert!(output.stdout.is_empty(), "{}", transcript(&output));
}
