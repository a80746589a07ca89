//! The `streams` binary as a user and a script see it: exit codes, where each kind of output
//! goes, the JSON shape, and quiet exits on a closed pipe. Runs the built binary from the
//! repository root so paths in messages are the ones a user would type.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn streams(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streams"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8 output")
}

/// Runs `args` and compares exit code, stdout and stderr exactly.
fn check(args: &[&str], code: i32, stdout: &str, stderr: &str) {
    let output = streams(args);
    assert_eq!(
        (output.status.code(), text(&output.stdout), text(&output.stderr)),
        (Some(code), stdout, stderr),
        "streams {args:?}"
    );
}

#[test]
fn validate_accepts_the_documented_example_by_default() {
    check(&["validate"], 0, "streams.yaml: OK, 3 streams (orders, clickstream, audit-log)\n", "");
    check(
        &["validate", "config/valid/minimal.yaml"],
        0,
        "config/valid/minimal.yaml: OK, 1 stream (orders)\n",
        "",
    );
}

#[test]
fn validate_lists_every_problem_on_stderr_and_exits_1() {
    check(
        &["validate", "config/invalid/shard-order.yaml"],
        1,
        "",
        "config/invalid/shard-order.yaml:7:20: desiredShards 2 is below minShards 4 (from defaults, line 3)\n\
         config/invalid/shard-order.yaml:9:20: desiredShards 10 is above maxShards 8\n\
         config/invalid/shard-order.yaml:12:20: desiredShards 20 is above maxShards 16 (from defaults, line 4)\n\
         config/invalid/shard-order.yaml:13:16: minShards 20 is greater than maxShards 16 (from defaults, line 4)\n\
         error: config/invalid/shard-order.yaml has 4 problems; nothing was changed\n",
    );
    check(
        &["validate", "config/invalid/version.yaml"],
        1,
        "",
        "config/invalid/version.yaml:2:10: version: expected 1 (the only version this tool reads), found 2\n\
         error: config/invalid/version.yaml has 1 problem; nothing was changed\n",
    );
}

fn json_of(args: &[&str]) -> (Option<i32>, Value) {
    let output = streams(args);
    assert_eq!(text(&output.stderr), "", "JSON mode keeps stderr for failures");
    let value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    (output.status.code(), value)
}

#[test]
fn json_output_reports_streams_or_diagnostics_in_one_document() {
    assert_eq!(
        json_of(&["validate", "--output", "json"]),
        (
            Some(0),
            json!({"version": 1, "valid": true, "streams": ["orders", "clickstream", "audit-log"], "diagnostics": []})
        )
    );
    assert_eq!(
        json_of(&["--output", "json", "validate", "config/invalid/duplicate-names.yaml"]),
        (
            Some(1),
            json!({
                "version": 1,
                "valid": false,
                "streams": [],
                "diagnostics": [{
                    "file": "config/invalid/duplicate-names.yaml",
                    "line": 7,
                    "column": 11,
                    "message": "duplicate stream name \"orders\"; it is first defined at line 3"
                }]
            })
        )
    );
}

