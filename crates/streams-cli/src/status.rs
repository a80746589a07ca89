//! `streams status`: every managed stream's shards, utilisation and what the next scale-down
//! cycle would do, decided by the very sweep the scale-down Lambda runs, in dry-run mode; and,
//! after the table, a `hint:` line for each stream whose look-back argues for a policy change
//! ([`planner::advise`]: shard-level metrics for a stream throttled while it had room). Beside the
//! writers' utilisation, the readers': the shared reads' peak against the shared read limit, the
//! oldest iterator age of the look-back (what holds a merge), and the enhanced fan-out consumers.
//! Then, for each stream whose policy asks for prediction, a `next peak:` line: the hourly
//! predictive pass run in dry-run mode ([`reconciler::predict`]), its first peak of the next 24 h
//! and the shards planned for it.
//! Then a `mode:` line per stream: the capacity-mode advice of `streams whatif`, from the very
//! look-back the sweep read (its sums replayed as whatif replays them: no other read), or in the
//! JSON why there is none (a stream not reviewed, an incomplete read, no whole period yet).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use planner::ScaleDownAction;
use reconciler::predict::{self, PredictRecord, PredictSettings};
use reconciler::scale_down::{Review, ReviewOutcome, SweepReport, SweepSettings, sweep};
use reconciler::scale_up::SkipCode;
use serde::Serialize;
use serde_json::json;
use simulator::history::{HistoryWindow, MAX_DAYS};
use simulator::whatif::ModeAdvice;

use crate::Output;
use crate::aws::{AwsArgs, context};

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Only the managed streams whose names start with this (as the Lambdas'
    /// STREAM_NAME_PREFIX); every managed stream by default.
    #[arg(long, default_value = "")]
    prefix: String,
}

