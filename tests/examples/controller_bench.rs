//! Process-level figures of the two Lambda binaries on the local emulator: cold start to ready,
//! peak RSS, and per scale-up decision the AWS calls, the handler's wall time and the function's
//! own CPU time, so the emulator's round trips (wall minus CPU) are seen apart from our work.
//!
//! ```sh
//! scripts/emulator start                                   # if it is not running
//! cargo build --bins                                       # debug Lambdas (and `streams`)
//! cargo build --release -p lambda-scale-up -p lambda-scale-down   # optional: release figures
//! cargo run --example controller_bench -- [--starts 20] [--decisions 10]
//! cargo run --example controller_bench -- --compare BEFORE_DIR AFTER_DIR [--starts 40]
//! ```
//!
//! For each built profile (debug, release) each binary is started `--starts` times under a
//! local Lambda Runtime API ([`LocalLambda`]) pointed at the emulator; ready is its first
//! `GET /next`, after its init, which includes two warm-up calls to the emulator. Then
//! `--decisions` fresh managed one-shard streams each get three crafted SNS alarm events, as
//! AWS shapes them: a cool datapoint (no change), a hot one (a split, 1 → 2 shards, which
//! waits for the stream to be ACTIVE again, polling every second), and the hot one again (a
//! duplicate delivery, held). AWS calls and wall time come from the function's own decision
//! record (`AwsCalls` counted by an SDK interceptor, `DecisionLatency`); CPU is the sum over
//! the function's threads of `/proc/<pid>/task/*/schedstat` across the invocation. Last, the
//! scale-down function sweeps those streams once, in dry-run and limited to them by
//! `STREAM_NAME_PREFIX`, so streams of anyone else on the emulator are neither read nor touched.
//! Peak RSS is `VmHWM` of `/proc/<pid>/status` just before the process is killed. Everything
//! created is deleted at the end. Prints one Markdown table of medians (p90 where it matters).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_adapters::{AwsClients, KinesisStreams};
use chrono::{DateTime, Utc};
use emulator_tests::lambda::{LocalLambda, scheduled_event};
use emulator_tests::sns_bridge::lambda_event;
use emulator_tests::{ACCOUNT, REGION, emulator_clients, emulator_function_at, endpoint, unique_name};
use planner::{AlarmSpec, KINESIS_NAMESPACE, Metric, POLICY_TAG, Policy, alarm_specs, encode_policy};
use reconciler::{AlarmPort, ErrorKind, ReconcileError, Resharder, StreamAdmin, wait_for_active};
use serde_json::{Value, json};

const BINARIES: [&str; 2] = ["lambda-scale-up", "lambda-scale-down"];
const PROFILES: [&str; 2] = ["debug", "release"];
/// Alarms notify a topic nobody reads: the events are crafted, not delivered.
const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:kinesis-autoscaler-bench";
const TIMEOUT: Duration = Duration::from_secs(180);
const MIB: f64 = 1_048_576.0;

/// The table: one row per figure, one column per profile.
type Table = BTreeMap<(usize, String), BTreeMap<&'static str, String>>;

