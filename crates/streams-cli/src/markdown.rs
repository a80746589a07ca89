//! `streams plan --output markdown`: the plan as a pull-request comment, the way Terraform users
//! get theirs from Atlantis or tfcmt.
//!
//! A summary line, a caution when anything deletes records, one table row per stream with
//! changes (destructive ones first, marked), and the full text plan folded in a `<details>`
//! section. GitHub refuses a comment body over 65,536 characters; the comment is kept within a
//! byte budget under that (bytes never undercount characters), and what does not fit is cut in
//! order of least use: first the end of the full text, then the last table rows. The summary, the
//! caution and the destructive rows come first, so a cut never hides a destructive change unless
//! thousands of them exceed the comment on their own, and every cut says what was left out.

use std::fmt::Write;

use planner::{Change, StreamPlan, SyncPlan};

use crate::render::{self, Totals};

/// Bytes a comment may take: GitHub's limit is 65,536 characters, and this leaves room for a
/// marker line the CI workflow adds to find its own comment again.
pub(crate) const COMMENT_BUDGET: usize = 65_000;

/// One table row: a stream with changes, a stream to delete, or an orphaned alarm.
struct Row {
    destructive: bool,
    line: String,
}

/// The comment for a plan over `regions`, whose text rendering is `full_text`, within `budget`
/// bytes.
pub(crate) fn comment(
    regions: &[(&str, &SyncPlan)],
    totals: &Totals,
    full_text: &str,
    budget: usize,
) -> String {
    let mut out = format!("### `streams plan`: {}\n\n", render::counts(totals));
    if totals.destructive > 0 {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **{} destructive change(s)**: they delete records. `streams apply` refuses the \
             plan unless it is given `--allow-destructive`.\n",
            totals.destructive
        );
    }
    let mut rows: Vec<Row> = regions.iter().flat_map(|(region, plan)| rows(region, plan)).collect();
    // Destructive first; otherwise the plan's own order (file order, then deletions).
    rows.sort_by_key(|r| !r.destructive);
    let cut = if rows.is_empty() {
        out.push_str("AWS matches the file: nothing to change.\n\n");
        false
    } else {
        table(&mut out, &rows, budget.saturating_sub(DETAILS_RESERVE))
    };
    details(&mut out, full_text, if cut { 0 } else { budget });
    out
}

/// Bytes the table leaves for the full-text section when it is cut: enough for its wrapper and
/// the note saying the text did not fit.
const DETAILS_RESERVE: usize = 400;

/// The rows that fit in `budget`; whether some were cut.
fn table(out: &mut String, rows: &[Row], budget: usize) -> bool {
    out.push_str("| | stream | region | changes |\n|:-:|---|---|---|\n");
    for (shown, row) in rows.iter().enumerate() {
        let cut = cut_row(rows.len() - shown);
        if out.len() + row.line.len() + cut.len() > budget {
            out.push_str(&cut);
            out.push('\n');
            return true;
        }
        out.push_str(&row.line);
    }
    out.push('\n');
    false
}

fn cut_row(left: usize) -> String {
    format!(
        "| ✂ | | | **{left} more row(s) cut here**: the comment would exceed GitHub's limit of 65,536 \
         characters. Run `streams plan` to see every change. |\n"
    )
}

/// The full text plan in a folded section, cut at a line when it does not fit in what is left of
/// `budget` (0 when the table was cut already: then only the note).
fn details(out: &mut String, full_text: &str, budget: usize) {
    let lines = full_text.lines().count();
    let fence = "`".repeat(longest_backtick_run(full_text).max(2) + 1);
    let head = format!("<details><summary>Full plan ({lines} lines)</summary>\n\n{fence}text\n");
    let tail = format!("{fence}\n\n</details>\n");
    let room = budget.saturating_sub(out.len() + head.len() + tail.len());
    if full_text.len() <= room {
        let _ = write!(out, "{head}{full_text}{tail}");
        return;
    }
    let note = |shown: usize| {
        format!(
            "\n✂ **Cut here**: {shown} of the full plan's {lines} lines fit in the comment (GitHub's limit \
             is 65,536 characters). Run `streams plan` to see all of it.\n"
        )
    };
    let room = budget.saturating_sub(out.len() + head.len() + tail.len() + note(lines).len());
    let mut kept = 0;
    let mut shown = 0;
    for line in full_text.split_inclusive('\n') {
        if kept + line.len() > room {
            break;
        }
        kept += line.len();
        shown += 1;
    }
    if shown == 0 {
        out.push_str(note(0).trim_start());
        return;
    }
    let _ = write!(out, "{head}{}{tail}{}", &full_text[..kept], note(shown));
}

