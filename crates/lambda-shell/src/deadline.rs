//! When to stop starting work: the invocation's deadline, as a monotonic instant, minus a margin.
//!
//! Lambda announces the deadline as wall-clock time (`Context::deadline`); the reconciler checks
//! time against `tokio::time::Instant`, which is monotonic and which tests can pause. The margin
//! leaves time to re-arm alarms, report and hand on before Lambda stops the function.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// The invocation's deadline less `margin`, as an instant on `tokio`'s clock.
pub fn deadline(context: &lambda_runtime::Context, margin: Duration) -> Instant {
    deadline_at(context.deadline(), SystemTime::now(), Instant::now(), margin)
}

/// The instant `margin` before `deadline`, given that the wall clock reads `wall_now` at the
/// instant `now`. A deadline already past (or within the margin) is `now`.
pub fn deadline_at(deadline: SystemTime, wall_now: SystemTime, now: Instant, margin: Duration) -> Instant {
    let left = deadline.duration_since(wall_now).unwrap_or_default();
    now + left.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_taken_off_the_time_left() {
        let (wall, now) = (SystemTime::UNIX_EPOCH + Duration::from_secs(1_000), Instant::now());
        let deadline = wall + Duration::from_secs(60);
        assert_eq!(deadline_at(deadline, wall, now, Duration::from_secs(10)), now + Duration::from_secs(50));
    }

    #[test]
    fn a_deadline_within_the_margin_or_past_is_now() {
        let (wall, now) = (SystemTime::UNIX_EPOCH + Duration::from_secs(1_000), Instant::now());
        let margin = Duration::from_secs(10);
        assert_eq!(deadline_at(wall + Duration::from_secs(5), wall, now, margin), now);
        assert_eq!(deadline_at(wall - Duration::from_secs(5), wall, now, margin), now);
    }
}
