//! Config sync: what `streams apply` must change so AWS matches `streams.yaml`.
//!
//! Pure: it compares the desired streams with a snapshot of what exists and returns a complete,
//! explained [`SyncPlan`]. Field ownership is built in, so users never have to tell the tool what
//! to ignore (as Terraform users must with `ignore_changes`):
//!
//! * the live open shard count and hash ranges belong to the autoscaler. They are *observed*, not
//!   drift; only a count outside `[minShards, maxShards]` is brought back to the nearest bound;
//! * alarm thresholds follow the live count (through [`alarm_specs`], the one definition);
//! * tags under [`STATE_TAG_PREFIX`] are the Lambdas' run-time state, and `aws:` tags are AWS's;
//! * per-shard alarms (with a `ShardId` dimension) follow the shards the autoscaler makes, so
//!   only their number is planned ([`Change::ShardLevel`]); each shard's alarm is written or
//!   deleted when applied, by the code the Lambdas use after every reshard.
//!
//! Everything else the tool writes it owns outright, as Terraform owns a resource's arguments:
//! tags not in the file are removed, alarms under the tool's prefix that no stream wants are
//! deleted. Streams absent from the file are only ever reported, unless `prune` is asked for, the
//! stream carries this file's owner id, *and* its own deletion-protection tag (written from the
//! file earlier) is off.
//!
//! Changes that delete records (a retention decrease, a stream deletion) are marked destructive
//! ([`Change::is_destructive`], [`UnlistedStream::deletes`]); the plan states it, and the apply
//! refuses them unless its command line allows them. A file that omits `retentionHours` keeps an
//! existing stream's retention: adopting a stream never shortens it by default.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::tags::{DELETION_PROTECTION_TAG, OWNER_TAG, OwnerId, POLICY_TAG, STATE_TAG_PREFIX, managed_tags};
use crate::{AlarmSpec, Policy, SHARD_METRICS, ShardId, StreamStatus, alarm_specs, shard_alarm_specs};

/// Retention Kinesis gives a new stream (hours).
pub const DEFAULT_RETENTION_HOURS: u32 = 24;

/// One stream as `streams.yaml` wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredStream {
    pub name: String,
    /// Shards to create the stream with; an existing stream's count is the autoscaler's.
    pub desired_shards: u32,
    /// `None`: keep what the stream has (a new stream gets Kinesis's [`DEFAULT_RETENTION_HOURS`]).
    pub retention_hours: Option<u32>,
    /// The user's tags (the tool adds its own).
    pub tags: BTreeMap<String, String>,
    pub policy: Policy,
    pub deletion_protection: bool,
}

/// One stream as it exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedStream {
    pub name: String,
    pub status: StreamStatus,
    /// `None` while Kinesis cannot list shards (`CREATING`, `DELETING`).
    pub open_shards: Option<u32>,
    pub retention_hours: u32,
    pub tags: BTreeMap<String, String>,
    /// Enhanced monitoring: the shard-level metrics Kinesis publishes for the stream.
    pub shard_level_metrics: BTreeSet<String>,
}

impl ObservedStream {
    /// Whether this tool manages the stream (it carries the policy tag).
    pub fn is_managed(&self) -> bool {
        self.tags.contains_key(POLICY_TAG)
    }
}

/// One CloudWatch alarm under [`crate::ALARM_NAME_PREFIX`], as it exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedAlarm {
    pub name: String,
    /// The `StreamName` dimension.
    pub stream: Option<String>,
    /// Has a `ShardId` dimension: a per-shard alarm, owned by the scale-up Lambda.
    pub per_shard: bool,
    /// What the alarm does, as read back.
    pub definition: AlarmDefinition,
}

/// An alarm's definition, field by field: what [`AlarmSpec`] writes and what `DescribeAlarms` reads
/// back (where any field may be missing), so a plan can say exactly which fields differ.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlarmDefinition {
    pub namespace: Option<String>,
    pub metric: Option<String>,
    pub statistic: Option<String>,
    pub period_secs: Option<u32>,
    pub evaluation_periods: Option<u32>,
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
    pub treat_missing_data: Option<String>,
    pub actions: Vec<String>,
    pub description: Option<String>,
}