/// A code fence must be longer than any run of backticks inside it (tag values are free text).
fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn rows(region: &str, plan: &SyncPlan) -> Vec<Row> {
    let region = escape(region);
    let mut rows = Vec::new();
    for stream in plan.streams.iter().filter(|s| !s.changes.is_empty()) {
        let symbol = if stream.observed.is_none() { "+" } else { "~" };
        let destructive = stream.changes.iter().any(Change::is_destructive);
        rows.push(row(destructive, symbol, &stream.name, &region, &changes(stream)));
    }
    for unlisted in plan.unlisted.iter().filter(|u| u.deletes()) {
        let what = format!(
            "**DESTRUCTIVE**: stream deleted with its {} alarm(s); all its records are lost",
            unlisted.alarms.len()
        );
        rows.push(row(true, "-", &unlisted.name, &region, &what));
    }
    for alarm in &plan.orphan_alarms {
        rows.push(row(false, "-", &format!("alarm {alarm}"), &region, "its stream no longer exists"));
    }
    rows
}

/// `changes` is markdown already (with its untrusted parts escaped); `name` is escaped here.
fn row(destructive: bool, symbol: &str, name: &str, region: &str, changes: &str) -> Row {
    let mark = if destructive { "⚠️ " } else { "" };
    Row { destructive, line: format!("| {mark}`{symbol}` | {} | {region} | {changes} |\n", escape(name)) }
}

/// One stream's changes in a few words each: the numbers that matter, the rest counted. The full
/// text section has every value.
fn changes(stream: &StreamPlan) -> String {
    let mut parts = Vec::new();
    let (mut tags, mut alarms) = (0, [0; 3]);
    for change in &stream.changes {
        match change {
            Change::CreateStream { shards } => parts.push(format!("new stream, {shards} shard(s)")),
            Change::Reshard { from, to, .. } => parts.push(format!("shards {from} → {to}")),
            Change::Retention { from, to } if change.is_destructive() => parts.push(format!(
                "**DESTRUCTIVE**: retention {from} → {to} hours deletes the records older than {to} hours"
            )),
            Change::Retention { from, to } => parts.push(format!("retention {from} → {to} hours")),
            Change::SetTag { .. } | Change::RemoveTag { .. } => tags += 1,
            Change::CreateAlarm { .. } => alarms[0] += 1,
            Change::UpdateAlarm { .. } => alarms[1] += 1,
            Change::DeleteAlarm { .. } => alarms[2] += 1,
            Change::ShardLevel { alarms_found, alarms_wanted, .. } => parts
                .push(format!("shard-level monitoring, per-shard alarms {alarms_found} → {alarms_wanted}")),
        }
    }
    if tags > 0 {
        parts.push(format!("{tags} tag(s)"));
    }
    let alarms: Vec<String> = ["+", "~", "-"]
        .iter()
        .zip(alarms)
        .filter(|(_, n)| *n > 0)
        .map(|(symbol, n)| format!("{symbol}{n}"))
        .collect();
    if !alarms.is_empty() {
        parts.push(format!("alarms {}", alarms.join(" ")));
    }
    let pause = render::pause_note(stream).trim_start_matches("; ");
    if !pause.is_empty() {
        parts.push(format!("**{pause}**"));
    }
    parts.join("; ")
}

