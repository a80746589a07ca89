//! `streams`: keeps Kinesis streams and their scaling alarms in sync with `streams.yaml`.
//!
//! The binary is only a shell: it parses the command line, hands over to one module per
//! subcommand, and turns the outcome into an exit code. The conventions every subcommand keeps
//! live here, once: `--output text|json` (and `markdown` for `plan` and `diff`, refused by the
//! others), failures as one `error: ...` line on stderr, exit codes 0 (success) / 1 (problems
//! found, the command failed, or bad usage) / 2 (only `plan` and `diff`: changes pending), and a
//! closed stdout (`streams validate | head`) ending the program quietly with 0.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod aws;
mod import;
mod markdown;
mod plan_apply;
mod render;
mod status;
mod validate;
mod whatif;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the file has problems, the command failed, or the command line is invalid
  2  plan and diff only: changes pending";

const PLAN_EXIT_CODES: &str = "\
Exit codes (as Terraform's plan -detailed-exitcode):
  0  AWS matches the file: nothing to change
  1  error (invalid command line or file, AWS error); nothing was changed
  2  changes pending";

/// Keep Kinesis streams and their autoscaling alarms in sync with streams.yaml.
///
/// streams.yaml lists the streams that should exist and how each one scales: CloudWatch alarms
/// split hot shards, a scheduled job merges cold ones.
#[derive(Debug, Parser)]
#[command(name = "streams", version, after_help = EXIT_CODES)]
struct Cli {
    /// Output format: text for people, one JSON document on stdout for scripts, or (plan and
    /// diff only) a pull-request comment in Markdown.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,

    #[command(flatten)]
    aws: aws::AwsArgs,

    #[command(subcommand)]
    command: Command,
}

