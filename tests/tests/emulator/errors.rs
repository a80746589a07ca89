//! How the emulator's real error responses map onto `ErrorKind`, through the one mapping function.
//!
//! The SDK-mock tests in `aws-adapters` fake the error metadata; these prove the codes the wire
//! protocols actually carry (Kinesis JSON, CloudWatch CBOR) land on the same kinds.

use emulator_tests::{emulator_clients, unique_name};
use planner::{HashKey, ShardId};
use reconciler::{AlarmPort, ErrorKind, Resharder, StreamAdmin, StreamReader};

#[tokio::test]
async fn describing_a_missing_stream_maps_to_not_found() {
    let streams = emulator_clients().await.streams();
    let stream = unique_name("missing");
    let err = streams.describe(&stream).await.expect_err("the stream does not exist");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert_eq!(err.stream.as_deref(), Some(stream.as_str()));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn splitting_a_shard_of_a_missing_stream_maps_to_not_found() {
    let streams = emulator_clients().await.streams();
    let err = streams
        .split_shard(&unique_name("missing"), &ShardId::new("shardId-000000000000"), HashKey(1 << 127))
        .await
        .expect_err("the stream does not exist");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn creating_an_existing_stream_maps_to_already_exists() {
    let streams = emulator_clients().await.streams();
    let stream = unique_name("twice");
    streams.create_stream(&stream, 1).await.expect("first create");
    let err = streams.create_stream(&stream, 1).await.expect_err("second create");
    assert_eq!(err.kind, ErrorKind::AlreadyExists, "{err}");
    crate::settle(&streams, &stream).await;
    streams.delete_stream(&stream).await.expect("delete");
}

#[tokio::test]
async fn deleting_alarms_that_do_not_exist_succeeds() {
    let cloudwatch = emulator_clients().await.cloudwatch();
    cloudwatch.delete_alarms(&[unique_name("no-such-alarm")]).await.expect("idempotent delete");
}