/// Text from outside the process (stream and alarm names read from AWS, regions) as literal text
/// in a table cell: no markup, no HTML, no cell break.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '!' | '#') {
            out.push('\\');
        }
        if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use expect_test::{expect, expect_file};
    use planner::{
        Disposition, KeepReason, ObservedSummary, POLICY_TAG, Policy, StreamStatus, UnlistedStream,
        alarm_specs, encode_policy,
    };

    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";

    fn active(shards: u32) -> Option<ObservedSummary> {
        Some(ObservedSummary {
            status: StreamStatus::Active,
            open_shards: Some(shards),
            adopting: false,
            taking_over_from: None,
        })
    }

    /// A new stream as `streams apply` creates it: the stream, its policy tag, its alarms.
    fn new_stream(name: &str, shards: u32) -> StreamPlan {
        let policy = Policy::default();
        let mut changes = vec![
            Change::CreateStream { shards },
            Change::SetTag { key: POLICY_TAG.into(), from: None, to: encode_policy(&policy) },
        ];
        changes.extend(
            alarm_specs(name, shards, &policy, &[TOPIC.to_owned()])
                .into_iter()
                .map(|spec| Change::CreateAlarm { spec }),
        );
        StreamPlan { name: name.into(), observed: None, changes }
    }

    /// The comment for `regions` as `streams plan --output markdown` makes it, within `budget`.
    fn check(regions: &[(&str, &SyncPlan)], budget: usize) -> String {
        let (text, totals) = render::regions(regions, false);
        let comment = comment(regions, &totals, &text, budget);
        assert!(comment.len() <= budget, "{} bytes over a budget of {budget}", comment.len());
        comment
    }

    fn destructive_plan() -> SyncPlan {
        let running = Policy::default();
        let paused = Policy { paused: true, ..Policy::default() };
        let orders = StreamPlan {
            name: "orders".into(),
            observed: active(4),
            changes: vec![
                Change::Retention { from: 168, to: 24 },
                Change::SetTag { key: "team".into(), from: Some("payments".into()), to: "checkout".into() },
            ],
        };
        let payments = StreamPlan {
            name: "payments".into(),
            observed: active(1),
            changes: vec![
                Change::Reshard { from: 1, to: 2, reason: "below minShards 2".into() },
                Change::SetTag {
                    key: POLICY_TAG.into(),
                    from: Some(encode_policy(&running)),
                    to: encode_policy(&paused),
                },
                Change::ShardLevel {
                    enable_metrics: vec!["IncomingBytes".into()],
                    alarms_found: 0,
                    alarms_wanted: 2,
                    alarm_actions: vec![TOPIC.into()],
                },
            ],
        };
        let audit = StreamPlan { name: "audit".into(), observed: active(2), changes: vec![] };
        SyncPlan {
            streams: vec![new_stream("clicks", 2), orders, payments, audit],
            unlisted: vec![
                UnlistedStream {
                    name: "legacy".into(),
                    owner: Some("team-a".into()),
                    deletion_protection: false,
                    disposition: Disposition::Delete,
                    alarms: vec!["kinesis-autoscaler-legacy-IncomingBytes".into()],
                },
                UnlistedStream {
                    name: "theirs".into(),
                    owner: Some("team-b".into()),
                    deletion_protection: true,
                    disposition: Disposition::Keep(KeepReason::OtherOwner { owner: "team-b".into() }),
                    alarms: vec![],
                },
            ],
            orphan_alarms: vec!["kinesis-autoscaler-gone-IncomingRecords".into()],
        }
    }

    #[test]
    fn a_destructive_plan_puts_its_destructive_changes_first_and_marks_them() {
        let plan = destructive_plan();
        expect_file!["../tests/snapshots/plan-destructive.md"]
            .assert_eq(&check(&[("us-east-1", &plan)], COMMENT_BUDGET));
    }

    #[test]
    fn a_plan_without_changes_says_aws_matches_the_file() {
        let plan = SyncPlan {
            streams: vec![StreamPlan { name: "audit".into(), observed: active(2), changes: vec![] }],
            unlisted: vec![],
            orphan_alarms: vec![],
        };
        expect![[r#"
            ### `streams plan`: Plan: 0 to create, 0 to change, 0 to delete, 1 unchanged.

            AWS matches the file: nothing to change.

            <details><summary>Full plan (3 lines)</summary>

            ```text
            region eu-west-1
              = audit  (observed: 2 open shard(s), ACTIVE): no changes
            Plan: 0 to create, 0 to change, 0 to delete, 1 unchanged.
            ```

            </details>
        "#]]
        .assert_eq(&check(&[("eu-west-1", &plan)], COMMENT_BUDGET));
    }

    /// 5,000 new streams: the table is cut with a row saying how many rows are left out, the full
    /// text is left out with a note, and the comment stays under GitHub's limit.
    #[test]
    fn a_5000_stream_plan_is_cut_with_a_note_under_the_comment_limit() {
        let plan = SyncPlan {
            streams: (0..5000).map(|i| new_stream(&format!("events-{i:04}"), 1 + i % 4)).collect(),
            unlisted: vec![],
            orphan_alarms: vec![],
        };
        let comment = check(&[("us-east-1", &plan)], COMMENT_BUDGET);
        assert!(comment.contains("more row(s) cut here"), "the table says where it was cut");
        assert!(
            comment.contains("0 of the full plan's 30002 lines fit"),
            "the full text says it was left out"
        );
        expect_file!["../tests/snapshots/plan-5000-streams.md"].assert_eq(&comment);
    }

    /// A budget that holds the whole table but only part of the full text: the text is cut after
    /// a whole line, its fence closed, and the note counts the lines shown.
    #[test]
    fn the_full_text_is_cut_after_a_whole_line_and_its_fence_closed() {
        let plan = destructive_plan();
        let comment = check(&[("us-east-1", &plan)], 2_800);
        let cut = comment.split("```text\n").nth(1).expect("a fenced full text");
        let (shown, after) = cut.split_once("```\n").expect("the fence is closed");
        assert!(shown.ends_with('\n') && !shown.contains("Plan: 1 to create"), "{shown}");
        assert!(after.contains("✂ **Cut here**: "), "{after}");
        assert!(comment.contains("| ⚠️ `-` | legacy |"), "the destructive rows are all there: {comment}");
    }

    /// Names and tag values come from AWS or the file: they cannot close the fence, start a
    /// link or an HTML tag, or break a table row.
    #[test]
    fn untrusted_text_cannot_break_the_table_or_the_fence() {
        let mut plan = destructive_plan();
        plan.orphan_alarms = vec!["kinesis-autoscaler-x|`<img src=x>`[a](b)".into()];
        plan.streams[1].changes.push(Change::SetTag {
            key: "note".into(),
            from: None,
            to: "```\n</details>".into(),
        });
        let comment = check(&[("us-east-1", &plan)], COMMENT_BUDGET);
        assert!(
            comment.contains(r"| alarm kinesis-autoscaler-x\|\`\<img src=x\>\`\[a\](b) | us-east-1 |"),
            "{comment}"
        );
        assert!(comment.contains("\n````text\n"), "the fence is longer than the tag value's backticks");
    }
}
