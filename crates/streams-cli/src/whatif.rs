//! `streams whatif`: what this tool would have done on each stream of the file, from the stream's
//! own CloudWatch history, and which capacity mode it should be in.
//!
//! The shell only: it reads the streams and their history (`reconciler::histories`, the
//! batched read the sweep's arithmetic shares), and hands them to the simulator
//! (`simulator::history` makes a trace of them, `simulator::whatif` replays it with the stream's
//! own policy and advises the mode); then it writes the table, the JSON, one SVG per stream and
//! `whatif.md`. A stream whose policy sets `scaleUp.predictive` is replayed with prediction on
//! (the table's TOOL columns and the advice: its policy as it is) and off (`with_tool`).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use planner::Policy;
use reconciler::{ErrorKind, StreamHistory, StreamReader, StreamSnapshot, histories};
use serde::Serialize;
use simulator::history::{History, HistoryWindow, PRICE_PER_1000_METRICS, Replayable, replayable};
use simulator::whatif::{Mode, ModeAdvice, Run, WhatIf};

use crate::Output;
use crate::aws::AwsArgs;

/// Series read per stream: `IncomingBytes`, `IncomingRecords`, `WriteProvisionedThroughputExceeded`.
const METRICS_PER_STREAM: u32 = 3;

#[derive(Debug, clap::Args)]
pub(crate) struct WhatifArgs {
    /// The streams.yaml whose streams, with their policies, are replayed.
    #[arg(default_value = "streams.yaml")]
    file: PathBuf,
    /// Only this stream of the file (repeatable).
    #[arg(long = "stream", value_name = "NAME")]
    streams: Vec<String>,
    /// Days of history: up to 15 are read per minute, up to 63 per 5 minutes (what CloudWatch keeps).
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=63))]
    days: u32,
    /// Directory for whatif.md and one SVG per stream (created if missing).
    #[arg(long, default_value = "whatif")]
    out: PathBuf,
}

/// One stream's figures, as the table, the page and the JSON show them.
#[derive(Debug, Serialize)]
struct StreamReport {
    stream: String,
    region: String,
    mode: Mode,
    shards: u32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period_secs: u32,
    hours: f64,
    younger_than_window: bool,
    gaps: usize,
    implausible_datapoints: usize,
    complete: bool,
    rejected_records: u64,
    demand_is_lower_bound: bool,
    get_metric_data_calls: u32,
    metrics_requested: u32,
    read_cost: f64,
    /// This tool, prediction off.
    with_tool: Run,
    /// This tool, prediction on: where the policy sets `scaleUp.predictive`, else null.
    with_tool_predictive: Option<Run>,
    current: Run,
    on_demand: Run,
    on_demand_advantage: Run,
    advantage_commitment_monthly: f64,
    advice: ModeAdvice,
    notes: Vec<String>,
    plot: String,
}

/// A stream of the file that could not be replayed, and why.
#[derive(Debug, Serialize)]
struct Skipped {
    stream: String,
    region: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Document<'a> {
    kind: &'static str,
    version: u32,
    days: u32,
    streams: &'a [StreamReport],
    skipped: &'a [Skipped],
    get_metric_data_calls: u32,
    read_cost: f64,
    page: String,
}

/// A stream to replay: its spec's name, region and policy, and what Kinesis says of it.
struct Candidate {
    name: String,
    region: String,
    policy: Policy,
    snapshot: StreamSnapshot,
    shards: u32,
    window: HistoryWindow,
}

