//! Layering a stream over `defaults` over the built-in policy, and the checks that span settings.
//!
//! Rules such as "the scale-down threshold is below the scale-up target" involve two values that
//! may come from different layers. Each such rule is checked once per layer that set one of its
//! values: `defaults` (over the built-ins) first, then every stream (over `defaults`). A conflict
//! made entirely in `defaults` is therefore reported once, at `defaults`, not once per stream, and
//! a stream's conflict points at the stream's own value and names where the other one came from.

use std::collections::BTreeMap;

use planner::{Policy, Ratio, ScaleDown, ScaleUp, bounds};

use crate::Location;
use crate::layer::{Field, Layer, MAX_TAGS};
use crate::reader::Reporter;

/// Where an effective value comes from, seen from the layer being checked.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// The layer being checked set it, here.
    Own(Location),
    /// `defaults` set it (only seen while checking a stream).
    Defaults(Location),
    Builtin,
}

/// An effective value, or `None` when the value written was invalid (already reported).
#[derive(Debug, Clone, Copy)]
struct Value<T> {
    value: T,
    origin: Origin,
}

impl<T> Value<T> {
    /// Explains a value the reader cannot see in the lines being pointed at.
    fn note(&self) -> String {
        match self.origin {
            Origin::Own(_) => String::new(),
            Origin::Defaults(at) => format!(" (from defaults, line {})", at.line),
            Origin::Builtin => " (the built-in default)".to_owned(),
        }
    }
}

fn pick<T: Clone>(own: &Field<T>, inherited: &Field<T>, builtin: T) -> Option<Value<T>> {
    match (own, inherited) {
        (Field::Invalid, _) | (Field::Absent, Field::Invalid) => None,
        (Field::Set(value, at), _) => Some(Value { value: value.clone(), origin: Origin::Own(*at) }),
        (Field::Absent, Field::Set(value, at)) => {
            Some(Value { value: value.clone(), origin: Origin::Defaults(*at) })
        }
        (Field::Absent, Field::Absent) => Some(Value { value: builtin, origin: Origin::Builtin }),
    }
}

/// Every setting of one layer after merging, in the file's units.
pub(crate) struct Effective {
    min_shards: Option<Value<u32>>,
    max_shards: Option<Value<u32>>,
    /// `Some(None)`: not written anywhere; an existing stream keeps its retention.
    retention_hours: Option<Value<Option<u32>>>,
    region: Option<Value<Option<String>>>,
    deletion_protection: Option<Value<bool>>,
    shard_level_metrics: Option<Value<bool>>,
    paused: Option<Value<bool>>,
    up_threshold: Option<Value<f64>>,
    up_target: Option<Value<f64>>,
    up_period_seconds: Option<Value<u32>>,
    up_evaluation_periods: Option<Value<u32>>,
    up_cooldown_minutes: Option<Value<u32>>,
    up_throttle_alarm: Option<Value<bool>>,
    up_throttle_bypasses_cooldown: Option<Value<bool>>,
    up_read_throttle_alarm: Option<Value<bool>>,
    up_predictive: Option<Value<Option<planner::Predictive>>>,
    down_threshold: Option<Value<f64>>,
    down_period_minutes: Option<Value<u32>>,
    down_lookback_hours: Option<Value<u32>>,
    down_max_iterator_age_seconds: Option<Value<Option<u32>>>,
    /// `None` if either layer's tags were unreadable.
    tags: Option<BTreeMap<String, String>>,
}

