//! `streams import`: a `streams.yaml` written from streams that already exist, so a brownfield
//! account adopts the tool with a plan that has nothing destructive in it.
//!
//! Every entry says what the stream *is*: its open shard count as `desiredShards`, its retention,
//! its user tags and region, and bounds that contain the live count, so the first `plan` adds only
//! the tool's tags and alarms. A stream the tool already manages keeps the policy its tag carries.
//!
//! Everything written is quoted where YAML could read it as something else: stream names such as
//! `true` or `1e3` are valid in Kinesis, and tag values come from anyone allowed to tag.

use std::collections::BTreeMap;
use std::fmt::Write;

use planner::{MAX_SHARDS_PER_STREAM, OwnerId, Policy, TAG_PREFIX};

/// One existing stream, as read from AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStream {
    pub name: String,
    pub region: String,
    pub open_shards: u32,
    pub retention_hours: u32,
    pub tags: BTreeMap<String, String>,
    /// The policy its tag carries, if the tool manages it and the tag is valid.
    pub policy: Option<Policy>,
    /// Its deletion-protection tag says `off`.
    pub unprotected: bool,
}

/// What to write at the top of the file.
#[derive(Debug, Clone, Default)]
pub struct ImportHeader {
    pub owner: Option<OwnerId>,
    pub alarm_topic_arn: Option<String>,
}

/// The bounds an imported stream gets when it carries no policy: the live count stays inside, the
/// autoscaler may merge down to half of it and split up to four times it (at least 4 shards).
/// Wide enough to scale, narrow enough that a first deployment cannot run away; review them.
pub fn bounds_around(open_shards: u32) -> (u32, u32) {
    let open = open_shards.clamp(1, MAX_SHARDS_PER_STREAM);
    let min = open.div_ceil(2);
    let max = open.saturating_mul(4).clamp(4, MAX_SHARDS_PER_STREAM).max(open);
    (min, max)
}

/// The file for `streams`, in the order given.
pub fn import_file(header: &ImportHeader, streams: &[LiveStream]) -> String {
    let mut out = String::new();
    let _ =
        writeln!(out, "# Written by `streams import` from the live state of {} stream(s).", streams.len());
    let _ = writeln!(out, "# Review the bounds (minShards, maxShards), then `streams plan`: it should show");
    let _ = writeln!(out, "# only the tool's tags and alarms to add.");
    let _ = writeln!(out, "version: 1");
    if let Some(owner) = &header.owner {
        let _ = writeln!(out, "owner: {}", quote(owner.as_str()));
    }
    if let Some(topic) = &header.alarm_topic_arn {
        let _ = writeln!(out, "alarmTopicArn: {}", quote(topic));
    }
    let _ = writeln!(out, "streams:");
    for stream in streams {
        entry(&mut out, stream);
    }
    out
}

fn entry(out: &mut String, s: &LiveStream) {
    let _ = writeln!(out, "  - name: {}", quote(&s.name));
    let _ = writeln!(out, "    desiredShards: {}", s.open_shards);
    let policy = s.policy.clone().unwrap_or_else(|| {
        let (min_shards, max_shards) = bounds_around(s.open_shards);
        Policy { min_shards, max_shards, ..Policy::default() }
    });
    // A live count outside its own policy (the policy was changed by hand) widens the bounds, so
    // importing never plans a reshard.
    let min = policy.min_shards.min(s.open_shards.max(1));
    let max = policy.max_shards.max(s.open_shards);
    let _ = writeln!(out, "    minShards: {min}");
    let _ = writeln!(out, "    maxShards: {max}");
    let _ = writeln!(out, "    retentionHours: {}", s.retention_hours);
    let _ = writeln!(out, "    region: {}", quote(&s.region));
    if s.unprotected {
        let _ = writeln!(out, "    deletionProtection: false");
    }
    policy_settings(out, &policy);
    let user_tags: Vec<(&String, &String)> =
        s.tags.iter().filter(|(k, _)| !k.starts_with("aws:") && !k.starts_with(TAG_PREFIX)).collect();
    if !user_tags.is_empty() {
        let _ = writeln!(out, "    tags:");
        for (key, value) in user_tags {
            let _ = writeln!(out, "      {}: {}", quote(key), quote(value));
        }
    }
}

/// The policy's settings that differ from the built-in defaults, in the file's units.
fn policy_settings(out: &mut String, p: &Policy) {
    let d = Policy::default();
    if p.shard_level_metrics != d.shard_level_metrics {
        let _ = writeln!(out, "    shardLevelMetrics: {}", p.shard_level_metrics);
    }
    if p.paused != d.paused {
        let _ = writeln!(out, "    paused: {}", p.paused);
    }
    let (up, du) = (&p.scale_up, &d.scale_up);
    let mut lines = Vec::new();
    if up.threshold != du.threshold {
        lines.push(format!("thresholdPercent: {}", up.threshold.written_percent()));
    }
    if up.target != du.target {
        lines.push(format!("targetPercent: {}", up.target.written_percent()));
    }
    if up.period_secs != du.period_secs {
        lines.push(format!("periodSeconds: {}", up.period_secs));
    }
    if up.evaluation_periods != du.evaluation_periods {
        lines.push(format!("evaluationPeriods: {}", up.evaluation_periods));
    }
    if up.cooldown_secs != du.cooldown_secs {
        lines.push(format!("cooldownMinutes: {}", up.cooldown_secs / 60));
    }
    if up.throttle_alarm != du.throttle_alarm {
        lines.push(format!("throttleAlarm: {}", up.throttle_alarm));
    }
    if up.throttle_bypasses_cooldown != du.throttle_bypasses_cooldown {
        lines.push(format!("throttleBypassesCooldown: {}", up.throttle_bypasses_cooldown));
    }
    if up.read_throttle_alarm != du.read_throttle_alarm {
        lines.push(format!("readThrottleAlarm: {}", up.read_throttle_alarm));
    }
    if up.predictive != du.predictive {
        lines.push(match up.predictive {
            Some(p) => {
                format!("predictive: {{lookbackDays: {}, leadMinutes: {}}}", p.lookback_days, p.lead_minutes)
            }
            None => format!("predictive: {}", crate::layer::GUARD_OFF),
        });
    }
    section(out, "scaleUp", &lines);
    let (down, dd) = (&p.scale_down, &d.scale_down);
    let mut lines = Vec::new();
    if down.threshold != dd.threshold {
        lines.push(format!("thresholdPercent: {}", down.threshold.written_percent()));
    }
    if down.period_secs != dd.period_secs {
        lines.push(format!("periodMinutes: {}", down.period_secs / 60));
    }
    if down.lookback_secs != dd.lookback_secs {
        lines.push(format!("lookbackHours: {}", down.lookback_secs / 3600));
    }
    if down.max_iterator_age_secs != dd.max_iterator_age_secs {
        let bound =
            down.max_iterator_age_secs.map_or_else(|| crate::layer::GUARD_OFF.to_owned(), |s| s.to_string());
        lines.push(format!("maxIteratorAgeSeconds: {bound}"));
    }
    section(out, "scaleDown", &lines);
}

