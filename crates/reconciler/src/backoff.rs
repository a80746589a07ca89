//! How long to wait between attempts of a failed port call (the I/O layer, `crate::io`, does the
//! waiting).
//!
//! [`Backoff`] is a plain value (base, cap, attempt budget) so callers can see, log and test the
//! schedule; the randomness is injected through [`Jitter`] so that tests are deterministic and
//! production can seed from entropy without pulling in an RNG crate. The schedule is AWS's "full
//! jitter": before retry `n` (0-based) sleep a uniform random duration in
//! `[0, min(cap, base · 2^n)]` (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015),
//! which spreads concurrent Lambdas apart instead of letting them retry in lock-step.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// An exponential backoff schedule with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first sleep; doubles with every retry.
    pub base: Duration,
    /// No single sleep exceeds this.
    pub cap: Duration,
    /// Total tries including the first; the I/O layer gives up after this many failures.
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
    pub fn delay(&self, retry: u32, jitter: &mut (impl Jitter + ?Sized)) -> Duration {
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

#[cfg(test)]
mod tests {
    use super::*;

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
