//! `simulate`: runs every policy on every committed trace and writes the report, or replays a
//! user's own recorded traffic (`--trace FILE.csv`) against every policy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use simulator::report::TraceResult;
use simulator::{SimError, plot, recorded, report, trace};

/// Deterministic trace-driven simulator of Kinesis scaling policies.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Replay this recorded traffic against every policy and write report.md and STEM.svg.
    /// CSV with a header: `minute,bytes_per_s,records_per_s[,hot_key_share]`, one row per
    /// minute from 0, at most 31 days (see docs/simulation/README.md).
    #[arg(long, value_name = "FILE.csv")]
    trace: Option<PathBuf>,
    /// With --trace: the directory to write into (created if missing).
    #[arg(long, requires = "trace", default_value = "target/simulation-trace")]
    out: PathBuf,
    /// With --trace: time to capacity and the physical bound are measured from this minute to
    /// the end. A recording has no shape that says when demand changed; without it, none is.
    #[arg(long, requires = "trace", value_name = "M")]
    event_minute: Option<u32>,
    /// With --trace: the file's first N days are the stream's CloudWatch history before this
    /// tool adopts it, read by the predictive row's forecast but not simulated or measured (the
    /// event minute counts from the file's start). Without it the predictive row learns from the
    /// replay's own earlier part as it goes.
    #[arg(long, requires = "trace", value_name = "N")]
    history_days: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every policy on the traces and write report.md and one SVG per trace.
    Report {
        /// Directory to write into (created if missing).
        #[arg(long, default_value = "docs/simulation")]
        out: PathBuf,
        /// Only the short CI set (the traces marked `short`). Exits non-zero if an invariant
        /// breaks, as the full run does.
        #[arg(long)]
        short: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match (cli.command, cli.trace) {
        (Some(Command::Report { out, short }), _) => report_all(&out, short),
        (None, Some(file)) => replay(&file, &cli.out, cli.event_minute, cli.history_days),
        (None, None) => anyhow::bail!("give --trace FILE.csv or a subcommand (see --help)"),
    }
}

/// `report`: every committed trace (or the short set), with the targets.
fn report_all(out: &Path, short: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let traces: Vec<_> = trace::all()?.into_iter().filter(|t| !short || t.is_short()).collect();
    let results = report::run_all(&traces)?;
    let targets = report::targets(&results);
    create_dir(out)?;
    for r in &results {
        write_svg(out, r)?;
    }
    let path = write(out, &report::markdown(&results, &targets, short))?;
    println!("{}", report::summary_table(&results));
    for t in &targets {
        println!("{} {}: {}", if t.met { "met    " } else { "NOT MET" }, t.what, t.figures);
    }
    println!(
        "\n{} trace(s) × {} policies in {:.1} s; report in {}",
        results.len(),
        simulator::policies::PolicyKind::ALL.len(),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// `--trace FILE.csv`: one recorded trace, every policy, no targets.
fn replay(
    file: &Path,
    out: &Path,
    event_minute: Option<u32>,
    history_days: Option<u32>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut trace = recorded::read(file)?;
    if let Some(m) = event_minute {
        trace = trace.with_event_at_minute(m)?;
    }
    if let Some(days) = history_days {
        trace = trace.with_history_days(days)?;
    }
    let mut results = report::run_all(std::slice::from_ref(&trace))?;
    let result = results.pop().context("one trace gives one result")?;
    create_dir(out)?;
    write_svg(out, &result)?;
    let mut command = format!("simulate --trace {} --out {}", file.display(), out.display());
    if let Some(m) = event_minute {
        command.push_str(&format!(" --event-minute {m}"));
    }
    if let Some(days) = history_days {
        command.push_str(&format!(" --history-days {days}"));
    }
    let path = write(out, &report::recorded_markdown(&result, &command))?;
    println!("{}", report::summary_table(std::slice::from_ref(&result)));
    println!(
        "{} minutes × {} policies in {:.1} s; report in {}",
        trace.minutes(),
        simulator::policies::PolicyKind::ALL.len(),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

fn create_dir(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

/// One trace's plots as the report links them: `out/NAME.svg`, and `out/NAME-readers.svg` where
/// its readers fell behind (with the counterfactual of the readers target, if it ran).
fn write_svg(out: &Path, r: &TraceResult) -> Result<(), SimError> {
    let title = format!("{}: {}", r.trace.name(), r.trace.description());
    plot::trace_svg(&out.join(format!("{}.svg", r.trace.name())), &title, &r.outcomes)?;
    if report::readers_matter(r) {
        let outcomes: Vec<_> = r.outcomes.iter().chain(&r.without_scale_down).cloned().collect();
        plot::readers_svg(&out.join(format!("{}-readers.svg", r.trace.name())), &title, &outcomes)?;
    }
    Ok(())
}

/// `out/report.md`.
fn write(out: &Path, markdown: &str) -> Result<PathBuf, SimError> {
    let path = out.join("report.md");
    std::fs::write(&path, markdown)
        .map_err(|source| SimError::Write { path: path.display().to_string(), source })?;
    Ok(path)
}
