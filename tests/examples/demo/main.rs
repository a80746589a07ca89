//! The README's demo: the real programs, end to end, on the local AWS emulator.
//!
//! What a deployment does, with nothing but AWS itself played locally: the `streams` CLI applies a
//! `streams.yaml` (two streams, their policy tags, their alarms to an SNS topic); writers put real
//! records into them; CloudWatch's own alarm evaluation fires, SNS delivers, and the scale-up
//! Lambda binary, under a local Lambda Runtime API, splits the hot stream and re-arms its alarms;
//! then a scheduled event wakes the scale-down Lambda binary, which merges the quiet stream. The
//! output is a timeline of what fired, what each function decided (from its own decision record)
//! and the shard counts before and after; any step that does not happen is an error, printed
//! with the functions' transcripts, and the process exits non-zero.
//!
//! Two things are not as in AWS, and the output says so where they happen: the emulator's Kinesis
//! publishes no metrics, so the writers publish the `IncomingBytes`/`IncomingRecords` Sums Kinesis
//! would for what they wrote ([`load`]); and its streams are seconds old, which the scale-down
//! rule rightly refuses for a 24-hour look-back, so the quiet stream's policy tag is rewritten to a
//! 30-second look-back of 10-second periods: a day compressed, the same rule and the same code.
//!
//! Everything is named `demo-<pid>-<time>-…` and deleted at the end, whatever happened.

mod load;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use aws_adapters::{AwsClients, CloudWatch, KinesisStreams};
use chrono::{SecondsFormat, Utc};
use emulator_tests::lambda::{LocalLambda, scheduled_event};
use emulator_tests::sns_bridge::{SnsBridge, Topic};
use emulator_tests::{emulator_clients, emulator_function, endpoint, streams_command, unique_name};
use futures_util::FutureExt;
use planner::{
    ALARM_NAME_PREFIX, Metric, POLICY_TAG, Windows, alarm_specs, decode_policy, decode_policy_with,
    encode_policy,
};
use reconciler::{
    AlarmPort, AlarmState, AlarmSummary, Resharder, StreamAdmin, StreamReader, SystemClock, wait_for_active,
};
use serde_json::Value;

use crate::load::{MIB, Writer, Written};

/// The demo's `streams.yaml`; `{prefix}` and `{topic}` are filled in per run.
const STREAMS_YAML: &str = "\
version: 1
alarmTopicArn: {topic}
defaults:
  deletionProtection: false
streams:
  # Alarms at 50 % of capacity, so the emulator on a small machine can make it hot, and on
  # 10-second periods (CloudWatch's shortest), so the demo need not wait whole minutes.
  - name: {prefix}orders
    desiredShards: 1
    maxShards: 8
    scaleUp: {thresholdPercent: 50, targetPercent: 40, periodSeconds: 10, cooldownMinutes: 1}
    scaleDown: {thresholdPercent: 30}
  - name: {prefix}clickstream
    desiredShards: 4
";

/// The hot writers: 6 records of 128 KiB a second, 0.75 MiB/s: 150 % of one shard's alarm at 50 %.
const HOT: (u32, usize) = (6, 128 << 10);
/// The quiet writers: 1 record of 128 KiB a second, 0.125 MiB/s: 3 % of four shards.
const QUIET: (u32, usize) = (1, 128 << 10);
/// The scale-down window the quiet stream's policy is given: a day compressed into 30 seconds.
const COMPRESSED_LOOKBACK_SECS: u32 = 30;
const COMPRESSED_PERIOD_SECS: u32 = 10;
/// How long each step may take before the demo calls it failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(90);
/// The scale-down function's timeout: its 15 s deadline margin and 120 s page budget, and room.
const SCALE_DOWN_TIMEOUT: Duration = Duration::from_secs(180);

struct Demo {
    started: Instant,
    clients: AwsClients,
    streams: KinesisStreams,
    cloudwatch: CloudWatch,
    prefix: String,
    dir: PathBuf,
    topic: Mutex<Option<Topic>>,
    scale_up: Arc<LocalLambda>,
    scale_down: Arc<LocalLambda>,
    bridge: SnsBridge,
}

