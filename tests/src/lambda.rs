//! A local Lambda Runtime API that runs the real bootstrap binary.
//!
//! The scale-up Lambda is a `lambda_runtime` binary: in AWS it polls the Runtime API of its
//! execution environment for events and posts back each answer. [`LocalLambda`] plays that
//! environment on loopback (the same paths and headers `lambda_runtime` 1.5 speaks), spawns the
//! built binary as a child process pointed at it, and hands it events one at a time, so the tests
//! exercise the very program that is deployed: its `main`, its init, its event decoding, its
//! error labels and its decision lines on stdout.
//!
//! Everything is bounded: every wait has a timeout, the server binds `127.0.0.1` only, and the
//! child is killed when the `LocalLambda` is dropped.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::shared::TICK;
use crate::{ACCOUNT, REGION};

/// How long an invocation may run unless [`LocalLambda::start_with_timeout`] says otherwise, as
/// announced in `Lambda-Runtime-Deadline-Ms`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an event may wait in the queue for the function to ask for it.
const PICKUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How much longer than its deadline a running invocation is given before we call it hung.
const ANSWER_SLACK: Duration = Duration::from_secs(20);
/// How long the binary may take from spawn to its first `/next` request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

const API: &str = "/2018-06-01/runtime";

/// What an invocation returned: the function's JSON response, or the error document it posted
/// (`{"errorType": …, "errorMessage": …}`).
pub type Invocation = Result<Value, Value>;

/// The function's name as the stack deploys it: `lambda-scale-up` → `kinesis-autoscaler-scale-up`.
pub fn function_name(binary: &Path) -> String {
    let stem = binary.file_stem().and_then(|s| s.to_str()).unwrap_or("function");
    format!("kinesis-autoscaler-{}", stem.strip_prefix("lambda-").unwrap_or(stem))
}

/// The invoked function's ARN, in the emulator's account and region.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

/// The event an EventBridge schedule rule named `rule` delivers to its target at `time`
/// (RFC 3339, UTC): a `Scheduled Event` with an empty `detail`, as the scale-down function
/// receives it every cycle.
pub fn scheduled_event(rule: &str, time: &str) -> Value {
    let id =
        request_id(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default());
    json!({
        "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": time, "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")], "detail": {}
    })
}

/// A Lambda execution environment on loopback running one real bootstrap binary.
pub struct LocalLambda {
    shared: Arc<Shared>,
    server: Arc<Server>,
    child: Mutex<Child>,
    threads: Vec<JoinHandle<()>>,
    address: SocketAddr,
    spawned_at: Instant,
}

type Shared = crate::shared::Shared<State>;

#[derive(Debug, Default)]
struct State {
    /// The function's ARN and timeout, announced with every event.
    arn: String,
    timeout: Duration,
    next_id: u64,
    queue: VecDeque<(String, Value)>,
    /// Invocations handed to the function, and when.
    running: HashMap<String, Instant>,
    results: HashMap<String, Invocation>,
    ready_after: Option<Duration>,
    init_error: Option<Value>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl LocalLambda {
    /// Serves the Runtime API on `127.0.0.1:<free port>` and spawns `binary` against it, with the
    /// variables `lambda_runtime` requires and `env` (credentials, region, endpoint) — and nothing
    /// else from the test's environment, as in a real execution environment.
    ///
    /// # Panics
    /// If the port cannot be bound or the binary cannot be spawned.
    pub fn start(binary: &Path, env: &[(&str, &str)]) -> LocalLambda {
        Self::start_with_timeout(binary, env, DEFAULT_TIMEOUT)
    }

    /// Like [`LocalLambda::start`], with each invocation's deadline `timeout` after it starts.
    pub fn start_with_timeout(binary: &Path, env: &[(&str, &str)], timeout: Duration) -> LocalLambda {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind the local Lambda Runtime API"));
        let address = server.server_addr().to_ip().expect("an IP listener");
        let name = function_name(binary);
        let shared = Arc::new(Shared::new(State { arn: function_arn(&name), timeout, ..State::default() }));

        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local/[$LATEST]0")
            // What Lambda sets for a function whose log format is JSON, as the stack deploys them:
            // the functions' tracing events are then JSON lines, which the tests read.
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for key in ["RUST_LOG", "RUST_BACKTRACE"] {
            if let Ok(value) = std::env::var(key) {
                command.env(key, value);
            }
        }
        command.envs(env.iter().copied());
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the Lambda bootstrap {}: {e}", binary.display()));

        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let threads = vec![
            spawn_reader(stdout, shared.clone(), |state, line| state.stdout.push(line)),
            spawn_reader(stderr, shared.clone(), |state, line| state.stderr.push(line)),
            {
                let (server, shared) = (server.clone(), shared.clone());
                std::thread::spawn(move || serve(&server, &shared, spawned_at))
            },
        ];
        LocalLambda { shared, server, child: Mutex::new(child), threads, address, spawned_at }
    }

    /// `host:port` of the Runtime API (what `AWS_LAMBDA_RUNTIME_API` holds).
    pub fn runtime_api(&self) -> SocketAddr {
        self.address
    }

    /// The function's process id, for reading its `/proc/<pid>/status` (peak RSS) and CPU time
    /// (`examples/controller_bench.rs`). The process lives until this `LocalLambda` is dropped.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(PoisonError::into_inner).id()
    }

