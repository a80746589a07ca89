//! `paused: true` end to end: `streams apply` writes it into the policy tag, both Lambda binaries
//! leave the stream alone and say so in their decision lines, and un-pausing with `streams apply`
//! lets the next resync scale the alarm that stayed in `ALARM` all along.

use std::time::Duration;

use chrono::Utc;
use emulator_tests::lambda::{DEFAULT_TIMEOUT, LocalLambda, scheduled_event};
use emulator_tests::{emulator_clients, emulator_function, unique_name};
use planner::STATE_TAG_PREFIX;
use reconciler::{AlarmPort, AlarmState};
use serde_json::Value;

use crate::common::{TOPIC, remove, stdout};
use crate::scale_up::{apply, policy_of, set_in_alarm};
use crate::settle;

/// The decision lines `function` printed for `stream` after the first `skip`, once there are
/// `expected` (or 5 s passed: the harness reads stdout on another thread).
fn decisions_of(function: &LocalLambda, stream: &str, skip: usize, expected: usize) -> Vec<Value> {
    let of_stream = || -> Vec<Value> {
        let all = function.decisions().into_iter().filter(|d| d["stream"] == stream);
        all.skip(skip).collect()
    };
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while of_stream().len() < expected && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    of_stream()
}

#[tokio::test]
async fn a_paused_stream_is_left_alone_by_both_lambdas_until_apply_unpauses_it() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let s = unique_name("pause");
    // Scoped to this stream: the emulator is shared, and both functions look at every stream.
    let scope = [("STREAM_NAME_PREFIX", s.as_str())];
    let scale_up = emulator_function("lambda-scale-up", &scope, DEFAULT_TIMEOUT);
    let scale_down = emulator_function("lambda-scale-down", &scope, Duration::from_secs(120));
    let stream = |paused: bool| format!("{{name: {s}, desiredShards: 1, maxShards: 8, paused: {paused}}}");
    let cli = apply(TOPIC, &stream(true));
    assert!(policy_of(&streams, &s).await.paused);
    set_in_alarm(&clients, &s).await;
    let resync = || scheduled_event("kinesis-autoscaler-resync", &Utc::now().to_rfc3339());
    let sweep = || scheduled_event("kinesis-autoscaler-scale-down", &Utc::now().to_rfc3339());

    let answer = scale_up.invoke(resync());
    assert!(answer.is_ok(), "{answer:?}\n{}", scale_up.transcript());
    let up = decisions_of(&scale_up, &s, 0, 3);
    assert_eq!(up.len(), 3, "bytes, records and throttling alarms: {up:#?}");
    assert!(up.iter().all(|d| d["outcome"] == "ignored" && d["skip"] == "paused"), "{up:#?}");
    let answer = scale_down.invoke(sweep());
    assert!(answer.is_ok(), "{answer:?}\n{}", scale_down.transcript());
    let down = decisions_of(&scale_down, &s, 0, 1);
    assert!(matches!(&down[..], [d] if d["outcome"] == "skipped" && d["skip"] == "paused"), "{down:#?}");
    let held = settle(&streams, &s).await;
    assert_eq!(held.tiling().len(), 1);
    assert!(!held.tags.keys().any(|k| k.starts_with(STATE_TAG_PREFIX)), "nothing recorded: {:?}", held.tags);
    let alarms = cloudwatch.describe_alarms(&format!("kinesis-autoscaler-{s}-")).await.expect("alarms");
    assert!(alarms.iter().all(|a| a.state == Some(AlarmState::Alarm)), "left in ALARM: {alarms:#?}");

    cli.write_config(&[stream(false)]);
    let plan = cli.expect(2, &["plan"]);
    assert!(stdout(&plan).contains("resuming"), "{}", stdout(&plan));
    cli.expect(0, &["apply"]);
    let answer = scale_up.invoke(resync());
    assert!(answer.is_ok(), "{answer:?}\n{}", scale_up.transcript());
    let up = decisions_of(&scale_up, &s, 3, 3);
    let scaled = up.iter().filter(|d| d["outcome"] == "scaled").count();
    assert_eq!(scaled, 1, "the alarms left in ALARM scale it once: {up:#?}");
    assert!(settle(&streams, &s).await.tiling().len() >= 2);
    let answer = scale_down.invoke(sweep());
    assert!(answer.is_ok(), "{answer:?}\n{}", scale_down.transcript());
    let down = decisions_of(&scale_down, &s, 1, 1);
    assert!(matches!(&down[..], [d] if d["outcome"] == "unchanged"), "reviewed again: {down:#?}");
    remove(&clients, &s).await;
}
