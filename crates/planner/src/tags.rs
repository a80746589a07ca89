//! The tags this tool writes on a stream, and the scaling policy encoded in one of them.
//!
//! Stream tags carry each stream's policy so the Lambdas read it from AWS and need no redeploy
//! when `streams.yaml` changes. Kinesis tag keys and values allow only letters, digits, white
//! space and `_ . / = + - % @` (no `:`, no quotes or braces), so the policy is a short line of
//! `key=value` words rather than JSON, versioned by its first word.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    DEFAULT_MAX_ITERATOR_AGE_SECS, PlannerError, Policy, Predictive, Ratio, ScaleDown, ScaleUp, Windows,
};

/// Every tag key this tool writes starts with this.
pub const TAG_PREFIX: &str = "kinesis-autoscaler/";
/// The stream's scaling policy; its presence marks the stream as managed by this tool.
pub const POLICY_TAG: &str = "kinesis-autoscaler/policy";
/// `on` or `off`: whether `streams apply --prune` may delete the stream once it leaves the file.
pub const DELETION_PROTECTION_TAG: &str = "kinesis-autoscaler/deletion-protection";
/// The owner id of the `streams.yaml` that created or adopted the stream: `streams apply --prune`
/// deletes only streams carrying its own file's id, so two files in one account (two teams), or a
/// policy tag added by hand, never make one file's CI delete a stream it never declared.
pub const OWNER_TAG: &str = "kinesis-autoscaler/owner";
/// Tags under this prefix are written by the Lambdas at run time (last scaling, cooldown) and
/// belong to the autoscaler: the CLI never treats them as drift.
pub const STATE_TAG_PREFIX: &str = "kinesis-autoscaler/state-";

/// Whether Kinesis accepts `s` as a tag key or value character-wise.
pub fn is_valid_tag_text(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_./=+-%@".contains(c))
}

/// The tool's own tags for a stream with this policy, declared by a file with this owner id.
pub fn managed_tags(
    policy: &Policy,
    deletion_protection: bool,
    owner: Option<&OwnerId>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (POLICY_TAG.to_owned(), encode_policy(policy)),
        (DELETION_PROTECTION_TAG.to_owned(), if deletion_protection { "on" } else { "off" }.to_owned()),
    ]);
    if let Some(owner) = owner {
        tags.insert(OWNER_TAG.to_owned(), owner.as_str().to_owned());
    }
    tags
}

/// The short id a `streams.yaml` names itself by (`owner:`), written on every stream it creates or
/// adopts ([`OWNER_TAG`]). Checked once, here, so a value that would not survive as a tag value, or
/// that could not be told apart from another at a glance, never reaches AWS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OwnerId(String);

impl OwnerId {
    pub const MAX_LEN: usize = 32;
    /// What [`OwnerId::new`] accepts, worded for error messages.
    pub const RULE: &'static str = "1 to 32 characters of lowercase letters, digits and '-', starting with a \
         letter or digit (for example \"team-data\")";

