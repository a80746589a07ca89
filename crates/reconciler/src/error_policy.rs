//! The error policy: the one place that decides whether a failed port call is worth repeating.
//!
//! Everything that retries (the [`crate::retry`] loop, the Lambdas' error types, the CLI) asks
//! [`classify`], so "is a throttle retryable?" has exactly one answer in the code base.

use crate::backoff::Backoff;
use crate::ports::{ErrorKind, PortError};

/// What to do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again, on this recommended schedule (callers with a deadline may pass a shorter one).
    After(Backoff),
    /// Repeating the call cannot help (bad input, missing resource, no permission).
    Never,
}

/// Classifies a failed port call. Waiting out a reshard (`ResourceInUse`) gets a slower schedule
/// than rate limits and transient failures, because `UPDATING` lasts seconds, not milliseconds.
pub fn classify(err: &PortError) -> Retry {
    if !err.kind.is_retryable() {
        return Retry::Never;
    }
    match err.kind {
        ErrorKind::ResourceInUse => Retry::After(Backoff::RESOURCE_IN_USE),
        _ => Retry::After(Backoff::DEFAULT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_kind(kind: ErrorKind) -> Retry {
        classify(&PortError::new("Call", kind, ""))
    }

    #[test]
    fn throttles_limits_and_transient_failures_retry_on_the_default_schedule() {
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::LimitExceeded,
            ErrorKind::Transient,
            ErrorKind::TimedOut,
            ErrorKind::Inconsistent,
        ] {
            assert_eq!(classify_kind(kind), Retry::After(Backoff::DEFAULT), "{kind}");
        }
    }

    #[test]
    fn resource_in_use_waits_longer() {
        assert_eq!(classify_kind(ErrorKind::ResourceInUse), Retry::After(Backoff::RESOURCE_IN_USE));
    }

    #[test]
    fn caller_permission_and_quota_errors_never_retry() {
        for kind in [
            ErrorKind::QuotaExceeded,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::InvalidArgument,
            ErrorKind::AccessDenied,
            ErrorKind::Other,
        ] {
            assert_eq!(classify_kind(kind), Retry::Never, "{kind}");
        }
    }
}
