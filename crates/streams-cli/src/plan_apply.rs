//! `streams plan`, `streams diff` and `streams apply`: Terraform's plan/apply for `streams.yaml`.
//!
//! Plan reads the live state of every stream the file names (and every stream the tool manages),
//! asks the planner what must change, and prints it. Apply does the same and then makes the
//! changes, or applies a plan saved with `plan --out` after checking that nothing it depends on
//! has changed since (the observed state's fingerprint). An invalid file changes nothing.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use planner::{SyncInput, SyncPlan, plan_sync};
use reconciler::{ApplyEvent, ApplySettings, apply, observe};
use serde::{Deserialize, Serialize};
use streamspec::{Config, SpecError};

use crate::aws::{AwsArgs, Regions, context};
use crate::{Output, markdown, render};

/// Exit code of `plan` and `diff` when there are changes to apply (Terraform's
/// `-detailed-exitcode`): 0 means in sync, 1 an error.
const CHANGES_PENDING: u8 = 2;

#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// The configuration file.
    #[arg(default_value = "streams.yaml")]
    file: PathBuf,
    /// Also plan to delete streams this file created or adopted (its `owner` id) that are no
    /// longer in it, if their deletion protection (written from the file earlier) is off.
    #[arg(long)]
    prune: bool,
    /// Record in the saved plan (--out) that its destructive changes (retention decreases, stream
    /// deletions: both delete records) may be applied.
    #[arg(long)]
    allow_destructive: bool,
    /// Save the plan as JSON to PLANFILE; `streams apply PLANFILE` applies exactly it.
    #[arg(long, value_name = "PLANFILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// The configuration file, or a plan saved with `streams plan --out`.
    #[arg(default_value = "streams.yaml")]
    file: PathBuf,
    /// Delete streams this file created or adopted (its `owner` id) that are no longer in it, if
    /// their deletion protection is off. Needs --allow-destructive too.
    #[arg(long)]
    prune: bool,
    /// Apply changes that delete records: a retention decrease, a stream deletion (--prune).
    /// Without it, a plan with any such change is refused as a whole and nothing is changed.
    #[arg(long)]
    allow_destructive: bool,
}