impl AlarmDefinition {
    /// Every field under the name plans print, as text: the one list of an alarm's fields.
    fn fields(&self) -> [(&'static str, Option<String>); 11] {
        fn text(v: Option<impl ToString>) -> Option<String> {
            v.map(|v| v.to_string())
        }
        [
            ("namespace", self.namespace.clone()),
            ("metric", self.metric.clone()),
            ("statistic", self.statistic.clone()),
            ("period", text(self.period_secs)),
            ("evaluationPeriods", text(self.evaluation_periods)),
            ("datapointsToAlarm", text(self.datapoints_to_alarm)),
            ("threshold", text(self.threshold)),
            ("comparison", self.comparison.clone()),
            ("treatMissingData", self.treat_missing_data.clone()),
            ("actions", Some(self.actions.join(","))),
            ("description", self.description.clone()),
        ]
    }

    /// The fields that change when this definition is replaced by `wanted`, by field name.
    pub fn changes_to(&self, wanted: &AlarmDefinition) -> Vec<FieldChange> {
        let mut changes: Vec<FieldChange> = self
            .fields()
            .into_iter()
            .zip(wanted.fields())
            .filter(|((_, from), (_, to))| from != to)
            .map(|((field, from), (_, to))| FieldChange {
                field: field.to_owned(),
                from,
                to: to.unwrap_or_default(),
            })
            .collect();
        changes.sort_by(|a, b| a.field.cmp(&b.field));
        changes
    }
}

/// What exists in one account and region: the streams the file names or the tool manages, and
/// every alarm under the tool's prefix.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    pub streams: BTreeMap<String, ObservedStream>,
    pub alarms: Vec<ObservedAlarm>,
}

impl Observed {
    /// A short digest of the part of this state a plan for `names` depends on, so `apply
    /// PLANFILE` can refuse a plan made against a different world: the named streams and their
    /// alarms, the alarms it would delete as orphans, and with `prune` every managed stream. Other
    /// managed streams reshard and re-arm at any time; a saved plan for one stream must not go
    /// stale because the autoscaler scaled another. Per-shard alarms are the autoscaler's too.
    /// FNV-1a over the JSON of that part (maps sorted by key): stable across processes and
    /// versions, unlike `std`'s hasher or `Debug` output.
    pub fn fingerprint(&self, names: &[String], prune: bool) -> String {
        let relevant = |stream: &str| prune || names.iter().any(|n| n == stream);
        let streams: Vec<&ObservedStream> = self.streams.values().filter(|s| relevant(&s.name)).collect();
        let mut alarms: Vec<&ObservedAlarm> = self
            .alarms
            .iter()
            .filter(|a| !a.per_shard)
            .filter(|a| a.stream.as_deref().is_none_or(|s| relevant(s) || !self.streams.contains_key(s)))
            .collect();
        alarms.sort_by(|a, b| a.name.cmp(&b.name));
        let text = serde_json::to_vec(&(streams, alarms)).expect("observed state serialises");
        let hash = text
            .iter()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
        format!("{hash:016x}")
    }
}

impl AlarmSpec {
    /// What this spec writes, in the form [`ObservedAlarm::definition`] is read back in.
    pub fn definition(&self) -> AlarmDefinition {
        AlarmDefinition {
            namespace: Some(AlarmSpec::NAMESPACE.to_owned()),
            metric: Some(self.metric.as_str().to_owned()),
            statistic: Some(AlarmSpec::STATISTIC.to_owned()),
            period_secs: Some(self.period_secs),
            evaluation_periods: Some(self.evaluation_periods),
            datapoints_to_alarm: Some(self.datapoints_to_alarm),
            threshold: Some(self.threshold),
            comparison: Some(self.comparison.as_str().to_owned()),
            treat_missing_data: Some(AlarmSpec::TREAT_MISSING_DATA.to_owned()),
            actions: self.alarm_actions.clone(),
            description: Some(self.description.clone()),
        }
    }
}

/// Everything `streams apply` would do, stream by stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncPlan {
    pub streams: Vec<StreamPlan>,
    /// Managed streams that are no longer in the file.
    pub unlisted: Vec<UnlistedStream>,
    /// Alarms under the tool's prefix whose stream no longer exists.
    pub orphan_alarms: Vec<String>,
}

impl SyncPlan {
    pub fn has_changes(&self) -> bool {
        self.streams.iter().any(|s| !s.changes.is_empty())
            || self.unlisted.iter().any(UnlistedStream::deletes)
            || !self.orphan_alarms.is_empty()
    }

