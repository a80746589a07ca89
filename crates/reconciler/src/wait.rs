//! Waiting for a stream to settle after an action that makes it `CREATING` or `UPDATING`.
//!
//! Kinesis allows one reshard at a time per stream and rejects the next with `ResourceInUse`
//! until the stream is `ACTIVE` again, so every executor step that changes shards ends here.
//! Time comes from the caller's [`Clock`]: the wall clock, paused `tokio` time in tests, or the
//! simulator's virtual time.

use std::time::Duration;

use crate::ReconcileError;
use crate::clock::Clock;
use crate::ports::{ActiveStream, PortError, StreamReader, StreamSnapshot, StreamStatus};

/// Polls the stream's status ([`StreamReader::status`], `DescribeStreamSummary` alone) every
/// `poll` until it is `ACTIVE`, then reads it whole once (`describe`: shards and tags) and returns
/// it as an [`ActiveStream`]. Polling `describe` would list tags every second, and
/// `ListTagsForStream` allows 5 calls a second per account. `progress` sees every status read and
/// the time elapsed so far (for logs and the CLI's progress line).
///
/// The last poll happens at `timeout` itself. Retryable failures (throttles, transient errors, a
/// torn shard listing, a stream read `ACTIVE` but described mid-reshard) are tolerated until
/// `timeout`; any other failure, or a stream that is being deleted, ends the wait at once.
pub async fn wait_for_active<P, F>(
    port: &P,
    clock: &dyn Clock,
    stream: &str,
    timeout: Duration,
    poll: Duration,
    mut progress: F,
) -> Result<ActiveStream, ReconcileError>
where
    P: StreamReader,
    F: FnMut(StreamStatus, Duration),
{
    let started = clock.now();
    let deadline = started + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    let elapsed = |now: chrono::DateTime<chrono::Utc>| (now - started).to_std().unwrap_or_default();
    let mut last_status = None;
    let mut last_error: Option<PortError>;
    loop {
        let read = match port.status(stream).await {
            Ok(status) => {
                progress(status, elapsed(clock.now()));
                last_status = Some(status);
                match status {
                    StreamStatus::Deleting => {
                        return Err(ReconcileError::StreamDeleting { stream: stream.to_owned() });
                    }
                    StreamStatus::Active => port.describe(stream).await.map(Some),
                    StreamStatus::Creating | StreamStatus::Updating => Ok(None),
                }
            }
            Err(err) => Err(err),
        };
        match read {
            Ok(snapshot) => {
                last_error = None;
                // Read mid-reshard (another actor's, just after the status said ACTIVE): poll on.
                if let Some(Ok(active)) = snapshot.map(StreamSnapshot::into_active) {
                    return Ok(active);
                }
            }
            Err(err) if err.is_retryable() => last_error = Some(err),
            Err(err) => return Err(err.into()),
        }
        let now = clock.now();
        if now >= deadline {
            let waited = elapsed(now);
            return Err(ReconcileError::WaitTimedOut {
                stream: stream.to_owned(),
                waited,
                last_status,
                last_error,
            });
        }
        // The last poll happens at the deadline itself, so a stream that settles just in time counts.
        let poll = chrono::Duration::from_std(poll).unwrap_or(chrono::Duration::MAX);
        clock.sleep_until((now + poll).min(deadline)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};
    use std::sync::Mutex;

    use chrono::DateTime;
    use planner::Tiling;

    use super::*;
    use crate::clock::TokioClock;
    use crate::ports::ErrorKind;

    /// A stream reader whose `status` plays back a script and whose `describe` reads the stream
    /// `ACTIVE` (counted); every other call is unexpected.
    struct Scripted {
        script: Mutex<VecDeque<Result<StreamStatus, ErrorKind>>>,
        describes: Mutex<u32>,
    }

    impl Scripted {
        fn new(script: impl IntoIterator<Item = Result<StreamStatus, ErrorKind>>) -> Self {
            Scripted { script: Mutex::new(script.into_iter().collect()), describes: Mutex::new(0) }
        }

        fn describes(&self) -> u32 {
            *self.describes.lock().unwrap()
        }

        fn remaining(&self) -> usize {
            self.script.lock().unwrap().len()
        }
    }

    fn snapshot(status: StreamStatus) -> StreamSnapshot {
        let listed = matches!(status, StreamStatus::Active | StreamStatus::Updating);
        StreamSnapshot {
            name: "orders".into(),
            arn: "arn:aws:kinesis:us-east-1:000000000000:stream/orders".into(),
            status,
            open: listed.then(|| Tiling::single("shardId-000000000000")),
            closed: vec![],
            with_listed_parent: Default::default(),
            retention_hours: 24,
            tags: BTreeMap::new(),
            created: DateTime::UNIX_EPOCH,
            shard_level_metrics: Default::default(),
            on_demand: false,
            enhanced_fan_out_consumers: Some(0),
        }
    }

    fn unexpected(call: &'static str) -> PortError {
        PortError::new(call, ErrorKind::Other, "not scripted")
    }

    impl StreamReader for Scripted {
        async fn status(&self, stream: &str) -> Result<StreamStatus, PortError> {
            let next = self.script.lock().unwrap().pop_front().expect("status called more than scripted");
            next.map_err(|kind| PortError::new("DescribeStreamSummary", kind, "").with_stream(stream))
        }
        async fn describe(&self, _: &str) -> Result<StreamSnapshot, PortError> {
            *self.describes.lock().unwrap() += 1;
            Ok(snapshot(StreamStatus::Active))
        }
        async fn list_streams(&self) -> Result<Vec<String>, PortError> {
            Err(unexpected("ListStreams"))
        }
        async fn tags(&self, _: &str) -> Result<BTreeMap<String, String>, PortError> {
            Err(unexpected("ListTagsForStream"))
        }
    }

    const SEC: Duration = Duration::from_secs(1);

    fn clock() -> TokioClock {
        TokioClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap())
    }

    #[tokio::test]
    async fn returns_the_first_active_snapshot_and_reports_progress() {
        tokio::time::pause();
        use StreamStatus::*;
        let port = Scripted::new([Ok(Creating), Ok(Creating), Ok(Active), Ok(Active)]);
        let mut seen = Vec::new();
        let snap = wait_for_active(&port, &clock(), "orders", 60 * SEC, SEC, |s, t| seen.push((s, t)))
            .await
            .unwrap();
        assert_eq!(snap.status, Active);
        // Paused tokio time still rounds each sleep up to the next millisecond tick.
        let seen: Vec<_> = seen.into_iter().map(|(s, t)| (s, t.as_secs())).collect();
        assert_eq!(seen, vec![(Creating, 0), (Creating, 1), (Active, 2)]);
        assert_eq!(port.remaining(), 1, "stops polling once active");
    }

    #[tokio::test]
    async fn polls_the_summary_alone_and_lists_shards_and_tags_once_when_active() {
        tokio::time::pause();
        use StreamStatus::*;
        // ListTagsForStream allows 5 calls a second per account: a wait must not spend them.
        let port = Scripted::new([Updating, Updating, Updating, Active].map(Ok));
        wait_for_active(&port, &clock(), "orders", 60 * SEC, SEC, |_, _| {}).await.unwrap();
        assert_eq!(port.describes(), 1);
    }

    #[tokio::test]
    async fn keeps_polling_through_throttles() {
        tokio::time::pause();
        let port = Scripted::new([
            Ok(StreamStatus::Updating),
            Err(ErrorKind::Throttled),
            Err(ErrorKind::Transient),
            Ok(StreamStatus::Active),
        ]);
        let snap = wait_for_active(&port, &clock(), "orders", 60 * SEC, SEC, |_, _| {}).await.unwrap();
        assert_eq!(snap.status, StreamStatus::Active);
    }

    #[tokio::test]
    async fn times_out_with_the_last_status_seen() {
        tokio::time::pause();
        let port = Scripted::new(std::iter::repeat_n(Ok(StreamStatus::Updating), 100));
        let started = tokio::time::Instant::now();
        let err = wait_for_active(&port, &clock(), "orders", 10 * SEC, 2 * SEC, |_, _| {}).await.unwrap_err();
        match &err {
            ReconcileError::WaitTimedOut { stream, waited, last_status, last_error } => {
                assert_eq!(stream, "orders");
                assert!(*waited >= 10 * SEC && *waited < 11 * SEC, "{waited:?}");
                assert_eq!(*last_status, Some(StreamStatus::Updating));
                assert!(last_error.is_none());
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(started.elapsed() < 11 * SEC);
        assert_eq!(port.remaining(), 100 - 6, "polls at 0, 2, 4, 6, 8 and 10 s");
        assert!(err.to_string().contains("UPDATING"), "{err}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn a_missing_stream_fails_at_once() {
        tokio::time::pause();
        let port = Scripted::new([Err(ErrorKind::NotFound)]);
        let err = wait_for_active(&port, &clock(), "orders", 60 * SEC, SEC, |_, _| {}).await.unwrap_err();
        assert!(matches!(&err, ReconcileError::Port(e) if e.kind == ErrorKind::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn a_deleting_stream_fails_at_once() {
        tokio::time::pause();
        let port = Scripted::new([Ok(StreamStatus::Deleting)]);
        let err = wait_for_active(&port, &clock(), "orders", 60 * SEC, SEC, |_, _| {}).await.unwrap_err();
        assert!(matches!(err, ReconcileError::StreamDeleting { .. }), "{err:?}");
        assert!(!err.is_retryable());
    }
}
