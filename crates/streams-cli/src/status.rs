//! `streams status`: every managed stream's shards, utilisation and what the next scale-down
//! cycle would do, decided by the very sweep the scale-down Lambda runs, in dry-run mode; and,
//! after the table, a `hint:` line for each stream whose look-back argues for a policy change
//! ([`planner::advise`]: shard-level metrics for a stream throttled while it had room). Beside the
//! writers' utilisation, the readers': the shared reads' peak against the shared read limit, the
//! oldest iterator age of the look-back (what holds a merge), and the enhanced fan-out consumers.
//! Then, for each stream whose policy asks for prediction, a `next peak:` line: the hourly
//! predictive pass run in dry-run mode ([`reconciler::predict`]), its first peak of the next 24 h
//! and the shards planned for it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use planner::ScaleDownAction;
use reconciler::SeededJitter;
use reconciler::predict::{self, PredictRecord, PredictSettings};
use reconciler::scale_down::{Review, ReviewOutcome, SweepContext, SweepSettings, sweep};
use reconciler::scale_up::SkipCode;
use serde_json::json;

use crate::Output;
use crate::aws::AwsArgs;

pub(crate) fn run(aws: &AwsArgs, output: Output) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let (region, report) = runtime.block_on(async {
        let regions = aws.clients([None]).await?;
        let clients = &regions.clients[&regions.default];
        let cx = SweepContext {
            now: Utc::now(),
            deadline: tokio::time::Instant::now() + Duration::from_secs(3600),
            after: None,
        };
        let settings = SweepSettings { dry_run: true, advise: true, ..SweepSettings::default() };
        let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
        let report = sweep(&streams, &cloudwatch, &cx, &settings, &mut SeededJitter::from_entropy()).await?;
        let predictive = next_peaks(&streams, &cloudwatch, &cx).await?;
        anyhow::Ok((regions.default.clone(), (report, predictive)))
    })?;
    let (report, predictive) = report;
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => {
            let doc = json!({"kind": "streams-status", "version": 1, "region": region, "streams": report.reviews,
                             "metricsCalls": report.metrics_calls, "predictive": predictive.records,
                             "predictiveMetricsCalls": predictive.metrics_calls});
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Output::Text => {
            writeln!(out, "region {region}: {} managed stream(s)", report.reviews.len())?;
            let width = report.reviews.iter().map(|r| r.stream.len()).max().unwrap_or(0).max(6);
            writeln!(
                out,
                "{:<width$} {:>6} {:>10} {:>17} {:>17} {:>10} {:>8} {:>3}  next scale-down cycle",
                "STREAM",
                "SHARDS",
                "MIN..MAX",
                "BYTES peak/p95",
                "RECORDS peak/p95",
                "READS peak",
                "MAX AGE",
                "EFO"
            )?;
            for review in &report.reviews {
                writeln!(out, "{}", row(review, width))?;
            }
            for hint in report.reviews.iter().filter_map(hint) {
                writeln!(out, "{hint}")?;
            }
            for record in &predictive.records {
                writeln!(out, "{}", next_peak_line(record))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn row(r: &Review, width: usize) -> String {
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    let (bytes, records) = match &r.utilisation {
        Some(u) => (
            format!("{} / {}", pct(u.bytes_peak), pct(u.bytes_p95)),
            format!("{} / {}", pct(u.records_peak), pct(u.records_p95)),
        ),
        None => ("-".into(), "-".into()),
    };
    let (reads, age) = match &r.reads {
        Some(reads) if reads.status.is_complete() => {
            (pct(reads.read_peak), reads.max_iterator_age_ms.map_or_else(|| "-".into(), age))
        }
        Some(reads) => (reads.status.as_str().to_owned(), "?".into()),
        None => ("-".into(), "-".into()),
    };
    let consumers = r.enhanced_fan_out_consumers.map_or_else(|| "?".into(), |n| n.to_string());
    format!(
        "{:<width$} {:>6} {:>10} {:>17} {:>17} {:>10} {:>8} {:>3}  {}",
        r.stream,
        r.open_shards,
        format!("{}..{}", r.min_shards, r.max_shards),
        bytes,
        records,
        reads,
        age,
        consumers,
        next(r)
    )
}

/// An iterator age in the unit that reads at a glance: `850ms`, `42s`, `15m`, `3.5h`.
fn age(ms: f64) -> String {
    match ms {
        ms if ms < 1_000.0 => format!("{ms:.0}ms"),
        ms if ms < 60_000.0 => format!("{:.0}s", ms / 1_000.0),
        ms if ms < 3_600_000.0 => format!("{:.0}m", ms / 60_000.0),
        ms => format!("{:.1}h", ms / 3_600_000.0),
    }
}

/// The advice on a stream's policy, as one line after the table.
/// The predictive pass in dry run: every predictive stream's decision and outlook.
async fn next_peaks<K, C>(streams: &K, cloudwatch: &C, cx: &SweepContext) -> Result<predict::PredictReport>
where
    K: reconciler::Resharder + Sync,
    C: reconciler::MetricsPort + reconciler::AlarmPort + Sync,
{
    let invocation = reconciler::scale_up::Invocation {
        account: String::new(),
        region: String::new(),
        stream_prefix: String::new(),
        now: cx.now,
        deadline: cx.deadline,
    };
    let settings = PredictSettings { dry_run: true, ..PredictSettings::default() };
    let report =
        predict::pass(streams, cloudwatch, &invocation, &settings, &mut SeededJitter::from_entropy()).await?;
    if let Some((stream, error)) = report.failures.first() {
        anyhow::bail!("reading {stream} for its forecast: {error}");
    }
    Ok(report)
}

/// `next peak: STREAM …`: the first peak expected in 24 h and the shards planned for it.
fn next_peak_line(r: &PredictRecord) -> String {
    match r.outlook.as_ref().and_then(|o| o.next_peak.as_ref().map(|p| (o, p))) {
        Some((o, p)) => format!(
            "next peak: {} at {}, {:.0} B/s, {:.0} records/s ({} of {} {} cycles); {} shard(s) planned, {} open",
            r.stream,
            p.at.format("%Y-%m-%d %H:%M UTC"),
            p.rate.bytes_per_sec,
            p.rate.records_per_sec,
            p.agreeing,
            p.cycles,
            serde_json::to_value(p.season)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            o.planned_shards.unwrap_or(o.open_shards),
            o.open_shards,
        ),
        None => format!("next peak: {} none expected in 24 h", r.stream),
    }
}

fn hint(r: &Review) -> Option<String> {
    r.advice.as_ref().map(|advice| format!("hint: {} {advice}", r.stream))
}

/// What the next cycle would do, in a few words.
fn next(r: &Review) -> String {
    match (&r.outcome, &r.plan) {
        (ReviewOutcome::Skipped { skip: Some(SkipCode::Paused), .. }, _) => {
            "paused: neither Lambda reshards it (paused: true in streams.yaml)".into()
        }
        (ReviewOutcome::Skipped { reason, .. }, _) => format!("skipped: {reason}"),
        (ReviewOutcome::Failed { error }, _) => format!("unknown: {error}"),
        (_, Some(plan)) => match &plan.action {
            ScaleDownAction::Merge { merges } => {
                format!("merge {} pair(s) → {} shards", merges.len(), plan.target_shards)
            }
            ScaleDownAction::UpdateShardCount { target } => {
                format!("halve → {target} shards (UpdateShardCount)")
            }
            ScaleDownAction::None => {
                let why = plan.reasons.last().map(String::as_str).unwrap_or("nothing to do");
                format!("none: {}", why.trim_start_matches("not scaling down: "))
            }
        },
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use planner::{Advice, ReadStatus, ReadSummary};

    use super::*;

    /// The review of a 4-shard stream `orders` with nothing read.
    fn review(outcome: ReviewOutcome) -> Review {
        Review {
            stream: "orders".into(),
            open_shards: 4,
            min_shards: 1,
            max_shards: 64,
            utilisation: None,
            reads: None,
            enhanced_fan_out_consumers: None,
            plan: None,
            advice: None,
            outcome,
        }
    }

    #[test]
    fn a_row_shows_the_readers_peak_their_oldest_age_and_the_enhanced_fan_out_consumers() {
        let reads = ReadSummary {
            max_iterator_age_ms: Some(900_000.0),
            read_peak: 0.125,
            status: ReadStatus::Complete,
        };
        let read = Review {
            reads: Some(reads),
            enhanced_fan_out_consumers: Some(2),
            ..review(ReviewOutcome::Unchanged)
        };
        let line = row(&read, 6);
        assert!(line.contains("     12.5%      15m   2  "), "{line}");
        let unknown = row(&review(ReviewOutcome::Unchanged), 6);
        assert!(unknown.contains("         -        -   ?  "), "{unknown}");
        let partial = Review {
            reads: Some(ReadSummary { status: ReadStatus::PartialData, ..reads }),
            ..review(ReviewOutcome::Unchanged)
        };
        assert!(row(&partial, 6).contains("PartialData        ?"), "{}", row(&partial, 6));
    }

    #[test]
    fn iterator_ages_read_in_the_unit_that_fits() {
        assert_eq!([850.0, 42_000.0, 900_000.0, 12_600_000.0].map(age), ["850ms", "42s", "15m", "3.5h"]);
    }

    #[test]
    fn advice_is_one_hint_line_naming_the_stream() {
        let advice = Advice::ShardLevelMetrics {
            throttled_records: 1_234,
            peak_utilisation: 0.35,
            reason: "throttled 1,234 records in 24 h while …".into(),
        };
        let advised = Review { advice: Some(advice), ..review(ReviewOutcome::Unchanged) };
        assert_eq!(hint(&advised).as_deref(), Some("hint: orders throttled 1,234 records in 24 h while …"));
        assert_eq!(hint(&review(ReviewOutcome::Unchanged)), None);
    }

    #[test]
    fn a_paused_stream_reads_as_paused_not_as_skipped() {
        let review = review(ReviewOutcome::Skipped {
            reason: "stream orders is paused".into(),
            skip: Some(SkipCode::Paused),
        });
        assert!(next(&review).starts_with("paused: "), "{}", next(&review));
    }
}
