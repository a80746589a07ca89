//! The reconciler: the ports its logic talks through, the one context and I/O policy every flow
//! runs with, and the flows themselves.
//!
//! This crate owns the traits that the executors, the `streams` CLI and the Lambdas are written
//! against, one per role as the IAM roles in `infra/template.yaml` grant them ([`StreamReader`],
//! [`Resharder`], [`StreamAdmin`], [`MetricsPort`], [`AlarmPort`]). A flow takes one [`Context`]:
//! the ports behind the I/O layer ([`Io`]: the single error policy [`classify`], the [`Backoff`],
//! the deadline, halving a timed-out read, call counts), the [`Clock`] it reads and waits on, and
//! its scope and pacing. It has no AWS types: `aws-adapters` implements the ports with the SDK,
//! and `simulated-aws` implements them over one simulated AWS for tests, the soak and the
//! simulator, which run these very flows in virtual time.

pub mod alarm_message;
mod backoff;
mod clock;
mod config_apply;
mod context;
mod error;
mod error_policy;
mod execute;
mod io;
mod observe;
mod ports;
pub mod predict;
mod rearm;
pub mod scale_down;
pub mod scale_up;
mod shard_level;
mod wait;

pub use backoff::{Backoff, Jitter, SeededJitter};
pub use clock::{Clock, Sleep, SystemClock, TokioClock};
pub use config_apply::{ApplyEvent, ApplySettings, apply, observe, observed_alarm};
pub use context::{Context, Scope};
pub use error::ReconcileError;
pub use error_policy::{Retry, classify};
pub use execute::{ExecuteSettings, Outcome, execute, settle};
pub use io::{Io, IoPolicy};
pub use observe::{StreamHistory, histories, load_queries, load_series, shard_load_series};
pub use ports::{
    ActiveStream, AlarmPort, AlarmState, AlarmSummary, ContinuationPort, Dimension, ErrorKind, MetricPoint,
    MetricPublisher, MetricQuery, MetricSeries, MetricsPort, PortError, ReadStatus, Resharder, Statistic,
    StreamAdmin, StreamReader, StreamSnapshot, StreamStatus, Unit,
};
pub use rearm::{Reset, Rewrite, rearm, set_ok, stream_alarms};
pub use shard_level::{ShardLevelChanges, converge_shard_level};
pub use wait::wait_for_active;
