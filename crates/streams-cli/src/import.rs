//! `streams import`: writes `streams.yaml` entries for streams that already exist, from their live
//! state, so adopting them plans nothing destructive ([`streamspec::import_file`] decides what is
//! written; this module reads AWS and writes the file).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use planner::{DELETION_PROTECTION_TAG, OWNER_TAG, OwnerId, POLICY_TAG, decode_policy};
use reconciler::{ErrorKind, StreamReader};
use serde::Serialize;
use streamspec::{ImportHeader, LiveStream, import_file};

use crate::Output;
use crate::aws::{AwsArgs, context};

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// Streams to import, by exact name.
    names: Vec<String>,
    /// Also import every stream whose name starts with PREFIX (repeatable).
    #[arg(long, value_name = "PREFIX")]
    prefix: Vec<String>,
    /// The file's owner id (`owner:`), written on every stream it adopts; `--prune` needs it.
    #[arg(long, value_name = "ID")]
    owner: Option<String>,
    /// The SNS topic the alarms notify (`alarmTopicArn:`; the stack output AlarmTopicArn).
    #[arg(long, value_name = "ARN")]
    alarm_topic_arn: Option<String>,
    /// Write the file to FILE instead of stdout. An existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// A stream named or matched but not written, and why.
#[derive(Debug, Serialize)]
struct Skipped {
    name: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct ImportDocument<'a> {
    kind: &'static str,
    version: u32,
    region: &'a str,
    streams: Vec<&'a str>,
    skipped: &'a [Skipped],
    yaml: &'a str,
}

pub(crate) fn run(args: &ImportArgs, aws: &AwsArgs, output: Output) -> Result<ExitCode> {
    let owner = match &args.owner {
        Some(id) => {
            Some(OwnerId::new(id.as_str()).map_err(|rule| anyhow::anyhow!("--owner {id:?}: {rule}"))?)
        }
        None => None,
    };
    if args.names.is_empty() && args.prefix.is_empty() {
        bail!("name the streams to import (streams import NAME...) or give --prefix PREFIX");
    }
    if let Some(path) = args.out.as_ref().filter(|p| p.exists()) {
        bail!("{} exists; import never overwrites a file: choose another --out", path.display());
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let regions = runtime.block_on(aws.clients([None]))?;
    let region = regions.default.clone();
    let (live, skipped) =
        runtime.block_on(read_streams(context(&regions.clients[&region], "").kinesis(), args, &region))?;
    for s in &skipped {
        eprintln!("warning: {}: not imported: {}", s.name, s.reason);
    }
    if live.is_empty() {
        bail!("no stream to import in {region}");
    }
    let header = ImportHeader { owner, alarm_topic_arn: args.alarm_topic_arn.clone() };
    let yaml = import_file(&header, &live);
    // What AWS holds may break the file's rules (a tag Kinesis took that the file refuses, more user
    // tags than a file may set): say which, and write nothing a later `plan` would reject.
    if let Err(diagnostics) = streamspec::parse("imported streams.yaml", &yaml) {
        for d in diagnostics.iter() {
            eprintln!("{d}");
        }
        bail!(
            "the imported file would not validate ({} problem(s)); nothing was written: fix the streams \
             above or leave them out",
            diagnostics.len()
        );
    }
    if let Some(path) = &args.out {
        // create_new: a file that appeared since the check above is not overwritten either.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(yaml.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    match (output, &args.out) {
        (Output::Json, _) => {
            let doc = ImportDocument {
                kind: "streams-import",
                version: 1,
                region: &region,
                streams: live.iter().map(|s| s.name.as_str()).collect(),
                skipped: &skipped,
                yaml: &yaml,
            };
            let text = serde_json::to_string_pretty(&doc)?;
            writeln!(stdout, "{text}")?;
        }
        (Output::Text | Output::Markdown, None) => write!(stdout, "{yaml}")?,
        (Output::Text | Output::Markdown, Some(path)) => writeln!(
            stdout,
            "Wrote {} stream(s) to {}; review the bounds, then: streams plan {}",
            live.len(),
            path.display(),
            path.display()
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The named streams and those matching a prefix, in name order, read from AWS (through the I/O
/// policy: `streams` is a port behind it); the ones that cannot be imported as they are, with the
/// reason.
async fn read_streams(
    streams: &impl StreamReader,
    args: &ImportArgs,
    region: &str,
) -> Result<(Vec<LiveStream>, Vec<Skipped>)> {
    let existing = streams.list_streams().await?;
    let missing: Vec<&String> = args.names.iter().filter(|n| !existing.contains(n)).collect();
    if !missing.is_empty() {
        let list: Vec<&str> = missing.iter().map(|n| n.as_str()).collect();
        bail!("no such stream in {region}: {}", list.join(", "));
    }
    let mut wanted: Vec<&String> = existing
        .iter()
        .filter(|n| args.names.contains(n) || args.prefix.iter().any(|p| n.starts_with(p.as_str())))
        .collect();
    wanted.sort();
    let (mut live, mut skipped) = (Vec::new(), Vec::new());
    for name in wanted {
        let skip = |reason: String| Skipped { name: name.clone(), reason };
        let snapshot = match streams.describe(name).await {
            Ok(snapshot) => snapshot,
            Err(e) if e.kind == ErrorKind::NotFound => {
                skipped.push(skip("deleted while importing".into()));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
        };
        if snapshot.on_demand {
            skipped.push(skip("on-demand capacity mode: Kinesis scales it itself".into()));
            continue;
        }
        let Some(tiling) = snapshot.tiling() else {
            skipped.push(skip(format!("it is {}: import it once it is ACTIVE", snapshot.status)));
            continue;
        };
        let policy = snapshot.tags.get(POLICY_TAG).and_then(|tag| match decode_policy(tag) {
            Ok(policy) => Some(policy),
            Err(e) => {
                eprintln!("warning: {name}: {e}; imported with bounds around its live count instead");
                None
            }
        });
        if let Some(owner) = snapshot.tags.get(OWNER_TAG) {
            eprintln!(
                "warning: {name}: another file (owner {owner:?}) manages it; applying this file takes it over"
            );
        }
        live.push(LiveStream {
            name: name.clone(),
            region: region.to_owned(),
            open_shards: tiling.len(),
            retention_hours: snapshot.retention_hours,
            unprotected: snapshot.tags.get(DELETION_PROTECTION_TAG).is_some_and(|v| v == "off"),
            tags: snapshot.tags.clone(),
            policy,
        });
    }
    Ok((live, skipped))
}