pub(crate) fn run(args: &StatusArgs, aws: &AwsArgs, output: Output) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let (region, report) = runtime.block_on(async {
        let regions = aws.clients([None]).await?;
        let cx = context(&regions.clients[&regions.default], &args.prefix);
        let settings = SweepSettings { dry_run: true, advise: true, ..SweepSettings::default() };
        let report = sweep(&cx, &settings, None).await?;
        let predictive = next_peaks(&cx).await?;
        anyhow::Ok((regions.default.clone(), (report, predictive)))
    })?;
    let (report, predictive) = report;
    let modes: Vec<Result<ModeLine, String>> = report.reviews.iter().map(mode_advice).collect();
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => {
            let doc = document(&region, &report, &modes, &predictive);
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Output::Text | Output::Markdown => {
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
            for (review, mode) in report.reviews.iter().zip(&modes) {
                if let Ok(mode) = mode {
                    writeln!(out, "{}", mode_line(&review.stream, mode))?;
                }
            }
            for record in &predictive.records {
                writeln!(out, "{}", next_peak_line(record))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON document: each review with its `mode_advice`, or `null` and `no_mode_advice` saying why.
fn document(
    region: &str,
    report: &SweepReport,
    modes: &[Result<ModeLine, String>],
    predictive: &predict::PredictReport,
) -> serde_json::Value {
    #[derive(Serialize)]
    struct Entry<'a> {
        #[serde(flatten)]
        review: &'a Review,
        mode_advice: Option<&'a ModeLine>,
        #[serde(skip_serializing_if = "Option::is_none")]
        no_mode_advice: Option<&'a str>,
    }
    let streams: Vec<Entry> = report
        .reviews
        .iter()
        .zip(modes)
        .map(|(review, mode)| Entry {
            review,
            mode_advice: mode.as_ref().ok(),
            no_mode_advice: mode.as_ref().err().map(String::as_str),
        })
        .collect();
    json!({"kind": "streams-status", "version": 1, "region": region, "streams": streams,
           "metricsCalls": report.metrics_calls, "predictive": predictive.records,
           "predictiveMetricsCalls": predictive.metrics_calls})
}

/// `streams whatif`'s capacity-mode advice from a stream's look-back, and the span replayed.
#[derive(Debug, Serialize)]
struct ModeLine {
    #[serde(flatten)]
    advice: ModeAdvice,
    /// The periods replayed: the look-back, from the stream's first whole period if younger.
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    hours: f64,
    lookback_hours: f64,
}

/// The look-back the sweep read, replayed as `streams whatif` replays a history
/// ([`crate::whatif::replay`]: the same advice for the same series), or why there is no advice.
fn mode_advice(r: &Review) -> Result<ModeLine, String> {
    let Some(l) = &r.lookback else {
        return Err(match &r.outcome {
            ReviewOutcome::Failed { .. } => "its look-back could not be read (see error)".into(),
            _ => "not reviewed: no look-back was read".into(),
        });
    };
    if !l.history.status.is_complete() {
        return Err(format!(
            "its look-back was read {}: the advice needs a complete one",
            l.history.status.as_str()
        ));
    }
    let Some(window) = HistoryWindow::within(l.window.start, l.window.end, l.window.period_secs, l.created)
    else {
        return Err(format!(
            "created {}: no whole {}-second period of its look-back to replay yet",
            l.created.format("%Y-%m-%d %H:%M:%S UTC"),
            l.window.period_secs
        ));
    };
    let (_, w) = crate::whatif::replay(&l.history, window, r.open_shards, &l.policy, l.on_demand)
        .map_err(|e| format!("{e:#}"))?;
    Ok(ModeLine {
        advice: w.advice,
        start: window.start,
        end: window.end,
        hours: window.hours(),
        lookback_hours: (l.window.end - l.window.start).num_seconds() as f64 / 3600.0,
    })
}

/// The advice as one line after the table, saying how much history it is from.
fn mode_line(stream: &str, m: &ModeLine) -> String {
    let from = if m.hours < m.lookback_hours {
        format!("its {} since it was created, not the {} look-back", span(m.hours), span(m.lookback_hours))
    } else {
        format!("the last {}", span(m.hours))
    };
    format!(
        "mode: {stream} {} [replayed from {from}; `streams whatif` reads up to {MAX_DAYS} days]",
        m.advice.reason
    )
}

/// A span of hours as a person reads it: `2 min`, `30 min`, `24 h`, `36.5 h`.
fn span(hours: f64) -> String {
    match hours {
        h if h < 1.0 => format!("{:.0} min", h * 60.0),
        h if h.fract() == 0.0 => format!("{h:.0} h"),
        h => format!("{h:.1} h"),
    }
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
async fn next_peaks<K, C>(cx: &reconciler::Context<K, C>) -> Result<predict::PredictReport>
where
    K: reconciler::Resharder + Sync,
    C: reconciler::MetricsPort + reconciler::AlarmPort + Sync,
{
    let settings = PredictSettings { dry_run: true, ..PredictSettings::default() };
    let report = predict::pass(cx, &settings).await?;
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
    use reconciler::StreamHistory;
    use reconciler::scale_down::Lookback;

    use super::*;

    #[test]
    fn a_predictive_stream_gets_one_next_peak_line_with_the_shards_planned_or_none_expected() {
        let peak = planner::ExpectedPeak {
            season: planner::Season::Daily,
            rate: planner::Rate { bytes_per_sec: 3_145_728.0, records_per_sec: 3_072.0 },
            at: t("2026-12-02T02:00:00Z"),
            agreeing: 13,
            cycles: 14,
            chance: 1e-12,
            typical: planner::Rate::ZERO,
        };
        let record = |next_peak: Option<planner::ExpectedPeak>| PredictRecord {
            stream: "orders".into(),
            trigger: predict::PREDICT,
            peak: None,
            outlook: Some(predict::Outlook { open_shards: 2, planned_shards: Some(6), next_peak }),
            decision: reconciler::scale_up::Decision::NoPreScale { reason: "enough".into() },
            elapsed_ms: 0,
        };
        assert_eq!(
            next_peak_line(&record(Some(peak))),
            "next peak: orders at 2026-12-02 02:00 UTC, 3145728 B/s, 3072 records/s (13 of 14 daily cycles); \
             6 shard(s) planned, 2 open"
        );
        assert_eq!(next_peak_line(&record(None)), "next peak: orders none expected in 24 h");
    }

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
            lookback: None,
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

    const MIB: f64 = 1_048_576.0;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// `orders` reviewed with a look-back of 24 h of 5-minute sums at `mib_per_sec` (1 KiB
    /// records) on its 4 shards, created at `created`, read `status`.
    fn looked_back(mib_per_sec: f64, created: DateTime<Utc>, status: ReadStatus) -> Review {
        let window = planner::Window {
            start: t("2026-11-30T12:00:00Z"),
            end: t("2026-12-01T12:00:00Z"),
            period_secs: 300,
        };
        let at = |i: i64| window.start + chrono::Duration::minutes(5 * i);
        let bytes: Vec<_> = (0..288).map(|i| (at(i), mib_per_sec * MIB * 300.0)).collect();
        let records = bytes.iter().map(|(t, b)| (*t, b / 1024.0)).collect();
        let history =
            StreamHistory { stream: "orders".into(), bytes, records, throttled: vec![], status, calls: 1 };
        let lookback =
            Lookback { window, history, policy: planner::Policy::default(), created, on_demand: false };
        Review { lookback: Some(lookback), ..review(ReviewOutcome::Unchanged) }
    }

    #[test]
    fn the_mode_line_is_whatifs_advice_for_the_same_series_from_the_last_24_h() {
        let review = looked_back(1.4, t("2026-01-01T00:00:00Z"), ReadStatus::Complete);
        let mode = mode_advice(&review).unwrap();
        // The simulator run directly on the same sums.
        let window = HistoryWindow {
            start: t("2026-11-30T12:00:00Z"),
            end: t("2026-12-01T12:00:00Z"),
            period_secs: 300,
            younger_than_window: false,
        };
        let lookback = review.lookback.as_ref().unwrap();
        let history = simulator::history::History {
            stream: "orders".into(),
            bytes: window.align(&lookback.history.bytes),
            records: window.align(&lookback.history.records),
            throttled: window.align(&lookback.history.throttled),
            window,
            shards: 4,
        };
        let replayable = simulator::history::replayable(&history).unwrap();
        let direct = simulator::whatif::WhatIf::run(
            &replayable,
            &planner::Policy::default(),
            simulator::whatif::Mode::Provisioned,
        )
        .unwrap();
        assert_eq!(mode.advice, direct.advice);
        assert_eq!(
            mode_line("orders", &mode),
            format!(
                "mode: orders {} [replayed from the last 24 h; `streams whatif` reads up to 63 days]",
                direct.advice.reason
            )
        );
        assert!(
            mode_line("orders", &mode)
                .starts_with("mode: orders stay provisioned with this tool: the other mode would cost $"),
            "{}",
            mode_line("orders", &mode)
        );
        let doc = document(
            "us-east-1",
            &SweepReport { reviews: vec![review], ..SweepReport::default() },
            &[Ok(mode)],
            &predict::PredictReport::default(),
        );
        let advice = &doc["streams"][0]["mode_advice"];
        assert_eq!((advice["mode"].as_str(), advice["switch"].as_bool()), (Some("provisioned"), Some(false)));
        assert_eq!(advice["monthly_difference"].as_f64(), Some(direct.advice.monthly_difference));
        assert_eq!(advice["reason"].as_str(), Some(direct.advice.reason.as_str()));
        assert_eq!((advice["hours"].as_f64(), advice["lookback_hours"].as_f64()), (Some(24.0), Some(24.0)));
        assert!(doc["streams"][0].get("no_mode_advice").is_none(), "{doc:#}");
        assert_eq!(doc["streams"][0]["stream"], "orders", "the review's own fields stay flat");
    }

    #[test]
    fn a_stream_younger_than_its_lookback_says_how_much_of_it_was_replayed() {
        let mode = mode_advice(&looked_back(1.4, t("2026-12-01T11:30:00Z"), ReadStatus::Complete)).unwrap();
        assert_eq!((mode.start, mode.hours), (t("2026-12-01T11:30:00Z"), 0.5));
        assert!(
            mode_line("orders", &mode).ends_with("[replayed from its 30 min since it was created, not the 24 h look-back; `streams whatif` reads up to 63 days]"),
            "{}",
            mode_line("orders", &mode)
        );
    }

    #[test]
    fn spans_read_in_minutes_under_an_hour_and_in_hours_above() {
        assert_eq!(
            [2.0 / 60.0, 0.5, 1.0, 24.0, 36.5].map(span),
            ["2 min", "30 min", "1 h", "24 h", "36.5 h"]
        );
    }

    #[test]
    fn no_mode_advice_without_a_complete_lookback_of_a_whole_period_and_the_json_says_why() {
        let cases = [
            (
                review(ReviewOutcome::Skipped { reason: "stream is UPDATING".into(), skip: None }),
                "not reviewed: no look-back was read",
            ),
            (
                review(ReviewOutcome::Failed { error: "GetMetricData failed".into() }),
                "its look-back could not be read (see error)",
            ),
            (
                looked_back(1.4, t("2026-01-01T00:00:00Z"), ReadStatus::PartialData),
                "its look-back was read PartialData: the advice needs a complete one",
            ),
            (
                looked_back(1.4, t("2026-12-01T11:55:01Z"), ReadStatus::Complete),
                "created 2026-12-01 11:55:01 UTC: no whole 300-second period of its look-back to replay yet",
            ),
        ];
        for (review, why) in cases {
            let mode = mode_advice(&review);
            assert_eq!(mode.as_ref().err().map(String::as_str), Some(why));
            let doc = document(
                "us-east-1",
                &SweepReport { reviews: vec![review], ..SweepReport::default() },
                &[mode],
                &predict::PredictReport::default(),
            );
            assert_eq!(
                (&doc["streams"][0]["mode_advice"], doc["streams"][0]["no_mode_advice"].as_str()),
                (&serde_json::Value::Null, Some(why))
            );
        }
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
