//! The one I/O policy: every port call a flow makes goes through [`Io`], which retries, backs off,
//! respects the deadline, reads a timed-out `GetMetricData` again in halves and counts the calls,
//! the same way for every flow. No flow wraps a call in a retry loop of its own.
//!
//! What the layer does, per call:
//!
//! * **Whether to try again** is the error policy's ([`crate::classify`]): throttles, transient
//!   failures, `ResourceInUse` and torn reads are retried; a missing stream, a refused argument or
//!   a spent quota is not, since waiting seconds changes nothing.
//! * **How long to wait** is the context's [`Backoff`] with full jitter (AWS's "Exponential
//!   Backoff and Jitter"), the jitter drawn from one seeded source per context so a simulation
//!   replays the same waits.
//! * **Never past the deadline.** A retry whose sleep would end after the deadline is not made;
//!   the last error is returned, saying so. A Lambda that sleeps into its timeout is killed
//!   mid-call, without re-arming or reporting; giving up at the deadline leaves it the margin to do
//!   both. The first attempt is always made: the caller decided there was time for it.
//! * **Reshard calls are never resent.** `SplitShard`, `MergeShards` and `UpdateShardCount` are
//!   tried once: the executor re-reads the stream and derives the next step afresh
//!   ([`crate::execute`]), since the stream the refused step was derived from may be gone (an
//!   `UpdateShardCount` to 5 planned on 3 shards must not be re-sent once someone has made it 6).
//! * **A read that times out is read smaller.** A `GetMetricData` call that times out
//!   ([`ErrorKind::TimedOut`]) is split in two halves, each read the same way, down to a single
//!   query; resent whole it would take as long again, and a long look-back over many streams that
//!   times out on every attempt would be a retry storm.
//! * **Every call is counted** by its AWS operation ([`Io::calls`]), attempts included, so a flow
//!   reports what it spent and tests pin it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use planner::{AlarmSpec, HashKey, Metric, ShardId};

use crate::backoff::{Backoff, Jitter, SeededJitter};
use crate::clock::Clock;
use crate::error_policy::{Retry, classify};
use crate::ports::{
    AlarmPort, AlarmState, AlarmSummary, ContinuationPort, ErrorKind, MetricPoint, MetricPublisher,
    MetricQuery, MetricSeries, MetricsPort, PortError, Resharder, StreamAdmin, StreamReader, StreamSnapshot,
    StreamStatus,
};