fn main() -> Result<()> {
    let (starts, decisions, builds) = arguments()?;
    if let Some((before, after)) = builds {
        return compare(&before, &after, starts);
    }
    let target = target_dir()?;
    let runtime = tokio::runtime::Runtime::new().context("a Tokio runtime")?;
    let clients = runtime.block_on(emulator_clients());
    let mut table = Table::new();
    let mut profiles = Vec::new();
    for profile in PROFILES {
        let paths: Vec<PathBuf> = BINARIES.iter().map(|b| target.join(profile).join(b)).collect();
        if !paths.iter().all(|p| p.is_file()) {
            eprintln!("{profile}: the Lambda binaries are not built; skipped");
            continue;
        }
        profiles.push(profile);
        for (binary, path) in BINARIES.iter().zip(&paths) {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or_default();
            row(&mut table, 0, &format!("{binary}: binary size"), profile, mib(size));
            cold_starts(&mut table, binary, path, profile, starts)?;
        }
        let prefix = unique_name("bench");
        let streams: Vec<String> = (0..decisions).map(|i| format!("{prefix}-{i:02}")).collect();
        let created = runtime.block_on(create_managed(&clients, &streams));
        let result = created.and_then(|()| {
            scale_up(&mut table, &paths[0], profile, &streams)?;
            scale_down(&mut table, &paths[1], profile, &prefix, streams.len())
        });
        runtime.block_on(remove(&clients, &streams));
        result?;
    }
    for binary in BINARIES {
        let zip = target.join("lambda-dist").join(format!("{binary}-arm64.zip"));
        let size = std::fs::metadata(&zip)
            .map_or_else(|_| "not built (run scripts/package)".to_owned(), |m| mib(m.len()));
        for profile in &profiles {
            row(
                &mut table,
                1,
                &format!("{binary}: bootstrap zip (arm64 release build)"),
                profile,
                size.clone(),
            );
        }
    }
    print_table(&table, &profiles);
    Ok(())
}

/// Two builds of both functions to compare: before, after.
type Builds = Option<(PathBuf, PathBuf)>;

/// `--starts N`, `--decisions N` and `--compare BEFORE AFTER`.
fn arguments() -> Result<(usize, usize, Builds)> {
    let (mut starts, mut decisions, mut builds) = (20, 10, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--starts" => starts = value()?.parse::<usize>()?.max(1),
            "--decisions" => decisions = value()?.parse::<usize>()?.max(1),
            "--compare" => builds = Some((PathBuf::from(value()?), PathBuf::from(value()?))),
            other => {
                bail!(
                    "unknown argument {other}; expected --starts N, --decisions N or --compare BEFORE AFTER"
                )
            }
        }
    }
    Ok((starts, decisions, builds))
}

/// `--compare BEFORE AFTER`: two builds of both functions side by side, each a cargo-lambda
/// `--lambda-dir` (`<dir>/<function>/bootstrap` and `bootstrap.zip`). Each binary is started
/// `starts` times, before and after alternately (A B A B ...), so the load of the shared machine
/// falls on both alike. Prints sizes, start to ready (median and p90) and peak RSS, with the
/// after/before ratio of each.
fn compare(before: &Path, after: &Path, starts: usize) -> Result<()> {
    println!("| figure | before | after | after / before |");
    println!("|---|---:|---:|---:|");
    for binary in BINARIES {
        let paths = [before, after].map(|dir| dir.join(binary).join("bootstrap"));
        if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
            bail!("{} is not built", missing.display());
        }
        let bytes = |path: &Path| std::fs::metadata(path).map(|m| m.len()).ok();
        let mb = |b: u64| format!("{:.2} MB ({b} bytes)", b as f64 / 1e6);
        for (what, file) in [("binary", "bootstrap"), ("zip", "bootstrap.zip")] {
            if let [Some(a), Some(b)] = paths.each_ref().map(|p| bytes(&p.with_file_name(file))) {
                println!("| {binary}: {what} | {} | {} | {:.2} |", mb(a), mb(b), b as f64 / a as f64);
            }
        }
        let (mut ready, mut rss) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        for _ in 0..starts {
            for (i, path) in paths.iter().enumerate() {
                let lambda = emulator_function_at(path, &[], TIMEOUT);
                ready[i].push(lambda.time_to_ready());
                rss[i].extend(peak_rss_kib(lambda.pid()));
            }
        }
        let [a, b] = ready.each_mut().map(|r| (percentile(r, 50), percentile(r, 90)));
        println!(
            "| {binary}: start to ready, median (p90) of {starts} | {:.1?} ({:.1?}) | {:.1?} ({:.1?}) | {:.2} |",
            a.0,
            a.1,
            b.0,
            b.1,
            b.0.as_secs_f64() / a.0.as_secs_f64()
        );
        let [a, b] = rss.each_mut().map(|r| percentile(r, 50));
        println!("| {binary}: peak RSS once ready | {} | {} | {:.2} |", kib(a), kib(b), b as f64 / a as f64);
    }
    Ok(())
}

