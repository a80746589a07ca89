//! The scale-down Lambda over a fleet of streams: the real binary, hundreds of managed streams on
//! the emulator, batched metric reads, and a time budget too short for all of them, so the sweep
//! hands the rest on through SNS and the next invocation finishes it.
//!
//! A test binary of its own, because Cargo runs test binaries one after another: creating
//! hundreds of streams holds the emulator's five `CREATING` slots for a while, which would starve
//! the parallel tests in `tests/emulator`. `FLEET_STREAMS` (default 300) sets the fleet size, to
//! measure how the sweep grows.
//!
//! The fleet's policy looks back 1 hour, not 24: LocalStack answers a `GetMetricData` query over
//! 24 h of 5-minute data in about 150 ms (one SQL sub-query per period), so a page of 350 queries
//! outlasts the SDK's 20 s attempt timeout on the emulator, where AWS answers in seconds. The
//! sweep still pages by the 24 h default (87 streams a page: four series a stream, the load's two
//! and the readers' two), so the call count is the same.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_adapters::AwsClients;
use emulator_tests::lambda::{LocalLambda, scheduled_event};
use emulator_tests::sns_bridge::{SnsBridge, Topic};
use emulator_tests::{emulator_clients, emulator_function, unique_name, with_retries};
use futures_util::stream::{self, StreamExt};
use planner::{POLICY_TAG, Policy, ScaleDown, Window, encode_policy, streams_per_metrics_call};
use reconciler::{Resharder, StreamAdmin, SystemClock, wait_for_active};
use serde_json::Value;

/// Kinesis lets 5 streams be `CREATING` or `DELETING` at once.
const CONTROL_PLANE_CONCURRENCY: usize = 5;

/// A timeout that leaves time to read every stream of the fleet.
const AMPLE: Duration = Duration::from_secs(900);

/// A timeout that does not: the function keeps 15 s for reporting and the sweep 30 s for reviewing
/// what it read, so each invocation reads streams for about 1 s (a few dozen on the emulator) and
/// hands the rest on.
const SHORT: Duration = Duration::from_secs(15 + 30 + 1);

