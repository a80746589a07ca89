//! The end-to-end smoke test: every port method the scaler relies on, against the emulator.
//!
//! It proves the adapters speak the real wire protocols (Kinesis JSON, CloudWatch CBOR) with the
//! right request shapes: a split at the key-space midpoint and the merge back, metrics published
//! and read back, and an alarm from `planner::alarm_specs` stored exactly as specified.

use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use emulator_tests::{ACCOUNT, REGION, emulator_clients, unique_name};
use planner::{ALARM_NAME_PREFIX, HashKey, HashRange, KINESIS_NAMESPACE, Policy, ShardId, alarm_specs};
use reconciler::{
    AlarmPort, Dimension, ErrorKind, MetricPoint, MetricPublisher, MetricQuery, MetricsPort, Resharder,
    Statistic, StreamAdmin, StreamReader, StreamStatus, Unit,
};

use crate::settle;

#[tokio::test]
async fn stream_splits_at_the_midpoint_merges_back_and_its_metrics_and_alarms_round_trip() {
    let started = Instant::now();
    let clients = emulator_clients().await;
    let streams = clients.streams();
    let cloudwatch = clients.cloudwatch();
    let stream = unique_name("smoke");

    // Create a one-shard stream.
    streams.create_stream(&stream, 1).await.expect("create stream");
    let created = settle(&streams, &stream).await;
    let tiling = created.tiling();
    assert_eq!(tiling.len(), 1);
    assert_eq!(tiling.shards()[0].range, HashRange::FULL);
    assert!(created.closed.is_empty());
    assert!(created.arn.ends_with(&format!("stream/{stream}")), "{}", created.arn);
    let parent = tiling.shards()[0].id.clone();

    // Split the shard at the middle of the key space.
    let mid = HashRange::FULL.midpoint().expect("the full range has a midpoint");
    assert_eq!(mid, HashKey(1 << 127));
    streams.split_shard(&stream, &parent, mid).await.expect("split");
    let split = settle(&streams, &stream).await;
    let tiling = split.tiling();
    let ranges: Vec<HashRange> = tiling.shards().iter().map(|s| s.range).collect();
    assert_eq!(
        ranges,
        vec![
            HashRange::new(HashKey::MIN, HashKey(mid.0 - 1)).unwrap(),
            HashRange::new(mid, HashKey::MAX).unwrap()
        ]
    );
    assert_eq!(split.closed, vec![parent.clone()]);
    let (low, high): (ShardId, ShardId) = (tiling.shards()[0].id.clone(), tiling.shards()[1].id.clone());

    // Merge the two children back into one shard.
    streams.merge_shards(&stream, &low, &high).await.expect("merge");
    let merged = settle(&streams, &stream).await;
    let tiling = merged.tiling();
    assert_eq!(tiling.len(), 1);
    assert_eq!(tiling.shards()[0].range, HashRange::FULL);
    let mut closed = merged.closed.clone();
    closed.sort();
    let mut expected = vec![parent, low, high];
    expected.sort();
    assert_eq!(closed, expected, "closed parents stay listed");
    eprintln!("{stream}: reshards done after {:?}", started.elapsed());

    metrics_round_trip(&cloudwatch, &stream, Utc::now()).await;
    alarms_round_trip(&cloudwatch, &stream).await;

    // Delete the stream; it disappears (possibly via DELETING).
    streams.delete_stream(&stream).await.expect("delete stream");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match streams.describe(&stream).await {
            Err(e) if e.kind == ErrorKind::NotFound => break,
            Ok(snap) if snap.status == StreamStatus::Deleting => {}
            other => panic!("unexpected describe after delete: {other:?}"),
        }
        assert!(Instant::now() < deadline, "stream still DELETING after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{stream}: smoke test took {:?}", started.elapsed());
}

/// Publishes six back-dated 5-minute `Sum` datapoints of `IncomingBytes` (the emulator's Kinesis
/// publishes none) and reads them back with `GetMetricData`.
async fn metrics_round_trip(
    cloudwatch: &(impl MetricsPort + MetricPublisher + Sync),
    stream: &str,
    now: DateTime<Utc>,
) {
    let period = TimeDelta::minutes(5);
    let newest = now.duration_trunc(period).unwrap() - period;
    let sent: Vec<(DateTime<Utc>, f64)> =
        (0..6).map(|i| (newest - period * i, 1_000_000.0 * f64::from(i + 1))).collect();
    let points: Vec<MetricPoint> = sent
        .iter()
        .map(|&(timestamp, value)| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: "IncomingBytes".into(),
            dimensions: vec![Dimension::stream(stream)],
            timestamp,
            value,
            unit: Unit::Bytes,
        })
        .collect();
    cloudwatch.put_metric_data(&points).await.expect("put metric data");

    let query = MetricQuery {
        id: "bytes".into(),
        namespace: KINESIS_NAMESPACE.into(),
        metric: "IncomingBytes".into(),
        dimensions: vec![Dimension::stream(stream)],
        period_secs: 300,
        stat: Statistic::Sum,
    };
    let (start, end) = (newest - period * 6, newest + period);
    let mut expected = sent.clone();
    expected.sort_by_key(|(t, _)| *t);
    // Real CloudWatch may take a moment to make fresh data readable; poll briefly.
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let series = cloudwatch.get_metric_data(std::slice::from_ref(&query), start, end).await.expect("get");
        assert_eq!(series.len(), 1);
        if series[0].points.len() >= expected.len() || Instant::now() > deadline {
            break series[0].points.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(got, expected);
}

/// Puts the alarms `planner::alarm_specs` defines for the stream, reads them back, deletes them.
async fn alarms_round_trip(cloudwatch: &(impl AlarmPort + Sync), stream: &str) {
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", unique_name("scale-up"));
    let specs = alarm_specs(stream, 1, &Policy::default(), std::slice::from_ref(&topic));
    assert!(specs.len() >= 2);
    for spec in &specs {
        cloudwatch.put_alarm(spec).await.expect("put alarm");
    }
    let prefix = format!("{ALARM_NAME_PREFIX}{stream}-");
    let mut alarms = cloudwatch.describe_alarms(&prefix).await.expect("describe alarms");
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    let mut specs = specs;
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        alarms.iter().map(|a| &a.name).collect::<Vec<_>>(),
        specs.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for (alarm, spec) in alarms.iter().zip(&specs) {
        assert_eq!(alarm.definition.threshold, Some(spec.threshold), "{}", spec.name);
        assert_eq!(alarm.definition.period_secs, Some(spec.period_secs));
        assert_eq!(alarm.definition.evaluation_periods, Some(spec.evaluation_periods));
        assert_eq!(alarm.definition.datapoints_to_alarm, Some(spec.datapoints_to_alarm));
        assert_eq!(alarm.definition.actions, vec![topic.clone()]);
        assert_eq!(alarm.definition.namespace.as_deref(), Some(KINESIS_NAMESPACE));
        assert_eq!(alarm.definition.metric.as_deref(), Some(spec.metric.as_str()));
        assert_eq!(alarm.definition.statistic.as_deref(), Some("Sum"));
        assert_eq!(alarm.definition.comparison.as_deref(), Some(spec.comparison.as_str()));
        assert_eq!(alarm.definition.treat_missing_data.as_deref(), Some("notBreaching"));
        assert_eq!(alarm.stream(), Some(stream));
        assert_eq!(alarm.definition.description.as_deref(), Some(spec.description.as_str()));
    }

    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    cloudwatch.delete_alarms(&names).await.expect("delete alarms");
    assert!(cloudwatch.describe_alarms(&prefix).await.expect("describe after delete").is_empty());
}