#[test]
fn a_missing_file_is_one_error_line_and_exit_1() {
    for args in [&["validate", "no-such.yaml"][..], &["validate", "no-such.yaml", "--output", "json"]] {
        let output = streams(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(text(&output.stdout), "");
        assert!(stderr.starts_with("error: cannot read no-such.yaml: "), "{stderr:?}");
        assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    }
}

/// Markdown is a pull-request comment of a plan: any other command refuses it before doing anything.
#[test]
fn markdown_output_is_refused_outside_plan_and_diff() {
    check(
        &["validate", "--output", "markdown"],
        1,
        "",
        "error: --output markdown is for `plan` and `diff` (a pull-request comment)\n\
         hint: use --output text or --output json with this command\n",
    );
}

/// Exit code 2 means "changes pending" from `plan` and `diff`, so a mistyped command line must not
/// exit 2: CI would read a typo as pending changes. Usage errors exit 1, as in Terraform.
#[test]
fn a_usage_error_exits_1_never_2_which_means_changes_pending() {
    for (args, says) in [
        (&["plan", "--no-such-flag"][..], "error: unexpected argument '--no-such-flag' found"),
        (&["diff", "--no-such-flag"], "error: unexpected argument '--no-such-flag' found"),
        (&["validate", "--output", "yaml"], "possible values: text, json, markdown"),
        (&["plan", "--output"], "error: a value is required for '--output <OUTPUT>'"),
        (&["no-such-command"], "error: unrecognized subcommand 'no-such-command'"),
        (&[], "Usage: streams"),
    ] {
        let output = streams(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "streams {args:?}: {stderr}");
        assert_eq!(text(&output.stdout), "", "streams {args:?}");
        assert!(stderr.contains(says), "streams {args:?}: {stderr}");
    }
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    for args in [&["--help"][..], &["plan", "--help"], &["help", "plan"], &["--version"]] {
        let output = streams(args);
        assert_eq!(output.status.code(), Some(0), "streams {args:?}");
        assert!(!output.stdout.is_empty(), "streams {args:?}");
        assert_eq!(text(&output.stderr), "", "streams {args:?}");
    }
    let version = streams(&["--version"]);
    assert_eq!(text(&version.stdout), concat!("streams ", env!("CARGO_PKG_VERSION"), "\n"));
}

#[test]
fn help_explains_the_subcommands_and_exit_codes() {
    let top = streams(&["--help"]);
    let top = text(&top.stdout);
    assert!(top.contains("validate  Check streams.yaml"), "{top}");
    assert!(top.contains("--output <OUTPUT>"), "{top}");
    assert!(top.contains("1  the file has problems"), "{top}");
    assert!(top.contains("2  plan and diff only: changes pending"), "{top}");
    let validate = streams(&["validate", "--help"]);
    let validate = text(&validate.stdout);
    assert!(validate.contains("[default: streams.yaml]"), "{validate}");
    assert!(validate.contains("minShards <= desiredShards"), "{validate}");
}

/// A file of `count` streams in a directory of its own, removed when dropped.
struct ManyStreams {
    dir: PathBuf,
    file: PathBuf,
}

impl ManyStreams {
    fn new(label: &str, count: usize) -> ManyStreams {
        let dir = std::env::temp_dir().join(format!("streams-cli-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("many.yaml");
        let mut yaml = String::from("streams:\n");
        for i in 0..count {
            yaml.push_str(&format!("  - {{name: stream-with-a-long-name-{i:05}, desiredShards: 1}}\n"));
        }
        std::fs::write(&file, yaml).unwrap();
        ManyStreams { dir, file }
    }

    fn path(&self) -> &str {
        self.file.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for ManyStreams {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

#[test]
fn validate_names_a_few_streams_but_only_counts_many_while_json_lists_them_all() {
    let eleven = ManyStreams::new("eleven", 11);
    check(&["validate", eleven.path()], 0, &format!("{}: OK, 11 streams\n", eleven.path()), "");
    let ten = ManyStreams::new("ten", 10);
    let names: Vec<String> = (0..10).map(|i| format!("stream-with-a-long-name-{i:05}")).collect();
    check(
        &["validate", ten.path()],
        0,
        &format!("{}: OK, 10 streams ({})\n", ten.path(), names.join(", ")),
        "",
    );

    let many = ManyStreams::new("many", 5000);
    check(&["validate", many.path()], 0, &format!("{}: OK, 5000 streams\n", many.path()), "");
    let (code, report) = json_of(&["validate", many.path(), "--output", "json"]);
    assert_eq!(code, Some(0));
    assert_eq!(report["streams"].as_array().map(Vec::len), Some(5000));
}

#[test]
fn schema_prints_the_checked_in_streams_schema_json() {
    let output = streams(&["schema"]);
    assert_eq!((output.status.code(), text(&output.stderr)), (Some(0), ""));
    expect_test::expect_file!["../../../streams.schema.json"].assert_eq(text(&output.stdout));
}

#[test]
fn the_example_file_points_editors_at_the_schema() {
    let example = std::fs::read_to_string(repo().join("streams.yaml")).unwrap();
    assert_eq!(example.lines().next(), Some("# yaml-language-server: $schema=./streams.schema.json"));
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    // Enough streams that the JSON list outgrows a pipe buffer, so the write must hit the closed
    // pipe whatever the timing.
    let many = ManyStreams::new("pipe", 6000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_streams"))
        .args(["validate", "--output", "json", many.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}