    /// Invokes the function with `payload` and waits for its answer. Blocking: the function is
    /// another process, so nothing on the caller's async runtime has to run meanwhile.
    ///
    /// # Panics
    /// If the function does not pick the event up or answer within its deadline plus a margin, or
    /// exits, or failed its init; the message holds everything the function printed.
    pub fn invoke(&self, payload: Value) -> Invocation {
        self.try_invoke(payload).unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// Like [`LocalLambda::invoke`], but a function that never answers is an `Err` describing
    /// why, with the function's output, instead of a panic.
    pub fn try_invoke(&self, payload: Value) -> Result<Invocation, String> {
        let queued_at = Instant::now();
        let mut state = self.shared.lock();
        state.next_id += 1;
        let id = request_id(state.next_id);
        state.queue.push_back((id.clone(), payload));
        self.shared.notify();
        loop {
            if let Some(result) = state.results.remove(&id) {
                return Ok(result);
            }
            let why = if let Some(error) = &state.init_error {
                Some(format!("the function failed its init: {error}"))
            } else if let Some(started) = state.running.get(&id) {
                (started.elapsed() > state.timeout + ANSWER_SLACK)
                    .then(|| format!("no answer {:?} after the function took the event", started.elapsed()))
            } else {
                (queued_at.elapsed() > PICKUP_TIMEOUT)
                    .then(|| format!("the function did not ask for the event within {PICKUP_TIMEOUT:?}"))
            };
            let why = why.or_else(|| self.exited().map(|status| format!("the function exited ({status})")));
            if let Some(why) = why {
                state.queue.retain(|(queued, _)| *queued != id);
                return Err(format!("invocation {id}: {why}\n{}", transcript(&state)));
            }
            state = self.shared.wait(state);
        }
    }

    /// Everything the function printed on stdout so far, line by line.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.shared.lock().stdout.clone()
    }

    /// Everything the function printed on stderr so far, line by line.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.shared.lock().stderr.clone()
    }

    /// The function's stdout and stderr, for failure messages.
    pub fn transcript(&self) -> String {
        transcript(&self.shared.lock())
    }

    /// The JSON lines of stdout (the function logs JSON: tracing events and decision records).
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout_lines().iter().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }

    /// The decision records: JSON lines whose `message` is `"decision"`, oldest first.
    pub fn decisions(&self) -> Vec<Value> {
        self.json_lines().into_iter().filter(|line| line["message"] == "decision").collect()
    }

    /// Waits up to `timeout` for a decision record that satisfies `wanted`.
    pub fn wait_for_decision(&self, timeout: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        let until = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let found = state
                .stdout
                .iter()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|line| line["message"] == "decision" && wanted(line));
            if found.is_some() || Instant::now() > until {
                return found;
            }
            state = self.shared.wait(state);
        }
    }

    /// From spawning the binary to its first `GET …/invocation/next`: the cold start (process
    /// start, SDK configuration, warming the connections). Waits for it, up to 30 s.
    ///
    /// # Panics
    /// If the function is not ready in time or exits first.
    pub fn time_to_ready(&self) -> Duration {
        let mut state = self.shared.lock();
        loop {
            if let Some(ready) = state.ready_after {
                return ready;
            }
            if let Some(status) = self.exited() {
                panic!("the function exited ({status}) before asking for an event\n{}", transcript(&state));
            }
            assert!(
                self.spawned_at.elapsed() < READY_TIMEOUT,
                "the function did not ask for an event within {READY_TIMEOUT:?}\n{}",
                transcript(&state)
            );
            state = self.shared.wait(state);
        }
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        child.try_wait().ok().flatten()
    }
}

impl std::fmt::Debug for LocalLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLambda").field("runtime_api", &self.address).finish_non_exhaustive()
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        {
            let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = child.kill();
            let _ = child.wait();
        }
        self.shared.stop();
        self.server.unblock();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn spawn_reader(
    stream: impl Read + Send + 'static,
    shared: Arc<Shared>,
    push: fn(&mut State, String),
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        // Ends at EOF, when the child exits or is killed.
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            push(&mut shared.lock(), line);
            shared.notify();
        }
    })
}

