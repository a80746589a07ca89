//! `streams`: keeps Kinesis streams and their scaling alarms in sync with `streams.yaml`.
//!
//! The binary is only a shell: it parses the command line, hands over to one module per
//! subcommand, and turns the outcome into an exit code. The conventions every subcommand keeps
//! live here, once: `--output text|json`, failures as one `error: ...` line on stderr, exit codes
//! 0 (success) / 1 (problems found or the command failed) / 2 (bad usage, from clap), and a closed
//! stdout (`streams validate | head`) ending the program quietly with 0.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod validate;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the file has problems, or the command failed
  2  invalid command line";

/// Keep Kinesis streams and their autoscaling alarms in sync with streams.yaml.
///
/// streams.yaml lists the streams that should exist and how each one scales: CloudWatch alarms
/// split hot shards, a scheduled job merges cold ones.
#[derive(Debug, Parser)]
#[command(name = "streams", version, after_help = EXIT_CODES)]
struct Cli {
    /// Output format: text for people, or one JSON document on stdout for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,

    #[command(subcommand)]
    command: Command,
}

/// How a subcommand reports its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check streams.yaml and list every problem as file:line:column; touches nothing in AWS.
    ///
    /// Checks YAML syntax, unknown or misspelt keys, value types and ranges, and the rules
    /// between settings once `defaults` are merged into each stream (minShards <= desiredShards
    /// <= maxShards, scaleUp.targetPercent below scaleUp.thresholdPercent,
    /// scaleDown.thresholdPercent below scaleUp.targetPercent, ...).
    ///
    /// Text output: "FILE: OK, N streams (names)" on stdout, or each problem on stderr followed
    /// by a summary line. JSON output: {"version":1,"valid":BOOL,"streams":[NAMES],
    /// "diagnostics":[{"file","line","column","message"}]} on stdout.
    #[command(after_help = EXIT_CODES)]
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate(args) => {
            validate::run(args, cli.output, &mut io::stdout().lock(), &mut io::stderr().lock())
        }
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // Nothing more can be done if stderr is closed too.
            let _ = writeln!(io::stderr(), "error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The reader of our output went away (`| head`): not a failure of ours.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