fn section(out: &mut String, key: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "    {key}:");
    for line in lines {
        let _ = writeln!(out, "      {line}");
    }
}

/// A YAML double-quoted scalar: JSON's string escapes are a subset of YAML's, so any text,
/// control characters included, reads back as exactly itself and never as a number or boolean.
fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(name: &str, open_shards: u32) -> LiveStream {
        LiveStream {
            name: name.into(),
            region: "eu-west-1".into(),
            open_shards,
            retention_hours: 168,
            tags: BTreeMap::from([
                ("team".into(), "data".into()),
                ("cost-center".into(), "4711".into()),
                ("aws:cloudformation:stack-name".into(), "s".into()),
                (format!("{}last-scaled", planner::STATE_TAG_PREFIX), "1800000000".into()),
            ]),
            policy: None,
            unprotected: false,
        }
    }

    fn parse(text: &str) -> crate::Config {
        crate::parse("imported.yaml", text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn an_imported_file_reads_back_as_the_live_state_with_the_live_count_inside_its_bounds() {
        let header = ImportHeader {
            owner: Some(OwnerId::new("team-data").expect("valid")),
            alarm_topic_arn: Some("arn:aws:sns:eu-west-1:123456789012:alarms".into()),
        };
        let streams = [live("orders", 6), live("true", 1), live("1e3", 10_000)];
        let config = parse(&import_file(&header, &streams));
        assert_eq!(config.owner, header.owner);
        assert_eq!(config.alarm_topic_arn, header.alarm_topic_arn);
        let names: Vec<&str> = config.streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["orders", "true", "1e3"], "names YAML would read as other types stay names");
        for (spec, live) in config.streams.iter().zip(&streams) {
            assert_eq!(spec.desired_shards, live.open_shards);
            assert_eq!(spec.retention_hours, Some(168));
            assert_eq!(spec.region.as_deref(), Some("eu-west-1"));
            assert_eq!(
                spec.tags,
                BTreeMap::from([("cost-center".into(), "4711".into()), ("team".into(), "data".into())]),
                "user tags only, the number-like value still a string"
            );
            let (min, max) = (spec.policy.min_shards, spec.policy.max_shards);
            assert!(
                min <= live.open_shards && live.open_shards <= max,
                "{min} <= {} <= {max}",
                live.open_shards
            );
        }
    }

    #[test]
    fn a_managed_stream_keeps_the_policy_its_tag_carries_widened_to_hold_the_live_count() {
        let mut policy = Policy {
            min_shards: 2,
            max_shards: 8,
            shard_level_metrics: true,
            paused: true,
            ..Policy::default()
        };
        policy.scale_up.threshold = planner::Ratio::from_percent(62.5).expect("valid");
        policy.scale_up.cooldown_secs = 600;
        policy.scale_down.lookback_secs = 6 * 3600;
        policy.scale_up.predictive = Some(planner::Predictive { lookback_days: 21, lead_minutes: 30 });
        let mut stream = live("orders", 12);
        stream.policy = Some(policy.clone());
        stream.unprotected = true;
        let config = parse(&import_file(&ImportHeader::default(), &[stream]));
        let spec = &config.streams[0];
        assert_eq!(spec.policy, Policy { max_shards: 12, ..policy });
        assert!(!spec.deletion_protection);
    }

    #[test]
    fn bounds_hold_the_live_count_at_every_size() {
        for open in [0, 1, 2, 3, 7, 64, 2_500, 9_999, 10_000, u32::MAX] {
            let (min, max) = bounds_around(open);
            let held = open.clamp(1, MAX_SHARDS_PER_STREAM);
            assert!(
                1 <= min && min <= held && held <= max && max <= MAX_SHARDS_PER_STREAM,
                "{open}: {min}..{max}"
            );
        }
    }

    #[test]
    fn hostile_tag_text_reads_back_as_itself() {
        let mut stream = live("orders", 1);
        stream.tags = BTreeMap::from([("k: v".into(), "\"quoted\" # not a comment".into())]);
        let text = import_file(&ImportHeader::default(), &[stream]);
        // The validator rejects these characters (Kinesis does too), but the file is still YAML
        // that says exactly what the stream has: the diagnostics name the tag, not a parse error.
        let error = crate::parse("imported.yaml", &text).expect_err("characters Kinesis does not allow");
        assert!(error.to_string().contains("tags"), "{error}");
    }
}