/// How a subcommand reports its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
    /// A pull-request comment (GitHub Markdown, under GitHub's comment size limit).
    Markdown,
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
    /// Text output: "FILE: OK, N streams" on stdout (with the names when there are at most 10), or each problem on stderr followed
    /// by a summary line. JSON output: {"version":1,"valid":BOOL,"streams":[NAMES],
    /// "diagnostics":[{"file","line","column","message"}]} on stdout.
    #[command(after_help = EXIT_CODES)]
    Validate(validate::Args),

    /// Show what `apply` would change in AWS, grouped by stream; changes nothing.
    ///
    /// Reads every stream the file names and every stream this tool manages, plus the alarms it
    /// manages, and prints `+` create, `~` change (old → new), `-` delete. The live shard count
    /// is shown as observed: it belongs to the autoscaler and is only changed when it lies outside
    /// [minShards, maxShards]. With --out, the plan is saved for `streams apply PLANFILE`.
    #[command(after_help = PLAN_EXIT_CODES)]
    Plan(plan_apply::PlanArgs),

    /// Like plan, but lists only the streams with changes (kubectl diff).
    #[command(after_help = PLAN_EXIT_CODES)]
    Diff(plan_apply::PlanArgs),

    /// Make AWS match the file (or apply a plan saved with `plan --out`).
    ///
    /// Creates missing streams with desiredShards and waits for them to become ACTIVE, sets
    /// retention and tags (the tags carry each stream's scaling policy for the Lambdas), and writes
    /// the alarms for each stream's live shard count. Safe to re-run: an interrupted apply
    /// converges on the next run. Streams absent from the file are deleted only with --prune and
    /// only if their deletion protection is off. A saved plan is refused if the live state changed
    /// since it was made.
    #[command(after_help = EXIT_CODES)]
    Apply(plan_apply::ApplyArgs),

    /// Show every managed stream's shards, 24 h peak and p95 utilisation, and what the next
    /// scale-down cycle would do; changes nothing.
    ///
    /// Runs the scale-down Lambda's own sweep in dry-run mode against the region (--region): the
    /// same metrics (5-minute sums over each stream's look-back window, read in batched
    /// GetMetricData calls), the same decision. After the table, a hint line for each stream that
    /// throttled while its busiest period stayed under the scale-up threshold: its load sits on a
    /// few shards, and shardLevelMetrics: true would let a scale-up find them. Then a mode line
    /// per stream: `streams whatif`'s capacity-mode advice, replayed from the same look-back (no
    /// other read); in JSON "mode_advice", or null and "no_mode_advice" saying why.
    #[command(after_help = EXIT_CODES)]
    Status(status::StatusArgs),

    /// Write streams.yaml entries for streams that already exist, from their live state.
    ///
    /// For each stream named, or matching --prefix, in the region (--region): its open shard count
    /// as desiredShards, bounds that contain it (half to four times the live count, or the policy
    /// its tag carries if the tool manages it already), its retention, region and user tags. The
    /// first `streams plan` of the result adds only the tool's tags and alarms: nothing
    /// destructive, no reshard. On-demand streams and streams not ACTIVE are left out with a
    /// warning. Prints the file, or writes it to --out (never over an existing file); JSON output:
    /// {"kind":"streams-import","version":1,"region","streams":[NAMES],"skipped":[{"name","reason"}],
    /// "yaml"}.
    #[command(after_help = EXIT_CODES)]
    Import(import::ImportArgs),

    /// Print the JSON Schema of streams.yaml, for editors; reads no file and touches nothing.
    ///
    /// Editors with the YAML language server (VS Code's YAML extension, Neovim, Helix, ...) then
    /// complete keys, show each key's help on hover and flag wrong types and out-of-range values as
    /// you type. Save it next to the file and make the file's first line
    /// "# yaml-language-server: $schema=./streams.schema.json". The schema cannot check the rules
    /// between settings (minShards <= maxShards, ...) or duplicate names: run validate for those.
    #[command(after_help = EXIT_CODES)]
    Schema,

    /// Replay each stream's own CloudWatch history with its policy: what this tool would have done,
    /// what each capacity mode would have cost, and which mode to be in; changes nothing.
    ///
    /// For each stream of the file (or --stream), reads IncomingBytes, IncomingRecords and
    /// WriteProvisionedThroughputExceeded over --days (per minute up to 15 days, per 5 minutes up
    /// to 63), in as few batched GetMetricData calls as CloudWatch's limits allow, and replays them
    /// through the simulator. Prints a table (shards this tool would have run, throttling,
    /// shard-hours, the monthly bill with this tool, as today, on-demand and On-demand Advantage)
    /// and per stream the mode advice and what to know about the data (gaps, a stream younger than
    /// the window, writes already throttled). Writes whatif.md and one SVG per stream to --out.
    /// JSON output: {"kind":"streams-whatif","version":1,"streams":[...],"skipped":[...],...}.
    #[command(after_help = EXIT_CODES)]
    Whatif(whatif::WhatifArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage(&error),
    };
    if cli.output == Output::Markdown && !matches!(cli.command, Command::Plan(_) | Command::Diff(_)) {
        eprintln!("error: --output markdown is for `plan` and `diff` (a pull-request comment)");
        eprintln!("hint: use --output text or --output json with this command");
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Validate(args) => {
            validate::run(args, cli.output, &mut io::stdout().lock(), &mut io::stderr().lock())
        }
        Command::Plan(args) => plan_apply::plan(args, false, &cli.aws, cli.output),
        Command::Diff(args) => plan_apply::plan(args, true, &cli.aws, cli.output),
        Command::Apply(args) => plan_apply::apply_command(args, &cli.aws, cli.output),
        Command::Status(args) => status::run(args, &cli.aws, cli.output),
        Command::Import(args) => import::run(args, &cli.aws, cli.output),
        Command::Schema => schema(&mut io::stdout().lock()),
        Command::Whatif(args) => whatif::run(args, &cli.aws, cli.output),
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // Nothing more can be done if stderr is closed too.
            let _ = writeln!(io::stderr(), "error: {error:#}");
            if let Some(hint) = hint(&error) {
                let _ = writeln!(io::stderr(), "hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `streams schema`: JSON whatever `--output` says, since the schema is a JSON document.
fn schema(out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let text = serde_json::to_string_pretty(&streamspec::json_schema())?;
    writeln!(out, "{text}")?;
    Ok(ExitCode::SUCCESS)
}

/// Prints clap's message and exits 0 for `--help` and `--version`, 1 for a usage error. Clap's own
/// `exit` would use 2, which `plan` and `diff` reserve for "changes pending": a CI job with a
/// mistyped flag must fail, not report pending changes (Terraform exits 1 too).
fn usage(error: &clap::Error) -> ExitCode {
    // Nothing more can be done if the stream is closed (`streams --help | head`).
    let _ = error.print();
    if error.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// The reader of our output went away (`| head`): not a failure of ours.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// What to do about a failed AWS call, by the kind of failure the one error policy assigned.
fn hint(error: &anyhow::Error) -> Option<&'static str> {
    use reconciler::{ErrorKind, PortError, ReconcileError};
    let kind = error.chain().find_map(|cause| {
        cause
            .downcast_ref::<PortError>()
            .or_else(|| match cause.downcast_ref::<ReconcileError>() {
                Some(ReconcileError::Port(e)) => Some(e),
                _ => None,
            })
            .map(|e| e.kind)
    })?;
    Some(match kind {
        ErrorKind::AccessDenied => {
            "the credentials in use may not make this call: check the profile or role (--profile, AWS_PROFILE)"
        }
        ErrorKind::Throttled | ErrorKind::LimitExceeded => {
            "AWS kept refusing for rate limits; wait a minute and re-run: apply is safe to re-run"
        }
        ErrorKind::QuotaExceeded => {
            "a Kinesis quota is reached (10 UpdateShardCount calls per stream per rolling 24 h, or the \
             account's shard limit): re-run later, or ask AWS for a higher limit"
        }
        ErrorKind::ResourceInUse => "the stream is busy (being created or resharded); re-run in a minute",
        ErrorKind::Transient | ErrorKind::TimedOut => {
            "AWS (or --endpoint-url) could not be reached; check the network and re-run"
        }
        ErrorKind::NotFound => "it was deleted meanwhile; run `streams plan` again",
        ErrorKind::InvalidArgument => "AWS rejected the request; the message says which value",
        _ => return None,
    })
}
