//! The validated configuration: what the rest of the program reads instead of YAML.
//!
//! Every value here has passed every check, defaults are already merged in, and units are the
//! planner's (seconds, ratios), so no consumer re-validates or re-derives anything.

use std::collections::BTreeMap;
use std::fmt;

use crate::SpecError;

/// A whole `streams.yaml`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Names this file on the streams it creates or adopts; `streams apply --prune` deletes only
    /// streams carrying it, so two files in one account never delete each other's streams.
    pub owner: Option<planner::OwnerId>,
    /// The SNS topic the scaling alarms notify (the autoscaler Lambda subscribes to it).
    pub alarm_topic_arn: Option<String>,
    /// In file order, so output lists streams the way the user wrote them.
    pub streams: Vec<StreamSpec>,
}

impl Config {
    pub fn stream(&self, name: &str) -> Option<&StreamSpec> {
        self.streams.iter().find(|s| s.name.as_str() == name)
    }
}

/// One stream with the defaults merged in: what it should look like and how it scales.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub name: StreamName,
    /// Shard count to create the stream with when it does not exist yet; within the policy's
    /// `min_shards..=max_shards`. An existing stream's count is left to the autoscaler.
    pub desired_shards: u32,
    /// Data retention (24..=8760, the Kinesis limits). `None`: not in the file, so an existing
    /// stream keeps its own and a new one gets Kinesis's 24 h: adopting a stream never shortens it.
    pub retention_hours: Option<u32>,
    /// `None`: the region of the caller's AWS configuration.
    pub region: Option<String>,
    /// Default tags overridden key by key by the stream's own.
    pub tags: BTreeMap<String, String>,
    /// `streams apply --prune` deletes a stream missing from the file only when this is false.
    pub deletion_protection: bool,
    pub policy: planner::Policy,
    /// Where the stream's entry starts, for messages about the stream as a whole.
    pub location: Location,
}

impl StreamSpec {
    /// The stream as the sync planner wants it.
    pub fn desired(&self) -> planner::DesiredStream {
        planner::DesiredStream {
            name: self.name.as_str().to_owned(),
            desired_shards: self.desired_shards,
            retention_hours: self.retention_hours,
            tags: self.tags.clone(),
            policy: self.policy.clone(),
            deletion_protection: self.deletion_protection,
        }
    }
}

/// A position in the file, 1-based (line and column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// saphyr's markers count lines from 1 but columns from 0.
    pub(crate) fn of(marker: saphyr::Marker) -> Location {
        Location { line: marker.line(), column: marker.col() + 1 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A name Kinesis accepts: 1 to 128 characters of `[a-zA-Z0-9_.-]`.
///
/// Checked here, once, so that a typo is reported against `streams.yaml` instead of as a
/// `ValidationException` halfway through `streams apply`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamName(String);

impl StreamName {
    pub const MAX_LEN: usize = 128;

    /// What [`StreamName::new`] accepts, worded for error messages.
    pub const RULE: &'static str =
        "Kinesis stream names are 1 to 128 characters of letters, digits, '_', '.' and '-'";

    pub fn new(name: impl Into<String>) -> Result<StreamName, SpecError> {
        let name = name.into();
        match Self::problem(&name) {
            None => Ok(StreamName(name)),
            Some(reason) => Err(SpecError::InvalidStreamName { name, reason }),
        }
    }

    /// Why Kinesis would refuse `name`, if it would.
    pub(crate) fn problem(name: &str) -> Option<&'static str> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if name.is_empty() || name.chars().count() > Self::MAX_LEN || !name.chars().all(allowed) {
            Some(Self::RULE)
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StreamName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, accepted: bool) {
        assert_eq!(StreamName::new(name).is_ok(), accepted, "{name:?}");
    }

    #[test]
    fn stream_names_follow_the_kinesis_rule() {
        check("orders", true);
        check("Orders_v2.events-1", true);
        check(&"a".repeat(128), true);
        check("", false);
        check(&"a".repeat(129), false);
        check("orders stream", false);
        check("orders/v2", false);
        check("ordérs", false);
    }
}
