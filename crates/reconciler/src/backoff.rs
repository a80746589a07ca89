//! How long to wait between attempts of a failed port call, and the loop that does the waiting.
//!
//! [`Backoff`] is a plain value (base, cap, attempt budget) so callers can see, log and test the
//! schedule; the randomness is injected through [`Jitter`] so that tests are deterministic and
//! production can seed from entropy without pulling in an RNG crate. The schedule is AWS's "full
//! jitter": before retry `n` (0-based) sleep a uniform random duration in
//! `[0, min(cap, base · 2^n)]` (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015),
//! which spreads concurrent Lambdas apart instead of letting them retry in lock-step.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::time::Duration;

use tokio::time::Instant;

use crate::error_policy::{Retry, classify};
use crate::ports::PortError;

/// An exponential backoff schedule with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first sleep; doubles with every retry.
    pub base: Duration,
    /// No single sleep exceeds this.
    pub cap: Duration,
    /// Total tries including the first; `retry` gives up after this many failures.
    pub max_attempts: u32,
}

impl Backoff {
    /// For throttling and transient failures of control-plane calls.
    ///
    /// - `base` 200 ms: one slot of the 5 calls/s per-account quota that `SplitShard`,
    ///   `MergeShards`, `CreateStream` and `DeleteStream` share (Kinesis API reference, "Limits"),
    ///   and longer than CloudWatch's `PutMetricAlarm` quota of 3 calls/s needs.
    /// - `cap` 10 s: beyond that a sleeping Lambda only burns its time budget; the next alarm or
    ///   schedule will reconcile anyway.
    /// - `max_attempts` 8: worst case ≈ 23 s of sleep (0.2+0.4+…+6.4+10), expected half that,
    ///   well inside a Lambda timeout of a minute or more.
    pub const DEFAULT: Backoff =
        Backoff { base: Duration::from_millis(200), cap: Duration::from_secs(10), max_attempts: 8 };

    /// For `ResourceInUse`: the stream is `CREATING`/`UPDATING`, which lasts seconds to minutes
    /// (a reshard takes a few seconds per shard touched), so start at 1 s and allow ≈ 2 minutes.
    pub const RESOURCE_IN_USE: Backoff =
        Backoff { base: Duration::from_secs(1), cap: Duration::from_secs(15), max_attempts: 12 };

    /// The upper bound of the sleep before retry `retry` (0-based): `min(cap, base · 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.checked_pow(retry).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).map_or(self.cap, |d| d.min(self.cap))
    }

    /// The sleep before retry `retry`: the ceiling scaled by a jitter fraction clamped to `[0, 1]`.
    pub fn delay(&self, retry: u32, jitter: &mut impl Jitter) -> Duration {
        let fraction = jitter.fraction(retry);
        let fraction = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 1.0 };
        self.ceiling(retry).mul_f64(fraction)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

/// A source of jitter fractions in `[0, 1]`. Any `FnMut(u32) -> f64` is one (tests pass
/// `|_| 1.0` to sleep exactly the ceiling); production uses [`SeededJitter`].
pub trait Jitter {
    /// The fraction of the ceiling to sleep before retry `retry` (0-based).
    fn fraction(&mut self, retry: u32) -> f64;
}

impl<F: FnMut(u32) -> f64> Jitter for F {
    fn fraction(&mut self, retry: u32) -> f64 {
        self(retry)
    }
}

/// A tiny deterministic generator (SplitMix64) for jitter: reproducible from a seed in tests and
/// simulations, seeded from the standard library's per-process random keys in production. Not
/// for anything security-related.
#[derive(Debug, Clone)]
pub struct SeededJitter {
    state: u64,
}

impl SeededJitter {
    pub fn new(seed: u64) -> Self {
        SeededJitter { state: seed }
    }