/// `target/`: this example runs from `target/<profile>/examples/`.
fn target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors().nth(3).map(Path::to_path_buf).context("the example runs from target/<profile>/examples")
}

/// Starts `path` `n` times: time to ready (median, p90) and the peak RSS of a fresh process.
fn cold_starts(table: &mut Table, binary: &str, path: &Path, profile: &'static str, n: usize) -> Result<()> {
    let (mut ready, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let lambda = emulator_function_at(path, &[], TIMEOUT);
        ready.push(lambda.time_to_ready());
        rss.extend(peak_rss_kib(lambda.pid()));
    }
    let (median, p90) = (percentile(&mut ready, 50), percentile(&mut ready, 90));
    row(
        table,
        2,
        &format!("{binary}: start to ready, median (p90) of {n}"),
        profile,
        format!("{median:.1?} ({p90:.1?})"),
    );
    row(table, 3, &format!("{binary}: peak RSS once ready"), profile, kib(percentile(&mut rss, 50)));
    Ok(())
}

/// Three alarms on each stream: cool (no change), hot (split), hot again (duplicate, held).
fn scale_up(table: &mut Table, path: &Path, profile: &'static str, streams: &[String]) -> Result<()> {
    let lambda = emulator_function_at(path, &[], TIMEOUT);
    lambda.time_to_ready();
    let policy = Policy::default();
    let mut by_outcome: BTreeMap<String, Vec<(u64, f64, Duration)>> = BTreeMap::new();
    for stream in streams {
        let spec = alarm_specs(stream, 1, &policy, &[TOPIC.to_owned()])
            .into_iter()
            .find(|s| s.metric == Metric::IncomingBytes)
            .context("an IncomingBytes alarm")?;
        let period = f64::from(spec.period_secs);
        let hot = sns_event(&alarm_message(&spec, Utc::now(), 0.9 * MIB * period));
        let cool =
            sns_event(&alarm_message(&spec, Utc::now() - chrono::Duration::seconds(1), 0.3 * MIB * period));
        for event in [cool, hot.clone(), hot] {
            let seen = lambda.decisions().len();
            let before = cpu(lambda.pid());
            let answer = lambda.try_invoke(event).map_err(anyhow::Error::msg)?;
            if let Err(error) = answer {
                bail!("{stream}: the invocation failed: {error}\n{}", lambda.transcript());
            }
            let decision = wait_for_decision(&lambda, seen)?;
            let cpu = cpu(lambda.pid()).zip(before).map(|(after, before)| after - before).unwrap_or_default();
            let outcome = decision["Outcome"].as_str().unwrap_or("?").to_owned();
            let calls = decision["AwsCalls"].as_u64().unwrap_or_default();
            let wall = decision["DecisionLatency"].as_f64().unwrap_or_default();
            by_outcome.entry(outcome).or_default().push((calls, wall, cpu));
        }
    }
    for (i, (outcome, runs)) in by_outcome.iter().enumerate() {
        let mut calls: Vec<u64> = runs.iter().map(|r| r.0).collect();
        let mut walls: Vec<Duration> = runs.iter().map(|r| Duration::from_secs_f64(r.1 / 1000.0)).collect();
        let mut cpus: Vec<Duration> = runs.iter().map(|r| r.2).collect();
        let (calls, wall, cpu) =
            (percentile(&mut calls, 50), percentile(&mut walls, 50), percentile(&mut cpus, 50));
        let label = format!(
            "lambda-scale-up: decision `{outcome}` ×{}: AWS calls; handler wall; function CPU; wall − CPU",
            runs.len()
        );
        row(
            table,
            10 + i,
            &label,
            profile,
            format!("{calls}; {wall:.1?}; {cpu:.2?}; {:.1?}", wall.saturating_sub(cpu)),
        );
    }
    row(
        table,
        20,
        "lambda-scale-up: peak RSS after the decisions",
        profile,
        kib(peak_rss_kib(lambda.pid()).unwrap_or_default()),
    );
    Ok(())
}

