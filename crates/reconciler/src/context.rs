//! One context per invocation: what every flow is handed, as kube-rs hands `reconcile` its
//! `Context`.
//!
//! A flow (a scale-up, the resync, the sweep, the predictive pass, `streams apply`) needs the same
//! few things: Kinesis and CloudWatch behind the one I/O policy ([`Io`]: retries, backoff, the
//! deadline, timed-out reads halved, calls counted), the clock it reads and waits on, the
//! deadline, a seeded jitter, whose streams it serves ([`Scope`]) and how the executor paces
//! reshards ([`ExecuteSettings`]). They travel together as one value instead of six arguments on
//! every function; a flow's own parameters (a message, a sweep's settings) come beside it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::ExecuteSettings;
use crate::io::{Io, IoPolicy};

/// Whose streams a deployment serves: its account and region (alarms from elsewhere are
/// ignored) and `STREAM_NAME_PREFIX` (empty: all), the same scope as its IAM policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub account: String,
    pub region: String,
    pub stream_prefix: String,
}

/// Everything a flow works with; see the module docs.
#[derive(Debug)]
pub struct Context<K, C> {
    kinesis: Io<K>,
    cloudwatch: Io<C>,
    io: Arc<IoPolicy>,
    pub scope: Scope,
    pub execute: ExecuteSettings,
    /// When the invocation started: the time a scheduled trigger stands for (the resync's alarms
    /// are triggers of this instant).
    started: DateTime<Utc>,
}

impl<K, C> Context<K, C> {
    /// `kinesis` and `cloudwatch` behind `io`, serving every stream, with the default executor
    /// pacing; it starts now, as `io`'s clock reads.
    pub fn new(kinesis: K, cloudwatch: C, io: IoPolicy) -> Self {
        let io = Arc::new(io);
        let started = io.clock().now();
        Context {
            kinesis: Io::new(kinesis, io.clone()),
            cloudwatch: Io::new(cloudwatch, io.clone()),
            io,
            scope: Scope::default(),
            execute: ExecuteSettings::default(),
            started,
        }
    }

    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    pub fn with_execute(mut self, execute: ExecuteSettings) -> Self {
        self.execute = execute;
        self
    }

    pub fn kinesis(&self) -> &Io<K> {
        &self.kinesis
    }

    pub fn cloudwatch(&self) -> &Io<C> {
        &self.cloudwatch
    }

    /// Another port behind this context's policy (the scale-down Lambda's continuation topic).
    pub fn io<P>(&self, port: P) -> Io<P> {
        Io::new(port, self.io.clone())
    }

    /// The policy every call goes through: its call counts, its jitter.
    pub fn policy(&self) -> &IoPolicy {
        &self.io
    }

    /// Now, as the context's clock reads it.
    pub fn now(&self) -> DateTime<Utc> {
        self.io.clock().now()
    }

    /// When the invocation started.
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    pub fn deadline(&self) -> DateTime<Utc> {
        self.io.deadline()
    }

    /// Whether `needed` still fits before the deadline.
    pub fn has(&self, needed: std::time::Duration) -> bool {
        let needed = chrono::Duration::from_std(needed).unwrap_or(chrono::Duration::MAX);
        self.now().checked_add_signed(needed).is_some_and(|at| at <= self.deadline())
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn left(&self) -> std::time::Duration {
        (self.deadline() - self.now()).to_std().unwrap_or_default()
    }

    /// Waits until `until`, but not past the deadline.
    pub async fn sleep_until(&self, until: DateTime<Utc>) {
        self.io.clock().sleep_until(until.min(self.deadline())).await;
    }

    /// Milliseconds since `since` on the context's clock: a decision's `elapsed_ms`.
    pub fn millis_since(&self, since: DateTime<Utc>) -> u64 {
        u64::try_from((self.now() - since).num_milliseconds()).unwrap_or(0)
    }
}
