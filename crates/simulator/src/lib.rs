//! A deterministic, seeded, trace-driven simulator of Kinesis stream scaling, to compare this
//! project's policy (decided by the `planner` crate's own functions, the ones the Lambdas call)
//! with the alternatives users choose between, with numbers anyone can reproduce.
//!
//! # The model, and where each assumption comes from
//!
//! * **Shards** are `planner::Tiling`s: hash ranges that tile the 128-bit key space, each taking
//!   1 MiB/s and 1,000 records/s of writes (Kinesis quotas; `planner::SHARD_*`). Demand in a
//!   second beyond a shard's limit is throttled (Kinesis enforces the limits per second).
//! * **Traffic** (`trace`): a per-minute shape times seeded jitter per second; partition keys are
//!   uniform over the key space except one optional hot key, so a hot key makes a hot shard.
//!   Records are 2 KiB, so bytes are the binding limit. A recorded trace (`recorded`, a user's
//!   CSV) gives each minute's rate and hot share instead, flat within the minute, at the file's
//!   mean record size.
//! * **CloudWatch** (`cloudwatch`): stream-level 1-minute `Sum`s of *accepted* bytes and records
//!   and of throttled records, published 90 s after the minute (AWS: "within a minute or two");
//!   alarms evaluated every minute over published periods, missing data not breaching, actions
//!   only on a change to `ALARM`.
//! * **SNS + Lambda**: 5 s from the alarm's state change to the handler.
//! * **Reshards** (`kinesis`): one at a time per stream; `SplitShard` / `MergeShards` 30 s
//!   (order of magnitude: "tens of seconds"); `UpdateShardCount` 60 s + 4 s per shard of the
//!   larger count ("a few minutes", growing with the count), within 2× / ½ and 10 calls per
//!   rolling 24 h (Kinesis quotas). Children open when the reshard completes.
//! * **Closed shards** stay listed for the 24 h retention period: not billed, but counted by
//!   `ListShards` (the report's *peak listed*), and they make their children "young" for the
//!   scale-down rule.
//! * **Cost** (`cost`, `assumptions`): us-east-1 prices from the Kinesis Data Streams pricing page as of
//!   2026-11-23, as given in the issue (not re-read from the page: no network here). On-demand
//!   bills each record read once per consumer.
//! * **Consumers** (`readers`, `assumptions`): a trace names its readers, shared-throughput or
//!   enhanced fan-out. Shared ones split each shard's 2 MiB/s (and its 5 `GetRecords` calls, which
//!   a trace of at most five consumers polling once a second with 10,000-record batches never
//!   exhausts); each enhanced fan-out consumer has 2 MiB/s per shard of its own. Unread records wait
//!   in a backlog; the iterator age is the oldest unread record's age; `GetRecords.Bytes`,
//!   `GetRecords.IteratorAgeMilliseconds` and `ReadProvisionedThroughputExceeded` are published per
//!   minute like the write metrics. Every committed trace has at least one shared consumer.
//! * **Time**: one-second steps for traffic and throttling, for every trace (a week is 604,800
//!   steps); policies act on minute or five-minute datapoints as their real counterparts do.
//!
//! The policies are in `policies`, each module citing its parameters. Only this project's
//! policy has its invariants enforced (valid tiling after every reshard, shard count within
//! `[min, max]`, no call Kinesis would refuse); a violation stops the run with an error.

pub mod assumptions;
pub mod bound;
pub mod cost;
pub mod history;
pub mod plot;
pub mod policies;
pub mod readers;
pub mod recorded;
pub mod report;
pub mod sim;
pub mod trace;
pub mod whatif;

/// Everything that can go wrong in a simulation run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("trace file {file} is not a valid trace")]
    TraceSyntax {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("trace {trace}: {why}")]
    TraceInvalid { trace: String, why: String },
    /// A recorded trace's file, with every problem found (`crate::recorded`).
    #[error("{}", problems.iter().map(|p| format!("{file}:{}: {}", p.line, p.message)).collect::<Vec<_>>().join("; "))]
    Csv { file: String, problems: Vec<CsvProblem> },
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invariant broken by {policy} at t = {at} s: {what}")]
    Invariant { policy: String, at: i64, what: String },
    #[error("cannot write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot plot {path}: {message}")]
    Plot { path: String, message: String },
}

/// One problem in a recorded trace's file, at its 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvProblem {
    pub line: usize,
    pub message: String,
}