impl Effective {
    /// `own` over `inherited` over [`Policy::default`].
    pub fn merge(own: &Layer, inherited: &Layer) -> Effective {
        let builtin = Policy::default();
        let (up, down) = (&own.scale_up, &own.scale_down);
        let (parent_up, parent_down) = (&inherited.scale_up, &inherited.scale_down);
        // Settings with no built-in value: absent everywhere means "leave it to AWS".
        fn optional<T: Clone>(field: &Field<T>) -> Field<Option<T>> {
            match field {
                Field::Absent => Field::Absent,
                Field::Invalid => Field::Invalid,
                Field::Set(value, at) => Field::Set(Some(value.clone()), *at),
            }
        }
        let tags = match (&inherited.tags, &own.tags) {
            (Field::Invalid, _) | (_, Field::Invalid) => None,
            (parent, child) => {
                let mut merged = BTreeMap::new();
                for field in [parent, child] {
                    if let Field::Set(tags, _) = field {
                        merged.extend(tags.iter().map(|t| (t.key.clone(), t.value.clone())));
                    }
                }
                Some(merged)
            }
        };
        Effective {
            min_shards: pick(&own.min_shards, &inherited.min_shards, builtin.min_shards),
            max_shards: pick(&own.max_shards, &inherited.max_shards, builtin.max_shards),
            retention_hours: pick(
                &optional(&own.retention_hours),
                &optional(&inherited.retention_hours),
                None,
            ),
            region: pick(&optional(&own.region), &optional(&inherited.region), None),
            deletion_protection: pick(&own.deletion_protection, &inherited.deletion_protection, true),
            shard_level_metrics: pick(
                &own.shard_level_metrics,
                &inherited.shard_level_metrics,
                builtin.shard_level_metrics,
            ),
            paused: pick(&own.paused, &inherited.paused, builtin.paused),
            up_threshold: pick(
                &up.threshold_percent,
                &parent_up.threshold_percent,
                builtin.scale_up.threshold.percent(),
            ),
            up_target: pick(&up.target_percent, &parent_up.target_percent, builtin.scale_up.target.percent()),
            up_period_seconds: pick(
                &up.period_seconds,
                &parent_up.period_seconds,
                builtin.scale_up.period_secs,
            ),
            up_evaluation_periods: pick(
                &up.evaluation_periods,
                &parent_up.evaluation_periods,
                builtin.scale_up.evaluation_periods,
            ),
            up_cooldown_minutes: pick(
                &up.cooldown_minutes,
                &parent_up.cooldown_minutes,
                builtin.scale_up.cooldown_secs / 60,
            ),
            up_throttle_alarm: pick(
                &up.throttle_alarm,
                &parent_up.throttle_alarm,
                builtin.scale_up.throttle_alarm,
            ),
            up_throttle_bypasses_cooldown: pick(
                &up.throttle_bypasses_cooldown,
                &parent_up.throttle_bypasses_cooldown,
                builtin.scale_up.throttle_bypasses_cooldown,
            ),
            up_read_throttle_alarm: pick(
                &up.read_throttle_alarm,
                &parent_up.read_throttle_alarm,
                builtin.scale_up.read_throttle_alarm,
            ),
            up_predictive: pick(&up.predictive, &parent_up.predictive, builtin.scale_up.predictive),
            down_threshold: pick(
                &down.threshold_percent,
                &parent_down.threshold_percent,
                builtin.scale_down.threshold.percent(),
            ),
            down_period_minutes: pick(
                &down.period_minutes,
                &parent_down.period_minutes,
                builtin.scale_down.period_secs / 60,
            ),
            down_lookback_hours: pick(
                &down.lookback_hours,
                &parent_down.lookback_hours,
                builtin.scale_down.lookback_secs / 3600,
            ),
            down_max_iterator_age_seconds: pick(
                &down.max_iterator_age_seconds,
                &parent_down.max_iterator_age_seconds,
                builtin.scale_down.max_iterator_age_secs,
            ),
            tags,
        }
    }

    /// Reports every rule broken between settings, at a value the checked layer set; a rule whose
    /// values all come from elsewhere was reported there.
    pub fn check(&self, report: &mut Reporter, own_tags: &Field<Vec<crate::layer::Tag>>) {
        conflict(
            report,
            &self.min_shards,
            &self.max_shards,
            |min, max| !bounds::shards_ordered(min, max),
            |min, max| {
                format!(
                    "minShards {}{} is greater than maxShards {}{}",
                    min.value,
                    min.note(),
                    max.value,
                    max.note()
                )
            },
        );
        conflict(
            report,
            &self.up_target,
            &self.up_threshold,
            |target, threshold| !bounds::target_below_threshold(target, threshold),
            |target, threshold| {
                format!(
                    "scaleUp.targetPercent {}{} must be below scaleUp.thresholdPercent {}{}, or scaling up would leave the load at the alarm threshold",
                    target.value,
                    target.note(),
                    threshold.value,
                    threshold.note()
                )
            },
        );
        conflict(
            report,
            &self.down_threshold,
            &self.up_target,
            |down, target| !bounds::down_below_target(down, target),
            |down, target| {
                format!(
                    "scaleDown.thresholdPercent {}{} must be below scaleUp.targetPercent {}{}, or a merged stream could be split again at once",
                    down.value,
                    down.note(),
                    target.value,
                    target.note()
                )
            },
        );
        conflict(
            report,
            &self.up_evaluation_periods,
            &self.up_period_seconds,
            |periods, seconds| !bounds::alarm_span_fits(periods, seconds),
            |periods, seconds| {
                format!(
                    "scaleUp.evaluationPeriods {}{} times periodSeconds {}{} is {} seconds; a CloudWatch alarm evaluates at most one day (86400 seconds)",
                    periods.value,
                    periods.note(),
                    seconds.value,
                    seconds.note(),
                    u64::from(periods.value) * u64::from(seconds.value)
                )
            },
        );
        if let (Field::Set(_, at), Some(tags)) = (own_tags, &self.tags)
            && tags.len() > MAX_TAGS
        {
            report.at(
                *at,
                format!(
                    "tags: {} tags after merging with defaults; at most {MAX_TAGS} are allowed (Kinesis allows 50 per stream and the tool keeps 4 for its own)",
                    tags.len()
                ),
            );
        }
    }