fn fleet_size() -> usize {
    std::env::var("FLEET_STREAMS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// Creates `names` as managed one-shard streams with the default policy, as `streams apply` would.
async fn create_fleet(clients: &AwsClients, names: &[String]) {
    let kinesis = with_retries(clients.streams());
    let policy =
        Policy { scale_down: ScaleDown { lookback_secs: 3600, ..ScaleDown::default() }, ..Policy::default() };
    let tag = [(POLICY_TAG.to_owned(), encode_policy(&policy))].into();
    let created: Vec<()> = stream::iter(names)
        .map(|name| {
            let (kinesis, tag) = (&kinesis, &tag);
            async move {
                kinesis.create_stream(name, 1).await.unwrap_or_else(|e| panic!("create {name}: {e}"));
                wait_for_active(
                    kinesis,
                    &SystemClock,
                    name,
                    Duration::from_secs(60),
                    Duration::from_millis(100),
                    |_, _| {},
                )
                .await
                .unwrap_or_else(|e| panic!("{name} never became ACTIVE: {e}"));
                kinesis.add_tags(name, tag).await.unwrap_or_else(|e| panic!("tag {name}: {e}"));
            }
        })
        .buffer_unordered(CONTROL_PLANE_CONCURRENCY)
        .collect()
        .await;
    assert_eq!(created.len(), names.len());
}

async fn delete_fleet(clients: &AwsClients, names: &[String]) {
    let kinesis = with_retries(clients.streams());
    stream::iter(names)
        .for_each_concurrent(CONTROL_PLANE_CONCURRENCY, |name| {
            let kinesis = &kinesis;
            async move {
                // Best effort: a leftover only slows later runs on the same emulator.
                let _ = kinesis.delete_stream(name).await;
            }
        })
        .await;
}

/// Invokes `lambda` with the schedule's event off the async runtime and returns its summary.
async fn invoke_scheduled(lambda: &Arc<LocalLambda>) -> Value {
    let function = lambda.clone();
    tokio::task::spawn_blocking(move || {
        function.invoke(scheduled_event("kinesis-autoscaler-scale-down", "2026-11-23T03:00:00Z"))
    })
    .await
    .expect("invoke")
    .unwrap_or_else(|e| panic!("the invocation failed: {e}\n{}", lambda.transcript()))
}

/// The streams the function's decision records name, sorted.
fn reviewed(lambda: &LocalLambda) -> Vec<String> {
    let mut names: Vec<String> =
        lambda.decisions().iter().filter_map(|d| d["stream"].as_str().map(str::to_owned)).collect();
    names.sort();
    names
}

fn number(summary: &Value, key: &str) -> usize {
    summary[key].as_f64().unwrap_or_else(|| panic!("{key} missing from {summary}")) as usize
}

#[tokio::test]
async fn the_scale_down_lambda_reviews_a_fleet_in_batched_reads_and_hands_the_rest_on_over_sns() {
    let clients = emulator_clients().await;
    let prefix = unique_name("fleet");
    let names: Vec<String> = (0..fleet_size()).map(|i| format!("{prefix}-{i:05}")).collect();
    let started = Instant::now();
    create_fleet(&clients, &names).await;
    eprintln!("created {} managed streams in {:.1?}", names.len(), started.elapsed());
    // Hundreds of leftover streams would slow every later run on this emulator: delete them
    // whatever happens, then report the outcome.
    let outcome = tokio::spawn(sweep_the_fleet(clients.clone(), prefix, names.clone())).await;
    delete_fleet(&clients, &names).await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn sweep_the_fleet(clients: AwsClients, prefix: String, names: Vec<String>) {
    let size = names.len();

    // With time enough, one invocation reviews every stream in ceil(size / 87) metric reads.
    let whole = Arc::new(emulator_function("lambda-scale-down", &[("STREAM_NAME_PREFIX", &prefix)], AMPLE));
    let swept = Instant::now();
    let summary = invoke_scheduled(&whole).await;
    let took = swept.elapsed();
    // Four series a stream, bytes and records written and the readers' bytes and iterator age:
    // the Lambda reads no throttles.
    let per_call = streams_per_metrics_call(
        Window::ending_at(chrono::Utc::now(), &Policy::default()).expected_points(),
        4,
    );
    eprintln!(
        "{size} streams: one sweep in {took:.1?}, {} GetMetricData call(s), {} AWS calls",
        number(&summary, "GetMetricDataCalls"),
        number(&summary, "AwsCalls")
    );

    // With too little time, the sweep hands on over SNS until done. Reading the fleet takes
    // seconds on the emulator (3 calls a stream), far more than the 1 s each invocation has.
    let topic = Topic::create(&clients, &format!("{prefix}-continue")).await;
    let chained = Arc::new(emulator_function(
        "lambda-scale-down",
        &[
            ("CONTINUATION_TOPIC_ARN", &topic.arn),
            ("STREAM_NAME_PREFIX", &prefix),
            ("MAX_CONTINUATIONS", "50"),
        ],
        SHORT,
    ));
    let bridge = SnsBridge::start(chained.clone());
    topic.subscribe(&clients, &bridge, Duration::from_secs(20)).await;
    let first = invoke_scheduled(&chained).await;
    assert_eq!(first["continued"], true, "the first invocation runs out of time and hands on: {first}");
    let until = Instant::now() + Duration::from_secs(600);
    let last = loop {
        let answers: Vec<Value> = bridge
            .deliveries()
            .into_iter()
            .filter(|d| d.message_type == "Notification")
            .filter_map(|d| d.outcome)
            .map(|outcome| {
                outcome
                    .unwrap_or_else(|e| panic!("a continuation never finished: {e}"))
                    .unwrap_or_else(|e| panic!("a continuation failed: {e}\n{}", chained.transcript()))
            })
            .collect();
        if let Some(done) = answers.iter().find(|a| a["cursor"].is_null()) {
            break done.clone();
        }
        assert!(Instant::now() < until, "the chain did not finish: {answers:#?}\n{}", chained.transcript());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let chain = number(&last, "depth") + 1;
    eprintln!(
        "{size} streams with a {SHORT:?} timeout: {chain} invocations in {:.1?}",
        swept.elapsed() - took
    );
    drop(bridge);
    topic.delete(&clients).await;

    assert_eq!(number(&summary, "StreamsExamined"), size);
    assert_eq!(
        number(&summary, "GetMetricDataCalls"),
        size.div_ceil(per_call),
        "one read per {per_call} streams"
    );
    assert_eq!(reviewed(&whole), names, "every stream reviewed once, and nothing else");

    assert!(chain >= 2, "{last}");
    assert_eq!(reviewed(&chained), names, "across the chain, each stream once");
}