    /// Every change that deletes records, as `(stream, what)`, derived from the changes themselves
    /// (never from a flag a saved plan carries, which anyone can edit).
    pub fn destructive(&self) -> Vec<(String, String)> {
        let changes = self.streams.iter().flat_map(|s| {
            s.changes.iter().filter_map(|c| match c {
                Change::Retention { from, to } if c.is_destructive() => Some((
                    s.name.clone(),
                    format!("retention {from} → {to} hours deletes the records older than {to} hours"),
                )),
                _ => None,
            })
        });
        let deletions = self
            .unlisted
            .iter()
            .filter(|u| u.deletes())
            .map(|u| (u.name.clone(), "deleting the stream deletes all its records".to_owned()));
        changes.chain(deletions).collect()
    }
}

/// The changes for one stream of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamPlan {
    pub name: String,
    /// What exists now (`None`: the stream will be created). The shard count is shown as
    /// observed, never as drift.
    pub observed: Option<ObservedSummary>,
    #[serde(serialize_with = "changes_with_destructive_flag")]
    pub changes: Vec<Change>,
}

/// Each change with a `destructive` flag beside its fields, for readers of the JSON plan. Only
/// written: a saved plan's flags are ignored when read back, and [`Change::is_destructive`] decides.
fn changes_with_destructive_flag<S: serde::Serializer>(
    changes: &[Change],
    out: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Flagged<'a> {
        #[serde(flatten)]
        change: &'a Change,
        destructive: bool,
    }
    out.collect_seq(changes.iter().map(|change| Flagged { change, destructive: change.is_destructive() }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedSummary {
    pub status: StreamStatus,
    pub open_shards: Option<u32>,
    /// The file names a stream that exists but was not managed yet: apply adopts it.
    pub adopting: bool,
    /// The stream carries another file's owner id: this file takes it over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taking_over_from: Option<String>,
}

/// One change, exact enough to execute without further choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    CreateStream {
        shards: u32,
    },
    /// The live count is outside `[minShards, maxShards]`: bring it to the nearest bound.
    Reshard {
        from: u32,
        to: u32,
        reason: String,
    },
    Retention {
        from: u32,
        to: u32,
    },
    SetTag {
        key: String,
        from: Option<String>,
        to: String,
    },
    RemoveTag {
        key: String,
        from: String,
    },
    CreateAlarm {
        spec: AlarmSpec,
    },
    UpdateAlarm {
        spec: AlarmSpec,
        fields: Vec<FieldChange>,
    },
    DeleteAlarm {
        name: String,
    },
    /// Shard-level monitoring does not match the policy: turn on enhanced metrics and write or
    /// delete per-shard alarms for the shards that exist when it runs (they are the autoscaler's,
    /// so only their count is planned; see `reconciler::converge_shard_level`).
    ShardLevel {
        enable_metrics: Vec<String>,
        alarms_found: u32,
        alarms_wanted: u32,
        alarm_actions: Vec<String>,
    },
}

impl Change {
    /// Whether applying it deletes records: a retention decrease drops everything older than the
    /// new period at once.
    pub fn is_destructive(&self) -> bool {
        matches!(self, Change::Retention { from, to } if to < from)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: String,
}

/// A managed stream absent from the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnlistedStream {
    pub name: String,
    /// Its owner tag: the file that created or adopted it, if any did.
    pub owner: Option<String>,
    pub deletion_protection: bool,
    pub disposition: Disposition,
    /// Its alarms, deleted with it.
    pub alarms: Vec<String>,
}

impl UnlistedStream {
    /// Deleted by this apply, with its alarms.
    pub fn deletes(&self) -> bool {
        self.disposition == Disposition::Delete
    }
}

/// What the apply does with a managed stream absent from the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "reason", rename_all = "snake_case")]
pub enum Disposition {
    /// `--prune`, this file's owner id, protection off: deleted (destructive).
    Delete,
    Keep(KeepReason),
}

/// Why a managed stream absent from the file is kept, most fundamental reason first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeepReason {
    /// Another file created or adopted it.
    OtherOwner { owner: String },
    /// It has no owner tag: tagged by hand, or last applied before owner ids existed.
    NoOwnerTag,
    /// The file names no `owner`, so no stream is provably its own.
    FileHasNoOwner,
    /// Its deletion-protection tag is on (or missing).
    DeletionProtection,
    /// `--prune` was not asked for.
    NotPruning,
}

