//! The one error type of the reconciler crate.
//!
//! A port failure keeps its [`PortError`] (and with it the error policy's answer); the other
//! variants are outcomes of waiting that no single port call explains.

use std::time::Duration;

use crate::ports::{PortError, StreamStatus};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(
        "stream {stream:?} was not ACTIVE after {waited:?} (last status seen: {})",
        .last_status.map_or("none", StreamStatus::as_str)
    )]
    WaitTimedOut {
        stream: String,
        waited: Duration,
        last_status: Option<StreamStatus>,
        /// The describe failure of the last poll, if the last poll failed.
        #[source]
        last_error: Option<PortError>,
    },
    #[error("stream {stream:?} is being deleted")]
    StreamDeleting { stream: String },
    #[error("stream {stream:?} carries an unreadable policy tag")]
    InvalidPolicy {
        stream: String,
        #[source]
        source: planner::PlannerError,
    },
}

impl ReconcileError {
    /// Whether running the same reconcile again later may succeed; what the Lambdas report so
    /// that async invocation retries only what can heal.
    pub fn is_retryable(&self) -> bool {
        match self {
            ReconcileError::Port(err) => err.is_retryable(),
            ReconcileError::WaitTimedOut { .. } => true,
            ReconcileError::StreamDeleting { .. } | ReconcileError::InvalidPolicy { .. } => false,
        }
    }
}
