//! A fault-injecting HTTP/1.1 proxy on loopback, in front of the emulator.
//!
//! The emulator has no rate limits and never fails on its own, yet the programs' error handling
//! (throttles, 5xx, hung and dropped connections, lost answers) is what keeps them safe in AWS.
//! [`FaultProxy`] sits between a real binary and the emulator (point the binary's
//! `--endpoint-url` / `AWS_ENDPOINT_URL` at [`FaultProxy::endpoint`]), recognises the AWS
//! operation of each request, and answers it the way a failing AWS would, as a [`FaultPlan`]
//! says: "the first N calls of X get fault F" or "each call of X, with probability p (seeded)".
//! The plan is deterministic for a sequential client, so a failing scenario replays.
//!
//! Operations are recognised as the SDKs send them: Kinesis's JSON protocol
//! (`X-Amz-Target: Kinesis_20131202.<Op>`), CloudWatch's Smithy RPC v2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Op>`, what aws-sdk-cloudwatch 1.140
//! sends) or its JSON target (`GraniteServiceVersion20100801.<Op>`), and the query protocol
//! (`Action=<Op>` in a form body: SNS, older CloudWatch), the service taken from the SigV4
//! credential scope. Error answers are each protocol's own shape, so the SDK parses the code the
//! adapters classify.
//!
//! Blocking, one thread per connection like the other harness servers, so it needs no async
//! runtime and keeps answering while a test blocks on a child process. Bounded: it binds
//! `127.0.0.1` only and forwards only to the upstream it was given, request heads and bodies
//! have size limits, connections have a count limit, and every hold and read has a timeout.
//! Every request is closed after one exchange (`Connection: close` both ways), which keeps the
//! forwarding a plain copy and makes each SDK attempt one connection.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::shared::TICK;

/// The largest request or response head read (the SDKs send a few hundred bytes).
const MAX_HEAD: usize = 64 << 10;
/// The largest request body forwarded (a `PutMetricData` batch is well under this).
const MAX_BODY: usize = 16 << 20;
/// Connections served at once; more are closed unanswered (and counted in [`Seen`] as unknown).
const MAX_CONNECTIONS: usize = 64;
/// How long a client or the upstream may stay silent mid-exchange.
const IO_TIMEOUT: Duration = Duration::from_secs(90);
/// The longest [`FaultPlan::hold`] or [`FaultPlan::delay`] accepted.
const MAX_HOLD: Duration = Duration::from_secs(60);

/// The AWS service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Kinesis,
    CloudWatch,
    Sns,
    /// Not recognised: forwarded, never faulted.
    Unknown,
}

/// How a request named its operation, which decides the shape of an error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `X-Amz-Target` and a JSON body (Kinesis; CloudWatch's JSON protocol).
    Json,
    /// Smithy RPC v2 CBOR (CloudWatch in current SDKs).
    Cbor,
    /// `Action=` in a form body, XML answers (SNS; CloudWatch's query protocol).
    Query,
}

/// One AWS operation: `Kinesis.SplitShard`, `CloudWatch.PutMetricAlarm`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operation {
    pub service: Service,
    pub name: String,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}.{}", self.service, self.name)
    }
}

/// What the proxy does to a request instead of (or besides) forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The service's throttling error: Kinesis `LimitExceededException` (400, what its control
    /// plane answers past its per-account rates), CloudWatch `Throttling` (400), SNS `Throttling`
    /// (429). Not forwarded.
    Throttle,
    /// An internal error with this status (500 `InternalFailure` or 503 `ServiceUnavailable`).
    /// Not forwarded.
    ServerError(u16),
    /// No answer: the connection is held open for [`FaultPlan::hold`] (longer than the client's
    /// attempt timeout), then closed. Not forwarded.
    Timeout,
    /// The connection is closed without an answer. Not forwarded.
    Reset,
    /// Forwarded, and the service acts on it, but its answer is dropped and the connection
    /// closed: the case that makes a retry meet its own first attempt's effect.
    LostAnswer,
    /// Forwarded after [`FaultPlan::delay`], answered normally.
    Slow,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Throttle => f.write_str("throttle"),
            Fault::ServerError(status) => write!(f, "http-{status}"),
            Fault::Timeout => f.write_str("timeout"),
            Fault::Reset => f.write_str("reset"),
            Fault::LostAnswer => f.write_str("lost-answer"),
            Fault::Slow => f.write_str("slow"),
        }
    }
}

/// Which calls of a rule's operation get its fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    /// The first `n` calls.
    First(u32),
    /// Each call with probability `p` (0..=1), drawn from a generator seeded with `seed`.
    Probability { p: f64, seed: u64 },
}