/// The Runtime API server loop: `/next` long-polls on a thread of its own, so an answer (or an
/// init error) is always heard while the function waits for its next event.
fn serve(server: &Server, shared: &Arc<Shared>, spawned_at: Instant) {
    let mut pollers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        let request = match server.recv_timeout(TICK) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(_) => break,
        };
        let path = request.url().to_owned();
        match (request.method(), path.strip_prefix(API)) {
            (Method::Get, Some("/invocation/next")) => {
                let mut state = shared.lock();
                state.ready_after.get_or_insert_with(|| spawned_at.elapsed());
                drop(state);
                shared.notify();
                let shared = shared.clone();
                pollers.retain(|poller| !poller.is_finished());
                pollers.push(std::thread::spawn(move || next_event(request, &shared)));
            }
            (Method::Post, Some(rest)) => post(request, rest, shared),
            _ => respond(request, 404, json!({"errorType": "NotFound", "errorMessage": path})),
        }
    }
    for poller in pollers {
        let _ = poller.join();
    }
}

/// `GET /runtime/invocation/next`: waits for an event, then hands it over with the headers
/// `lambda_runtime` reads into its `Context`.
fn next_event(request: Request, shared: &Shared) {
    let mut state = shared.lock();
    let (id, payload) = loop {
        if shared.stopping() {
            return;
        }
        if let Some(event) = state.queue.pop_front() {
            break event;
        }
        state = shared.wait(state);
    };
    state.running.insert(id.clone(), Instant::now());
    let (arn, timeout) = (state.arn.clone(), state.timeout);
    drop(state);
    let deadline = SystemTime::now() + timeout;
    let deadline_ms = deadline.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    let trace = format!("Root=1-{:08x}-{};Parent={};Sampled=0", deadline_ms / 1000, &hex[8..], &hex[16..]);
    let response = Response::from_string(payload.to_string())
        .with_status_code(200)
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("Lambda-Runtime-Aws-Request-Id", &id))
        .with_header(header("Lambda-Runtime-Deadline-Ms", &deadline_ms.to_string()))
        .with_header(header("Lambda-Runtime-Invoked-Function-Arn", &arn))
        .with_header(header("Lambda-Runtime-Trace-Id", &trace));
    let _ = request.respond(response);
}

/// `POST /runtime/invocation/{id}/response`, `…/{id}/error` and `/runtime/init/error`.
fn post(mut request: Request, rest: &str, shared: &Shared) {
    let mut body = String::new();
    let _ = request.as_reader().take(16 << 20).read_to_string(&mut body);
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let mut state = shared.lock();
    if rest == "/init/error" {
        state.init_error = Some(value);
    } else {
        let answer = rest.strip_prefix("/invocation/").and_then(|rest| {
            rest.strip_suffix("/response")
                .map(|id| (id, Ok(value.clone())))
                .or_else(|| rest.strip_suffix("/error").map(|id| (id, Err(value.clone()))))
        });
        let Some((id, result)) = answer.filter(|(id, _)| state.running.contains_key(*id)) else {
            drop(state);
            let message = format!("no invocation {rest}");
            return respond(request, 400, json!({"errorType": "InvalidRequestID", "errorMessage": message}));
        };
        let id = id.to_owned();
        state.running.remove(&id);
        state.results.insert(id, result);
    }
    drop(state);
    shared.notify();
    respond(request, 202, json!({"status": "OK"}));
}

fn respond(request: Request, status: u16, body: Value) {
    let response = Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"));
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("ASCII header")
}

/// A request id shaped like AWS's (a UUID): unique per process and invocation.
fn request_id(n: u64) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let pid = std::process::id();
    format!(
        "{pid:08x}-{:04x}-4{:03x}-8{:03x}-{n:012x}",
        (nanos >> 32) as u16,
        (nanos >> 16) as u16 & 0xfff,
        nanos as u16 & 0xfff
    )
}

fn transcript(state: &State) -> String {
    format!(
        "--- function stdout\n{}\n--- function stderr\n{}\n---",
        state.stdout.join("\n"),
        state.stderr.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids_and_differ() {
        let (a, b) = (request_id(1), request_id(2));
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{a}");
    }

    #[test]
    fn a_scheduled_event_is_shaped_as_eventbridge_sends_it() {
        let event = scheduled_event("scale-down", "2026-11-23T03:00:00Z");
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["resources"][0], "arn:aws:events:us-east-1:000000000000:rule/scale-down");
        assert_eq!(event["time"], "2026-11-23T03:00:00Z");
    }

    #[test]
    fn the_function_arn_names_the_deployed_function_in_the_emulator_account_and_region() {
        let name = function_name(Path::new("target/debug/lambda-scale-up"));
        assert_eq!(
            function_arn(&name),
            "arn:aws:lambda:us-east-1:000000000000:function:kinesis-autoscaler-scale-up"
        );
    }
}
