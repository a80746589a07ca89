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

/// The text plan of every region with the summary line, and the totals that line counts.
pub(crate) fn regions(regions: &[(&str, &SyncPlan)], only_changes: bool) -> (String, Totals) {
    let mut out = String::new();
    let mut totals = Totals::default();
    for (region, sync) in regions {
        plan(&mut out, region, sync, only_changes, &mut totals);
    }
    out.push_str(&summary(&totals));
    out.push('\n');
    (out, totals)
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
            let _ = writeln!(out, "  ~ {}  ({}{})", stream.name, observed(stream), pause_note(stream));
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

/// What a policy tag change does to the pause, for the stream's header: `paused=on` alone is easy
/// to miss at the end of a long tag line.
pub(crate) fn pause_note(stream: &StreamPlan) -> &'static str {
    let paused = |tag: &str| planner::decode_policy(tag).is_ok_and(|p| p.paused);
    let flip = stream.changes.iter().find_map(|c| match c {
        Change::SetTag { key, from, to } if key == planner::POLICY_TAG => {
            Some((from.as_deref().is_some_and(paused), paused(to)))
        }
        _ => None,
    });
    match flip {
        Some((false, true)) => "; pausing: the Lambdas will not reshard it",
        Some((true, false)) => "; resuming: the Lambdas scale it again",
        _ => "",
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
    format!("{}{destructive}", counts(totals))
}

/// The summary's counts alone: `Plan: 1 to create, 0 to change, 0 to delete, 2 unchanged.`
pub(crate) fn counts(totals: &Totals) -> String {
    format!(
        "Plan: {} to create, {} to change, {} to delete, {} unchanged.",
        totals.create, totals.change, totals.delete, totals.unchanged
    )
}

#[cfg(test)]
mod tests {
    use planner::{ObservedSummary, Policy, StreamStatus, encode_policy};

    use super::*;

    /// The header line of `orders` when its policy tag goes from `from` to `to`.
    fn header(from: Option<&Policy>, to: &Policy) -> String {
        let change = Change::SetTag {
            key: planner::POLICY_TAG.into(),
            from: from.map(encode_policy),
            to: encode_policy(to),
        };
        let observed = ObservedSummary {
            status: StreamStatus::Active,
            open_shards: Some(4),
            adopting: false,
            taking_over_from: None,
        };
        let stream = StreamPlan { name: "orders".into(), observed: Some(observed), changes: vec![change] };
        let sync = SyncPlan { streams: vec![stream], unlisted: vec![], orphan_alarms: vec![] };
        let mut out = String::new();
        plan(&mut out, "us-east-1", &sync, false, &mut Totals::default());
        out.lines().nth(1).unwrap_or_default().to_owned()
    }

    #[test]
    fn the_header_says_when_a_plan_pauses_or_resumes_a_stream() {
        let (running, paused) = (Policy::default(), Policy { paused: true, ..Policy::default() });
        assert!(
            header(Some(&running), &paused).ends_with("ACTIVE; pausing: the Lambdas will not reshard it)")
        );
        assert!(header(Some(&paused), &running).ends_with("ACTIVE; resuming: the Lambdas scale it again)"));
        let bigger = Policy { max_shards: 128, ..paused.clone() };
        assert!(header(Some(&paused), &bigger).ends_with("ACTIVE)"), "still paused: nothing to say");
    }
}
