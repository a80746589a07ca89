//! The settings one level of the file sets: `defaults`, or one entry of `streams`.
//!
//! A layer keeps, for each setting, whether it was written, where, and whether it was readable.
//! Keeping "absent" apart from "written but invalid" lets the merge fall back to a default only
//! for what the user did not write, and skip cross-checks that would only echo an error already
//! reported; keeping the position lets those cross-checks point at the right line.

use planner::{Predictive, bounds};
use saphyr::MarkedYaml;

use crate::Location;
use crate::reader::{Entry, Reporter, at, describe};

/// The settings both `defaults` and a stream may set.
pub(crate) const SETTINGS: &[&str] = &[
    "minShards",
    "maxShards",
    "retentionHours",
    "region",
    "tags",
    "scaleUp",
    "scaleDown",
    "shardLevelMetrics",
    "deletionProtection",
    "paused",
];
pub(crate) const SCALE_UP: &[&str] = &[
    "thresholdPercent",
    "targetPercent",
    "periodSeconds",
    "evaluationPeriods",
    "cooldownMinutes",
    "throttleAlarm",
    "throttleBypassesCooldown",
    "readThrottleAlarm",
    "predictive",
];
/// The keys of `scaleUp.predictive` when it is a mapping.
pub(crate) const PREDICTIVE: &[&str] = &["lookbackDays", "leadMinutes"];
pub(crate) const SCALE_DOWN: &[&str] =
    &["thresholdPercent", "periodMinutes", "lookbackHours", "maxIteratorAgeSeconds"];

/// What `scaleDown.maxIteratorAgeSeconds` takes to turn the guard off. A word, not `0`: a bound
/// of zero seconds reads as "never merge", the opposite.
pub(crate) const GUARD_OFF: &str = "off";

/// Kinesis allows 50 tags per stream; the tool keeps 4 for its own (policy, deletion protection
/// and the Lambdas' state tags), so a file can never push a stream over the limit.
pub(crate) const MAX_TAGS: usize = 46;
pub(crate) const MAX_TAG_KEY: usize = 128;
pub(crate) const MAX_TAG_VALUE: usize = 256;
/// Tags the autoscaler writes itself (its policy, the time of the last scaling action); the user
/// must not set them, or the tool would overwrite them or act on forged values.
pub const RESERVED_TAG_PREFIX: &str = planner::TAG_PREFIX;
/// What Kinesis accepts in tag keys and values, for messages.
const TAG_CHARACTERS: &str = "letters, digits, spaces and _ . / = + - % @";

/// One setting as written in one layer.
#[derive(Debug, Clone, Default)]
pub(crate) enum Field<T> {
    #[default]
    Absent,
    /// Written, but reported as wrong: neither it nor a default may be used.
    Invalid,
    /// Written and valid, at the value's position.
    Set(T, Location),
}