/// One dry-run sweep of the bench's streams.
fn scale_down(
    table: &mut Table,
    path: &Path,
    profile: &'static str,
    prefix: &str,
    streams: usize,
) -> Result<()> {
    let lambda = emulator_function_at(path, &[("DRY_RUN", "true"), ("STREAM_NAME_PREFIX", prefix)], TIMEOUT);
    lambda.time_to_ready();
    let before = cpu(lambda.pid());
    let answer = lambda.try_invoke(scheduled_event("kinesis-autoscaler-bench", &Utc::now().to_rfc3339()));
    let answer = answer.map_err(anyhow::Error::msg)?;
    let summary = answer.map_err(|e| anyhow::anyhow!("the sweep failed: {e}\n{}", lambda.transcript()))?;
    let cpu = cpu(lambda.pid()).zip(before).map(|(after, before)| after - before).unwrap_or_default();
    let examined = summary["StreamsExamined"].as_u64().unwrap_or_default();
    if examined != streams as u64 {
        bail!("the sweep examined {examined} streams, not {streams}: {summary}\n{}", lambda.transcript());
    }
    let wall = Duration::from_secs_f64(summary["SweepDuration"].as_f64().unwrap_or_default() / 1000.0);
    row(
        table,
        30,
        &format!(
            "lambda-scale-down: dry-run sweep of {streams} streams: AWS calls (GetMetricData); wall; function CPU"
        ),
        profile,
        format!("{} ({}); {wall:.1?}; {cpu:.2?}", summary["AwsCalls"], summary["GetMetricDataCalls"]),
    );
    row(
        table,
        31,
        "lambda-scale-down: peak RSS after the sweep",
        profile,
        kib(peak_rss_kib(lambda.pid()).unwrap_or_default()),
    );
    Ok(())
}

