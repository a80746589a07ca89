//! `streams status`: every managed stream's shards, utilisation and what the next scale-down
//! cycle would do, decided by the very sweep the scale-down Lambda runs, in dry-run mode; and,
//! after the table, a `hint:` line for each stream whose look-back argues for a policy change
//! ([`planner::advise`]: shard-level metrics for a stream throttled while it had room).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use planner::ScaleDownAction;
use reconciler::SeededJitter;
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
        anyhow::Ok((regions.default.clone(), report))
    })?;
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => {
            let doc = json!({"kind": "streams-status", "version": 1, "region": region, "streams": report.reviews,
                             "metricsCalls": report.metrics_calls});
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Output::Text => {
            writeln!(out, "region {region}: {} managed stream(s)", report.reviews.len())?;
            let width = report.reviews.iter().map(|r| r.stream.len()).max().unwrap_or(0).max(6);
            writeln!(
                out,
                "{:<width$} {:>6} {:>10} {:>17} {:>17}  next scale-down cycle",
                "STREAM", "SHARDS", "MIN..MAX", "BYTES peak/p95", "RECORDS peak/p95"
            )?;
            for review in &report.reviews {
                writeln!(out, "{}", row(review, width))?;
            }
            for hint in report.reviews.iter().filter_map(hint) {
                writeln!(out, "{hint}")?;
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
    format!(
        "{:<width$} {:>6} {:>10} {:>17} {:>17}  {}",
        r.stream,
        r.open_shards,
        format!("{}..{}", r.min_shards, r.max_shards),
        bytes,
        records,
        next(r)
    )
}

/// The advice on a stream's policy, as one line after the table.
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
    use planner::Advice;

    use super::*;

    /// The review of a 4-shard stream `orders` with nothing read.
    fn review(outcome: ReviewOutcome) -> Review {
        Review {
            stream: "orders".into(),
            open_shards: 4,
            min_shards: 1,
            max_shards: 64,
            utilisation: None,
            plan: None,
            advice: None,
            outcome,
        }
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
