//! Stream settings `streams apply` keeps in sync with `streams.yaml`: tags and retention.

use std::collections::BTreeMap;

use emulator_tests::{emulator_clients, unique_name};
use reconciler::{Resharder, StreamAdmin, StreamReader};

use crate::settle;

#[tokio::test]
async fn tags_and_retention_round_trip_and_the_stream_is_listed() {
    let streams = emulator_clients().await.streams();
    let stream = unique_name("settings");
    streams.create_stream(&stream, 1).await.expect("create");
    let created = settle(&streams, &stream).await;
    assert_eq!(created.retention_hours, 24, "Kinesis's default retention");
    assert!(streams.list_streams().await.expect("list").contains(&stream));

    // More than ten tags, to cross AddTagsToStream's per-call limit.
    let tags: BTreeMap<String, String> =
        (0..12).map(|i| (format!("key{i:02}"), format!("value{i}"))).collect();
    streams.add_tags(&stream, &tags).await.expect("add tags");
    assert_eq!(streams.describe(&stream).await.expect("describe").tags, tags);
    let removed: Vec<String> = tags.keys().take(11).cloned().collect();
    streams.remove_tags(&stream, &removed).await.expect("remove tags");
    let left: BTreeMap<String, String> = tags.iter().skip(11).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(streams.describe(&stream).await.expect("describe").tags, left);

    streams.set_retention(&stream, 24, 48).await.expect("increase retention");
    assert_eq!(settle(&streams, &stream).await.retention_hours, 48);
    streams.set_retention(&stream, 48, 24).await.expect("decrease retention");
    assert_eq!(settle(&streams, &stream).await.retention_hours, 24);

    streams.delete_stream(&stream).await.expect("delete");
}
