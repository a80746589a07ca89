//! When to stop starting work: the invocation's deadline, minus a margin.
//!
//! Lambda announces the deadline as wall-clock time (`Context::deadline`); the flows check time
//! against their context's clock, which in a Lambda is the same wall clock. The margin leaves time
//! to re-arm alarms, report and hand on before Lambda stops the function.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// The invocation's deadline less `margin`, as wall-clock time.
pub fn deadline(context: &lambda_runtime::Context, margin: Duration) -> DateTime<Utc> {
    deadline_at(context.deadline(), margin)
}

/// `margin` before `deadline`.
pub fn deadline_at(deadline: SystemTime, margin: Duration) -> DateTime<Utc> {
    let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
    let deadline = DateTime::<Utc>::from(deadline);
    deadline.checked_sub_signed(margin).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_taken_off_the_deadline() {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_secs(1_060);
        assert_eq!(
            deadline_at(deadline, Duration::from_secs(10)),
            DateTime::from_timestamp(1_050, 0).unwrap()
        );
    }

    #[test]
    fn a_deadline_within_the_margin_is_already_past() {
        let now = SystemTime::now();
        let at = deadline_at(now + Duration::from_secs(5), Duration::from_secs(10));
        assert!(at < DateTime::<Utc>::from(now), "{at}");
    }
}