/// One line of a plan: calls of `operation` (a name such as `SplitShard`, or `*` for every
/// operation of `service`) get `fault` `when` it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub service: Service,
    pub operation: String,
    pub fault: Fault,
    pub when: When,
}

impl Rule {
    /// The first `n` calls of `service.operation` get `fault`.
    pub fn first(n: u32, service: Service, operation: &str, fault: Fault) -> Rule {
        Rule { service, operation: operation.to_owned(), fault, when: When::First(n) }
    }

    /// Each call of `service.operation` gets `fault` with probability `p`, seeded.
    pub fn sometimes(p: f64, seed: u64, service: Service, operation: &str, fault: Fault) -> Rule {
        Rule { service, operation: operation.to_owned(), fault, when: When::Probability { p, seed } }
    }

    fn matches(&self, operation: &Operation) -> bool {
        self.service == operation.service && (self.operation == "*" || self.operation == operation.name)
    }
}

/// What the proxy does: the first matching rule that fires decides a request's fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    pub rules: Vec<Rule>,
    /// How long [`Fault::Timeout`] holds a connection: longer than the adapters' 20 s attempt
    /// timeout by default, so the client gives up first.
    pub hold: Duration,
    /// How long [`Fault::Slow`] waits before forwarding.
    pub delay: Duration,
}

impl FaultPlan {
    /// A plan of `rules` with the default hold (25 s) and delay (2 s).
    pub fn new(rules: Vec<Rule>) -> FaultPlan {
        FaultPlan { rules, hold: Duration::from_secs(25), delay: Duration::from_secs(2) }
    }

    /// Forwards everything untouched (and still records it).
    pub fn none() -> FaultPlan {
        FaultPlan::new(Vec::new())
    }
}

/// One request as the proxy saw it, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub operation: Operation,
    pub fault: Option<Fault>,
}

/// The proxy: serves until dropped.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

type Shared = crate::shared::Shared<State>;

#[derive(Debug)]
struct State {
    plan: FaultPlan,
    /// Per rule: calls matched so far, and the rule's generator.
    matched: Vec<u32>,
    rngs: Vec<SplitMix64>,
    seen: Vec<Seen>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:<free port>` and forwards to `upstream` (`http://127.0.0.1:4566`),
    /// which must be a loopback address.
    ///
    /// # Panics
    /// If `upstream` is not a loopback `http://` address, the plan's hold or delay exceeds 60 s,
    /// a probability is outside 0..=1, or the port cannot be bound.
    pub fn start(upstream: &str, plan: FaultPlan) -> FaultProxy {
        let upstream = loopback_address(upstream);
        let shared = Arc::new(Shared::new(State::new(plan)));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let address = listener.local_addr().expect("the proxy's address");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let acceptor = {
            let shared = shared.clone();
            std::thread::spawn(move || accept(&listener, upstream, &shared))
        };
        FaultProxy { address, shared, acceptor: Some(acceptor) }
    }

    /// Replaces the plan, its counts starting from zero: a Lambda's init calls (its warm-up)
    /// pass untouched, and the plan applies from its first invocation on. What was seen is kept.
    ///
    /// # Panics
    /// As [`FaultProxy::start`], for a plan out of bounds.
    pub fn arm(&self, plan: FaultPlan) {
        let fresh = State::new(plan);
        let mut state = self.shared.lock();
        state.plan = fresh.plan;
        state.matched = fresh.matched;
        state.rngs = fresh.rngs;
    }

    /// The URL to give a client as its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }

    /// The requests that got a fault.
    pub fn injected(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.fault.is_some()).collect()
    }

    /// How many requests of each operation arrived, for a log line.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for seen in self.seen() {
            *counts.entry(seen.operation.to_string()).or_default() += 1;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort();
        counts
    }
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Connection threads see the flag within a tick (holds included) and end on their own.
        self.shared.stop();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl State {
    fn new(plan: FaultPlan) -> State {
        assert!(plan.hold <= MAX_HOLD && plan.delay <= MAX_HOLD, "hold and delay are at most {MAX_HOLD:?}");
        for rule in &plan.rules {
            if let When::Probability { p, .. } = rule.when {
                assert!((0.0..=1.0).contains(&p), "probability {p} outside 0..=1");
            }
        }
        let rngs = plan
            .rules
            .iter()
            .map(|r| SplitMix64(if let When::Probability { seed, .. } = r.when { seed } else { 0 }))
            .collect();
        State { matched: vec![0; plan.rules.len()], rngs, plan, seen: Vec::new() }
    }
}