/// How a context's calls are made: its clock and deadline, its backoff and jitter, and the count
/// of calls made so far. Shared by the ports of one [`crate::Context`].
pub struct IoPolicy {
    clock: Arc<dyn Clock>,
    deadline: DateTime<Utc>,
    backoff: Backoff,
    jitter: Mutex<Box<dyn Jitter + Send>>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl std::fmt::Debug for IoPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoPolicy")
            .field("clock", &self.clock)
            .field("deadline", &self.deadline)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl IoPolicy {
    /// Calls on `clock`, with no deadline, [`Backoff::DEFAULT`] and jitter seeded from entropy.
    pub fn new(clock: Arc<dyn Clock>) -> IoPolicy {
        IoPolicy {
            clock,
            deadline: DateTime::<Utc>::MAX_UTC,
            backoff: Backoff::DEFAULT,
            jitter: Mutex::new(Box::new(SeededJitter::from_entropy())),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// No retry sleeps past `deadline`.
    pub fn until(mut self, deadline: DateTime<Utc>) -> IoPolicy {
        self.deadline = deadline;
        self
    }

    pub fn backoff(mut self, backoff: Backoff) -> IoPolicy {
        self.backoff = backoff;
        self
    }

    /// Jitter from `jitter` (a seeded source in tests and simulations).
    pub fn jitter(mut self, jitter: impl Jitter + Send + 'static) -> IoPolicy {
        self.jitter = Mutex::new(Box::new(jitter));
        self
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn deadline(&self) -> DateTime<Utc> {
        self.deadline
    }

    /// A fraction in `[0, 1]` from the jitter source: the backoff's, and anything else that must
    /// differ between concurrent actors (a record's nonce).
    pub fn fraction(&self) -> f64 {
        self.jitter.lock().expect("not poisoned").fraction(0)
    }

    /// A random 64-bit number from the same source: a record's nonce, so that concurrent actors
    /// write distinct tags.
    pub fn nonce(&self) -> u64 {
        (self.fraction() * u64::MAX as f64) as u64
    }

    /// Calls made so far, attempts included, by AWS operation.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().expect("not poisoned").clone()
    }

    /// Calls of `operation` made so far.
    pub fn calls_of(&self, operation: &str) -> u64 {
        self.calls.lock().expect("not poisoned").get(operation).copied().unwrap_or(0)
    }

    fn count(&self, operation: &'static str) {
        *self.calls.lock().expect("not poisoned").entry(operation).or_default() += 1;
    }

    /// One attempt, counted.
    async fn once<T, Fut>(&self, operation: &'static str, call: Fut) -> Result<T, PortError>
    where
        Fut: Future<Output = Result<T, PortError>>,
    {
        self.count(operation);
        call.await
    }

    /// `call` until it succeeds, fails with an error [`classify`] calls not retryable, has failed
    /// `backoff.max_attempts` times, or the next sleep would end past the deadline. The error
    /// returned is the last one, with [`PortError::attempts`] set.
    async fn retried<T, F, Fut>(&self, operation: &'static str, mut call: F) -> Result<T, PortError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PortError>>,
    {
        let max_attempts = self.backoff.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            self.count(operation);
            let mut err = match call().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            err.attempts = attempt;
            if matches!(classify(&err), Retry::Never) || attempt >= max_attempts {
                return Err(err);
            }
            let delay = {
                let mut jitter = self.jitter.lock().expect("not poisoned");
                self.backoff.delay(attempt - 1, &mut **jitter)
            };
            let wake = self.clock.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            if wake > self.deadline {
                err.message = format!("{} (no retry: the deadline is too close)", err.message);
                return Err(err);
            }
            tracing::warn!(
                call = err.call,
                stream = err.stream.as_deref(),
                kind = %err.kind,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying: {}",
                err.message
            );
            self.clock.sleep_until(wake).await;
            attempt += 1;
        }
    }
}

/// A port behind the one I/O policy: the same traits as the port, each call made as the module
/// docs say. Flows hold these (through [`crate::Context`]), never a bare port.
#[derive(Debug)]
pub struct Io<P> {
    port: P,
    policy: Arc<IoPolicy>,
}

impl<P> Io<P> {
    pub fn new(port: P, policy: Arc<IoPolicy>) -> Io<P> {
        Io { port, policy }
    }

    pub fn policy(&self) -> &IoPolicy {
        &self.policy
    }
}

impl<P: StreamReader + Sync> StreamReader for Io<P> {
    async fn describe(&self, stream: &str) -> Result<StreamSnapshot, PortError> {
        self.policy.retried("DescribeStreamSummary", || self.port.describe(stream)).await
    }

    async fn status(&self, stream: &str) -> Result<StreamStatus, PortError> {
        self.policy.retried("DescribeStreamSummary", || self.port.status(stream)).await
    }

    async fn list_streams(&self) -> Result<Vec<String>, PortError> {
        self.policy.retried("ListStreams", || self.port.list_streams()).await
    }

    async fn tags(&self, stream: &str) -> Result<BTreeMap<String, String>, PortError> {
        self.policy.retried("ListTagsForStream", || self.port.tags(stream)).await
    }
}

impl<P: Resharder + Sync> Resharder for Io<P> {
    async fn split_shard(&self, stream: &str, shard: &ShardId, at: HashKey) -> Result<(), PortError> {
        self.policy.once("SplitShard", self.port.split_shard(stream, shard, at)).await
    }

    async fn merge_shards(&self, stream: &str, shard: &ShardId, adjacent: &ShardId) -> Result<(), PortError> {
        self.policy.once("MergeShards", self.port.merge_shards(stream, shard, adjacent)).await
    }

    async fn update_shard_count(&self, stream: &str, target: u32) -> Result<(), PortError> {
        self.policy.once("UpdateShardCount", self.port.update_shard_count(stream, target)).await
    }

    async fn add_tags(&self, stream: &str, tags: &BTreeMap<String, String>) -> Result<(), PortError> {
        self.policy.retried("AddTagsToStream", || self.port.add_tags(stream, tags)).await
    }

    async fn enable_shard_metrics(&self, stream: &str, metrics: &[Metric]) -> Result<(), PortError> {
        self.policy
            .retried("EnableEnhancedMonitoring", || self.port.enable_shard_metrics(stream, metrics))
            .await
    }

    async fn remove_tags(&self, stream: &str, keys: &[String]) -> Result<(), PortError> {
        self.policy.retried("RemoveTagsFromStream", || self.port.remove_tags(stream, keys)).await
    }
}

impl<P: StreamAdmin + Sync> StreamAdmin for Io<P> {
    async fn create_stream(&self, stream: &str, shards: u32) -> Result<(), PortError> {
        self.policy.retried("CreateStream", || self.port.create_stream(stream, shards)).await
    }

    async fn delete_stream(&self, stream: &str) -> Result<(), PortError> {
        self.policy.retried("DeleteStream", || self.port.delete_stream(stream)).await
    }

    async fn set_retention(&self, stream: &str, from_hours: u32, to_hours: u32) -> Result<(), PortError> {
        let operation = if to_hours < from_hours {
            "DecreaseStreamRetentionPeriod"
        } else {
            "IncreaseStreamRetentionPeriod"
        };
        self.policy.retried(operation, || self.port.set_retention(stream, from_hours, to_hours)).await
    }
}

impl<P: MetricsPort + Sync> MetricsPort for Io<P> {
    /// Depth first, first half first, so the series come back in query order.
    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<MetricSeries>, PortError> {
        let mut series = Vec::with_capacity(queries.len());
        let mut pending = vec![queries];
        while let Some(part) = pending.pop() {
            // A timeout leaves the retry loop as a value, so only other failures are retried whole.
            let answer = self
                .policy
                .retried("GetMetricData", || async {
                    match self.port.get_metric_data(part, start, end).await {
                        Err(e) if e.kind == ErrorKind::TimedOut => Ok(Err(e)),
                        other => other.map(Ok),
                    }
                })
                .await?;
            match answer {
                Ok(read) => series.extend(read),
                Err(timeout) if part.len() < 2 => return Err(timeout),
                Err(timeout) => {
                    let (first, second) = part.split_at(part.len() / 2);
                    tracing::warn!(
                        queries = part.len(),
                        "GetMetricData timed out, reading it in halves: {timeout}"
                    );
                    pending.extend([second, first]);
                }
            }
        }
        Ok(series)
    }
}

impl<P: MetricPublisher + Sync> MetricPublisher for Io<P> {
    async fn put_metric_data(&self, points: &[MetricPoint]) -> Result<(), PortError> {
        self.policy.retried("PutMetricData", || self.port.put_metric_data(points)).await
    }
}

impl<P: AlarmPort + Sync> AlarmPort for Io<P> {
    async fn put_alarm(&self, spec: &AlarmSpec) -> Result<(), PortError> {
        self.policy.retried("PutMetricAlarm", || self.port.put_alarm(spec)).await
    }

    async fn describe_alarms(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.policy.retried("DescribeAlarms", || self.port.describe_alarms(prefix)).await
    }

    async fn describe_alarm(&self, name: &str) -> Result<Option<AlarmSummary>, PortError> {
        self.policy.retried("DescribeAlarms", || self.port.describe_alarm(name)).await
    }

    async fn alarms_in_alarm(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.policy.retried("DescribeAlarms", || self.port.alarms_in_alarm(prefix)).await
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), PortError> {
        self.policy.retried("DeleteAlarms", || self.port.delete_alarms(names)).await
    }

    async fn set_alarm_state(&self, name: &str, state: AlarmState, reason: &str) -> Result<(), PortError> {
        self.policy.retried("SetAlarmState", || self.port.set_alarm_state(name, state, reason)).await
    }
}

impl<P: ContinuationPort + Sync> ContinuationPort for Io<P> {
    async fn publish(&self, topic: &str, message: &str) -> Result<(), PortError> {
        self.policy.retried("Publish", || self.port.publish(topic, message)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::TokioClock;

    fn origin() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    /// A stream reader whose `tags` fails with `failures` in turn, then succeeds; it notes when
    /// each call was made.
    struct Failing {
        failures: Mutex<Vec<ErrorKind>>,
        at: Mutex<Vec<tokio::time::Instant>>,
    }

    impl Failing {
        fn new(failures: impl IntoIterator<Item = ErrorKind>) -> Self {
            let mut failures: Vec<ErrorKind> = failures.into_iter().collect();
            failures.reverse();
            Failing { failures: Mutex::new(failures), at: Mutex::new(Vec::new()) }
        }

        fn calls(&self) -> usize {
            self.at.lock().unwrap().len()
        }

        fn gaps(&self) -> Vec<Duration> {
            self.at.lock().unwrap().windows(2).map(|w| w[1] - w[0]).collect()
        }
    }

    impl StreamReader for Failing {
        async fn describe(&self, _: &str) -> Result<StreamSnapshot, PortError> {
            unreachable!()
        }
        async fn status(&self, _: &str) -> Result<StreamStatus, PortError> {
            unreachable!()
        }
        async fn list_streams(&self) -> Result<Vec<String>, PortError> {
            unreachable!()
        }
        async fn tags(&self, stream: &str) -> Result<BTreeMap<String, String>, PortError> {
            self.at.lock().unwrap().push(tokio::time::Instant::now());
            match self.failures.lock().unwrap().pop() {
                Some(kind) => Err(PortError::new("ListTagsForStream", kind, "boom").with_stream(stream)),
                None => Ok(BTreeMap::new()),
            }
        }
    }

    fn io(port: &Failing, backoff: Backoff, deadline: DateTime<Utc>) -> Io<&Failing> {
        let policy = IoPolicy::new(Arc::new(TokioClock::new(origin())))
            .backoff(backoff)
            .until(deadline)
            .jitter(|_| 1.0);
        Io::new(port, Arc::new(policy))
    }

    /// Paused tokio time still fires a sleep on the next whole-millisecond tick, so a gap may
    /// exceed its sleep by under 2 ms.
    fn assert_sleeps(port: &Failing, expected_ms: &[u64]) {
        let gaps = port.gaps();
        assert_eq!(gaps.len(), expected_ms.len(), "{gaps:?}");
        for (gap, &ms) in gaps.iter().zip(expected_ms) {
            let wanted = Duration::from_millis(ms);
            assert!(
                *gap >= wanted && *gap < wanted + Duration::from_millis(2),
                "gaps {gaps:?}, wanted {expected_ms:?}"
            );
        }
    }

    const NEVER: DateTime<Utc> = DateTime::<Utc>::MAX_UTC;

    #[tokio::test(start_paused = true)]
    async fn retries_a_throttle_then_succeeds_and_counts_every_attempt() {
        let port = Failing::new([ErrorKind::Throttled, ErrorKind::Throttled]);
        let io = io(&port, Backoff::DEFAULT, NEVER);
        io.tags("orders").await.unwrap();
        assert_eq!(port.calls(), 3);
        assert_eq!(io.policy().calls_of("ListTagsForStream"), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_and_reports_them() {
        let port = Failing::new([ErrorKind::ResourceInUse; 10]);
        let io = io(&port, Backoff { max_attempts: 4, ..Backoff::DEFAULT }, NEVER);
        let error = io.tags("orders").await.unwrap_err();
        assert_eq!(port.calls(), 4);
        assert_eq!(error.attempts, 4);
        assert_eq!(error.kind, ErrorKind::ResourceInUse);
        assert!(error.to_string().contains("after 4 attempts"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_not_found_invalid_argument_or_access_denied() {
        for kind in [ErrorKind::NotFound, ErrorKind::InvalidArgument, ErrorKind::AccessDenied] {
            let port = Failing::new([kind]);
            let started = tokio::time::Instant::now();
            let error = io(&port, Backoff::DEFAULT, NEVER).tags("orders").await.unwrap_err();
            assert_eq!((port.calls(), error.attempts), (1, 1), "{kind}");
            assert_eq!(started.elapsed(), Duration::ZERO, "no sleep for {kind}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sleeps_grow_exponentially_and_are_capped() {
        let backoff =
            Backoff { base: Duration::from_millis(200), cap: Duration::from_secs(1), max_attempts: 6 };
        let port = Failing::new([ErrorKind::Transient; 6]);
        let _ = io(&port, backoff, NEVER).tags("orders").await;
        assert_sleeps(&port, &[200, 400, 800, 1000, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_scales_each_sleep_within_its_ceiling() {
        let backoff =
            Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(10), max_attempts: 3 };
        let port = Failing::new([ErrorKind::Throttled; 3]);
        let policy = IoPolicy::new(Arc::new(TokioClock::new(origin()))).backoff(backoff).jitter(|_| 0.5);
        let _ = Io::new(&port, Arc::new(policy)).tags("orders").await;
        assert_sleeps(&port, &[50, 100]);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_rather_than_sleep_past_the_deadline() {
        // Sleeps of 200, 400, 800 ms fit in 1.5 s; the fourth (1.6 s) would end after it.
        let deadline = origin() + chrono::Duration::milliseconds(1500);
        let port = Failing::new([ErrorKind::Throttled; 8]);
        let started = tokio::time::Instant::now();
        let error = io(&port, Backoff::DEFAULT, deadline).tags("orders").await.unwrap_err();
        assert_eq!(port.calls(), 4, "three sleeps fit before the deadline");
        assert!(
            started.elapsed() <= Duration::from_millis(1500),
            "returned {:?} after the start",
            started.elapsed()
        );
        assert!(error.to_string().contains("deadline"), "{error}");
    }
}