pub(crate) fn run(args: &WhatifArgs, aws: &AwsArgs, output: Output) -> Result<ExitCode> {
    let config = crate::plan_apply::load(&args.file)?;
    for name in &args.streams {
        if config.stream(name).is_none() {
            bail!("--stream {name}: no such stream in {}", args.file.display());
        }
    }
    let specs: Vec<_> = config
        .streams
        .iter()
        .filter(|s| args.streams.is_empty() || args.streams.iter().any(|n| n == s.name.as_str()))
        .collect();
    if specs.is_empty() {
        bail!("{} names no stream", args.file.display());
    }
    let now = Utc::now();
    let runtime = tokio::runtime::Runtime::new()?;
    let regions = runtime.block_on(aws.clients(specs.iter().map(|s| s.region.clone())))?;
    let (mut reports, mut skipped, mut calls) = (Vec::new(), Vec::new(), 0u32);
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    for (region, clients) in &regions.clients {
        let cx = crate::aws::context(clients, "");
        let mut candidates = Vec::new();
        for spec in specs.iter().filter(|s| regions.of(s.region.as_deref()) == *region) {
            let name = spec.name.as_str().to_owned();
            let skip = |reason: String| Skipped { stream: name.clone(), region: region.clone(), reason };
            let snapshot = match runtime.block_on(cx.kinesis().describe(&name)) {
                Ok(s) => s,
                Err(e) if e.kind == ErrorKind::NotFound => {
                    skipped.push(skip("does not exist: no history to replay".into()));
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot describe {name}")),
            };
            let Some(shards) = snapshot.tiling().map(|t| t.len()) else {
                skipped.push(skip(format!("is {:?}: its shards cannot be listed", snapshot.status)));
                continue;
            };
            let Some(window) = HistoryWindow::new(now, args.days, snapshot.created) else {
                skipped
                    .push(skip(format!("created {}: not one whole period of history yet", snapshot.created)));
                continue;
            };
            candidates.push(Candidate {
                name,
                region: region.clone(),
                policy: spec.policy.clone(),
                snapshot,
                shards,
                window,
            });
        }
        let Some(first) = candidates.first() else { continue };
        let period = first.window.period_secs;
        // No stream has history from before it was created: the read starts at the oldest
        // window's start, not `--days` ago (fewer datapoints a series, more series a call).
        let from = candidates.iter().fold(first.window.start, |from, c| from.min(c.window.start));
        let names: Vec<String> = candidates.iter().map(|c| c.name.clone()).collect();
        let many = names.len() > 1;
        let (read, region_calls) =
            runtime.block_on(histories(cx.cloudwatch(), &names, period, from..now, |done, of| {
                if many {
                    eprintln!("{region}: read the history of {done} of {of} streams");
                }
            }))?;
        calls += region_calls;
        for (c, h) in candidates.into_iter().zip(read) {
            match report(&c, &h, &args.out, args.days) {
                Ok(r) => reports.push(r),
                Err(e) => {
                    skipped.push(Skipped { stream: c.name, region: c.region, reason: format!("{e:#}") })
                }
            }
        }
    }
    let read_cost = reports.iter().map(|r| r.read_cost).sum();
    let page = args.out.join("whatif.md");
    std::fs::write(&page, markdown(&reports, &skipped, args.days))
        .with_context(|| format!("cannot write {}", page.display()))?;
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => {
            let doc = Document {
                kind: "streams-whatif",
                version: 1,
                days: args.days,
                streams: &reports,
                skipped: &skipped,
                get_metric_data_calls: calls,
                read_cost,
                page: page.display().to_string(),
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Output::Text | Output::Markdown => {
            write!(out, "{}", table(&reports))?;
            for r in &reports {
                writeln!(out, "\n{}: {}", r.stream, r.advice.reason)?;
                if let Some(line) = prediction(r) {
                    writeln!(out, "  {line}")?;
                }
                for note in &r.notes {
                    writeln!(out, "  note: {note}")?;
                }
            }
            for s in &skipped {
                writeln!(out, "\n{}: not replayed: {}", s.stream, s.reason)?;
            }
            writeln!(
                out,
                "\n{calls} GetMetricData call(s), {} metrics requested: ${read_cost:.5}. Pictures and the summary: {}",
                reports.iter().map(|r| r.metrics_requested).sum::<u32>(),
                page.display()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A stream's history as `reconciler` read it, replayed as `streams whatif` replays it (and
/// `streams status`, for its mode line, from its look-back): the `Sum`s aligned to `window`, made
/// a trace from the stream's `shards`, run with its `policy` under its `mode` today.
pub(crate) fn replay(
    read: &StreamHistory,
    window: HistoryWindow,
    shards: u32,
    policy: &Policy,
    on_demand: bool,
) -> Result<(Replayable, WhatIf)> {
    let history = History {
        stream: read.stream.clone(),
        bytes: window.align(&read.bytes),
        records: window.align(&read.records),
        throttled: window.align(&read.throttled),
        window,
        shards,
    };
    let r = replayable(&history)?;
    let mode = if on_demand { Mode::OnDemand } else { Mode::Provisioned };
    let w = WhatIf::run(&r, policy, mode)?;
    Ok((r, w))
}

/// One stream replayed, its plot written to `out`.
fn report(c: &Candidate, read: &StreamHistory, out: &Path, days: u32) -> Result<StreamReport> {
    let (status, calls) = (read.status, read.calls);
    let (r, w) = replay(read, c.window, c.shards, &c.policy, c.snapshot.on_demand)?;
    let mode = w.current;
    let plot = format!("{}.svg", c.name);
    let window = &c.window;
    let title = format!("{}: {:.1} h of history replayed", c.name, window.hours());
    let replays: Vec<_> = [Some(&w.with_tool), w.with_tool_predictive.as_ref(), Some(w.today())]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    simulator::plot::trace_svg(&out.join(&plot), &title, &replays)?;
    let mut notes = Vec::new();
    if window.younger_than_window {
        notes.push(format!(
            "created {}: {:.1} h of history, not the {days} day(s) asked",
            c.snapshot.created.format("%Y-%m-%d %H:%M UTC"),
            window.hours()
        ));
    }
    if r.gaps > 0 {
        notes.push(format!(
            "{} of {} {}-second periods have no datapoint: replayed as no writes (CloudWatch stores nothing for a period without writes)",
            r.gaps,
            window.periods(),
            window.period_secs
        ));
    }
    if r.implausible > 0 {
        notes.push(format!(
            "{} datapoint(s) no stream could have produced (not a number, negative, or beyond 256 shards) were left out",
            r.implausible
        ));
    }
    if !status.is_complete() {
        notes.push("CloudWatch did not answer every series Complete: the history may lack datapoints".into());
    }
    if r.rejected_records > 0 {
        notes.push(format!(
            "its writers had {} records rejected (WriteProvisionedThroughputExceeded) in the window: the replay sees \
             only the accepted writes plus these rejected counts, so the demand is a lower bound",
            r.rejected_records
        ));
    }
    if mode == Mode::OnDemand {
        notes.push("on-demand today: `current` is its on-demand bill, and the advice weighs provisioned with this tool against it".into());
    }
    notes.push(format!(
        "On-demand Advantage is an account-level commitment: at least 25 MiB/s of ingest across the account, ${:.2} a month whatever this stream writes",
        w.advantage_commitment_monthly
    ));
    let [(_, with_tool), (_, current), (_, on_demand), (_, on_demand_advantage)] = w.runs();
    Ok(StreamReport {
        stream: c.name.clone(),
        region: c.region.clone(),
        mode,
        shards: c.shards,
        start: window.start,
        end: window.end,
        period_secs: window.period_secs,
        hours: window.hours(),
        younger_than_window: window.younger_than_window,
        gaps: r.gaps,
        implausible_datapoints: r.implausible,
        complete: status.is_complete(),
        rejected_records: r.rejected_records,
        demand_is_lower_bound: r.rejected_records > 0,
        get_metric_data_calls: calls,
        metrics_requested: METRICS_PER_STREAM,
        read_cost: f64::from(METRICS_PER_STREAM) * PRICE_PER_1000_METRICS / 1000.0,
        with_tool,
        with_tool_predictive: w.predictive_run(),
        current,
        on_demand,
        on_demand_advantage,
        advantage_commitment_monthly: w.advantage_commitment_monthly,
        advice: w.advice,
        notes,
        plot,
    })
}

/// A stream's row of the summary, cell by cell: the table and the page lay out the same figures.
fn cells(r: &StreamReport) -> [String; 10] {
    let run = r.with_tool_predictive.as_ref().unwrap_or(&r.with_tool);
    [
        r.stream.clone(),
        r.shards.to_string(),
        format!("{}/{:.1}", run.max_shards, run.mean_shards),
        format!("{:.3}%", run.throttled_pct),
        format!("{:.1}", run.shard_hours),
        format!("{:.2}", run.monthly_cost),
        format!("{:.2}", r.current.monthly_cost),
        format!("{:.2}", r.on_demand.monthly_cost),
        format!("{:.2}", r.on_demand_advantage.monthly_cost),
        format!("{} ({:+.2}/mo)", r.advice.action(), r.advice.monthly_difference),
    ]
}

const HEADERS: [&str; 10] = [
    "STREAM",
    "SHARDS",
    "TOOL max/mean",
    "THROTTLED",
    "SHARD-H",
    "$/MO TOOL",
    "$/MO NOW",
    "$/MO OD",
    "$/MO ODA",
    "ADVICE",
];

/// This tool's replay with prediction on beside off, for a predictive stream.
fn prediction(r: &StreamReport) -> Option<String> {
    let on = r.with_tool_predictive.as_ref()?;
    let figures = |run: &Run| {
        format!(
            "throttled {:.3}%, {:.1} shard-h, ${:.2}/mo",
            run.throttled_pct, run.shard_hours, run.monthly_cost
        )
    };
    Some(format!("prediction on: {}; off: {}", figures(on), figures(&r.with_tool)))
}

/// The summary table, monthly bills in US$ (730 h), columns as wide as their widest cell.
fn table(reports: &[StreamReport]) -> String {
    let rows: Vec<[String; 10]> =
        std::iter::once(HEADERS.map(String::from)).chain(reports.iter().map(cells)).collect();
    let widths: Vec<usize> = (0..10).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| match c {
                0 | 9 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            })
            .collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
    }
    s
}

/// `whatif.md`: the table, then each stream's advice, notes and picture.
fn markdown(reports: &[StreamReport], skipped: &[Skipped], days: u32) -> String {
    let mut s = format!(
        "# What `streams whatif` would have done\n\nEach stream's last {days} day(s) of CloudWatch history replayed \
         through the simulator with its own policy from the file. Bills are per month (730 h), us-east-1 prices \
         (NOW: as the stream is today; OD: on-demand; ODA: On-demand Advantage).\n\n| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for r in reports {
        let mut row = cells(r);
        row[0] = format!("[{}](#{})", r.stream, r.stream.to_lowercase());
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    for r in reports {
        let _ = write!(s, "\n## {}\n\n{}\n\n", r.stream, r.advice.reason);
        if let Some(line) = prediction(r) {
            let _ = writeln!(s, "* {line}");
        }
        for note in &r.notes {
            let _ = writeln!(s, "* {note}");
        }
        let _ = write!(
            s,
            "* read in {} GetMetricData call(s), {} metrics, ${:.5}\n\n![{}]({})\n",
            r.get_metric_data_calls, r.metrics_requested, r.read_cost, r.stream, r.plot
        );
    }
    for k in skipped {
        let _ = write!(s, "\n## {}\n\nNot replayed: {}\n", k.stream, k.reason);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(throttled_pct: f64, shard_hours: f64, monthly_cost: f64) -> Run {
        Run {
            max_shards: 4,
            mean_shards: shard_hours / 24.0,
            shard_hours,
            throttled_records: throttled_pct * 1000.0,
            throttled_pct,
            cost: monthly_cost / 30.0,
            monthly_cost,
        }
    }

    fn report(with_tool_predictive: Option<Run>) -> StreamReport {
        let start: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        StreamReport {
            stream: "orders".into(),
            region: "eu-west-1".into(),
            mode: Mode::Provisioned,
            shards: 2,
            start,
            end: start + chrono::Duration::hours(24),
            period_secs: 60,
            hours: 24.0,
            younger_than_window: false,
            gaps: 0,
            implausible_datapoints: 0,
            complete: true,
            rejected_records: 0,
            demand_is_lower_bound: false,
            get_metric_data_calls: 1,
            metrics_requested: METRICS_PER_STREAM,
            read_cost: 0.0,
            with_tool: run(0.25, 60.0, 27.4),
            with_tool_predictive,
            current: run(0.0, 48.0, 21.9),
            on_demand: run(0.0, 48.0, 40.0),
            on_demand_advantage: run(0.0, 48.0, 16.0),
            advantage_commitment_monthly: 200.0,
            advice: ModeAdvice {
                mode: Mode::Provisioned,
                switch: false,
                monthly_difference: -10.0,
                reason: "stay".into(),
            },
            notes: Vec::new(),
            plot: "orders.svg".into(),
        }
    }

    #[test]
    fn a_predictive_stream_shows_its_replay_with_prediction_on_and_off() {
        let r = report(Some(run(0.0, 62.0, 28.3)));
        assert_eq!(
            prediction(&r).unwrap(),
            "prediction on: throttled 0.000%, 62.0 shard-h, $28.30/mo; off: throttled 0.250%, 60.0 shard-h, $27.40/mo"
        );
        // The table's TOOL columns are the policy as it is: prediction on.
        assert_eq!(cells(&r)[3..6], ["0.000%".to_owned(), "62.0".into(), "28.30".into()]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["with_tool_predictive"]["shard_hours"], 62.0);
        assert!(markdown(std::slice::from_ref(&r), &[], 1).contains("* prediction on: throttled 0.000%"));
    }

    #[test]
    fn a_reactive_stream_has_no_predictive_replay() {
        let r = report(None);
        assert!(prediction(&r).is_none());
        assert_eq!(cells(&r)[4], "60.0");
        assert!(serde_json::to_value(&r).unwrap()["with_tool_predictive"].is_null());
    }
}