/// `http://127.0.0.1:4566` → its socket address; anything not on loopback is refused.
fn loopback_address(url: &str) -> SocketAddr {
    let authority = url.strip_prefix("http://").unwrap_or_else(|| panic!("{url} is not an http:// URL"));
    let authority = authority.trim_end_matches('/');
    let address = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .unwrap_or_else(|| panic!("cannot resolve {authority}"));
    assert!(address.ip().is_loopback(), "the fault proxy forwards to loopback only, not {address}");
    address
}

fn accept(listener: &TcpListener, upstream: SocketAddr, shared: &Arc<Shared>) {
    let active = Arc::new(AtomicUsize::new(0));
    while !shared.stopping() {
        match listener.accept() {
            Ok((client, _)) => {
                if active.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                    drop(client);
                    continue;
                }
                active.fetch_add(1, Ordering::Relaxed);
                let (shared, active) = (shared.clone(), active.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, upstream, &shared);
                    active.fetch_sub(1, Ordering::Relaxed);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(TICK / 10),
            Err(_) => std::thread::sleep(TICK),
        }
    }
}

/// A request as read from the client: its head (lines, without the blank line) and body.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn line(&self) -> &str {
        self.head.lines().next().unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }

    /// The operation and the protocol that named it.
    fn operation(&self) -> (Operation, Protocol) {
        let op = |service, name: &str| Operation { service, name: name.to_owned() };
        if let Some(target) = self.header("x-amz-target") {
            let (prefix, name) = target.split_once('.').unwrap_or((target, ""));
            let service = match prefix {
                p if p.starts_with("Kinesis_") => Service::Kinesis,
                p if p.starts_with("GraniteServiceVersion") => Service::CloudWatch,
                _ => Service::Unknown,
            };
            return (op(service, name), Protocol::Json);
        }
        let path = self.line().split_whitespace().nth(1).unwrap_or_default();
        if let Some(rest) = path.strip_prefix("/service/") {
            let (service, name) = rest.split_once("/operation/").unwrap_or((rest, ""));
            let service = if service.starts_with("GraniteServiceVersion") {
                Service::CloudWatch
            } else {
                Service::Unknown
            };
            return (op(service, name), Protocol::Cbor);
        }
        let body = String::from_utf8_lossy(&self.body);
        let action = body.split('&').find_map(|pair| pair.strip_prefix("Action="));
        let scope =
            self.header("authorization").and_then(|a| a.split("Credential=").nth(1)).unwrap_or_default();
        let service = match scope.split('/').nth(3) {
            Some("monitoring") => Service::CloudWatch,
            Some("sns") => Service::Sns,
            Some("kinesis") => Service::Kinesis,
            _ => Service::Unknown,
        };
        match action {
            Some(action) => (op(service, action), Protocol::Query),
            None => (op(Service::Unknown, self.line()), Protocol::Query),
        }
    }
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// One exchange on one connection.
fn serve(mut client: TcpStream, upstream: SocketAddr, shared: &Shared) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let request = read_request(&mut client)?;
    let (operation, protocol) = request.operation();
    let (fault, hold, delay) = {
        let mut state = shared.lock();
        let fault = choose(&mut state, &operation);
        state.seen.push(Seen { operation: operation.clone(), fault });
        (fault, state.plan.hold, state.plan.delay)
    };
    shared.notify();
    match fault {
        None => forward(&request, &mut client, upstream, true),
        Some(Fault::Slow) => {
            pause(shared, delay);
            forward(&request, &mut client, upstream, true)
        }
        Some(Fault::LostAnswer) => {
            forward(&request, &mut client, upstream, false)?;
            client.shutdown(Shutdown::Both)
        }
        Some(Fault::Timeout) => {
            pause(shared, hold);
            client.shutdown(Shutdown::Both)
        }
        Some(Fault::Reset) => client.shutdown(Shutdown::Both),
        Some(fault @ (Fault::Throttle | Fault::ServerError(_))) => {
            client.write_all(&error_answer(fault, operation.service, protocol))?;
            client.shutdown(Shutdown::Both)
        }
    }
}

/// The fault for this request: the first rule that matches and fires.
fn choose(state: &mut State, operation: &Operation) -> Option<Fault> {
    for (i, rule) in state.plan.rules.iter().enumerate() {
        if !rule.matches(operation) {
            continue;
        }
        let calls = state.matched[i].saturating_add(1);
        state.matched[i] = calls;
        let fires = match rule.when {
            When::First(n) => calls <= n,
            When::Probability { p, .. } => state.rngs[i].unit() < p,
        };
        if fires {
            return Some(rule.fault);
        }
    }
    None
}