impl<T> Field<T> {
    pub fn from_option(value: Option<T>, at: Location) -> Field<T> {
        match value {
            Some(value) => Field::Set(value, at),
            None => Field::Invalid,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Default)]
pub(crate) struct Layer {
    pub min_shards: Field<u32>,
    pub max_shards: Field<u32>,
    pub retention_hours: Field<u32>,
    pub region: Field<String>,
    pub tags: Field<Vec<Tag>>,
    pub deletion_protection: Field<bool>,
    pub shard_level_metrics: Field<bool>,
    pub paused: Field<bool>,
    pub scale_up: ScaleUpLayer,
    pub scale_down: ScaleDownLayer,
}

#[derive(Debug, Default)]
pub(crate) struct ScaleUpLayer {
    pub threshold_percent: Field<f64>,
    pub target_percent: Field<f64>,
    pub period_seconds: Field<u32>,
    pub evaluation_periods: Field<u32>,
    pub cooldown_minutes: Field<u32>,
    pub throttle_alarm: Field<bool>,
    pub throttle_bypasses_cooldown: Field<bool>,
    pub read_throttle_alarm: Field<bool>,
    /// `None`: prediction is off.
    pub predictive: Field<Option<Predictive>>,
}

impl ScaleUpLayer {
    /// `scaleUp` was not a mapping: every field counts as written-but-invalid, so no default
    /// stands in for it and no cross-check repeats the error.
    fn unreadable() -> ScaleUpLayer {
        ScaleUpLayer {
            threshold_percent: Field::Invalid,
            target_percent: Field::Invalid,
            period_seconds: Field::Invalid,
            evaluation_periods: Field::Invalid,
            cooldown_minutes: Field::Invalid,
            throttle_alarm: Field::Invalid,
            throttle_bypasses_cooldown: Field::Invalid,
            read_throttle_alarm: Field::Invalid,
            predictive: Field::Invalid,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct ScaleDownLayer {
    pub threshold_percent: Field<f64>,
    pub period_minutes: Field<u32>,
    pub lookback_hours: Field<u32>,
    /// `None`: the guard is off.
    pub max_iterator_age_seconds: Field<Option<u32>>,
}

impl ScaleDownLayer {
    /// See [`ScaleUpLayer::unreadable`].
    fn unreadable() -> ScaleDownLayer {
        ScaleDownLayer {
            threshold_percent: Field::Invalid,
            period_minutes: Field::Invalid,
            lookback_hours: Field::Invalid,
            max_iterator_age_seconds: Field::Invalid,
        }
    }
}

/// Which level is being read, for messages ("in defaults", "in scaleUp of stream "orders"").
pub(crate) enum Owner {
    Defaults,
    Stream(String),
}

impl Owner {
    pub fn context(&self) -> String {
        match self {
            Owner::Defaults => "in defaults".to_owned(),
            Owner::Stream(label) => format!("in {label}"),
        }
    }

    fn nested(&self, section: &str) -> String {
        match self {
            Owner::Defaults => format!("in defaults.{section}"),
            Owner::Stream(label) => format!("in {section} of {label}"),
        }
    }
}

/// Whether `n` of the file's unit (`unit` seconds, or 1 for counts) passes the policy's `bound`:
/// the file and the policy-tag decoder share one set of rules ([`planner::bounds`]).
fn in_units(n: i64, unit: u32, bound: fn(u32) -> bool) -> bool {
    u32::try_from(n).ok().and_then(|n| n.checked_mul(unit)).is_some_and(bound)
}

/// Shard counts: at least one, at most the account quota.
pub(crate) fn shard_count(report: &mut Reporter, path: &str, node: &MarkedYaml) -> Option<u32> {
    let max = planner::MAX_SHARDS_PER_STREAM;
    report.whole(path, node, &format!("1 to {max} shards"), |n| in_units(n, 1, bounds::is_shard_count))
}

impl Layer {
    /// Reads `entry` if it is one of [`SETTINGS`]; returns false for any other key.
    pub fn read(&mut self, report: &mut Reporter, owner: &Owner, entry: &Entry) -> bool {
        let value = entry.value;
        let here = at(value);
        match entry.key {
            "minShards" => {
                self.min_shards = Field::from_option(shard_count(report, "minShards", value), here)
            }
            "maxShards" => {
                self.max_shards = Field::from_option(shard_count(report, "maxShards", value), here)
            }
            "retentionHours" => {
                let hours = report.whole(
                    "retentionHours",
                    value,
                    "24 to 8760 hours (the Kinesis retention limits)",
                    |n| (24..=8760).contains(&n),
                );
                self.retention_hours = Field::from_option(hours, here);
            }
            "region" => {
                let region = report.string("region", value).and_then(|region| {
                    if looks_like_region(region) {
                        Some(region.to_owned())
                    } else {
                        report.at(
                            here,
                            format!("region: expected an AWS region such as \"us-east-1\", found {region:?}"),
                        );
                        None
                    }
                });
                self.region = Field::from_option(region, here);
            }
            "tags" => self.tags = Field::from_option(read_tags(report, value), here),
            "deletionProtection" => {
                self.deletion_protection =
                    Field::from_option(report.boolean("deletionProtection", value), here);
            }
            "shardLevelMetrics" => {
                self.shard_level_metrics =
                    Field::from_option(report.boolean("shardLevelMetrics", value), here);
            }
            "paused" => self.paused = Field::from_option(report.boolean("paused", value), here),
            "scaleUp" => self.read_scale_up(report, owner, value),
            "scaleDown" => self.read_scale_down(report, owner, value),
            _ => return false,
        }
        true
    }

    fn read_scale_up(&mut self, report: &mut Reporter, owner: &Owner, node: &MarkedYaml) {
        let misplaced = |key: &str| match key {
            "periodMinutes" | "lookbackHours" => {
                Some("it belongs in scaleDown; scaleUp takes periodSeconds and evaluationPeriods".to_owned())
            }
            _ => None,
        };
        let Some(entries) = report.mapping("scaleUp", node, &owner.nested("scaleUp"), SCALE_UP, &misplaced)
        else {
            self.scale_up = ScaleUpLayer::unreadable();
            return;
        };
        let up = &mut self.scale_up;
        for entry in entries {
            let value = entry.value;
            let here = at(value);
            match entry.key {
                "thresholdPercent" => {
                    up.threshold_percent =
                        Field::from_option(report.percent("scaleUp.thresholdPercent", value), here);
                }
                "targetPercent" => {
                    up.target_percent =
                        Field::from_option(report.percent("scaleUp.targetPercent", value), here)
                }
                "periodSeconds" => {
                    let seconds = report.whole(
                        "scaleUp.periodSeconds",
                        value,
                        "10, 30 or a multiple of 60 seconds (the periods CloudWatch alarms accept)",
                        |n| in_units(n, 1, bounds::is_alarm_period),
                    );
                    up.period_seconds = Field::from_option(seconds, here);
                }
                "evaluationPeriods" => {
                    let periods = report.whole("scaleUp.evaluationPeriods", value, "1 to 100 periods", |n| {
                        in_units(n, 1, bounds::is_evaluation_periods)
                    });
                    up.evaluation_periods = Field::from_option(periods, here);
                }
                "cooldownMinutes" => {
                    let minutes =
                        report.whole("scaleUp.cooldownMinutes", value, "0 to 1440 minutes (one day)", |n| {
                            in_units(n, 60, bounds::is_cooldown)
                        });
                    up.cooldown_minutes = Field::from_option(minutes, here);
                }
                "throttleAlarm" => {
                    up.throttle_alarm =
                        Field::from_option(report.boolean("scaleUp.throttleAlarm", value), here)
                }
                "throttleBypassesCooldown" => {
                    up.throttle_bypasses_cooldown =
                        Field::from_option(report.boolean("scaleUp.throttleBypassesCooldown", value), here);
                }
                "readThrottleAlarm" => {
                    up.read_throttle_alarm =
                        Field::from_option(report.boolean("scaleUp.readThrottleAlarm", value), here);
                }
                "predictive" => {
                    up.predictive = Field::from_option(read_predictive(report, owner, value), here)
                }
                _ => unreachable!("mapping() only returns allowed keys"),
            }
        }
    }

    fn read_scale_down(&mut self, report: &mut Reporter, owner: &Owner, node: &MarkedYaml) {
        let misplaced = |key: &str| match key {
            "periodSeconds" => Some("it belongs in scaleUp; scaleDown takes periodMinutes".to_owned()),
            "targetPercent"
            | "evaluationPeriods"
            | "cooldownMinutes"
            | "throttleAlarm"
            | "throttleBypassesCooldown"
            | "readThrottleAlarm" => Some("it belongs in scaleUp".to_owned()),
            _ => None,
        };
        let Some(entries) =
            report.mapping("scaleDown", node, &owner.nested("scaleDown"), SCALE_DOWN, &misplaced)
        else {
            self.scale_down = ScaleDownLayer::unreadable();
            return;
        };
        let down = &mut self.scale_down;
        for entry in entries {
            let value = entry.value;
            let here = at(value);
            match entry.key {
                "thresholdPercent" => {
                    down.threshold_percent =
                        Field::from_option(report.percent("scaleDown.thresholdPercent", value), here);
                }
                "periodMinutes" => {
                    let minutes = report.whole(
                        "scaleDown.periodMinutes",
                        value,
                        "1 or a multiple of 5 minutes, at most 60",
                        |n| in_units(n, 60, bounds::is_scale_down_period),
                    );
                    down.period_minutes = Field::from_option(minutes, here);
                }
                "lookbackHours" => {
                    let hours =
                        report.whole("scaleDown.lookbackHours", value, "1 to 168 hours (one week)", |n| {
                            in_units(n, 3_600, bounds::is_lookback)
                        });
                    down.lookback_hours = Field::from_option(hours, here);
                }
                "maxIteratorAgeSeconds" => {
                    let (path, allowed) =
                        ("scaleDown.maxIteratorAgeSeconds", "1 to 31536000 seconds (365 days), or off");
                    let bound = match crate::reader::as_str(value) {
                        Some(GUARD_OFF) => Some(None),
                        Some(other) => {
                            report.at(here, format!("{path}: expected {allowed}, found {other:?}"));
                            None
                        }
                        None => report
                            .whole(path, value, allowed, |n| in_units(n, 1, bounds::is_max_iterator_age))
                            .map(Some),
                    };
                    down.max_iterator_age_seconds = Field::from_option(bound, here);
                }
                _ => unreachable!("mapping() only returns allowed keys"),
            }
        }
    }
}

/// `scaleUp.predictive`: `on` (the default look-back and lead), `off`, or a mapping of either or
/// both. `Some(None)` is off; `None`, reported.
fn read_predictive(report: &mut Reporter, owner: &Owner, node: &MarkedYaml) -> Option<Option<Predictive>> {
    const PATH: &str = "scaleUp.predictive";
    const ALLOWED: &str = "on, off, or a mapping of lookbackDays and leadMinutes";
    match (crate::reader::as_str(node), &node.data) {
        (Some(GUARD_OFF), _) => return Some(None),
        (Some("on"), _) => return Some(Some(Predictive::default())),
        (None, saphyr::YamlData::Value(saphyr::Scalar::Boolean(on))) => {
            return Some(on.then(Predictive::default));
        }
        (None, saphyr::YamlData::Mapping(_)) => {}
        _ => {
            report.at(at(node), format!("{PATH}: expected {ALLOWED}, found {}", describe(node)));
            return None;
        }
    }
    let entries = report.mapping(PATH, node, &owner.nested(PATH), PREDICTIVE, &|_: &str| None)?;
    let mut predictive = Predictive::default();
    let mut clean = true;
    for entry in entries {
        let value = entry.value;
        match entry.key {
            "lookbackDays" => {
                let days = report.whole(&format!("{PATH}.lookbackDays"), value, "3 to 28 days", |n| {
                    in_units(n, 1, bounds::is_predictive_lookback)
                });
                clean &= days.is_some();
                predictive.lookback_days = days.unwrap_or(predictive.lookback_days);
            }
            "leadMinutes" => {
                let minutes = report.whole(&format!("{PATH}.leadMinutes"), value, "5 to 120 minutes", |n| {
                    in_units(n, 1, bounds::is_predictive_lead)
                });
                clean &= minutes.is_some();
                predictive.lead_minutes = minutes.unwrap_or(predictive.lead_minutes);
            }
            _ => unreachable!("mapping() only returns allowed keys"),
        }
    }
    clean.then_some(Some(predictive))
}

/// The tags of one layer, each checked against the Kinesis tag rules; the count is checked after
/// merging, since it is the merged set that is applied.
fn read_tags(report: &mut Reporter, node: &MarkedYaml) -> Option<Vec<Tag>> {
    let map = match &node.data {
        saphyr::YamlData::Mapping(map) => map,
        saphyr::YamlData::Value(saphyr::Scalar::Null) => return Some(Vec::new()),
        _ => {
            report.at(
                at(node),
                format!("tags: expected a mapping of tag names to values, found {}", describe(node)),
            );
            return None;
        }
    };
    let mut tags = Vec::with_capacity(map.len());
    for (key_node, value_node) in map {
        let Some(key) = report.string("tags", key_node) else { continue };
        let key_at = at(key_node);
        let length = key.chars().count();
        if length == 0 || length > MAX_TAG_KEY {
            report.at(
                key_at,
                format!("tags: tag key {key:?} is {length} characters long; keys are 1 to {MAX_TAG_KEY}"),
            );
            continue;
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            report.at(
                key_at,
                format!("tags: tag key {key:?} starts with \"aws:\", which AWS reserves for its own tags"),
            );
            continue;
        }
        if key.starts_with(RESERVED_TAG_PREFIX) {
            report.at(
                key_at,
                format!("tags: tag key {key:?} starts with {RESERVED_TAG_PREFIX:?}, which the autoscaler reserves for its own tags"),
            );
            continue;
        }
        if !planner::is_valid_tag_text(key) {
            report.at(
                key_at,
                format!(
                    "tags: tag key {key:?} has characters Kinesis refuses; keys may hold {TAG_CHARACTERS}"
                ),
            );
            continue;
        }
        let Some(value) = report.string(&format!("tags.{key}"), value_node) else { continue };
        if !planner::is_valid_tag_text(value) {
            report.at(
                at(value_node),
                format!("tags.{key}: the value {value:?} has characters Kinesis refuses; values may hold {TAG_CHARACTERS}"),
            );
            continue;
        }
        let length = value.chars().count();
        if length > MAX_TAG_VALUE {
            report.at(
                at(value_node),
                format!(
                    "tags.{key}: the value is {length} characters long; values are at most {MAX_TAG_VALUE}"
                ),
            );
            continue;
        }
        tags.push(Tag { key: key.to_owned(), value: value.to_owned() });
    }
    Some(tags)
}

/// `us-east-1`, `us-gov-west-1`, `cn-north-1`: lowercase words joined by `-`, ending in a number.
/// A loose check that catches `US-East-1` and `us-east` without listing every region.
fn looks_like_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let word = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(word)
        && parts.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(region: &str, accepted: bool) {
        assert_eq!(looks_like_region(region), accepted, "{region:?}");
    }

    #[test]
    fn regions_are_recognised_by_shape() {
        check("us-east-1", true);
        check("us-gov-west-1", true);
        check("ap-southeast-4", true);
        check("US-East-1", false);
        check("us-east", false);
        check("useast1", false);
        check("us-east-1a", false);
    }
}