/// The inputs of one sync decision.
#[derive(Debug, Clone, Copy)]
pub struct SyncInput<'a> {
    pub desired: &'a [DesiredStream],
    pub observed: &'a Observed,
    /// The SNS topic(s) the alarms notify.
    pub alarm_actions: &'a [String],
    /// The file's `owner`: written on its streams, and the only streams `prune` may delete.
    pub owner: Option<&'a OwnerId>,
    /// `--prune`: delete streams of this owner absent from the file whose protection is off.
    pub prune: bool,
}

/// Decides what `streams apply` must change. Pure: the same input always yields the same plan.
pub fn plan_sync(input: SyncInput<'_>) -> SyncPlan {
    let SyncInput { desired, observed, alarm_actions, owner, prune } = input;
    let mut alarms_by_stream: BTreeMap<&str, Vec<&ObservedAlarm>> = BTreeMap::new();
    let mut orphan_alarms = Vec::new();
    let mut shard_alarms: BTreeMap<&str, Vec<&ObservedAlarm>> = BTreeMap::new();
    for alarm in observed.alarms.iter().filter(|a| a.per_shard) {
        if let Some(stream) = alarm.stream.as_deref() {
            shard_alarms.entry(stream).or_default().push(alarm);
        }
    }
    for alarm in observed.alarms.iter().filter(|a| !a.per_shard) {
        match alarm.stream.as_deref() {
            Some(stream) => alarms_by_stream.entry(stream).or_default().push(alarm),
            // An alarm under our prefix with no stream dimension is ours and matches nothing.
            None => orphan_alarms.push(alarm.name.clone()),
        }
    }
    let streams = desired
        .iter()
        .map(|d| {
            let live_alarms = alarms_by_stream.get(d.name.as_str()).map(Vec::as_slice).unwrap_or_default();
            let live_shard_alarms = shard_alarms.get(d.name.as_str()).map(Vec::as_slice).unwrap_or_default();
            let mut plan = plan_stream(d, observed.streams.get(&d.name), live_alarms, alarm_actions, owner);
            let live = observed.streams.get(&d.name);
            let shards = plan_shards(&plan).or(live.and_then(|l| l.open_shards)).unwrap_or(d.desired_shards);
            plan.changes.extend(plan_shard_level(d, live, shards, live_shard_alarms, alarm_actions));
            plan
        })
        .collect();
    let listed: BTreeSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
    let unlisted: Vec<UnlistedStream> = observed
        .streams
        .values()
        .filter(|s| s.is_managed() && !listed.contains(s.name.as_str()))
        .map(|s| {
            let deletion_protection = s.tags.get(DELETION_PROTECTION_TAG).map(String::as_str) != Some("off");
            let stream_owner = s.tags.get(OWNER_TAG).cloned();
            let disposition = match (&stream_owner, owner) {
                (Some(theirs), Some(ours)) if theirs != ours.as_str() => {
                    Disposition::Keep(KeepReason::OtherOwner { owner: theirs.clone() })
                }
                (None, _) => Disposition::Keep(KeepReason::NoOwnerTag),
                (Some(_), None) => Disposition::Keep(KeepReason::FileHasNoOwner),
                (Some(_), Some(_)) if deletion_protection => {
                    Disposition::Keep(KeepReason::DeletionProtection)
                }
                (Some(_), Some(_)) if !prune => Disposition::Keep(KeepReason::NotPruning),
                (Some(_), Some(_)) => Disposition::Delete,
            };
            let stream = s.name.as_str();
            let alarms = [&alarms_by_stream, &shard_alarms]
                .into_iter()
                .filter_map(|by_stream| by_stream.get(stream))
                .flatten()
                .map(|a| a.name.clone())
                .collect();
            UnlistedStream {
                name: s.name.clone(),
                owner: stream_owner,
                deletion_protection,
                disposition,
                alarms,
            }
        })
        .collect();
    for (stream, alarms) in alarms_by_stream.iter().chain(&shard_alarms) {
        if !listed.contains(stream) && !observed.streams.contains_key(*stream) {
            orphan_alarms.extend(alarms.iter().map(|a| a.name.clone()));
        }
    }
    orphan_alarms.sort();
    SyncPlan { streams, unlisted, orphan_alarms }
}

/// The open shard count once `plan` is applied, where the plan decides it.
fn plan_shards(plan: &StreamPlan) -> Option<u32> {
    plan.changes.iter().find_map(|c| match c {
        Change::CreateStream { shards } => Some(*shards),
        Change::Reshard { to, .. } => Some(*to),
        _ => None,
    })
}