#[tokio::main]
async fn main() -> ExitCode {
    let clients = emulator_clients().await;
    // Ends in `-`, so the functions and the clean-up see this run's streams and nothing else.
    let prefix = format!("{}-", unique_name("demo"));
    let scope = [("STREAM_NAME_PREFIX", prefix.as_str())];
    let scale_up = Arc::new(emulator_function("lambda-scale-up", &scope, STEP_TIMEOUT));
    // The quiet stream's day is compressed into seconds (see the module doc), which only a
    // function told so accepts in a policy tag.
    let compressed = [scope[0], ("COMPRESSED_WINDOWS", "true")];
    let scale_down = Arc::new(emulator_function("lambda-scale-down", &compressed, SCALE_DOWN_TIMEOUT));
    let demo = Demo {
        started: Instant::now(),
        streams: clients.streams(),
        cloudwatch: clients.cloudwatch(),
        clients,
        dir: std::env::temp_dir().join(prefix.trim_end_matches('-')),
        prefix,
        topic: Mutex::default(),
        bridge: SnsBridge::start(scale_up.clone()),
        scale_up,
        scale_down,
    };
    println!(
        "kinesis-autoscaler demo: the streams CLI and both Lambda binaries on the emulator at {}",
        endpoint()
    );

    // A harness helper that panics still leaves the clean-up to run.
    let outcome = AssertUnwindSafe(demo.run()).catch_unwind().await;
    demo.clean_up().await;
    match outcome {
        Ok(Ok(summary)) => {
            println!("\n{summary}");
            ExitCode::SUCCESS
        }
        Ok(Err(error)) => demo.failed(&format!("{error:#}")),
        Err(_) => demo.failed("a step panicked (see above)"),
    }
}

impl Demo {
    fn say(&self, line: impl std::fmt::Display) {
        println!("[{:>5.1}s] {line}", self.started.elapsed().as_secs_f64());
    }

    /// The full name of this run's `stream` (or topic).
    fn name(&self, stream: &str) -> String {
        format!("{}{stream}", self.prefix)
    }

