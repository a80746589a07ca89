//! The walk over a whole file: top-level keys, `defaults`, then each stream.
//!
//! The walk never stops early. It reads what it can, reports the rest, and builds a [`Config`]
//! only if nothing at all was reported, so a file is either fully valid or answered with the
//! complete list of its problems.

use std::collections::HashMap;

use saphyr::{MarkedYaml, YamlData};

use crate::layer::{Field, Layer, Owner, SETTINGS, shard_count};
use crate::reader::{Reporter, as_str, at, describe};
use crate::resolve::Effective;
use crate::{Config, Location, StreamName, StreamSpec};

pub(crate) const TOP_LEVEL: &[&str] = &["version", "owner", "alarmTopicArn", "defaults", "streams"];
pub(crate) const STREAM_ONLY: &[&str] = &["name", "desiredShards"];

pub(crate) fn config(root: &MarkedYaml, report: &mut Reporter) -> Option<Config> {
    let misplaced = |key: &str| {
        if SETTINGS.contains(&key) {
            Some("it is a stream setting: put it under \"defaults\" or on a stream".to_owned())
        } else if STREAM_ONLY.contains(&key) {
            Some("it belongs on a stream in the \"streams\" list".to_owned())
        } else {
            None
        }
    };
    if !matches!(root.data, YamlData::Mapping(_)) {
        report.at(at(root), format!("expected a mapping with a \"streams\" list, found {}", describe(root)));
        return None;
    }
    let entries = report.mapping("the file", root, "at top level", TOP_LEVEL, &misplaced)?;

    let mut alarm_topic_arn = None;
    let mut owner = None;
    let mut defaults = Layer::default();
    let mut streams_node = None;
    for entry in &entries {
        match entry.key {
            "version" => {
                report.whole("version", entry.value, "1 (the only version this tool reads)", |n| n == 1);
            }
            "alarmTopicArn" => alarm_topic_arn = read_topic_arn(report, entry.value),
            "owner" => owner = read_owner(report, entry.value),
            "defaults" => defaults = read_defaults(report, entry.value),
            "streams" => streams_node = Some(entry.value),
            _ => unreachable!("mapping() only returns allowed keys"),
        }
    }

    // Conflicts made entirely in `defaults` are reported once, here.
    Effective::merge(&defaults, &Layer::default()).check(report, &defaults.tags);

    let Some(streams_node) = streams_node else {
        report.at(at(root), "missing required key \"streams\": list the streams to manage");
        return None;
    };
    let items = match &streams_node.data {
        YamlData::Sequence(items) if items.is_empty() => {
            report.at(at(streams_node), "streams: the list is empty; list at least one stream");
            return None;
        }
        YamlData::Sequence(items) => items,
        _ => {
            report.at(
                at(streams_node),
                format!("streams: expected a list of streams, found {}", describe(streams_node)),
            );
            return None;
        }
    };

    let mut streams = Vec::with_capacity(items.len());
    let mut first_seen: HashMap<String, Location> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(stream) = read_stream(report, item, index, &defaults, &mut first_seen) {
            streams.push(stream);
        }
    }
    report.is_clean().then_some(Config { owner, alarm_topic_arn, streams })
}

fn read_defaults(report: &mut Reporter, node: &MarkedYaml) -> Layer {
    let misplaced = |key: &str| match key {
        "name" | "desiredShards" => Some("set it on each stream, not in defaults".to_owned()),
        "alarmTopicArn" | "version" | "owner" => Some("it belongs at the top level".to_owned()),
        _ => None,
    };
    let mut layer = Layer::default();
    let owner = Owner::Defaults;
    if let Some(entries) = report.mapping("defaults", node, &owner.context(), SETTINGS, &misplaced) {
        for entry in &entries {
            layer.read(report, &owner, entry);
        }
    }
    layer
}