/// Whether the stream's shard-level monitoring matches the policy: enhanced metrics on, and one
/// up-to-date alarm per metric and open shard (none when the policy has it off).
fn plan_shard_level(
    d: &DesiredStream,
    live: Option<&ObservedStream>,
    shards: u32,
    live_alarms: &[&ObservedAlarm],
    alarm_actions: &[String],
) -> Option<Change> {
    let on = d.policy.shard_level_metrics;
    let enable_metrics: Vec<String> = SHARD_METRICS
        .iter()
        .map(|m| m.as_str().to_owned())
        .filter(|m| on && !live.is_some_and(|l| l.shard_level_metrics.contains(m)))
        .collect();
    let alarms_wanted = if on { SHARD_METRICS.len() as u32 * shards } else { 0 };
    let alarms_found = live_alarms.len() as u32;
    // Any one shard's specs carry every field but the name and description.
    let template = shard_alarm_specs(&d.name, &[ShardId::new("shardId-0")], &d.policy, alarm_actions);
    let current = |a: &ObservedAlarm| {
        template
            .iter()
            .any(|t| a.definition.changes_to(&t.definition()).iter().all(|c| c.field == "description"))
    };
    let outdated = live_alarms.iter().any(|a| !current(a));
    (!enable_metrics.is_empty() || alarms_found != alarms_wanted || outdated).then(|| Change::ShardLevel {
        enable_metrics,
        alarms_found,
        alarms_wanted,
        alarm_actions: alarm_actions.to_vec(),
    })
}

fn plan_stream(
    d: &DesiredStream,
    live: Option<&ObservedStream>,
    live_alarms: &[&ObservedAlarm],
    alarm_actions: &[String],
    owner: Option<&OwnerId>,
) -> StreamPlan {
    let mut changes = Vec::new();
    let (policy, name) = (&d.policy, d.name.as_str());
    let (retention, tags, shards) = match live {
        None => {
            changes.push(Change::CreateStream { shards: d.desired_shards });
            (DEFAULT_RETENTION_HOURS, BTreeMap::new(), d.desired_shards)
        }
        Some(live) => {
            let open = live.open_shards.unwrap_or(d.desired_shards);
            let bounded = open.clamp(policy.min_shards, policy.max_shards);
            if bounded != open {
                let reason = if open < policy.min_shards {
                    format!("below minShards ({})", policy.min_shards)
                } else {
                    format!("above maxShards ({})", policy.max_shards)
                };
                changes.push(Change::Reshard { from: open, to: bounded, reason });
            }
            (live.retention_hours, live.tags.clone(), bounded)
        }
    };
    if let Some(to) = d.retention_hours.filter(|to| *to != retention) {
        changes.push(Change::Retention { from: retention, to });
    }
    let mut want = d.tags.clone();
    want.extend(managed_tags(policy, d.deletion_protection, owner));
    for (key, to) in &want {
        if tags.get(key) != Some(to) {
            changes.push(Change::SetTag { key: key.clone(), from: tags.get(key).cloned(), to: to.clone() });
        }
    }
    for (key, from) in &tags {
        let foreign = key.starts_with("aws:") || key.starts_with(STATE_TAG_PREFIX);
        if !foreign && !want.contains_key(key) {
            changes.push(Change::RemoveTag { key: key.clone(), from: from.clone() });
        }
    }
    let specs = alarm_specs(name, shards, policy, alarm_actions);
    for spec in &specs {
        match live_alarms.iter().find(|a| a.name == spec.name) {
            None => changes.push(Change::CreateAlarm { spec: spec.clone() }),
            Some(alarm) => {
                let fields = alarm.definition.changes_to(&spec.definition());
                if !fields.is_empty() {
                    changes.push(Change::UpdateAlarm { spec: spec.clone(), fields });
                }
            }
        }
    }
    for alarm in live_alarms {
        if !specs.iter().any(|s| s.name == alarm.name) {
            changes.push(Change::DeleteAlarm { name: alarm.name.clone() });
        }
    }
    let observed = live.map(|l| ObservedSummary {
        status: l.status,
        open_shards: l.open_shards,
        adopting: !l.is_managed(),
        taking_over_from: l
            .tags
            .get(OWNER_TAG)
            .filter(|o| owner.is_none_or(|ours| ours.as_str() != o.as_str()))
            .cloned(),
    });
    StreamPlan { name: d.name.clone(), observed, changes }
}
