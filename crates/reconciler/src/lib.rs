//! The reconciler: the ports its logic talks through, and how it copes with a flaky world.
//!
//! This crate owns the traits ([`StreamPort`], [`MetricsPort`], [`AlarmPort`]) that the
//! executors, the `streams` CLI and the Lambdas are written against, the single error policy
//! ([`classify`]), the retry loop with its [`Backoff`] value, and [`wait_for_active`]. It has no
//! AWS types: `aws-adapters` implements the ports with the SDK, tests implement them in memory.

pub mod alarm;
mod backoff;
mod error;
mod execute;
pub mod memory;
mod observe;
mod policy;
mod ports;
pub mod scale_down;
pub mod scale_up;
mod shard_level;
mod sync;
mod wait;

pub use backoff::{Backoff, Jitter, SeededJitter, retry};
pub use error::ReconcileError;
pub use execute::{ExecuteSettings, Outcome, Step, execute_scale_down, execute_scale_up};
pub use observe::{load_queries, load_series, peak_rate, shard_load_series};
pub use policy::{Retry, classify};
pub use ports::{
    AlarmPort, AlarmState, AlarmSummary, Dimension, ErrorKind, MetricPoint, MetricQuery, MetricSeries,
    MetricsPort, PortError, Statistic, StreamPort, StreamSnapshot, StreamStatus, Unit,
};
pub use shard_level::{ShardLevelChanges, converge_shard_level};
pub use sync::{ApplyEvent, ApplySettings, apply, observe, observed_alarm};
pub use wait::wait_for_active;

pub use ports::ContinuationPort;