/// Sleeps `duration`, a tick at a time, ending early if the proxy stops.
fn pause(shared: &Shared, duration: Duration) {
    let until = Instant::now() + duration;
    while !shared.stopping() && Instant::now() < until {
        std::thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
    }
}

fn read_request(client: &mut TcpStream) -> io::Result<Request> {
    let (head, mut body) = read_head(client)?;
    let head = String::from_utf8(head).map_err(|_| invalid("a request head that is not UTF-8"))?;
    if header(&head, "transfer-encoding").is_some() {
        return Err(invalid("chunked request bodies are not supported"));
    }
    let length: usize = match header(&head, "content-length") {
        Some(v) => v.parse().map_err(|_| invalid("a bad Content-Length"))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(invalid("a request body over the limit"));
    }
    if body.len() < length {
        let missing = length - body.len();
        let read = client.take(missing as u64).read_to_end(&mut body)?;
        if read < missing {
            return Err(invalid("a request body cut short"));
        }
    }
    body.truncate(length);
    Ok(Request { head, body })
}

/// Reads up to the blank line: the head without it, and whatever of the body came along.
fn read_head(stream: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            buffer.truncate(end);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD {
            return Err(invalid("a head over the limit"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before the head ended"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The head with its `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .lines()
        .filter(|line| {
            !line.split_once(':').is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    lines.push("Connection: close");
    let mut out = lines.join("\r\n");
    out.push_str("\r\n\r\n");
    out
}

/// Sends the request upstream and, if `answer`, copies the response back to the client.
fn forward(request: &Request, client: &mut TcpStream, upstream: SocketAddr, answer: bool) -> io::Result<()> {
    let mut server = TcpStream::connect_timeout(&upstream, Duration::from_secs(3))?;
    server.set_read_timeout(Some(IO_TIMEOUT))?;
    server.set_write_timeout(Some(IO_TIMEOUT))?;
    server.write_all(closing(&request.head).as_bytes())?;
    server.write_all(&request.body)?;
    let (head, rest) = read_head(&mut server)?;
    let head = String::from_utf8(head).map_err(|_| invalid("a response head that is not UTF-8"))?;
    let length: Option<u64> = header(&head, "content-length").and_then(|v| v.parse().ok());
    // The whole answer is read even when it is to be lost, so the service has surely acted.
    let mut body = rest;
    match length {
        Some(length) => {
            let missing = length.saturating_sub(body.len() as u64);
            (&mut server).take(missing).read_to_end(&mut body)?;
        }
        None => {
            (&mut server).take(MAX_BODY as u64).read_to_end(&mut body)?;
        }
    }
    if answer {
        client.write_all(closing(&head).as_bytes())?;
        client.write_all(&body)?;
        client.flush()?;
        client.shutdown(Shutdown::Write)?;
    }
    Ok(())
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The whole HTTP answer a failing service gives, in the request's protocol.
fn error_answer(fault: Fault, service: Service, protocol: Protocol) -> Vec<u8> {
    let (status, code, message) = match (fault, service) {
        (Fault::Throttle, Service::Kinesis) => (400, "LimitExceededException", "Rate exceeded for account"),
        (Fault::Throttle, Service::Sns) => (429, "Throttling", "Rate exceeded"),
        (Fault::Throttle, _) => (400, "Throttling", "Rate exceeded"),
        (Fault::ServerError(503), _) => (503, "ServiceUnavailable", "Service unavailable"),
        (Fault::ServerError(status), Service::CloudWatch) => {
            (status, "InternalServiceError", "Internal service error")
        }
        (Fault::ServerError(status), _) => (status, "InternalFailure", "Internal failure"),
        _ => (500, "InternalFailure", "Internal failure"),
    };
    let reason = match status {
        400 => "Bad Request",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let sender = if status < 500 { "Sender" } else { "Receiver" };
    let (content_type, extra, body) = match protocol {
        Protocol::Json => (
            "application/x-amz-json-1.1",
            format!("x-amzn-ErrorType: {code}\r\n"),
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#).into_bytes(),
        ),
        Protocol::Cbor => (
            "application/cbor",
            format!("smithy-protocol: rpc-v2-cbor\r\nx-amzn-query-error: {code};{sender}\r\n"),
            cbor_text_map(&[("__type", code), ("message", message)]),
        ),
        Protocol::Query => (
            "text/xml",
            String::new(),
            format!(
                "<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message>\
                 </Error><RequestId>00000000-0000-0000-0000-00000fa017ed</RequestId></ErrorResponse>"
            )
            .into_bytes(),
        ),
    };
    let mut answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: 00000000-0000-0000-0000-00000fa017ed\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// A CBOR map of short text keys to short text values (the error body of RPC v2 CBOR).
fn cbor_text_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    fn head(out: &mut Vec<u8>, major: u8, length: usize) {
        let major = major << 5;
        match u8::try_from(length) {
            Ok(n) if n < 24 => out.push(major | n),
            Ok(n) => out.extend_from_slice(&[major | 24, n]),
            Err(_) => {
                let n = u16::try_from(length).expect("a short CBOR item");
                out.push(major | 25);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
    }
    let mut out = Vec::new();
    head(&mut out, 5, pairs.len());
    for text in pairs.iter().flat_map(|(k, v)| [k, v]) {
        head(&mut out, 3, text.len());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// A small seeded generator (SplitMix64): deterministic draws for [`When::Probability`].
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A draw in `0..1`.
    fn unit(&mut self) -> f64 {
        // The top 53 bits: exactly representable.
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(head: &str, body: &str) -> Request {
        Request { head: head.to_owned(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn operations_are_recognised_in_each_protocol() {
        let kinesis = request("POST / HTTP/1.1\r\nX-Amz-Target: Kinesis_20131202.SplitShard", "{}");
        assert_eq!(kinesis.operation().0.to_string(), "Kinesis.SplitShard");
        let cbor = request(
            "POST /service/GraniteServiceVersion20100801/operation/PutMetricAlarm HTTP/1.1\r\nsmithy-protocol: rpc-v2-cbor",
            "",
        );
        assert_eq!(
            cbor.operation(),
            (Operation { service: Service::CloudWatch, name: "PutMetricAlarm".into() }, Protocol::Cbor)
        );
        let sns = request(
            "POST / HTTP/1.1\r\nauthorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request, SignedHeaders=host",
            "Action=Publish&Version=2010-03-31",
        );
        assert_eq!(sns.operation().0.to_string(), "Sns.Publish");
    }

    #[test]
    fn the_first_n_rule_fires_n_times_then_forwards() {
        let plan = FaultPlan::new(vec![Rule::first(2, Service::Kinesis, "SplitShard", Fault::Throttle)]);
        let mut state = State::new(plan);
        let split = Operation { service: Service::Kinesis, name: "SplitShard".into() };
        let other = Operation { service: Service::Kinesis, name: "ListShards".into() };
        let got: Vec<_> = [&split, &other, &split, &split].iter().map(|o| choose(&mut state, o)).collect();
        assert_eq!(got, [Some(Fault::Throttle), None, Some(Fault::Throttle), None]);
    }

    #[test]
    fn a_seeded_probability_replays_and_fires_about_as_often_as_asked() {
        let draws = |seed| {
            let rule = Rule::sometimes(0.3, seed, Service::CloudWatch, "*", Fault::ServerError(503));
            let plan = FaultPlan::new(vec![rule]);
            let mut state = State::new(plan);
            let op = Operation { service: Service::CloudWatch, name: "DescribeAlarms".into() };
            (0..1000).map(|_| choose(&mut state, &op).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let fired = draws(7).iter().filter(|&&f| f).count();
        assert!((250..350).contains(&fired), "{fired} of 1000 at p = 0.3");
    }

    #[test]
    fn error_answers_carry_the_code_in_each_protocol_shape() {
        let json =
            String::from_utf8(error_answer(Fault::Throttle, Service::Kinesis, Protocol::Json)).unwrap();
        assert!(json.starts_with("HTTP/1.1 400 "), "{json}");
        assert!(
            json.ends_with(r#"{"__type":"LimitExceededException","message":"Rate exceeded for account"}"#)
        );
        let cbor = error_answer(Fault::ServerError(503), Service::CloudWatch, Protocol::Cbor);
        let text = String::from_utf8_lossy(&cbor);
        assert!(
            text.starts_with("HTTP/1.1 503 ")
                && text.contains("x-amzn-query-error: ServiceUnavailable;Receiver")
        );
        // {"__type": "ServiceUnavailable", ...}: a 2-entry map, then a 6-byte text key.
        let body = &cbor[cbor.len()
            - cbor_text_map(&[("__type", "ServiceUnavailable"), ("message", "Service unavailable")]).len()..];
        assert_eq!(&body[..8], b"\xa2\x66__type");
    }

    #[test]
    fn only_loopback_upstreams_are_accepted() {
        assert_eq!(loopback_address("http://127.0.0.1:4566").port(), 4566);
        assert!(std::panic::catch_unwind(|| loopback_address("http://192.0.2.1:80")).is_err());
    }
}
