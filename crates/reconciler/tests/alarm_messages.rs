//! Captured and hand-written CloudWatch alarm notifications, parsed and compared with a readable
//! dump of what the scale-up Lambda will see.
//!
//! Each `tests/fixtures/alarms/<case>.json` holds an SNS `Message` string (AWS-shaped, emulator-
//! shaped, or broken) and `<case>.expected` the dump of its parse, or `error: …` with the whole
//! cause chain. The `.expected` files are `expect_file!` snapshots: run with `UPDATE_EXPECT=1` to
//! rewrite them, then review the diff.

use std::fmt::Write as _;
use std::panic;
use std::path::{Path, PathBuf};

use expect_test::expect_file;

use reconciler::Dimension;
use reconciler::alarm_message::AlarmMessage;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alarms")
}

/// What a parse looks like to a human: the fields the handler decides on, then the rest.
fn dump(message: &str) -> String {
    let alarm = match AlarmMessage::parse(message) {
        Ok(alarm) => alarm,
        Err(err) => {
            let mut text = format!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                write!(text, ": {cause}").unwrap();
                source = cause.source();
            }
            return text + "\n";
        }
    };
    let opt = |value: Option<&str>| value.unwrap_or("-").to_owned();
    let num = |value: Option<f64>| value.map_or("-".to_owned(), |v| v.to_string());
    let int = |value: Option<u32>| value.map_or("-".to_owned(), |v| v.to_string());
    let dims = |dims: &[Dimension]| {
        let pairs: Vec<String> = dims.iter().map(|d| format!("{}={}", d.name, d.value)).collect();
        format!("[{}]", pairs.join(", "))
    };
    let trigger = &alarm.trigger;
    let quoted = alarm.quoted();
    let datapoints: Vec<String> = quoted.values.iter().map(f64::to_string).collect();

    let mut out = String::new();
    let mut line = |key: &str, value: String| writeln!(out, "{key}={value}").unwrap();
    line("name", alarm.name.clone());
    line("state", alarm.new_state.to_string());
    line("old_state", opt(alarm.old_state.map(|s| s.as_str())));
    line("changed", alarm.state_change_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    line("region", alarm.region.clone());
    line("account", alarm.account.clone());
    line("stream", opt(alarm.stream()));
    line("shard", opt(alarm.shard()));
    line("metric", opt(alarm.metric_name()));
    line("namespace", opt(trigger.namespace.as_deref()));
    line("statistic", opt(trigger.statistic.as_deref()));
    line("period", int(trigger.period_secs));
    line(
        "evaluation",
        format!("{} of {}", int(trigger.datapoints_to_alarm), int(trigger.evaluation_periods)),
    );
    line("comparison", opt(trigger.comparison.as_deref()));
    line("threshold", num(trigger.threshold));
    line("dimensions", dims(&trigger.dimensions));
    for (i, m) in trigger.metrics.iter().enumerate() {
        line(
            &format!("metrics[{i}]"),
            format!(
                "id={} expression={} metric={} stat={} period={} dimensions={} returns={}",
                m.id,
                m.expression.as_ref().map_or("-".to_owned(), |e| format!("{e:?}")),
                opt(m.metric_name.as_deref()),
                opt(m.stat.as_deref()),
                int(m.period_secs),
                dims(&m.dimensions),
                m.return_data,
            ),
        );
    }
    line("datapoints", format!("[{}]", datapoints.join(", ")));
    line("newest_datapoint", opt(quoted.newest_period_start.map(|t| t.to_rfc3339()).as_deref()));
    line("reason", format!("{:?}", alarm.reason));
    line("description", alarm.description.as_ref().map_or("-".to_owned(), |d| format!("{d:?}")));
    line("actions", format!("[{}]", alarm.alarm_actions.join(", ")));
    line("key", alarm.trigger_key());
    out
}

/// Compares the dump of `input` with the snapshot `expected` (`expect_file!` prints the diff, and
/// under `UPDATE_EXPECT=1` rewrites it instead). Returns a description of the mismatch, if any, so
/// one run lists every failing fixture.
fn check(input: &Path, expected: &Path) -> Option<String> {
    let message = std::fs::read_to_string(input).expect("fixture is readable");
    let actual = dump(&message);
    panic::catch_unwind(|| expect_file![expected].assert_eq(&actual)).err().map(|_| {
        let name = |path: &Path| path.file_name().unwrap().to_string_lossy().into_owned();
        format!("{}: the dump differs from {}", name(input), name(expected))
    })
}

#[test]
fn every_alarm_fixture_parses_to_its_expected_dump() {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixture directory exists")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    inputs.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &inputs {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                checked += 1;
                failures.extend(check(path, &path.with_extension("expected")));
            }
            Some("expected") if !path.with_extension("json").exists() => {
                failures.push(format!("{}: no .json input for this expected output", path.display()));
            }
            _ => {}
        }
    }
    assert!(checked >= 13, "only {checked} fixtures found in {}", fixtures().display());
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures differ:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
