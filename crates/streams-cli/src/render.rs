//! How a sync plan reads on a terminal: Terraform's symbols, grouped by stream.
//!
//! `+` create, `~` change (old → new), `-` delete, `=` nothing to do. The shard count is printed as
//! *observed*: it belongs to the autoscaler, so it is never shown as drift.

use std::fmt::Write;

use planner::{Change, Disposition, KeepReason, StreamPlan, SyncPlan};

/// Counts for the summary line.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) create: usize,
    pub(crate) change: usize,
    pub(crate) delete: usize,
    pub(crate) unchanged: usize,
    /// Changes that delete records (retention decreases, stream deletions).
    pub(crate) destructive: usize,
}

/// Renders one region's plan. With `only_changes`, streams with nothing to do are left out
/// (`streams diff`).
pub(crate) fn plan(out: &mut String, region: &str, plan: &SyncPlan, only_changes: bool, totals: &mut Totals) {
    let _ = writeln!(out, "region {region}");
    for stream in &plan.streams {
        if stream.changes.is_empty() {
            totals.unchanged += 1;
            if !only_changes {
                let _ = writeln!(out, "  = {}  ({}): no changes", stream.name, observed(stream));
            }
            continue;
        }
        if stream.observed.is_none() {
            totals.create += 1;
            let _ = writeln!(out, "  + {}  (new stream)", stream.name);
        } else {
            totals.change += 1;
            let _ = writeln!(out, "  ~ {}  ({})", stream.name, observed(stream));
        }
        for change in &stream.changes {
            change_line(out, change);
        }
    }
    totals.destructive += plan.destructive().len();
    let mut others: Vec<&str> = Vec::new();
    for u in &plan.unlisted {
        let name = &u.name;
        let _ = match &u.disposition {
            Disposition::Delete => {
                totals.delete += 1;
                writeln!(
                    out,
                    "  - {name}  (not in the file; --prune, this file's owner, deletion protection off: \
                     deleted with {} alarm(s); DESTRUCTIVE: all its records are lost)",
                    u.alarms.len()
                )
            }
            // Another team's streams: one line for all of them, not one each.
            Disposition::Keep(KeepReason::OtherOwner { owner }) => {
                others.push(owner);
                Ok(())
            }
            Disposition::Keep(KeepReason::NoOwnerTag) => writeln!(
                out,
                "  ! {name}  has the tool's policy tag but no owner tag; kept: --prune deletes only streams \
                 this file created or adopted (list it in the file to adopt it)"
            ),
            Disposition::Keep(KeepReason::FileHasNoOwner) => writeln!(
                out,
                "  ! {name}  is managed but not in the file; kept: the file names no owner (set `owner:` \
                 to prune)"
            ),
            Disposition::Keep(KeepReason::DeletionProtection) => writeln!(
                out,
                "  ! {name}  is managed but not in the file; kept: deletion protection is on (set \
                 deletionProtection: false and apply, then remove it and apply --prune)"
            ),
            Disposition::Keep(KeepReason::NotPruning) => writeln!(
                out,
                "  ! {name}  is managed but not in the file; kept: run with --prune to delete it"
            ),
        };
    }
    if !others.is_empty() {
        let count = others.len();
        others.sort_unstable();
        others.dedup();
        let _ = writeln!(
            out,
            "  ({count} stream(s) owned by other files ({}) are not this file's: left alone)",
            others.join(", ")
        );
    }
    for name in &plan.orphan_alarms {
        totals.delete += 1;
        let _ = writeln!(out, "  - alarm {name}  (its stream no longer exists)");
    }
}

fn observed(stream: &StreamPlan) -> String {
    match &stream.observed {
        None => "new".into(),
        Some(o) => {
            let shards =
                o.open_shards.map_or("shards not listed yet".into(), |n| format!("{n} open shard(s)"));
            let adopting = if o.adopting { "; not managed yet: adopting it" } else { "" };
            let taking_over = match &o.taking_over_from {
                Some(owner) => format!("; owned by {owner:?}: this file takes it over"),
                None => String::new(),
            };
            format!("observed: {shards}, {}{adopting}{taking_over}", o.status)
        }
    }
}

/// One change as an indented line (two for alarm field changes).
pub(crate) fn change_line(out: &mut String, change: &Change) {
    let _ = match change {
        Change::CreateStream { shards } => {
            writeln!(out, "      + stream with {shards} shard(s), provisioned mode")
        }
        Change::Reshard { from, to, reason } => {
            writeln!(
                out,
                "      ~ shards: {from} → {to}  ({reason}; UpdateShardCount, at most 2× or ½ per call)"
            )
        }
        Change::Retention { from, to } if change.is_destructive() => writeln!(
            out,
            "      ~ retention: {from} → {to} hours  (DESTRUCTIVE: records older than {to} hours are deleted; \
             apply needs --allow-destructive)"
        ),
        Change::Retention { from, to } => writeln!(out, "      ~ retention: {from} → {to} hours"),
        Change::SetTag { key, from: None, to } => writeln!(out, "      + tag {key} = {to:?}"),
        Change::SetTag { key, from: Some(from), to } => writeln!(out, "      ~ tag {key}: {from:?} → {to:?}"),
        Change::RemoveTag { key, from } => writeln!(out, "      - tag {key} = {from:?}"),
        Change::CreateAlarm { spec } => writeln!(
            out,
            "      + alarm {}  ({} Sum {} {} per {}s)",
            spec.name,
            spec.metric.as_str(),
            symbol(spec.comparison),
            spec.threshold,
            spec.period_secs
        ),
        Change::UpdateAlarm { spec, fields } => {
            let _ = writeln!(out, "      ~ alarm {}", spec.name);
            for f in fields {
                let from = f.from.as_deref().unwrap_or("(unset)");
                let _ = writeln!(out, "          {}: {from:?} → {:?}", f.field, f.to);
            }
            Ok(())
        }
        Change::DeleteAlarm { name } => writeln!(out, "      - alarm {name}  (not wanted by streams.yaml)"),
        Change::ShardLevel { enable_metrics, alarms_found, alarms_wanted, .. } => {
            let enable = if enable_metrics.is_empty() {
                String::new()
            } else {
                format!("enable enhanced metrics {}; ", enable_metrics.join(", "))
            };
            writeln!(
                out,
                "      ~ shard-level monitoring: {enable}per-shard alarms {alarms_found} → {alarms_wanted}  \
                 (for the shards open when applied)"
            )
        }
    };
}

fn symbol(comparison: planner::Comparison) -> &'static str {
    match comparison {
        planner::Comparison::GreaterThanOrEqualToThreshold => ">=",
        planner::Comparison::GreaterThanThreshold => ">",
    }
}

pub(crate) fn summary(totals: &Totals) -> String {
    let destructive = match totals.destructive {
        0 => String::new(),
        n => format!(" {n} destructive change(s): apply needs --allow-destructive."),
    };
    format!(
        "Plan: {} to create, {} to change, {} to delete, {} unchanged.{destructive}",
        totals.create, totals.change, totals.delete, totals.unchanged
    )
}