    /// `name` without this run's prefix, for the timeline.
    fn short<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(ALARM_NAME_PREFIX)
            .unwrap_or(name)
            .strip_prefix(self.prefix.as_str())
            .unwrap_or(name)
    }

    async fn run(&self) -> Result<String> {
        println!("\n-- config as code: streams validate, streams apply --");
        let topic = Topic::create(&self.clients, &self.name("alarms")).await;
        self.topic.lock().unwrap_or_else(PoisonError::into_inner).replace(topic.clone());
        topic.subscribe(&self.clients, &self.bridge, Duration::from_secs(20)).await;
        self.say(format_args!(
            "SNS topic {} created; lambda-scale-up subscribed (a local Lambda runtime, cold start {:.1?})",
            topic.arn,
            self.scale_up.time_to_ready()
        ));
        self.apply(&topic).await?;
        self.compress_the_day("clickstream").await?;

        println!("\n-- a busy hour: writers outgrow one shard, the alarm splits it --");
        println!("(below, streams are named without their {} prefix)", self.prefix);
        let hot = Writer::start(&self.clients, &self.name("orders"), HOT.0, HOT.1);
        let quiet = Writer::start(&self.clients, &self.name("clickstream"), QUIET.0, QUIET.1);
        self.say(format_args!(
            "writers aim {:.2} MiB/s at orders (1 shard, alarm at 50 %) and {:.3} MiB/s at clickstream (4 shards) with real \
             PutRecord calls; the emulator's Kinesis publishes no metrics, so they also publish the \
             IncomingBytes/IncomingRecords Sums Kinesis would for what it accepted",
            rate(HOT),
            rate(QUIET)
        ));
        let (from, to, split_after) = self.split("orders", &hot).await?;
        let rearmed = Instant::now();

        println!("\n-- a quiet day: the scheduled merge --");
        let created = self.streams.describe(&self.name("clickstream")).await?.created;
        let history = Duration::from_secs(u64::from(COMPRESSED_LOOKBACK_SECS + COMPRESSED_PERIOD_SECS) + 2);
        let full_history = created + chrono::Duration::from_std(history)?;
        // At least two more alarm periods under the same load, to see the new thresholds hold.
        let wait = (full_history - Utc::now())
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(22).saturating_sub(rearmed.elapsed()));
        self.say(format_args!(
            "waiting {wait:.0?} for clickstream to have a full (compressed) day of history; the writers go on"
        ));
        tokio::time::sleep(wait).await;
        let load = hot.written().mib_per_sec() / f64::from(to);
        self.check_alarms(
            "orders",
            to,
            &format!("still at {:.0} % of {to} shards", load * 100.0),
            &[AlarmState::Ok],
        )
        .await?;
        let scaled = self.scale_up.decisions().iter().filter(|d| d["outcome"] == "scaled").count();
        ensure!(scaled == 1, "lambda-scale-up scaled orders again: {:#?}", self.scale_up.decisions());
        let (hot, quiet) = (self.stopped(hot).await?, self.stopped(quiet).await?);
        self.say(format_args!(
            "writers stopped: orders {} records, {:.1} MiB ({:.2} MiB/s); clickstream {} records, {:.1} MiB",
            hot.records,
            hot.bytes as f64 / MIB,
            hot.mib_per_sec(),
            quiet.records,
            quiet.bytes as f64 / MIB
        ));
        let (before, after) = self.merge("clickstream", "orders").await?;

        Ok(format!(
            "done in {:.0}s: orders {from} -> {to} shards on its alarm ({split_after:.1?} after the first hot \
             datapoint), clickstream {before} -> {after} on the schedule; every decision by the deployed binaries",
            self.started.elapsed().as_secs_f64()
        ))
    }

    /// Writes the demo's `streams.yaml`, then `streams validate` and `streams apply` it.
    async fn apply(&self, topic: &Topic) -> Result<()> {
        let yaml = STREAMS_YAML.replace("{prefix}", &self.prefix).replace("{topic}", &topic.arn);
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.dir.join("streams.yaml"), &yaml)?;
        self.say(format_args!("{}/streams.yaml:", self.dir.display()));
        print_indented(&yaml);
        for command in ["validate", "apply"] {
            let output = streams_command(&self.dir, &endpoint()).arg(command).output()?;
            let (stdout, stderr) =
                (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            ensure!(output.status.success(), "streams {command} exited {}:\n{stdout}{stderr}", output.status);
            self.say(format_args!("$ streams --endpoint-url {} {command}", endpoint()));
            // On a shared emulator the plan also lists other managed streams (`! name …`).
            let (others, ours): (Vec<&str>, Vec<&str>) =
                stdout.lines().chain(stderr.lines()).partition(|line| line.trim_start().starts_with('!'));
            print_indented(&ours.join("\n"));
            if !others.is_empty() {
                println!(
                    "           ({} lines about other managed streams on this emulator left out)",
                    others.len()
                );
            }
        }
        Ok(())
    }

    /// Rewrites `stream`'s policy tag (written by `streams apply`) to the compressed window.
    async fn compress_the_day(&self, stream: &str) -> Result<()> {
        let stream = &self.name(stream);
        let tags = self.streams.describe(stream).await?.tags;
        let mut policy = decode_policy(tags.get(POLICY_TAG).context("streams apply wrote no policy tag")?)?;
        let day = (policy.scale_down.lookback_secs / 3600, policy.scale_down.period_secs / 60);
        policy.scale_down.lookback_secs = COMPRESSED_LOOKBACK_SECS;
        policy.scale_down.period_secs = COMPRESSED_PERIOD_SECS;
        let tag = encode_policy(&policy);
        self.streams.add_tags(stream, &[(POLICY_TAG.to_owned(), tag.clone())].into()).await?;
        self.say(format_args!(
            "a day compressed into {COMPRESSED_LOOKBACK_SECS} seconds: clickstream's policy tag now looks back \
             {COMPRESSED_LOOKBACK_SECS} s in {COMPRESSED_PERIOD_SECS}-s periods instead of {} h in {}-min ones \
             (the emulator's streams are seconds old; streams.yaml's shortest window is 1 h): same rule, same code",
            day.0,
            day.1
        ));
        Ok(())
    }

    /// Waits for the alarm to fire and the scale-up function to split `stream`; checks the
    /// result and the re-armed alarms. Returns (from, to, first hot datapoint → split).
    async fn split(&self, stream: &str, writer: &Writer) -> Result<(u32, u32, Duration)> {
        let (delivered, alarm) = self
            .poll("the alarm to fire and reach lambda-scale-up over SNS", writer, || {
                self.bridge.deliveries().into_iter().find_map(|d| {
                    let message = d.message()?;
                    (message["NewStateValue"] == "ALARM").then_some((d.received, message))
                })
            })
            .await?;
        let written = writer.written();
        let since_first = |at: Instant| at - written.first_datapoint.unwrap_or(at);
        self.say(format_args!(
            "ALARM {} ({:?}), {:.1?} after the first hot datapoint; SNS delivers it to lambda-scale-up",
            self.short(alarm["AlarmName"].as_str().unwrap_or("?")),
            alarm["NewStateReason"].as_str().unwrap_or("?"),
            since_first(delivered)
        ));

        let decision = self
            .poll("lambda-scale-up's decision", writer, || {
                self.scale_up.decisions().into_iter().find(|d| d["outcome"] != "held")
            })
            .await?;
        let split_after = since_first(Instant::now());
        let (from, to) = (count(&decision["from"]), count(&decision["to"]));
        self.say(format_args!(
            "lambda-scale-up decided: {} {stream} {from} -> {to} shards ({} AWS calls, {} ms); the writers \
             measured {:.2} MiB/s so far",
            decision["outcome"].as_str().unwrap_or("?"),
            decision["AwsCalls"],
            decision["elapsed_ms"],
            written.mib_per_sec()
        ));
        self.print_plan(&decision);
        ensure!(decision["outcome"] == "scaled" && to > from, "{stream} was not scaled up: {decision:#}");
        let live = self.open_shards(stream).await?;
        ensure!(live == to, "{stream} has {live} open shards, the decision says {to}");
        self.check_alarms(stream, live, "re-armed", &[AlarmState::Ok]).await?;
        Ok((from, to, split_after))
    }

    /// Invokes the scale-down function as its schedule would; checks it merged `quiet` and left
    /// `hot` (split moments ago) alone. Returns `quiet`'s shard counts before and after.
    async fn merge(&self, quiet: &str, hot: &str) -> Result<(u32, u32)> {
        let before = self.open_shards(quiet).await?;
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let event = scheduled_event("kinesis-autoscaler-scale-down", &now);
        self.say("the schedule fires: a Scheduled Event for lambda-scale-down (every 36 h in a deployment)");
        let function = self.scale_down.clone();
        let answer = tokio::task::spawn_blocking(move || function.try_invoke(event)).await?;
        let summary = answer.map_err(anyhow::Error::msg)?;
        let summary = summary.map_err(|e| anyhow::anyhow!("lambda-scale-down failed: {e}"))?;
        let decisions = self.scale_down.decisions();
        for decision in &decisions {
            let plan = &decision["plan"];
            let shards = match decision["to"].as_u64() {
                Some(to) => format!("{} -> {to} shards", decision["open_shards"]),
                None => format!("{} shards", decision["open_shards"]),
            };
            self.say(format_args!(
                "lambda-scale-down decided: {} {} {shards}: peak {:.1} % over {} of {} datapoints",
                decision["outcome"].as_str().unwrap_or("?"),
                self.short(decision["stream"].as_str().unwrap_or("?")),
                plan["peak_utilisation"].as_f64().unwrap_or(f64::NAN) * 100.0,
                plan["datapoints"],
                plan["expected_datapoints"],
            ));
            self.print_plan(decision);
        }
        self.say(format_args!(
            "sweep: {} streams examined, {} merged, {} GetMetricData call(s), {:.0} ms",
            summary["StreamsExamined"],
            summary["StreamsMerged"],
            summary["GetMetricDataCalls"],
            summary["SweepDuration"].as_f64().unwrap_or(f64::NAN)
        ));
        let outcome = |stream: &str| {
            let name = self.name(stream);
            decisions.iter().find(|d| d["stream"] == name.as_str()).map(|d| d["outcome"].clone())
        };
        ensure!(outcome(quiet).is_some_and(|o| o == "scaled"), "{quiet} was not merged: {decisions:#?}");
        ensure!(outcome(hot).is_some_and(|o| o == "unchanged"), "{hot} was not left alone: {decisions:#?}");
        let after = self.open_shards(quiet).await?;
        ensure!(after < before, "{quiet} still has {after} open shards");
        let rearmed = [AlarmState::Ok, AlarmState::InsufficientData];
        self.check_alarms(quiet, after, "re-armed", &rearmed).await?;
        Ok((before, after))
    }

    /// A decision record's reasons and steps, under its timeline line.
    fn print_plan(&self, decision: &Value) {
        let reasons = decision["plan"]["reasons"].as_array().into_iter().flatten();
        let steps = decision["steps"].as_array().into_iter().flatten();
        for (label, line) in reasons.map(|r| ("why", r)).chain(steps.map(|s| ("step", s))) {
            println!("           {label}: {}", line.as_str().unwrap_or("?").replace(&self.prefix, ""));
        }
    }

    /// Polls `found` every 200 ms until it yields, for up to [`STEP_TIMEOUT`]; fails early if the
    /// writers stopped.
    async fn poll<T>(&self, what: &str, writer: &Writer, found: impl Fn() -> Option<T>) -> Result<T> {
        let until = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(found) = found() {
                return Ok(found);
            }
            if let Some(error) = writer.written().error {
                bail!("the writers stopped: {error}");
            }
            let written = writer.written();
            ensure!(
                Instant::now() < until,
                "no sign of {what} after {STEP_TIMEOUT:?}; the writers of {} had put {} records, {:.2} MiB/s",
                self.short(&writer.stream),
                written.records,
                written.mib_per_sec()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stopped(&self, writer: Writer) -> Result<Written> {
        let stream = self.short(&writer.stream).to_owned();
        let written = writer.stop().await;
        if let Some(error) = &written.error {
            bail!("the writers of {stream} stopped: {error}");
        }
        if let Some(why) = &written.first_refusal {
            self.say(format_args!(
                "note: Kinesis refused {} records of {stream}, first: {why}",
                written.refused
            ));
        }
        Ok(written)
    }

    async fn open_shards(&self, stream: &str) -> Result<u32> {
        let (timeout, poll) = (Duration::from_secs(30), Duration::from_millis(100));
        let live = wait_for_active(&self.streams, &SystemClock, &self.name(stream), timeout, poll, |_, _| {})
            .await?;
        Ok(live.tiling().len())
    }

    /// Checks `stream`'s alarms are `OK` with exactly the thresholds `alarm_specs` gives for
    /// `shards` shards and the policy on the stream, and prints them.
    /// `states` are those each alarm may be in: the scale-up function sets its alarms back to `OK`
    /// so they fire again; the sweep only rewrites them, which CloudWatch answers with
    /// `INSUFFICIENT_DATA` until its next evaluation.
    async fn check_alarms(&self, short: &str, shards: u32, how: &str, states: &[AlarmState]) -> Result<()> {
        let stream = &self.name(short);
        let tags = self.streams.describe(stream).await?.tags;
        // As the demo's scale-down function reads it: the quiet stream's day is compressed.
        let policy = decode_policy_with(tags.get(POLICY_TAG).context("no policy tag")?, Windows::Compressed)?;
        let topic = self.topic.lock().unwrap_or_else(PoisonError::into_inner).clone().context("no topic")?;
        let want = alarm_specs(stream, shards, &policy, &[topic.arn]);
        let alarms = self.cloudwatch.describe_alarms(&format!("{ALARM_NAME_PREFIX}{stream}-")).await?;
        let mut shown = Vec::new();
        for spec in &want {
            let alarm = alarms
                .iter()
                .find(|a| a.name == spec.name)
                .with_context(|| format!("no alarm {}", spec.name))?;
            ensure!(
                alarm.definition.threshold == Some(spec.threshold),
                "{} threshold {:?}, want {} for {shards} shards",
                spec.name,
                alarm.definition.threshold,
                spec.threshold
            );
            let state = alarm.state.context("an alarm with no state")?;
            ensure!(states.contains(&state), "{} is {state}, not {states:?}", spec.name);
            shown.push(format!("{} ({state})", threshold(alarm)));
        }
        self.say(format_args!("{short}: {shards} open shards; alarms {how}: {}", shown.join(", ")));
        Ok(())
    }

    /// Deletes what the demo made: alarms, streams, the topic, the generated file.
    async fn clean_up(&self) {
        println!("\n-- clean-up --");
        let alarms = self.cloudwatch.describe_alarms(&format!("{ALARM_NAME_PREFIX}{}", self.prefix)).await;
        let names: Vec<String> = alarms.map(|a| a.into_iter().map(|a| a.name).collect()).unwrap_or_default();
        let alarms = self.cloudwatch.delete_alarms(&names).await.map(|()| names.len());
        let mut streams = Vec::new();
        for stream in self.streams.list_streams().await.unwrap_or_default() {
            if stream.starts_with(&self.prefix) && self.streams.delete_stream(&stream).await.is_ok() {
                streams.push(stream);
            }
        }
        let topic = self.topic.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(topic) = &topic {
            topic.delete(&self.clients).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        self.say(format_args!(
            "deleted {} stream(s), {} alarm(s), {} SNS topic(s) and {}",
            streams.len(),
            alarms.map_or_else(|e| format!("not the alarms ({e})"), |n| n.to_string()),
            usize::from(topic.is_some()),
            self.dir.display()
        ));
    }

    fn failed(&self, why: &str) -> ExitCode {
        eprintln!("\ndemo failed: {why}");
        eprintln!("--- lambda-scale-up\n{}", self.scale_up.transcript());
        eprintln!("--- lambda-scale-down\n{}", self.scale_down.transcript());
        eprintln!("--- SNS deliveries to lambda-scale-up");
        for delivery in self.bridge.deliveries() {
            let outcome = delivery.outcome.map(|o| o.map(|answer| answer.unwrap_or_else(|error| error)));
            eprintln!("{}: {} -> {outcome:?}", delivery.message_type, delivery.envelope["Message"]);
        }
        ExitCode::FAILURE
    }
}

fn rate((records, bytes): (u32, usize)) -> f64 {
    f64::from(records) * bytes as f64 / MIB
}

fn count(value: &Value) -> u32 {
    value.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or_default()
}

fn print_indented(text: &str) {
    for line in text.lines() {
        println!("           {line}");
    }
}

/// `IncomingBytes >= 24.0 MiB per 10 s`.
fn threshold(alarm: &AlarmSummary) -> String {
    let value = alarm.definition.threshold.unwrap_or(f64::NAN);
    let value = match alarm.definition.metric.as_deref().and_then(Metric::parse) {
        Some(Metric::IncomingBytes) => format!("{:.1} MiB", value / MIB),
        _ => format!("{value}"),
    };
    let op = if alarm.definition.comparison.as_deref() == Some("GreaterThanThreshold") { ">" } else { ">=" };
    format!(
        "{} {op} {value} per {} s",
        alarm.definition.metric.as_deref().unwrap_or("?"),
        alarm.definition.period_secs.unwrap_or(0)
    )
}
