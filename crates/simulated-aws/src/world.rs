//! The world: Kinesis, CloudWatch and SNS of one account and region, on one clock.
//!
//! [`World`] is a cheap handle (clone it freely) to state behind one lock. It implements every
//! port of the reconciler, so a flow runs on it exactly as on AWS; its plain methods are what
//! drivers and tests use to look inside and to play the parts of AWS no port reaches (writers'
//! traffic published as metrics, CloudWatch's evaluation of alarms each minute, faults).
//!
//! Time-driven behaviour happens when the driver moves time on ([`World::advance_to`]): reshards
//! complete, alarms are evaluated on every minute passed, SNS deliveries fall due. A world that
//! is never advanced (a handler's unit test) still completes reshards whenever it is looked at.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reconciler::{Clock, ErrorKind, PortError};

use crate::cloudwatch::CloudWatch;
use crate::kinesis::Kinesis;
use crate::model::Model;
use crate::sns::Sns;

/// A handle to one simulated account and region.
#[derive(Debug, Clone)]
pub struct World {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clock: Arc<dyn Clock>,
    model: Model,
    state: Mutex<State>,
    /// Bumped whenever a stream's open shards change: the simulator's traffic engine recomputes
    /// its shares only then, without taking the lock every second.
    version: AtomicU64,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) kinesis: Kinesis,
    pub(crate) cloudwatch: CloudWatch,
    pub(crate) sns: Sns,
    /// Injected failures, per AWS operation, in the order they were queued.
    faults: BTreeMap<&'static str, VecDeque<ErrorKind>>,
    /// Every request made, by AWS operation (as the AWS adapter would send them).
    requests: BTreeMap<&'static str, u64>,
    /// Call jitter and duplicate deliveries.
    pub(crate) rng: Rng,
}

/// xorshift64: the world's one source of randomness, seeded by the model.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A number in `[0, 1)`.
    pub(crate) fn fraction(&mut self) -> f64 {
        let mut x = self.0.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl State {
    /// Counts a request of `operation`.
    pub(crate) fn request(&mut self, operation: &'static str) {
        *self.requests.entry(operation).or_default() += 1;
    }

    /// Pops an injected fault for `operation`, if one is queued.
    pub(crate) fn fault(&mut self, operation: &'static str) -> Result<(), PortError> {
        match self.faults.get_mut(operation).and_then(VecDeque::pop_front) {
            Some(kind) => Err(PortError::new(operation, kind, "injected fault")),
            None => Ok(()),
        }
    }
}

impl World {
    /// An empty account on `clock`, behaving as `model` says.
    pub fn new(clock: Arc<dyn Clock>, model: Model) -> World {
        let state = State {
            kinesis: Kinesis::default(),
            cloudwatch: CloudWatch::default(),
            sns: Sns::default(),
            faults: BTreeMap::new(),
            requests: BTreeMap::new(),
            rng: Rng(model.seed.max(1).wrapping_mul(0x9e37_79b9_7f4a_7c15).max(1)),
        };
        World {
            inner: Arc::new(Inner { clock, model, state: Mutex::new(state), version: AtomicU64::new(0) }),
        }
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn model(&self) -> &Model {
        &self.inner.model
    }

    /// The state, with every reshard due by now completed.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.inner.state.lock().expect("not poisoned");
        let now = self.inner.clock.now();
        if state.kinesis.settle(now) {
            self.inner.version.fetch_add(1, Ordering::Relaxed);
        }
        state
    }

    /// Changes whenever some stream's open shards change.
    pub fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Relaxed)
    }

    pub(crate) fn bump_version(&self) {
        self.inner.version.fetch_add(1, Ordering::Relaxed);
    }

    /// The next call of `operation` (e.g. `"SplitShard"`, `"GetMetricData"`, `"Publish"`) fails
    /// with `kind`. Faults for one operation queue in order.
    pub fn fail_next(&self, operation: &'static str, kind: ErrorKind) {
        self.lock().faults.entry(operation).or_default().push_back(kind);
    }

    /// Every request made so far, by AWS operation, failed ones included.
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        self.lock().requests.clone()
    }

    /// Moves the world to `to`: completes the reshards due, and evaluates every alarm on each
    /// minute passed since the last evaluation (CloudWatch evaluates once a minute, on the
    /// minute), queueing the notifications their changes send.
    pub fn advance_to(&self, to: DateTime<Utc>) {
        let mut state = self.lock();
        let model = &self.inner.model;
        let State { cloudwatch, sns, rng, .. } = &mut *state;
        for (at, notification) in cloudwatch.evaluate_through(to, model) {
            sns.publish(&notification.topic, &notification.message, at, model, rng);
        }
    }

    /// Waits as a call of `kind` waits: the read latency for reads, then the seeded jitter.
    pub(crate) async fn call_delay(&self, read: bool) {
        let model = &self.inner.model;
        let mut wait = if read { model.read_latency } else { Duration::ZERO };
        if !model.call_jitter.is_zero() {
            let fraction = self.inner.state.lock().expect("not poisoned").rng.fraction();
            wait += model.call_jitter.mul_f64(fraction);
        }
        if !wait.is_zero() {
            let until = self.now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            self.inner.clock.sleep_until(until).await;
        }
    }
}
