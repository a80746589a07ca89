//! Running the workspace's built binaries from the tests: the `streams` CLI (as CI runs it) and
//! the scale-up Lambda's bootstrap.
//!
//! The binaries belong to other packages, so Cargo does not build them for this test binary:
//! `scripts/test` runs `cargo build --workspace --bins` first, and [`binary`] finds them next to
//! this test executable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_adapters::AwsClients;
use emulator_tests::{REGION, endpoint, unique_name, workspace_binary};
use planner::ALARM_NAME_PREFIX;
use reconciler::{AlarmPort, ErrorKind, StreamAdmin};

/// The alarm topic of streams.yaml files whose alarms need not deliver anywhere.
pub const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:kinesis-autoscaler-test";

/// Runs `streams --endpoint-url ENDPOINT ARGS..` in `dir` with the emulator's static credentials,
/// and nothing from the developer's AWS configuration that could send it elsewhere.
pub fn streams_at(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    Command::new(workspace_binary("streams"))
        .arg("--endpoint-url")
        .arg(endpoint)
        .args(args)
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run the streams binary")
}

/// A working directory of its own with a `streams.yaml`, removed when the test ends.
#[derive(Debug)]
pub struct Cli {
    pub dir: PathBuf,
    topic: String,
    /// The file's `owner:`, if it names one.
    owner: Option<String>,
}

impl Cli {
    /// Alarms notify [`TOPIC`].
    pub fn new() -> Self {
        Cli::with_topic(TOPIC)
    }

    /// Alarms notify `topic`.
    pub fn with_topic(topic: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name("streams-cli"));
        std::fs::create_dir_all(&dir).expect("create the test's directory");
        Cli { dir, topic: topic.to_owned(), owner: None }
    }

    /// Alarms notify [`TOPIC`]; the file names `owner` as its owner id.
    pub fn with_owner(owner: &str) -> Self {
        let mut cli = Cli::new();
        cli.owner = Some(owner.to_owned());
        cli
    }

    /// Writes `streams.yaml`: the owner, the alarm topic, then `streams` (YAML list items, one per
    /// line).
    pub fn write_config(&self, streams: &[String]) {
        let owner = self.owner.as_ref().map(|o| format!("owner: {o}\n")).unwrap_or_default();
        let mut yaml = format!("{owner}alarmTopicArn: {}\nstreams:\n", self.topic);
        for stream in streams {
            yaml.push_str(&format!("  - {stream}\n"));
        }
        std::fs::write(self.dir.join("streams.yaml"), yaml).expect("write streams.yaml");
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Runs the binary against the emulator.
    pub fn run(&self, args: &[&str]) -> Output {
        streams_at(&self.dir, &endpoint(), args)
    }

    /// Runs the binary and requires exit code `code`.
    pub fn expect(&self, code: i32, args: &[&str]) -> Output {
        let output = self.run(args);
        assert_eq!(output.status.code(), Some(code), "streams {}\n{}", args.join(" "), transcript(&output));
        output
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn transcript(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}---",
        output.status.code(),
        stdout(output),
        stderr(output)
    )
}

/// Deletes what a test made: the stream's alarms first (every one under
/// `kinesis-autoscaler-<stream>-`, per-shard ones included), so no other test's plan ever sees
/// them orphaned, then the stream.
pub async fn remove(clients: &AwsClients, stream: &str) {
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let prefix = format!("{ALARM_NAME_PREFIX}{stream}-");
    let alarms = cloudwatch.describe_alarms(&prefix).await.expect("describe alarms");
    let names: Vec<String> = alarms.into_iter().map(|a| a.name).collect();
    cloudwatch.delete_alarms(&names).await.expect("delete alarms");
    match streams.delete_stream(stream).await {
        Err(e) if e.kind != ErrorKind::NotFound => panic!("delete {stream}: {e}"),
        _ => {}
    }
}
