//! The real binaries under injected AWS faults: `streams apply`, the scale-up Lambda and the
//! scale-down Lambda, each pointed at a [`FaultProxy`] in front of the emulator.
//!
//! Each scenario is one operation the program calls × one fault (throttle, 500, 503, a timeout,
//! a reset connection, an answer lost after the service acted, a slow answer), on a stream of its
//! own. The property that must survive every one: the program either converges (the stream ends
//! in the shape asked for, the alarms exist with the thresholds for the live shard count and are
//! not left in `ALARM`) or fails cleanly (a non-zero exit with an `error:` line, or an invocation
//! failure labelled retryable, since every fault here is transient; never a panic), and a re-run
//! without faults then converges: nothing is left half-applied that a re-run does not repair.
//! A scenario whose operation was never called fails too, so the matrix cannot rot into testing
//! nothing.
//!
//! Scenarios run concurrently, a few at a time (the emulator allows five streams in `CREATING`),
//! and every test prints its scenario count and each scenario's outcome.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use emulator_tests::fault_proxy::{Fault, FaultPlan, FaultProxy, Rule, Service, When};
use emulator_tests::lambda::{LocalLambda, scheduled_event};
use emulator_tests::{emulator_clients, emulator_function, emulator_function_via, endpoint, unique_name};
use futures_util::StreamExt;
use planner::{ALARM_NAME_PREFIX, Metric, alarm_specs};
use reconciler::{AlarmPort, AlarmState};
use serde_json::Value;

use crate::common::{Cli, TOPIC, remove, stderr, streams_at, transcript};
use crate::settle;

/// Every fault kind, each scenario's second coordinate.
const FAULTS: [Fault; 7] = [
    Fault::Throttle,
    Fault::ServerError(500),
    Fault::ServerError(503),
    Fault::Timeout,
    Fault::Reset,
    Fault::LostAnswer,
    Fault::Slow,
];

/// The stack's default function timeouts (`infra/template.yaml`: `ScaleUpTimeout`,
/// `ScaleDownTimeout`): a 20 s hung call must be weighed against the deadline the functions
/// really get, not a test's shorter one.
const SCALE_UP_TIMEOUT: Duration = Duration::from_secs(300);
const SCALE_DOWN_TIMEOUT: Duration = Duration::from_secs(900);

/// What one scenario showed: how the program came through, or what went wrong.
type Verdict = Result<String, String>;

/// One scenario per (operation, fault), the first call of the operation faulted. The full
/// product runs with `FAULT_MATRIX=full` (10–20 minutes on a shared emulator); by default, as in
/// CI, each operation meets one fault kind, rotating so every kind is still met.
fn matrix(operations: &[(Service, &str)], faults: &[Fault]) -> Vec<Rule> {
    let full = std::env::var("FAULT_MATRIX").is_ok_and(|v| v == "full");
    operations
        .iter()
        .enumerate()
        .flat_map(|(i, &(service, op))| {
            faults
                .iter()
                .enumerate()
                .filter(move |(j, _)| full || *j == i % faults.len())
                .map(move |(_, &fault)| Rule::first(1, service, op, fault))
        })
        .collect()
}

fn label(program: &str, rule: &Rule) -> String {
    let when = match rule.when {
        When::First(1) => String::new(),
        When::First(n) => format!(" (first {n} calls)"),
        When::Probability { p, seed } => format!(" (p = {p}, seed {seed})"),
    };
    format!("{program} / {:?}.{} / {}{when}", rule.service, rule.operation, rule.fault)
}

