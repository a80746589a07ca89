//! Time for the shell, injected: what "now" is and how to wait.
//!
//! The planner takes time as a value; the shell has to read it somewhere, and to wait (between
//! retries, for a stream to become `ACTIVE`). Every flow reads and waits through one [`Clock`], so
//! the same code runs in three times: the Lambdas' and the CLI's wall clock ([`SystemClock`]),
//! paused `tokio` time in tests ([`TokioClock`]), and the simulator's virtual time, in which weeks
//! of traffic pass in seconds (`simulated-aws`'s `VirtualClock`). Deadlines are wall-clock
//! instants too: Lambda announces its own that way.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

/// A wait handed out by a [`Clock`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where "now" comes from, and how to wait until a later now.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once [`Clock::now`] has reached `until` (at once if it has).
    fn sleep_until(&self, until: DateTime<Utc>) -> Sleep<'_>;
}

/// The system's clock, and `tokio` timers to wait: the Lambdas and the CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, until: DateTime<Utc>) -> Sleep<'_> {
        let wait = (until - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that reads `origin` when made and moves with `tokio` time from there: tests run days
/// of paused `tokio` time in milliseconds, and cooldowns, quotas and look-back windows age as
/// they would.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: DateTime<Utc>,
    at: tokio::time::Instant,
}

impl TokioClock {
    pub fn new(origin: DateTime<Utc>) -> TokioClock {
        TokioClock { origin, at: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.at.elapsed()).unwrap_or(chrono::Duration::MAX);
        self.origin.checked_add_signed(elapsed).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn sleep_until(&self, until: DateTime<Utc>) -> Sleep<'_> {
        let offset = (until - self.origin).to_std().unwrap_or_default();
        let at =
            self.at.checked_add(offset).unwrap_or_else(|| self.at + std::time::Duration::from_secs(1 << 40));
        Box::pin(tokio::time::sleep_until(at))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tokio_clock_moves_with_paused_time_and_sleeps_until_a_wall_clock_time() {
        let origin = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = TokioClock::new(origin);
        tokio::time::sleep(Duration::from_secs(86_400)).await;
        assert_eq!(clock.now(), origin + chrono::Duration::days(1));
        clock.sleep_until(origin + chrono::Duration::days(2)).await;
        assert_eq!(clock.now(), origin + chrono::Duration::days(2));
        clock.sleep_until(origin).await;
        assert_eq!(clock.now(), origin + chrono::Duration::days(2), "a past time does not wait");
    }
}
