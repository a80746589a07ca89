//! `streams validate`: check a `streams.yaml` before anything acts on it.
//!
//! Reads only the file, never AWS, so it is safe in CI and pre-commit hooks. Every problem is
//! listed at once (not just the first), each as `file:line:column: message`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;
use streamspec::{Config, Diagnostics, SpecError};

use crate::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file to check.
    #[arg(default_value = "streams.yaml")]
    file: PathBuf,
}

/// The most stream names the text output lists: enough to recognise a small file, while a fleet's
/// file gets a count instead of a wall of names (`--output json` always lists every one).
const NAMED_STREAMS: usize = 10;

/// The `--output json` document; `version` lets its shape change compatibly later.
#[derive(Debug, Serialize)]
struct Report<'a> {
    version: u32,
    valid: bool,
    streams: Vec<&'a str>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    message: &'a str,
}

/// Exit code 0 when the file is valid, 1 when it has problems; `Err` when it cannot be read.
pub(crate) fn run(args: &Args, output: Output, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitCode> {
    let outcome = match streamspec::load(&args.file) {
        Ok(config) => Ok(config),
        Err(SpecError::Invalid(diagnostics)) => Err(diagnostics),
        Err(other) => return Err(other.into()),
    };
    let file = args.file.display().to_string();
    match output {
        Output::Text | Output::Markdown => text(&file, &outcome, out, err)?,
        Output::Json => json(&outcome, out)?,
    }
    Ok(if outcome.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn text(
    file: &str,
    outcome: &Result<Config, Diagnostics>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    match outcome {
        Ok(config) => {
            let names: Vec<&str> = config.streams.iter().map(|s| s.name.as_str()).collect();
            let count = plural(names.len(), "stream", "streams");
            if names.len() <= NAMED_STREAMS {
                writeln!(out, "{file}: OK, {count} ({})", names.join(", "))?;
            } else {
                writeln!(out, "{file}: OK, {count}")?;
            }
        }
        Err(diagnostics) => {
            writeln!(err, "{diagnostics}")?;
            let count = plural(diagnostics.len(), "problem", "problems");
            writeln!(err, "error: {file} has {count}; nothing was changed")?;
        }
    }
    Ok(())
}

fn json(outcome: &Result<Config, Diagnostics>, out: &mut dyn Write) -> Result<()> {
    let report = match outcome {
        Ok(config) => Report {
            version: 1,
            valid: true,
            streams: config.streams.iter().map(|s| s.name.as_str()).collect(),
            diagnostics: Vec::new(),
        },
        Err(diagnostics) => Report {
            version: 1,
            valid: false,
            streams: Vec::new(),
            diagnostics: diagnostics
                .iter()
                .map(|d| JsonDiagnostic {
                    file: &d.file,
                    line: d.line,
                    column: d.column,
                    message: &d.message,
                })
                .collect(),
        },
    };
    // Serialised first, then written: serde_json hides the `io::Error` of a closed pipe from the
    // error chain, and `main` must see it to end quietly.
    let document = serde_json::to_string(&report)?;
    writeln!(out, "{document}")?;
    Ok(())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
