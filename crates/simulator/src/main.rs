//! `simulate`: runs every policy on every committed trace and writes the report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use simulator::{SimError, plot, report, trace};

/// Deterministic trace-driven simulator of Kinesis scaling policies.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    let Command::Report { out, short } = cli.command;
    let started = Instant::now();
    let traces: Vec<_> = trace::all()?.into_iter().filter(|t| !short || t.spec.short).collect();
    let results = report::run_all(&traces)?;
    let targets = report::targets(&results);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for r in &results {
        let path = out.join(format!("{}.svg", r.trace.name()));
        plot::trace_svg(&path, &format!("{}: {}", r.trace.name(), r.trace.spec.description), &r.outcomes)?;
    }
    let path = out.join("report.md");
    std::fs::write(&path, report::markdown(&results, &targets, short))
        .map_err(|source| SimError::Write { path: path.display().to_string(), source })?;
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