    /// `desiredShards` must lie within the stream's effective `minShards..=maxShards`.
    pub fn check_desired(&self, report: &mut Reporter, desired: u32, at: Location) {
        let desired = Some(Value { value: desired, origin: Origin::Own(at) });
        conflict(
            report,
            &desired,
            &self.min_shards,
            |desired, min| desired < min,
            |desired, min| {
                format!("desiredShards {} is below minShards {}{}", desired.value, min.value, min.note())
            },
        );
        conflict(
            report,
            &desired,
            &self.max_shards,
            |desired, max| desired > max,
            |desired, max| {
                format!("desiredShards {} is above maxShards {}{}", desired.value, max.value, max.note())
            },
        );
    }

    /// The planner's policy, if every setting is valid.
    pub fn policy(&self) -> Option<Policy> {
        let up = ScaleUp {
            threshold: Ratio::from_percent(self.up_threshold?.value)?,
            target: Ratio::from_percent(self.up_target?.value)?,
            period_secs: self.up_period_seconds?.value,
            evaluation_periods: self.up_evaluation_periods?.value,
            cooldown_secs: self.up_cooldown_minutes?.value * 60,
            throttle_alarm: self.up_throttle_alarm?.value,
            throttle_bypasses_cooldown: self.up_throttle_bypasses_cooldown?.value,
            read_throttle_alarm: self.up_read_throttle_alarm?.value,
            predictive: self.up_predictive?.value,
        };
        let down = ScaleDown {
            threshold: Ratio::from_percent(self.down_threshold?.value)?,
            period_secs: self.down_period_minutes?.value * 60,
            lookback_secs: self.down_lookback_hours?.value * 3600,
            max_iterator_age_secs: self.down_max_iterator_age_seconds?.value,
        };
        Some(Policy {
            min_shards: self.min_shards?.value,
            max_shards: self.max_shards?.value,
            scale_up: up,
            scale_down: down,
            shard_level_metrics: self.shard_level_metrics?.value,
            paused: self.paused?.value,
        })
    }

    pub fn retention_hours(&self) -> Option<Option<u32>> {
        Some(self.retention_hours?.value)
    }

    pub fn region(&self) -> Option<Option<String>> {
        self.region.as_ref().map(|r| r.value.clone())
    }

    pub fn deletion_protection(&self) -> Option<bool> {
        Some(self.deletion_protection?.value)
    }

    pub fn tags(&self) -> Option<BTreeMap<String, String>> {
        self.tags.clone()
    }
}

/// Reports `message` when `broken`, at `first` if the checked layer set it, else at `second` if
/// it did; silent when either value is invalid or neither is the layer's own.
fn conflict<A: Copy, B: Copy>(
    report: &mut Reporter,
    first: &Option<Value<A>>,
    second: &Option<Value<B>>,
    broken: impl Fn(A, B) -> bool,
    message: impl Fn(Value<A>, Value<B>) -> String,
) {
    let (Some(first), Some(second)) = (*first, *second) else { return };
    if !broken(first.value, second.value) {
        return;
    }
    let at = match (first.origin, second.origin) {
        (Origin::Own(at), _) | (_, Origin::Own(at)) => at,
        _ => return,
    };
    report.at(at, message(first, second));
}