/// Runs `scenario` for every rule, `concurrency` at a time, each on a task of its own so a
/// panicking assertion fails its scenario only; prints the count and every verdict, then fails
/// the test listing every scenario that did not hold.
async fn run_matrix<F, Fut>(program: &str, rules: Vec<Rule>, concurrency: usize, scenario: F)
where
    F: Fn(Rule) -> Fut,
    Fut: Future<Output = Verdict> + Send + 'static,
{
    let started = Instant::now();
    let total = rules.len();
    let verdicts: Vec<(String, Verdict)> = futures_util::stream::iter(rules)
        .map(|rule| {
            let name = label(program, &rule);
            let task = tokio::spawn(scenario(rule));
            async move {
                let verdict = task.await.unwrap_or_else(|e| Err(panic_text(e)));
                (name, verdict)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let failed: Vec<&(String, Verdict)> = verdicts.iter().filter(|(_, v)| v.is_err()).collect();
    for (name, verdict) in &verdicts {
        match verdict {
            Ok(how) => eprintln!("PASS {name}: {how}"),
            Err(why) => eprintln!("FAIL {name}: {why}"),
        }
    }
    eprintln!(
        "{program}: {total} fault scenarios, {} passed, {} failed, in {:?}",
        total - failed.len(),
        failed.len(),
        started.elapsed()
    );
    assert!(
        failed.is_empty(),
        "{program}: {} of {total} fault scenarios failed:\n{}",
        failed.len(),
        failed.iter().map(|(name, why)| format!("{name}: {why:?}")).collect::<Vec<_>>().join("\n")
    );
}

fn panic_text(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic".to_owned()),
        Err(e) => e.to_string(),
    }
}

/// Requires the plan to have faulted at least one call: an operation the program never calls
/// would make the scenario pass vacuously.
fn check_injected(proxy: &FaultProxy) -> Result<(), String> {
    if proxy.injected().is_empty() {
        return Err(format!("the fault never fired; calls seen: {:?}", proxy.counts()));
    }
    Ok(())
}

/// Requires the stream's alarms to be exactly the set for `shards` open shards, none in `ALARM`.
async fn check_alarms(stream: &str, shards: u32) -> Result<(), String> {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let policy = crate::scale_up::policy_of(&streams, stream).await;
    let actions = cloudwatch
        .describe_alarms(&format!("{ALARM_NAME_PREFIX}{stream}-"))
        .await
        .map_err(|e| e.to_string())?
        .first()
        .map(|a| a.definition.actions.clone())
        .unwrap_or_default();
    let expected = crate::scale_up::expected_alarms(&alarm_specs(stream, shards, &policy, &actions));
    let live = crate::scale_up::alarms_of(&cloudwatch, stream).await;
    if live != expected {
        return Err(format!(
            "alarms of {stream} are not those for {shards} shards: {live:?}, want {expected:?}"
        ));
    }
    let alarms = cloudwatch
        .describe_alarms(&format!("{ALARM_NAME_PREFIX}{stream}-"))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(firing) = alarms.iter().find(|a| a.state == Some(AlarmState::Alarm)) {
        return Err(format!("{} is left in ALARM", firing.name));
    }
    Ok(())
}

/// Requires `stream` to have two open shards and the alarms for two, then removes it; `how` the
/// program came through is the verdict.
async fn ends_with_two_shards(stream: &str, how: String) -> Verdict {
    let clients = emulator_clients().await;
    let shards = settle(&clients.streams(), stream).await.tiling().len();
    if shards != 2 {
        return Err(format!("{how}, but {stream} has {shards} open shard(s), not 2"));
    }
    check_alarms(stream, 2).await.map_err(|e| format!("{how}, but {e}"))?;
    remove(&clients, stream).await;
    Ok(how)
}

// ---------------------------------------------------------------------------------------------
// `streams apply`.

/// Every operation `streams apply` calls to create a stream with retention, tags and alarms.
const APPLY_OPERATIONS: [(Service, &str); 9] = [
    (Service::Kinesis, "ListStreams"),
    (Service::Kinesis, "CreateStream"),
    (Service::Kinesis, "DescribeStreamSummary"),
    (Service::Kinesis, "ListShards"),
    (Service::Kinesis, "ListTagsForStream"),
    (Service::Kinesis, "IncreaseStreamRetentionPeriod"),
    (Service::Kinesis, "AddTagsToStream"),
    (Service::CloudWatch, "DescribeAlarms"),
    (Service::CloudWatch, "PutMetricAlarm"),
];

/// `streams apply` of a new stream with its first call of the rule's operation faulted.
async fn apply_scenario(rule: Rule) -> Verdict {
    let s = unique_name("fault-apply");
    let cli = Cli::new();
    cli.write_config(&[format!(
        "{{name: {s}, desiredShards: 2, minShards: 1, maxShards: 8, retentionHours: 48, tags: {{team: data}}}}"
    )]);
    let proxy = FaultProxy::start(&endpoint(), FaultPlan::new(vec![rule.clone()]));
    let (dir, via) = (cli.dir.clone(), proxy.endpoint());
    let first = tokio::task::spawn_blocking(move || streams_at(&dir, &via, &["apply"])).await.expect("apply");
    check_injected(&proxy)?;
    let err = stderr(&first);
    if err.contains("panicked") {
        return Err(format!("the CLI panicked\n{}", transcript(&first)));
    }
    let how = match first.status.code() {
        Some(0) => "converged".to_owned(),
        Some(1) if err.lines().any(|l| l.starts_with("error:")) => {
            let dir = cli.dir.clone();
            let again = tokio::task::spawn_blocking(move || streams_at(&dir, &endpoint(), &["apply"])).await;
            let again = again.expect("apply again");
            if again.status.code() != Some(0) {
                return Err(format!("a re-run without faults failed\n{}", transcript(&again)));
            }
            format!("failed cleanly ({}), a re-run converged", err.lines().next().unwrap_or_default())
        }
        _ => return Err(format!("neither success nor a clean failure\n{}", transcript(&first))),
    };
    let clients = emulator_clients().await;
    let live = settle(&clients.streams(), &s).await;
    let shape = (live.tiling().len(), live.retention_hours, live.tags.get("team").cloned());
    if shape != (2, 48, Some("data".to_owned())) {
        return Err(format!("{s} ended as (shards, retention, team) = {shape:?}"));
    }
    crate::cli::assert_alarms(&clients.cloudwatch(), &s, 80.0, 2).await;
    check_alarms(&s, 2).await?;
    let dir = cli.dir.clone();
    let plan =
        tokio::task::spawn_blocking(move || streams_at(&dir, &endpoint(), &["plan"])).await.expect("plan");
    if plan.status.code() != Some(0) {
        return Err(format!("changes still pending after convergence\n{}", transcript(&plan)));
    }
    remove(&clients, &s).await;
    Ok(how)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_apply_converges_or_fails_cleanly_under_every_fault() {
    emulator_clients().await;
    run_matrix("streams apply", matrix(&APPLY_OPERATIONS, &FAULTS), 6, apply_scenario).await;
}

// ---------------------------------------------------------------------------------------------
// The scale-up Lambda.

/// Every operation the scale-up Lambda calls to handle one hot-stream alarm.
const SCALE_UP_OPERATIONS: [(Service, &str); 8] = [
    (Service::Kinesis, "DescribeStreamSummary"),
    (Service::Kinesis, "ListShards"),
    (Service::Kinesis, "ListTagsForStream"),
    (Service::Kinesis, "AddTagsToStream"),
    (Service::Kinesis, "SplitShard"),
    (Service::CloudWatch, "GetMetricData"),
    (Service::CloudWatch, "DescribeAlarms"),
    (Service::CloudWatch, "PutMetricAlarm"),
];

/// Starts `binary` through `proxy` and arms `plan` once its init (the connection warm-up) is
/// done, so the plan applies to the invocation.
fn function_through(
    binary: &str,
    proxy: &FaultProxy,
    env: &[(&str, &str)],
    timeout: Duration,
    plan: FaultPlan,
) -> LocalLambda {
    let lambda = emulator_function_via(binary, &proxy.endpoint(), env, timeout);
    lambda.time_to_ready();
    proxy.arm(plan);
    lambda
}

/// Requires an invocation's failure to be labelled retryable (every injected fault is
/// transient) and the function not to have panicked.
fn check_failure(lambda: &LocalLambda, answer: &Value, retryable: &str) -> Result<String, String> {
    if lambda.stderr_lines().iter().any(|l| l.contains("panicked")) {
        return Err(format!("the function panicked\n{}", lambda.transcript()));
    }
    if answer["errorType"] != retryable {
        return Err(format!("failed with {answer}, not labelled {retryable}"));
    }
    Ok(format!("failed {retryable}: {}", answer["errorMessage"]))
}

/// The scale-up Lambda handles one alarm on a hot one-shard stream with the rule's first call
/// faulted; the same event is redelivered without faults if it failed (Lambda's retry).
async fn scale_up_scenario(rule: Rule) -> Verdict {
    let s = unique_name("fault-up");
    let config = format!("{{name: {s}, desiredShards: 1, minShards: 1, maxShards: 8}}");
    let _cli =
        tokio::task::spawn_blocking(move || crate::scale_up::apply(TOPIC, &config)).await.expect("apply");
    let clients = emulator_clients().await;
    let policy = crate::scale_up::policy_of(&clients.streams(), &s).await;
    let spec = crate::scale_up::spec_for(&s, 1, &policy, Metric::IncomingBytes);
    let message = crate::scale_up::alarm_message(&spec, Utc::now(), crate::scale_up::hot_bytes(&spec));
    let event = crate::scale_up::sns_event(TOPIC, &[message]);

    // The scenario needs the alarm in ALARM when the function confirms it. The emulator evaluates
    // alarms on its own and may set a hand-set ALARM back to OK in between (more often on a busy
    // machine); the function then rightly ignores the alarm and makes no call the fault could hit.
    // That run tested nothing: set the alarm again and run it again.
    let mut attempts = 0;
    let (proxy, lambda, answer) = loop {
        attempts += 1;
        crate::scale_up::set_in_alarm(&clients, &s).await;
        let proxy = Arc::new(FaultProxy::start(&endpoint(), FaultPlan::none()));
        let (via, plan, first_event) = (proxy.clone(), FaultPlan::new(vec![rule.clone()]), event.clone());
        let (lambda, answer) = tokio::task::spawn_blocking(move || {
            let lambda = function_through("lambda-scale-up", &via, &[], SCALE_UP_TIMEOUT, plan);
            let answer = lambda.try_invoke(first_event);
            (lambda, answer)
        })
        .await
        .expect("invoke");
        let reset_meanwhile = proxy.injected().is_empty()
            && crate::scale_up::decision_outcomes(&lambda, 1) == ["ignored"]
            && lambda.decisions()[0]["reason"].as_str().is_some_and(|r| r.contains("not in ALARM"));
        if !reset_meanwhile || attempts == 3 {
            break (proxy, lambda, answer);
        }
    };
    check_injected(&proxy)?;
    let how = match answer.map_err(|hung| format!("the function did not answer: {hung}"))? {
        Ok(_) => "converged".to_owned(),
        Err(error) => {
            let how = check_failure(&lambda, &error, "ScaleUpRetryable")?;
            let again = tokio::task::spawn_blocking(move || {
                emulator_function("lambda-scale-up", &[], SCALE_UP_TIMEOUT).try_invoke(event)
            })
            .await
            .expect("invoke again");
            match again {
                Ok(Ok(_)) => format!("{how}; the redelivery converged"),
                other => return Err(format!("{how}; the redelivery without faults: {other:?}")),
            }
        }
    };
    ends_with_two_shards(&s, how).await.map_err(|e| format!("{e}\n{}", lambda.transcript()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_up_lambda_converges_or_fails_retryably_under_every_fault() {
    emulator_clients().await;
    run_matrix("scale-up Lambda", matrix(&SCALE_UP_OPERATIONS, &FAULTS), 5, scale_up_scenario).await;
}

// ---------------------------------------------------------------------------------------------
// The scale-down Lambda.

/// Every operation the scale-down Lambda calls to review one managed stream.
const SCALE_DOWN_OPERATIONS: [(Service, &str); 4] = [
    (Service::Kinesis, "ListStreams"),
    (Service::Kinesis, "ListTagsForStream"),
    (Service::Kinesis, "DescribeStreamSummary"),
    (Service::Kinesis, "ListShards"),
];

/// Whether the sweep printed its decision line for `stream`: it was reviewed, not dropped.
fn reviewed(lambda: &LocalLambda, stream: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let found = lambda.decisions().iter().any(|d| d["stream"] == stream);
        if found || Instant::now() > until {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One sweep by the scale-down Lambda (scoped to the stream by `STREAM_NAME_PREFIX`) of a managed
/// two-shard stream, with the rule's first call faulted. The stream is seconds old, so the rule
/// rightly keeps it (no full window of history: merges need hours of history the emulator cannot
/// fake, as stream age comes from its creation time); what must survive is the review itself:
/// the sweep answers with the stream reviewed and untouched, or fails retryably and the next
/// sweep does.
async fn scale_down_scenario(rule: Rule) -> Verdict {
    let s = unique_name("fault-down");
    let config = format!("{{name: {s}, desiredShards: 2, minShards: 1, maxShards: 8}}");
    let _cli =
        tokio::task::spawn_blocking(move || crate::scale_up::apply(TOPIC, &config)).await.expect("apply");
    let proxy = Arc::new(FaultProxy::start(&endpoint(), FaultPlan::none()));
    let (via, plan, scope) = (proxy.clone(), FaultPlan::new(vec![rule.clone()]), s.clone());
    let event = scheduled_event("kinesis-autoscaler-scale-down", "2026-11-23T03:00:00Z");
    let verdict = tokio::task::spawn_blocking(move || {
        let env = [("STREAM_NAME_PREFIX", scope.as_str())];
        let lambda = function_through("lambda-scale-down", &via, &env, SCALE_DOWN_TIMEOUT, plan);
        let answer = lambda
            .try_invoke(event.clone())
            .map_err(|hung| format!("the function did not answer: {hung}"))?;
        match answer {
            Ok(_) if reviewed(&lambda, &scope) => Ok("reviewed".to_owned()),
            Ok(summary) => {
                Err(format!("answered {summary} without reviewing {scope}\n{}", lambda.transcript()))
            }
            Err(error) => {
                let how = check_failure(&lambda, &error, "ScaleDownRetryable")?;
                let next = emulator_function("lambda-scale-down", &env, SCALE_DOWN_TIMEOUT);
                match next.try_invoke(event) {
                    Ok(Ok(_)) if reviewed(&next, &scope) => Ok(format!("{how}; the next sweep reviewed it")),
                    other => {
                        Err(format!("{how}; the next sweep without faults: {other:?}\n{}", next.transcript()))
                    }
                }
            }
        }
    })
    .await
    .expect("invoke")?;
    check_injected(&proxy)?;
    ends_with_two_shards(&s, verdict).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_down_lambda_reviews_or_fails_retryably_under_every_fault() {
    emulator_clients().await;
    run_matrix("scale-down Lambda", matrix(&SCALE_DOWN_OPERATIONS, &FAULTS), 5, scale_down_scenario).await;
}

/// Seeded random faults on every operation at once, as an unlucky day in AWS would bring them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_apply_converges_or_fails_cleanly_under_seeded_random_faults() {
    emulator_clients().await;
    // Kinesis: `streams apply` makes a dozen calls or more to it, so each seed faults several.
    let rules: Vec<Rule> = [Fault::Throttle, Fault::ServerError(503)]
        .into_iter()
        .flat_map(|fault| (1..=3).map(move |seed| Rule::sometimes(0.3, seed, Service::Kinesis, "*", fault)))
        .collect();
    run_matrix("streams apply (random)", rules, 6, apply_scenario).await;
}
