//! Helpers for the integration tests that run against the local AWS emulator.
//!
//! The emulator (LocalStack, started by `scripts/emulator start`) keeps state in memory with no
//! reset, so every test names its resources with [`unique_name`]; and a test run without the
//! emulator must fail loudly rather than pass vacuously, so [`emulator_clients`] checks that the
//! endpoint answers before building clients.
//!
//! [`lambda`] runs the real scale-up Lambda binary behind a local Lambda Runtime API, and
//! [`sns_bridge`] subscribes it to an emulator SNS topic over HTTP, so an alarm can travel the
//! whole path: CloudWatch → SNS → Lambda → Kinesis. [`fault_proxy`] stands between a binary and
//! the emulator and answers chosen operations as a failing AWS would.

pub mod fault_proxy;
pub mod lambda;
mod shared;
pub mod sns_bridge;

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_adapters::{AwsClients, load_static_config};
use reconciler::{Io, IoPolicy, SystemClock};

use crate::lambda::LocalLambda;

/// Where `scripts/emulator` listens unless `EMULATOR_ENDPOINT` says otherwise.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";
/// The emulator's region and account (it accepts any credentials).
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";

/// The emulator endpoint: `EMULATOR_ENDPOINT` or [`DEFAULT_ENDPOINT`].
pub fn endpoint() -> String {
    std::env::var("EMULATOR_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_owned())
}

/// SDK clients pointed at the emulator with static `test`/`test` credentials.
///
/// # Panics
/// If nothing listens at the endpoint, with a message saying how to start the emulator.
pub async fn emulator_clients() -> AwsClients {
    let endpoint = endpoint();
    if let Err(reason) = check_reachable(&endpoint) {
        panic!(
            "the AWS emulator is not reachable at {endpoint} ({reason}).\n\
             Start it with `scripts/emulator start` (or set EMULATOR_ENDPOINT), then rerun the tests."
        );
    }
    AwsClients::new(&load_static_config(REGION, &endpoint, "test", "test").await)
}

/// `port` behind the tool's own I/O policy on the wall clock, so a test's set-up rides out the
/// emulator's refusals (it allows 5 streams `CREATING` at once, and parallel tests hold some) with
/// the same retries and backoff as the tool's programs.
pub fn with_retries<P>(port: P) -> Io<P> {
    Io::new(port, Arc::new(IoPolicy::new(Arc::new(SystemClock))))
}

/// The workspace binary `name` Cargo put beside this test or example executable
/// (`target/<profile>/deps/..` or `target/<profile>/examples/..`).
///
/// # Panics
/// If it is not there, saying how to build it.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test executable");
    let profile_dir =
        exe.parent().and_then(Path::parent).expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the {name} binary is not at {}: build it first with `cargo build --workspace --bins` \
         (scripts/test does), then rerun the tests",
        bin.display()
    );
    bin
}

/// The workspace's `streams` CLI, run in `dir` as CI runs it but against `endpoint`: the
/// emulator's static credentials and region, and nothing from the developer's AWS configuration
/// (profile, session token, endpoint variable) that could send it elsewhere. Add the subcommand.
pub fn streams_command(dir: &Path, endpoint: &str) -> Command {
    let mut command = Command::new(workspace_binary("streams"));
    command
        .arg("--endpoint-url")
        .arg(endpoint)
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION);
    for leaked in ["AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"] {
        command.env_remove(leaked);
    }
    command
}

/// Starts the workspace's Lambda binary `name` (`lambda-scale-up`, `lambda-scale-down`) under a
/// local Runtime API, configured as in AWS but pointed at the emulator, with `env` on top.
pub fn emulator_function(name: &str, env: &[(&str, &str)], timeout: Duration) -> LocalLambda {
    emulator_function_at(&workspace_binary(name), env, timeout)
}

/// Like [`emulator_function`], for the Lambda binary at `binary` (a release build, say).
pub fn emulator_function_at(binary: &Path, env: &[(&str, &str)], timeout: Duration) -> LocalLambda {
    function_via(binary, &endpoint(), env, timeout)
}

/// Like [`emulator_function`], with every AWS call sent to `endpoint` (a
/// [`fault_proxy::FaultProxy`] in front of the emulator).
pub fn emulator_function_via(
    name: &str,
    endpoint: &str,
    env: &[(&str, &str)],
    timeout: Duration,
) -> LocalLambda {
    function_via(&workspace_binary(name), endpoint, env, timeout)
}

fn function_via(binary: &Path, endpoint: &str, env: &[(&str, &str)], timeout: Duration) -> LocalLambda {
    let mut all = vec![
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
    ];
    all.extend_from_slice(env);
    LocalLambda::start_with_timeout(binary, &all, timeout)
}

/// Opens (and closes) a TCP connection to the endpoint's host and port.
fn check_reachable(endpoint: &str) -> Result<(), String> {
    let authority = endpoint.split("://").nth(1).unwrap_or(endpoint).split('/').next().unwrap_or_default();
    let addrs: Vec<_> =
        authority.to_socket_addrs().map_err(|e| format!("cannot resolve {authority:?}: {e}"))?.collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// A name no other test, and no earlier run against the same emulator, has used:
/// `{prefix}-{process id}-{start time}-{counter}`, within Kinesis's and CloudWatch's name rules.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    format!("{prefix}-{}-{millis:x}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_keep_their_prefix() {
        let (a, b) = (unique_name("smoke"), unique_name("smoke"));
        assert_ne!(a, b);
        assert!(a.starts_with("smoke-"));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn an_unreachable_endpoint_is_reported() {
        // Port 9 (discard) on loopback is closed on any sane test machine.
        assert!(check_reachable("http://127.0.0.1:9").is_err());
    }
}