    /// Seeds from `RandomState`, which the standard library keys randomly per process, so that
    /// concurrent Lambda instances do not share a sequence.
    pub fn from_entropy() -> Self {
        SeededJitter::new(RandomState::new().hash_one(0u8))
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Jitter for SeededJitter {
    fn fraction(&mut self, _retry: u32) -> f64 {
        // The top 53 bits as a fraction in [0, 1): exact in an f64 mantissa.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `op` until it succeeds, fails with an error [`classify`] calls not retryable, or has
/// failed `backoff.max_attempts` times; sleeps `backoff.delay(..)` between tries.
///
/// `classify` decides *whether* to retry; the caller's `backoff` decides *how long*. A caller with
/// a deadline (a Lambda) uses [`retry_until`], which also bounds the total time. The returned
/// error is the last one, with [`PortError::attempts`] set to the number of tries made.
pub async fn retry<T, F, Fut, J>(backoff: &Backoff, jitter: &mut J, op: F) -> Result<T, PortError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PortError>>,
    J: Jitter,
{
    retry_within(backoff, jitter, None, op).await
}

/// [`retry`] that never sleeps past `deadline`: when the next sleep would end after it, the last
/// error is returned at once (its message says so). A Lambda that sleeps into its timeout is
/// killed mid-call, without re-arming or reporting; giving up at the deadline leaves it the margin
/// to do both. The first try is always made, since the caller decided there was time for it.
pub async fn retry_until<T, F, Fut, J>(
    backoff: &Backoff,
    jitter: &mut J,
    deadline: Instant,
    op: F,
) -> Result<T, PortError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PortError>>,
    J: Jitter,
{
    retry_within(backoff, jitter, Some(deadline), op).await
}

async fn retry_within<T, F, Fut, J>(
    backoff: &Backoff,
    jitter: &mut J,
    deadline: Option<Instant>,
    mut op: F,
) -> Result<T, PortError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PortError>>,
    J: Jitter,
{
    let max_attempts = backoff.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(mut err) => {
                err.attempts = attempt;
                if matches!(classify(&err), Retry::Never) || attempt >= max_attempts {
                    return Err(err);
                }
                let delay = backoff.delay(attempt - 1, jitter);
                if deadline.is_some_and(|d| Instant::now() + delay > d) {
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
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use tokio::time::Instant;

    use super::*;
    use crate::ports::ErrorKind;

    fn err(kind: ErrorKind) -> PortError {
        PortError::new("SplitShard", kind, "boom").with_stream("orders")
    }

    fn full(_: u32) -> f64 {
        1.0
    }

    /// The gaps between consecutive calls match `expected_ms`. Paused tokio time still fires a
    /// sleep on the next whole-millisecond tick, so a gap may exceed its sleep by under 2 ms.
    fn assert_sleeps(call_times: &[Instant], expected_ms: &[u64]) {
        let gaps: Vec<Duration> = call_times.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps.len(), expected_ms.len(), "{gaps:?}");
        for (gap, &ms) in gaps.iter().zip(expected_ms) {
            let wanted = Duration::from_millis(ms);
            assert!(
                *gap >= wanted && *gap < wanted + Duration::from_millis(2),
                "gaps {gaps:?}, wanted {expected_ms:?}"
            );
        }
    }

    #[tokio::test]
    async fn retries_a_throttle_then_succeeds() {
        tokio::time::pause();
        let calls = &RefCell::new(0);
        let result = retry(&Backoff::DEFAULT, &mut full, move || async move {
            *calls.borrow_mut() += 1;
            if *calls.borrow() < 3 { Err(err(ErrorKind::Throttled)) } else { Ok("done") }
        })
        .await;
        assert_eq!(result.unwrap(), "done");
        assert_eq!(*calls.borrow(), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_reports_them() {
        tokio::time::pause();
        let backoff = Backoff { max_attempts: 4, ..Backoff::DEFAULT };
        let calls = &RefCell::new(0);
        let result: Result<(), _> = retry(&backoff, &mut full, move || async move {
            *calls.borrow_mut() += 1;
            Err(err(ErrorKind::ResourceInUse))
        })
        .await;
        let error = result.unwrap_err();
        assert_eq!(*calls.borrow(), 4);
        assert_eq!(error.attempts, 4);
        assert_eq!(error.kind, ErrorKind::ResourceInUse);
        assert!(error.to_string().contains("after 4 attempts"), "{error}");
    }

    #[tokio::test]
    async fn never_retries_not_found_or_invalid_argument() {
        tokio::time::pause();
        for kind in [ErrorKind::NotFound, ErrorKind::InvalidArgument, ErrorKind::AccessDenied] {
            let calls = &RefCell::new(0);
            let started = Instant::now();
            let result: Result<(), _> = retry(&Backoff::DEFAULT, &mut full, move || async move {
                *calls.borrow_mut() += 1;
                Err(err(kind))
            })
            .await;
            assert_eq!(*calls.borrow(), 1, "{kind}");
            assert_eq!(result.unwrap_err().attempts, 1);
            assert_eq!(started.elapsed(), Duration::ZERO, "no sleep for {kind}");
        }
    }

    #[tokio::test]
    async fn sleeps_grow_exponentially_and_are_capped() {
        tokio::time::pause();
        let backoff =
            Backoff { base: Duration::from_millis(200), cap: Duration::from_secs(1), max_attempts: 6 };
        let cell = RefCell::new(Vec::new());
        let times = &cell;
        let _: Result<(), _> = retry(&backoff, &mut full, move || async move {
            times.borrow_mut().push(Instant::now());
            Err(err(ErrorKind::Transient))
        })
        .await;
        let times = cell.into_inner();
        assert_sleeps(&times, &[200, 400, 800, 1000, 1000]);
    }

    #[tokio::test]
    async fn jitter_scales_each_sleep_within_its_ceiling() {
        tokio::time::pause();
        let backoff =
            Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(10), max_attempts: 3 };
        let cell = RefCell::new(Vec::new());
        let times = &cell;
        let mut half = |_: u32| 0.5;
        let _: Result<(), _> = retry(&backoff, &mut half, move || async move {
            times.borrow_mut().push(Instant::now());
            Err(err(ErrorKind::Throttled))
        })
        .await;
        let times = cell.into_inner();
        assert_sleeps(&times, &[50, 100]);
    }

    #[tokio::test]
    async fn retry_until_gives_up_rather_than_sleep_past_the_deadline() {
        tokio::time::pause();
        let started = Instant::now();
        // Sleeps of 200, 400, 800 ms fit in 1.5 s; the fourth (1.6 s) would end after it.
        let deadline = started + Duration::from_millis(1500);
        let calls = &RefCell::new(0);
        let result: Result<(), _> = retry_until(&Backoff::DEFAULT, &mut full, deadline, move || async move {
            *calls.borrow_mut() += 1;
            Err(err(ErrorKind::Throttled))
        })
        .await;
        let error = result.unwrap_err();
        assert_eq!(*calls.borrow(), 4, "three sleeps fit before the deadline");
        assert!(Instant::now() <= deadline, "returned {:?} after the start", started.elapsed());
        assert!(error.to_string().contains("deadline"), "{error}");
    }

    #[test]
    fn ceiling_saturates_instead_of_overflowing() {
        assert_eq!(Backoff::DEFAULT.ceiling(0), Duration::from_millis(200));
        assert_eq!(Backoff::DEFAULT.ceiling(5), Duration::from_millis(6400));
        assert_eq!(Backoff::DEFAULT.ceiling(6), Duration::from_secs(10));
        assert_eq!(Backoff::DEFAULT.ceiling(200), Duration::from_secs(10));
    }

    #[test]
    fn out_of_range_jitter_is_clamped() {
        let b = Backoff::DEFAULT;
        assert_eq!(b.delay(0, &mut |_| 7.0), Duration::from_millis(200));
        assert_eq!(b.delay(0, &mut |_| -1.0), Duration::ZERO);
        assert_eq!(b.delay(0, &mut |_| f64::NAN), Duration::from_millis(200));
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_in_unit_interval() {
        let (mut a, mut b) = (SeededJitter::new(42), SeededJitter::new(42));
        let xs: Vec<f64> = (0..1000).map(|i| a.fraction(i)).collect();
        let ys: Vec<f64> = (0..1000).map(|i| b.fraction(i)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
    }
}