    pub fn new(id: impl Into<String>) -> Result<OwnerId, &'static str> {
        let id = id.into();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        let ok = (1..=Self::MAX_LEN).contains(&id.len()) && id.chars().all(allowed) && !id.starts_with('-');
        if ok { Ok(OwnerId(id)) } else { Err(Self::RULE) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OwnerId {
    type Error = &'static str;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        OwnerId::new(id)
    }
}

impl From<OwnerId> for String {
    fn from(id: OwnerId) -> String {
        id.0
    }
}

impl std::fmt::Display for OwnerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `v1 min=2 max=32 up=75 target=60 period=60 evals=1 cooldown=300 throttle=on bypass=on down=50
/// downperiod=300 lookback=86400 shards=off paused=off maxage=600 readthrottle=off predict=off` (about
/// 180 characters, under 230 with every field at its widest; the limit is 256). `maxage=off` turns
/// the iterator-age guard off; `predict=14/15` is a predictive look-back of 14 days and a lead of 15
/// minutes.
pub fn encode_policy(p: &Policy) -> String {
    let on = |b: bool| if b { "on" } else { "off" };
    let (up, down) = (&p.scale_up, &p.scale_down);
    let max_age = down.max_iterator_age_secs.map_or_else(|| "off".to_owned(), |secs| secs.to_string());
    let predict =
        up.predictive.map_or_else(|| "off".to_owned(), |p| format!("{}/{}", p.lookback_days, p.lead_minutes));
    format!(
        "v1 min={} max={} up={} target={} period={} evals={} cooldown={} throttle={} bypass={} down={} \
         downperiod={} lookback={} shards={} paused={} maxage={max_age} readthrottle={} \
         predict={predict}",
        p.min_shards,
        p.max_shards,
        up.threshold.written_percent(),
        up.target.written_percent(),
        up.period_secs,
        up.evaluation_periods,
        up.cooldown_secs,
        on(up.throttle_alarm),
        on(up.throttle_bypasses_cooldown),
        down.threshold.written_percent(),
        down.period_secs,
        down.lookback_secs,
        on(p.shard_level_metrics),
        on(p.paused),
        on(up.read_throttle_alarm),
    )
}

/// Parses what [`encode_policy`] wrote. Strict: every field must be present and within the bounds
/// `streams.yaml` enforces ([`Policy::validate`]), so a tag edited by hand or by anyone allowed
/// `AddTagsToStream` is reported rather than half-applied. The exceptions are the fields added
/// later, which tags written before them on live streams lack: `shards=`, `paused=` and
/// `readthrottle=` and `predict=` mean `off`, and `maxage=` the default bound
/// ([`DEFAULT_MAX_ITERATOR_AGE_SECS`]), as a stream declared without it today gets.
pub fn decode_policy(text: &str) -> Result<Policy, PlannerError> {
    decode_policy_with(text, Windows::File)
}

/// [`decode_policy`], with the scale-down window held to `windows`.
pub fn decode_policy_with(text: &str, windows: Windows) -> Result<Policy, PlannerError> {
    let bad = |why: &str| PlannerError::InvalidPolicyTag { value: text.to_owned(), reason: why.to_owned() };
    let mut words = text.split_whitespace();
    if words.next() != Some("v1") {
        return Err(bad("it does not start with the version v1"));
    }
    let fields: BTreeMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
    let get = |k: &str| fields.get(k).copied().ok_or_else(|| bad(&format!("{k}= is missing")));
    let num = |k: &str| get(k)?.parse::<u32>().map_err(|_| bad(&format!("{k}= is not a whole number")));
    let pct = |k: &str| {
        get(k)?
            .parse::<f64>()
            .ok()
            .and_then(Ratio::from_percent)
            .ok_or_else(|| bad(&format!("{k}= is not a percentage")))
    };
    let flag = |k: &str| match get(k)? {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(bad(&format!("{k}= is neither on nor off"))),
    };
    let added_later = |k: &str| if fields.contains_key(k) { flag(k) } else { Ok(false) };
    let max_age = match fields.get("maxage").copied() {
        None => Some(DEFAULT_MAX_ITERATOR_AGE_SECS),
        Some("off") => None,
        Some(_) => Some(num("maxage")?),
    };
    let predictive = match fields.get("predict").copied() {
        None | Some("off") => None,
        Some(v) => {
            let (days, lead) =
                v.split_once('/').ok_or_else(|| bad("predict= is neither off nor DAYS/MINUTES"))?;
            let whole =
                |w: &str| w.parse::<u32>().map_err(|_| bad("predict= is neither off nor DAYS/MINUTES"));
            Some(Predictive { lookback_days: whole(days)?, lead_minutes: whole(lead)? })
        }
    };
    let policy = Policy {
        min_shards: num("min")?,
        max_shards: num("max")?,
        scale_up: ScaleUp {
            threshold: pct("up")?,
            target: pct("target")?,
            period_secs: num("period")?,
            evaluation_periods: num("evals")?,
            cooldown_secs: num("cooldown")?,
            throttle_alarm: flag("throttle")?,
            throttle_bypasses_cooldown: flag("bypass")?,
            read_throttle_alarm: added_later("readthrottle")?,
            predictive,
        },
        scale_down: ScaleDown {
            threshold: pct("down")?,
            period_secs: num("downperiod")?,
            lookback_secs: num("lookback")?,
            max_iterator_age_secs: max_age,
        },
        shard_level_metrics: added_later("shards")?,
        paused: added_later("paused")?,
    };
    policy.validate_with(windows).map_err(|why| bad(&why))?;
    Ok(policy)
}
