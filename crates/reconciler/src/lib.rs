//! The reconciler: the ports its logic talks through, and how it copes with a flaky world.
//!
//! This crate owns the traits that the executors, the `streams` CLI and the Lambdas are written
//! against, one per role as the IAM roles in `infra/template.yaml` grant them ([`StreamReader`],
//! [`Resharder`], [`StreamAdmin`], [`MetricsPort`], [`AlarmPort`]), the single error policy
//! ([`classify`]), the retry loop with its [`Backoff`] value, and [`wait_for_active`]. It has no
//! AWS types: `aws-adapters` implements the ports with the SDK; the in-memory fakes ([`memory`],
//! behind the `testing` feature) implement them for tests and benchmarks.

pub mod alarm_message;
mod backoff;
mod clock;
mod config_apply;
mod error;
mod error_policy;
mod execute;
#[cfg(feature = "testing")]
pub mod memory;
mod observe;
mod ports;
pub mod predict;
mod rearm;
pub mod scale_down;
pub mod scale_up;
mod shard_level;
mod wait;

pub use backoff::{Backoff, Jitter, SeededJitter, retry, retry_until};
pub use clock::Clock;
pub use config_apply::{ApplyEvent, ApplySettings, apply, observe, observed_alarm};
pub use error::ReconcileError;
pub use error_policy::{Retry, classify};
pub use execute::{ExecuteSettings, Outcome, execute};
pub use observe::{
    StreamHistory, get_metric_data_halving, histories, load_queries, load_series, shard_load_series,
};
pub use ports::{
    ActiveStream, AlarmPort, AlarmState, AlarmSummary, ContinuationPort, Dimension, ErrorKind, MetricPoint,
    MetricPublisher, MetricQuery, MetricSeries, MetricsPort, PortError, ReadStatus, Resharder, Statistic,
    StreamAdmin, StreamReader, StreamSnapshot, StreamStatus, Unit,
};
pub use rearm::{Reset, Rewrite, rearm, set_ok};
pub use shard_level::{ShardLevelChanges, converge_shard_level};
pub use wait::wait_for_active;