fn read_stream(
    report: &mut Reporter,
    node: &MarkedYaml,
    index: usize,
    defaults: &Layer,
    first_seen: &mut HashMap<String, Location>,
) -> Option<StreamSpec> {
    let location = at(node);
    if !matches!(node.data, YamlData::Mapping(_)) {
        report.at(
            location,
            format!("streams: expected a stream (a mapping with a name), found {}", describe(node)),
        );
        return None;
    }
    // Found before the other keys so that every message about this stream can name it.
    let written_name = node.data.as_mapping_get("name").and_then(as_str);
    let label = match written_name {
        Some(name) => format!("stream {name:?}"),
        None => format!("stream #{}", index + 1),
    };
    let owner = Owner::Stream(label.clone());
    let allowed: Vec<&str> = STREAM_ONLY.iter().chain(SETTINGS).copied().collect();
    let misplaced = |key: &str| match key {
        "alarmTopicArn" | "version" | "owner" => Some("it is set once, at the top level".to_owned()),
        "defaults" | "streams" => Some("it belongs at the top level".to_owned()),
        _ => None,
    };
    let entries = report.mapping("streams", node, &owner.context(), &allowed, &misplaced)?;

    let mut name = Field::Absent;
    let mut desired = Field::Absent;
    let mut layer = Layer::default();
    for entry in &entries {
        match entry.key {
            "name" => name = Field::from_option(read_name(report, entry.value, first_seen), at(entry.value)),
            "desiredShards" => {
                desired =
                    Field::from_option(shard_count(report, "desiredShards", entry.value), at(entry.value));
            }
            _ => {
                layer.read(report, &owner, entry);
            }
        }
    }
    if matches!(name, Field::Absent) {
        report.at(location, format!("{label} has no \"name\""));
    }
    if matches!(desired, Field::Absent) {
        report.at(location, format!("{label} has no \"desiredShards\" (the shard count to create it with)"));
    }

    let effective = Effective::merge(&layer, defaults);
    effective.check(report, &layer.tags);
    if let Field::Set(count, at) = desired {
        effective.check_desired(report, count, at);
    }

    let (Field::Set(name, _), Field::Set(desired_shards, _)) = (name, desired) else { return None };
    Some(StreamSpec {
        name,
        desired_shards,
        retention_hours: effective.retention_hours()?,
        region: effective.region()?,
        tags: effective.tags()?,
        deletion_protection: effective.deletion_protection()?,
        policy: effective.policy()?,
        location,
    })
}

/// A valid name not used by an earlier stream.
fn read_name(
    report: &mut Reporter,
    node: &MarkedYaml,
    first_seen: &mut HashMap<String, Location>,
) -> Option<StreamName> {
    let name = report.string("name", node)?;
    let here = at(node);
    if let Some(reason) = StreamName::problem(name) {
        report.at(here, format!("name: {name:?} is not a valid stream name: {reason}"));
        return None;
    }
    if let Some(first) = first_seen.get(name) {
        report
            .at(here, format!("duplicate stream name {name:?}; it is first defined at line {}", first.line));
        return None;
    }
    first_seen.insert(name.to_owned(), here);
    StreamName::new(name).ok()
}

/// The file's owner id, written on every stream it creates or adopts; `--prune` deletes only
/// streams carrying it.
fn read_owner(report: &mut Reporter, node: &MarkedYaml) -> Option<planner::OwnerId> {
    let id = report.string("owner", node)?;
    match planner::OwnerId::new(id) {
        Ok(owner) => Some(owner),
        Err(rule) => {
            report.at(at(node), format!("owner: {id:?} is not a valid owner id: {rule}"));
            None
        }
    }
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<topic>`: a typo here would only show when
/// the first alarm fires into nowhere, so the shape is checked up front.
fn read_topic_arn(report: &mut Reporter, node: &MarkedYaml) -> Option<String> {
    let arn = report.string("alarmTopicArn", node)?;
    match topic_arn_problem(arn) {
        None => Some(arn.to_owned()),
        Some(problem) => {
            report.at(
                at(node),
                format!(
                    "alarmTopicArn: {arn:?} is not an SNS topic ARN ({problem}); expected arn:<partition>:sns:<region>:<12-digit account>:<topic name>"
                ),
            );
            None
        }
    }
}

fn topic_arn_problem(arn: &str) -> Option<&'static str> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [prefix, partition, service, region, account, topic] = parts[..] else {
        return Some("it must have six parts separated by ':'");
    };
    let lower = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if prefix != "arn" {
        Some("it must start with \"arn:\"")
    } else if !lower(partition) {
        Some("the partition, such as \"aws\", is missing or malformed")
    } else if service != "sns" {
        Some("the service must be \"sns\"")
    } else if !lower(region) {
        Some("the region is missing or malformed")
    } else if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        Some("the account must be 12 digits")
    } else {
        let base = topic.strip_suffix(".fifo").unwrap_or(topic);
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if base.is_empty() || topic.len() > 256 || !base.chars().all(valid) {
            Some("the topic name must be 1 to 256 letters, digits, '-' or '_'")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(arn: &str, expected: Option<&str>) {
        assert_eq!(topic_arn_problem(arn), expected, "{arn:?}");
    }

    #[test]
    fn topic_arns_are_checked_part_by_part() {
        check("arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms", None);
        check("arn:aws-cn:sns:cn-north-1:123456789012:alarms.fifo", None);
        check("arn:aws:sns:us-east-1:123456789012", Some("it must have six parts separated by ':'"));
        check("arn:aws:sqs:us-east-1:123456789012:alarms", Some("the service must be \"sns\""));
        check("arn:aws:sns:us-east-1:1234:alarms", Some("the account must be 12 digits"));
        check("arn:aws:sns::123456789012:alarms", Some("the region is missing or malformed"));
        check(
            "arn:aws:sns:us-east-1:123456789012:my topic",
            Some("the topic name must be 1 to 256 letters, digits, '-' or '_'"),
        );
    }
}