/// The plan as printed with `--output json` and saved with `--out`. `version` lets the shape
/// change compatibly; `kind` tells a saved plan from a `streams.yaml` given to `apply`.
#[derive(Debug, Serialize, Deserialize)]
struct PlanDocument {
    kind: String,
    version: u32,
    file: String,
    /// The file's `owner` id.
    #[serde(default)]
    owner: Option<String>,
    prune: bool,
    /// Made with `--allow-destructive`: `apply PLANFILE` may carry out its destructive changes.
    #[serde(default)]
    allow_destructive: bool,
    changes: bool,
    /// Every change that deletes records. Written for readers; `apply` recomputes it from the
    /// changes, so editing it in a saved plan changes nothing.
    #[serde(default)]
    destructive: Vec<Destructive>,
    regions: Vec<RegionPlan>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Destructive {
    region: String,
    stream: String,
    what: String,
}

impl PlanDocument {
    /// The destructive changes, from the changes themselves.
    fn destructive_changes(&self) -> Vec<Destructive> {
        self.regions
            .iter()
            .flat_map(|r| {
                r.plan.destructive().into_iter().map(|(stream, what)| Destructive {
                    region: r.region.clone(),
                    stream,
                    what,
                })
            })
            .collect()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RegionPlan {
    region: String,
    /// Digest of the observed state the plan was made from.
    fingerprint: String,
    /// The streams of this region the plan covers, in file order.
    streams: Vec<String>,
    plan: SyncPlan,
}

const PLAN_KIND: &str = "streams-plan";

pub(crate) fn plan(args: &PlanArgs, only_changes: bool, aws: &AwsArgs, output: Output) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let (doc, _) = runtime.block_on(make_plan(&args.file, args.prune, args.allow_destructive, aws))?;
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write the plan to {}", path.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    match output {
        Output::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?,
        Output::Markdown => {
            let regions: Vec<_> = doc.regions.iter().map(|r| (r.region.as_str(), &r.plan)).collect();
            let (text, totals) = render::regions(&regions, only_changes);
            write!(stdout, "{}", markdown::comment(&regions, &totals, &text, markdown::COMMENT_BUDGET))?;
        }
        Output::Text => {
            write!(stdout, "{}", render_document(&doc, only_changes))?;
            if let Some(path) = &args.out {
                writeln!(
                    stdout,
                    "Saved the plan to {}; apply exactly it with: streams apply {}",
                    path.display(),
                    path.display()
                )?;
            }
        }
    }
    Ok(if doc.changes { ExitCode::from(CHANGES_PENDING) } else { ExitCode::SUCCESS })
}

pub(crate) fn apply_command(args: &ApplyArgs, aws: &AwsArgs, output: Output) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let (doc, regions) = match read_saved_plan(&args.file)? {
            Some(saved) => {
                if args.prune && !saved.prune {
                    bail!("--prune cannot be added to a saved plan; make the plan with `streams plan --prune --out`");
                }
                let regions = check_unchanged(&saved, aws).await?;
                (saved, regions)
            }
            None => make_plan(&args.file, args.prune, args.allow_destructive, aws).await?,
        };
        // Progress goes to stderr when stdout carries the JSON document.
        let json = output == Output::Json;
        let mut progress = Progress::new(json);
        if !json {
            progress.write(&render_document(&doc, true));
        }
        let destructive = doc.destructive_changes();
        let allowed = args.allow_destructive || doc.allow_destructive;
        if !allowed && !destructive.is_empty() {
            let list: Vec<String> =
                destructive.iter().map(|d| format!("  {} ({}): {}", d.stream, d.region, d.what)).collect();
            bail!(
                "the plan has {} destructive change(s) and --allow-destructive was not given; nothing was \
                 applied:\n{}",
                destructive.len(),
                list.join("\n")
            );
        }
        for region_plan in &doc.regions {
            let cx = context(&regions.clients[&region_plan.region], "");
            apply(&cx, &region_plan.plan, &ApplySettings::default(), |event| progress.event(event)).await?;
        }
        if json {
            let report = serde_json::json!({ "kind": "streams-apply", "version": 1, "applied": true, "plan": doc });
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            progress.write(if doc.changes { "Apply complete.\n" } else { "Nothing to do: AWS matches the file.\n" });
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Loads and validates the file, reads the live state of each region it uses, and plans.
async fn make_plan(
    file: &Path,
    prune: bool,
    allow_destructive: bool,
    aws: &AwsArgs,
) -> Result<(PlanDocument, Regions)> {
    let config = load(file)?;
    if prune && config.owner.is_none() {
        bail!(
            "--prune needs `owner:` in {}: it deletes only streams carrying the file's owner id, so \
             another file's streams, or a stream tagged by hand, are never deleted",
            file.display()
        );
    }
    let actions: Vec<String> = config.alarm_topic_arn.iter().cloned().collect();
    if actions.is_empty() && !config.streams.is_empty() {
        eprintln!(
            "warning: alarmTopicArn is not set: the alarms will notify nothing and nothing will scale up"
        );
    }
    let regions = aws.clients(config.streams.iter().map(|s| s.region.clone())).await?;
    let mut doc = PlanDocument {
        kind: PLAN_KIND.into(),
        version: 1,
        file: file.display().to_string(),
        owner: config.owner.as_ref().map(|o| o.as_str().to_owned()),
        prune,
        allow_destructive,
        changes: false,
        destructive: Vec::new(),
        regions: Vec::new(),
    };
    for (region, clients) in &regions.clients {
        let specs: Vec<_> =
            config.streams.iter().filter(|s| regions.of(s.region.as_deref()) == *region).collect();
        let names: Vec<String> = specs.iter().map(|s| s.name.as_str().to_owned()).collect();
        let observed = observe_region(clients, &names).await?;
        let desired: Vec<_> = specs.iter().map(|s| s.desired()).collect();
        let plan = plan_sync(SyncInput {
            desired: &desired,
            observed: &observed,
            alarm_actions: &actions,
            owner: config.owner.as_ref(),
            prune,
        });
        doc.changes |= plan.has_changes();
        doc.regions.push(RegionPlan {
            region: region.clone(),
            fingerprint: observed.fingerprint(&names, prune),
            streams: names,
            plan,
        });
    }
    doc.destructive = doc.destructive_changes();
    Ok((doc, regions))
}

async fn observe_region(clients: &aws_adapters::AwsClients, names: &[String]) -> Result<planner::Observed> {
    Ok(observe(&context(clients, ""), names).await?)
}

/// Refuses a saved plan whose observed state no longer matches AWS.
async fn check_unchanged(saved: &PlanDocument, aws: &AwsArgs) -> Result<Regions> {
    let regions = aws.clients(saved.regions.iter().map(|r| Some(r.region.clone()))).await?;
    for region_plan in &saved.regions {
        let observed = observe_region(&regions.clients[&region_plan.region], &region_plan.streams).await?;
        let now = observed.fingerprint(&region_plan.streams, saved.prune);
        if now != region_plan.fingerprint {
            bail!(
                "the live state in {} changed since the plan was made (fingerprint {} is now {now}); \
                 nothing was applied: run `streams plan --out` again",
                region_plan.region,
                region_plan.fingerprint
            );
        }
    }
    Ok(regions)
}

/// `Some` if `file` is a plan saved by `plan --out` (JSON of our kind), `None` for a YAML file.
fn read_saved_plan(file: &Path) -> Result<Option<PlanDocument>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !text.trim_start().starts_with('{') {
        return Ok(None);
    }
    let doc: PlanDocument = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a plan saved by `streams plan --out`", file.display()))?;
    if doc.kind != PLAN_KIND || doc.version != 1 {
        bail!(
            "{} is a {:?} document of version {}, not a version 1 plan",
            file.display(),
            doc.kind,
            doc.version
        );
    }
    Ok(Some(doc))
}

pub(crate) fn load(file: &Path) -> Result<Config> {
    match streamspec::load(file) {
        Ok(config) => Ok(config),
        Err(SpecError::Invalid(diagnostics)) => {
            for d in diagnostics.iter() {
                eprintln!("{d}");
            }
            bail!("{} has {} problem(s); nothing was changed", file.display(), diagnostics.len())
        }
        Err(other) => Err(other.into()),
    }
}

fn render_document(doc: &PlanDocument, only_changes: bool) -> String {
    render::regions(
        &doc.regions.iter().map(|r| (r.region.as_str(), &r.plan)).collect::<Vec<_>>(),
        only_changes,
    )
    .0
}

/// Apply's running commentary: each change as a line; waits as one line updated in place on a
/// terminal, or a plain line per status change and every 10 s otherwise (CI logs).
struct Progress {
    to_stderr: bool,
    tty: bool,
    last_wait: Option<(String, String, u64)>,
}

impl Progress {
    fn new(to_stderr: bool) -> Self {
        let tty = if to_stderr { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
        Progress { to_stderr, tty, last_wait: None }
    }

    fn write(&mut self, text: &str) {
        if self.tty && self.last_wait.take().is_some() {
            self.raw("\n");
        }
        self.last_wait = None;
        self.raw(text);
    }

    fn raw(&self, text: &str) {
        // Progress is best effort: a closed terminal must not fail the apply.
        let _ = if self.to_stderr {
            std::io::stderr().write_all(text.as_bytes())
        } else {
            std::io::stdout().write_all(text.as_bytes())
        };
    }

    fn event(&mut self, event: ApplyEvent<'_>) {
        match event {
            ApplyEvent::Change { stream, change } => {
                let mut line = String::new();
                render::change_line(&mut line, change);
                self.write(&format!("{stream}: {}\n", line.trim()));
            }
            ApplyEvent::DeleteStream { stream } => {
                self.write(&format!("{stream}: deleting the stream and its alarms\n"))
            }
            ApplyEvent::DeleteAlarms { names } => {
                self.write(&format!("deleting {} orphaned alarm(s)\n", names.len()))
            }
            ApplyEvent::Waiting { stream, status, elapsed } => self.waiting(stream, status, elapsed),
        }
    }

    fn waiting(&mut self, stream: &str, status: &str, elapsed: Duration) {
        if status == "ACTIVE" {
            // Done waiting: end an in-place line; there is nothing new to say otherwise.
            if self.tty && self.last_wait.take().is_some() {
                self.raw("\n");
            }
            return;
        }
        let secs = elapsed.as_secs();
        let line = format!("{stream}: waiting for ACTIVE ({status}, {secs}s)");
        if self.tty {
            self.raw(&format!("\r{line}\x1b[K"));
            self.last_wait = Some((stream.into(), status.into(), secs));
            return;
        }
        let changed = match &self.last_wait {
            Some((s, st, at)) => s != stream || st != status || secs >= at + 10,
            None => true,
        };
        if changed {
            self.raw(&format!("{line}\n"));
            self.last_wait = Some((stream.into(), status.into(), secs));
        }
    }
}
