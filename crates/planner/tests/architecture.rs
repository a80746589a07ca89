//! The architecture invariants that live in the manifests, checked over `cargo metadata` so a
//! forbidden dependency fails the build's tests rather than waiting for a reviewer.
//!
//! Only the workspace's own manifests are read (`--no-deps`): each member's *direct* dependencies,
//! and for the planner also those of any workspace crate it pulls in by path. Dev-dependencies are
//! left out: tests may use what the code may not. The lints that keep the planner off the clock and
//! the environment are in `crates/planner/clippy.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A workspace member's normal and build dependencies, by package name (a `package = ...` rename
/// does not hide an `aws-sdk-*` crate), and which of them are workspace crates.
#[derive(Debug, Default)]
struct Member {
    dependencies: BTreeSet<String>,
    path_dependencies: BTreeSet<String>,
}

fn workspace() -> BTreeMap<String, Member> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .map(|id| id.as_str().expect("a package id"))
        .collect();
    let mut workspace = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        if !members.contains(package["id"].as_str().expect("a package id")) {
            continue;
        }
        let mut member = Member::default();
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            if dependency["kind"].as_str() == Some("dev") {
                continue;
            }
            let name = dependency["name"].as_str().expect("a dependency name").to_owned();
            if dependency["path"].is_string() {
                member.path_dependencies.insert(name.clone());
            }
            member.dependencies.insert(name);
        }
        workspace.insert(package["name"].as_str().expect("a package name").to_owned(), member);
    }
    workspace
}

/// `name` and the workspace crates it depends on, directly or not.
fn closure<'a>(workspace: &'a BTreeMap<String, Member>, name: &str) -> BTreeMap<&'a str, &'a Member> {
    let mut seen = BTreeMap::new();
    let mut todo = vec![name.to_owned()];
    while let Some(next) = todo.pop() {
        let (key, member) =
            workspace.get_key_value(&next).unwrap_or_else(|| panic!("no workspace member {next}"));
        if seen.insert(key.as_str(), member).is_none() {
            todo.extend(member.path_dependencies.iter().cloned());
        }
    }
    seen
}

#[test]
fn only_aws_adapters_depends_on_an_aws_sdk_crate() {
    let workspace = workspace();
    let mut offenders = Vec::new();
    for (name, member) in &workspace {
        let sdks: Vec<&String> = member.dependencies.iter().filter(|d| d.starts_with("aws-sdk-")).collect();
        if name == "aws-adapters" {
            assert!(
                !sdks.is_empty(),
                "aws-adapters no longer uses the SDK: is this test still looking right?"
            );
        } else if !sdks.is_empty() {
            offenders.push(format!("{name} depends on {sdks:?}"));
        }
    }
    assert!(offenders.is_empty(), "only aws-adapters may depend on aws-sdk-*:\n{}", offenders.join("\n"));
}

/// Crates that would let the code do I/O, await or speak AWS.
fn impure(dependency: &str) -> bool {
    ["aws-", "aws_", "tokio", "futures", "async-", "lambda_runtime", "hyper", "reqwest", "ureq", "tiny_http"]
        .iter()
        .any(|prefix| dependency.starts_with(prefix))
}

#[test]
fn the_planner_depends_on_no_aws_async_or_io_crate() {
    let workspace = workspace();
    let planner = closure(&workspace, "planner");
    let offenders: Vec<String> = planner
        .iter()
        .flat_map(|(name, member)| {
            member.dependencies.iter().filter(|d| impure(d)).map(move |d| format!("{name} depends on {d}"))
        })
        .collect();
    assert!(offenders.is_empty(), "the planner is pure decisions:\n{}", offenders.join("\n"));
}

#[test]
fn the_reconciler_owns_its_ports_without_aws_types() {
    let workspace = workspace();
    let offenders: Vec<String> = closure(&workspace, "reconciler")
        .iter()
        .flat_map(|(name, member)| {
            let aws = member.dependencies.iter().filter(|d| d.starts_with("aws-") || d.starts_with("aws_"));
            aws.map(move |d| format!("{name} depends on {d}"))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "the reconciler speaks AWS only through its ports:\n{}",
        offenders.join("\n")
    );
}
