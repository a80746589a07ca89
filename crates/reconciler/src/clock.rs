//! Wall-clock time for the shell, injected.
//!
//! The planner takes time as a value; the shell has to read it somewhere. The Lambdas read the
//! system clock. Tests and the soak run days of paused `tokio` time in milliseconds, so they read a
//! clock that moves with it, and cooldowns, quotas and look-back windows age as they would.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    #[default]
    System,
    /// `origin` at the `tokio` instant `at`, moving with `tokio` time from there.
    Tokio { origin: DateTime<Utc>, at: Instant },
}

impl Clock {
    /// A clock that reads `origin` now and moves with `tokio` time (paused in tests).
    pub fn tokio(origin: DateTime<Utc>) -> Clock {
        Clock::Tokio { origin, at: Instant::now() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { origin, at } => {
                let elapsed = chrono::Duration::from_std(at.elapsed()).unwrap_or(chrono::Duration::MAX);
                origin.checked_add_signed(elapsed).unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tokio_clock_moves_with_paused_time() {
        let origin = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = Clock::tokio(origin);
        tokio::time::sleep(Duration::from_secs(86_400)).await;
        assert_eq!(clock.now(), origin + chrono::Duration::days(1));
    }
}