/// The decision record after the first `seen`: printed before the answer, but read on another
/// thread, so it may land a moment after the invocation returns.
fn wait_for_decision(lambda: &LocalLambda, seen: usize) -> Result<Value> {
    for _ in 0..250 {
        if let Some(decision) = lambda.decisions().get(seen) {
            return Ok(decision.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("no decision record\n{}", lambda.transcript())
}

/// One-shard streams with the default policy tag and alarms, as `streams apply` leaves them.
async fn create_managed(clients: &AwsClients, streams: &[String]) -> Result<()> {
    let (kinesis, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let policy = Policy::default();
    let tag: BTreeMap<String, String> = [(POLICY_TAG.to_owned(), encode_policy(&policy))].into();
    // One at a time: Kinesis (and the emulator) allow only 5 streams CREATING at once.
    for stream in streams {
        kinesis.create_stream(stream, 1).await?;
        settle(&kinesis, stream).await?;
        kinesis.add_tags(stream, &tag).await?;
        for spec in alarm_specs(stream, 1, &policy, &[TOPIC.to_owned()]) {
            cloudwatch.put_alarm(&spec).await?;
        }
    }
    Ok(())
}

/// Waits up to a minute for `stream` to be ACTIVE.
async fn settle(kinesis: &KinesisStreams, stream: &str) -> Result<(), ReconcileError> {
    let poll = Duration::from_millis(100);
    wait_for_active(kinesis, &reconciler::SystemClock, stream, Duration::from_secs(60), poll, |_, _| {})
        .await
        .map(drop)
}

/// Deletes the streams and their alarms; reports what could not be deleted and carries on.
async fn remove(clients: &AwsClients, streams: &[String]) {
    let (kinesis, cloudwatch) = (clients.streams(), clients.cloudwatch());
    for stream in streams {
        let prefix = format!("{}{stream}-", planner::ALARM_NAME_PREFIX);
        let names = match cloudwatch.describe_alarms(&prefix).await {
            Ok(alarms) => alarms.into_iter().map(|a| a.name).collect(),
            Err(e) => {
                eprintln!("{stream}: alarms not listed: {e}");
                Vec::new()
            }
        };
        if let Err(e) = cloudwatch.delete_alarms(&names).await {
            eprintln!("{stream}: alarms not deleted: {e}");
        }
        // A stream still CREATING or UPDATING cannot be deleted yet.
        let _ = settle(&kinesis, stream).await;
        match kinesis.delete_stream(stream).await {
            Err(e) if e.kind != ErrorKind::NotFound => eprintln!("{stream}: not deleted: {e}"),
            _ => {}
        }
    }
}

/// The SNS event Lambda receives for one alarm notification `message`.
fn sns_event(message: &str) -> Value {
    let time = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let envelope = json!({
        "Type": "Notification", "MessageId": unique_name("message"), "TopicArn": TOPIC,
        "Subject": "ALARM: kinesis-autoscaler alarm in US East (N. Virginia)", "Message": message,
        "Timestamp": time, "SignatureVersion": "1", "Signature": "dGVzdA==",
        "SigningCertURL": format!("{}/_aws/sns/SimpleNotificationService-test.pem", endpoint()),
        "UnsubscribeURL": format!("{}/?Action=Unsubscribe&SubscriptionArn={TOPIC}:bench", endpoint()),
    });
    lambda_event(&envelope, None)
}

/// CloudWatch's notification for `spec` gone to ALARM at `changed` on one datapoint of `value`,
/// in the shape AWS sends (see `crates/reconciler/tests/fixtures/alarms`).
fn alarm_message(spec: &AlarmSpec, changed: DateTime<Utc>, value: f64) -> String {
    let aws_time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    let name = &spec.name;
    json!({
        "AlarmName": name, "AlarmDescription": spec.description, "AWSAccountId": ACCOUNT,
        "NewStateValue": "ALARM",
        "NewStateReason": format!(
            "Threshold Crossed: 1 out of the last 1 datapoints [{value:E} ({})] was greater than or equal \
             to the threshold ({:E}) (minimum 1 datapoint for OK -> ALARM transition).",
            changed.format("%d/%m/%y %H:%M:%S"),
            spec.threshold
        ),
        "StateChangeTime": aws_time(changed), "Region": "US East (N. Virginia)",
        "AlarmArn": format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"),
        "OldStateValue": "OK", "OKActions": [], "AlarmActions": spec.alarm_actions, "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": spec.metric.as_str(), "Namespace": KINESIS_NAMESPACE, "StatisticType": "Statistic",
            "Statistic": "SUM", "Unit": null, "Dimensions": [{"value": spec.stream, "name": "StreamName"}],
            "Period": spec.period_secs, "EvaluationPeriods": spec.evaluation_periods,
            "DatapointsToAlarm": spec.datapoints_to_alarm, "ComparisonOperator": spec.comparison.as_str(),
            "Threshold": spec.threshold, "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": ""
        }
    })
    .to_string()
}

/// `VmHWM` (peak resident set) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of process `pid` so far: the sum over its live threads of the first field of
/// `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on a CPU). Exact for threads that are not
/// running when it is read, as the function's are between invocations.
fn cpu(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let nanos = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Some(Duration::from_nanos(nanos))
}

fn percentile<T: Ord + Copy + Default>(values: &mut [T], p: usize) -> T {
    values.sort();
    values.get((values.len() * p / 100).min(values.len().saturating_sub(1))).copied().unwrap_or_default()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

fn kib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn row(table: &mut Table, order: usize, label: &str, profile: &'static str, value: String) {
    table.entry((order, label.to_owned())).or_default().insert(profile, value);
}

fn print_table(table: &Table, profiles: &[&str]) {
    println!("| figure | {} |", profiles.join(" | "));
    println!("|---|{}", "---:|".repeat(profiles.len()));
    for ((_, label), values) in table {
        let cells: Vec<&str> = profiles.iter().map(|p| values.get(p).map_or("—", String::as_str)).collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
}
