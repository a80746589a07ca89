//! The model's constants: every latency, duration, quota and price the simulator assumes, each
//! with where it comes from, in one place so the report can print them and a reader can argue
//! with them.
//!
//! Per-shard write limits come from `planner` itself (1 MiB/s, 1,000 records/s), so the simulator
//! and the Lambdas can never disagree about them.

/// AWS in time (the metric delay, SNS and Lambda latency, reshard durations) is the simulated
/// AWS's own model, which the tests and the soak share: `simulated_aws::model`, each constant with
/// its source.
pub use simulated_aws::model::{
    METRIC_DELAY_SECS, NOTIFY_LATENCY_SECS, RESHARD_SECS, update_shard_count_secs,
};

/// Producers retry a rejected record this many times (four attempts in all) before giving up:
/// the AWS SDKs' legacy retry mode, and the count `planner::THROTTLE_RETRY_FACTOR` is argued
/// from. (The newer "standard" mode makes three attempts in all; more retries are the
/// conservative choice here, since they inflate the rejected-attempt counts the alarms see.)
/// Backoff before a retry is sub-second at first (full-jitter exponential from a base of tens
/// of milliseconds), so a rejected record is retried in the next simulated second.
pub const PRODUCER_RETRIES: usize = 3;

/// The scale-up function's timeout (`ScaleUpTimeout`): the template's maximum, 15 minutes, so one
/// invocation can chain the rounds a large spike needs. Its deadline is the handler's margin
/// earlier, and no reshard step starts with less than the executor's step budget left
/// (`reconciler::ExecuteSettings`).
pub const LAMBDA_TIMEOUT_SECS: i64 = 900;

/// Closed shards stay listed (not billed) for the stream's retention period: 24 h by default.
pub const RETENTION_SECS: i64 = 24 * 3600;

/// The scale-down Lambda's schedule: `rate(36 hours)` (crates/lambda-scale-down).
pub const SCALE_DOWN_EVERY_SECS: i64 = 36 * 3600;

/// How much metric history exists before a trace starts, at the trace's first-minute rate: the
/// stream has been running at that level for a while, so look-back windows are full from t = 0.
pub const HISTORY_MINUTES: i64 = 2 * 24 * 60;

/// A trace with `history_days` (the recurring ones, for the predictive policy's look-back) was
/// adopted by this tool after weeks of running **on-demand**: CloudWatch holds those weeks of
/// `IncomingBytes` / `IncomingRecords`, and they show the whole demand, since on-demand keeps the
/// capacity of its peak of the last 30 days and a recurring peak is never a new one. At adoption
/// the stream becomes provisioned at the trace's initial count (the fewest carrying its first
/// minute at the 60 % target). The history is the same shape, seeded wander included, at minute
/// resolution (no per-second jitter: a minute's `Sum` averages it away). A recording's history is
/// its own first days (`simulate --trace FILE.csv --history-days N`), read the same way.
pub const HISTORY_BEFORE_ADOPTION: &str =
    "weeks on-demand before adoption: the metrics show the whole demand";

/// The predictive row's forecast settings (`scaleUp.predictive`): 21 days of look-back, the
/// fewest that give a weekly surge the three weekly cycles the forecast's chance test needs, and
/// the default 15-minute lead. The pre-scaling pass runs every hour, on the hour, as the scale-up
/// Lambda's schedule does.
pub const PREDICTIVE: planner::Predictive = planner::Predictive { lookback_days: 21, lead_minutes: 15 };
pub const PRE_SCALE_EVERY_SECS: i64 = 3600;

/// On-demand mode's minimum write capacity (4 MiB/s, 4,000 records/s) and how long it takes to
/// adapt to a new peak beyond twice the previous one (AWS: "may throttle ... for about 15
/// minutes").
pub const ON_DEMAND_MIN_UNITS: f64 = 4.0;
pub const ON_DEMAND_ADAPT_SECS: i64 = 15 * 60;

/// On-demand mode also adapts shard by shard: a shard written at more than 500 KB/s is split
/// within about 15 minutes (as the issue quotes the Kinesis Developer Guide, "Choose the data
/// stream capacity mode"; the stored copy of that page searched here shows the section but not
/// the sentence, so it was not re-read). We take KB as KiB: half a shard unit, and split after
/// [`ON_DEMAND_ADAPT_SECS`] of minutes above it.
pub const ON_DEMAND_SPLIT_UNITS: f64 = 0.5;

/// Prices, us-east-1, from the Amazon Kinesis Data Streams pricing page
/// (<https://aws.amazon.com/kinesis/data-streams/pricing/>), figures as of 2026-11-23 as given in
/// the issue; this machine has no network, so they were not re-read from the page.
pub const PRICE_SHARD_HOUR: f64 = 0.015;
/// Per million PUT payload units (one unit per started 25 KB of a record).
pub const PRICE_PUT_UNITS_PER_MILLION: f64 = 0.014;
pub const PUT_PAYLOAD_UNIT_BYTES: f64 = 25.0 * 1024.0;
/// An on-demand mode's prices: per stream-hour, per GB written and per GB read (each record
/// rounded up to 1 KB both ways; GB = 2^30 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnDemandPrices {
    pub stream_hour: f64,
    pub per_gb_in: f64,
    pub per_gb_out: f64,
}

/// On-demand Standard (pricing page, as above).
pub const ON_DEMAND_STANDARD: OnDemandPrices =
    OnDemandPrices { stream_hour: 0.04, per_gb_in: 0.08, per_gb_out: 0.04 };

/// On-demand Advantage, an account-level mode (pricing page, as given in the issue): no
/// stream-hour charge and lower data prices, in exchange for an account-wide minimum throughput
/// commitment (`MinimumThroughputBillingCommitment`, at least 24 h, Kinesis API Reference).
pub const ON_DEMAND_ADVANTAGE: OnDemandPrices =
    OnDemandPrices { stream_hour: 0.0, per_gb_in: 0.032, per_gb_out: 0.016 };

/// On-demand Advantage's commitment: the account pays for at least this much ingest (25 MiB/s)
/// whatever its streams write. It belongs to the account, not to one stream, so the report shows
/// its minimum charge beside the Advantage row instead of loading it onto one simulated stream.
pub const ON_DEMAND_ADVANTAGE_COMMITMENT_MIB_PER_SEC: f64 = 25.0;

/// Shard-level (enhanced) metrics are billed by CloudWatch, not Kinesis: Kinesis sends them "every
/// minute for an additional cost" once `EnableEnhancedMonitoring` turns them on (Elastic's
/// Kinesis metricset docs, <https://www.elastic.co/guide/en/beats/metricbeat/current/metricbeat-metricset-aws-kinesis.html>,
/// paraphrasing the Kinesis Developer Guide), each metric of each shard being one CloudWatch
/// metric, and `planner::shard_alarm_specs` writes an alarm per metric and open shard. The price
/// per shard-month, with its sources, is the planner's (`streams status` quotes the same):
/// US$0.80 (the stored copy of the AWS pricing page searched here shows the free tier, not the
/// paid table).
pub const SHARD_LEVEL_METRICS_PER_SHARD_MONTH: f64 = planner::SHARD_LEVEL_METRICS_PER_SHARD_MONTH;

/// CloudWatch bills metrics and alarms per month, prorated by the hour: 730 hours a month.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Reads from one shard by every consumer not on enhanced fan-out together: the planner's limit
/// (Kinesis quotas: "up to 2 MB per second" of reads per shard, GetRecords; MB is MiB, as for
/// writes). In on-demand mode reads scale with writes the same way (twice the write capacity).
pub const SHARD_READ_BYTES_PER_SEC: f64 = planner::SHARD_READ_BYTES_PER_SEC;

/// `GetRecords` calls per shard per second, shared by every consumer not on enhanced fan-out: the
/// planner's limit (Kinesis quotas: "up to five read transactions per second").
pub const SHARD_GET_RECORDS_PER_SEC: f64 = planner::SHARD_GET_RECORDS_PER_SEC;

/// Each shared consumer polls each shard at most once a second: Lambda's event source mapping
/// "polls each shard ... at a base rate of once per second" (Lambda Developer Guide, "How Lambda
/// processes records from Amazon Kinesis Data Streams"), and the Kinesis Client Library waits
/// `idleTimeBetweenReadsInMillis` (1,500 ms by default, KCL configuration table) between calls.
/// So caught-up shared consumers spend about one call per shard per second each, and more than
/// [`SHARD_GET_RECORDS_PER_SEC`] of them would be call-throttled even when caught up: a trace may
/// declare at most five, and throttling is then a matter of bytes alone.
pub const GET_RECORDS_POLLS_PER_SEC: f64 = 1.0;

/// One `GetRecords` call returns at most 10,000 records or 10 MiB (Kinesis API Reference,
/// `GetRecords`); 10,000 is also the Kinesis Client Library's default `maxRecords` (KCL
/// configuration table), the batch a catching-up consumer asks for. We take that batch: one call a
/// second then carries a shard's 2 MiB/s only if records average at least 2 MiB / 10,000 ≈ 210
/// bytes, so a trace with shared consumers and smaller records is refused (its calls, not its
/// bytes, would bind, which the model does not play). Lambda's default `BatchSize` of 100 would
/// bind far sooner; it is a per-function setting, and a consumer behind raises it.
pub const GET_RECORDS_BATCH_RECORDS: f64 = 10_000.0;

/// A consumer on enhanced fan-out gets its own 2 MiB/s per shard (`SubscribeToShard`; Kinesis
/// Developer Guide, "Develop enhanced fan-out consumers"), not shared with any other consumer.
pub const EFO_READ_BYTES_PER_SEC: f64 = SHARD_READ_BYTES_PER_SEC;

/// Records nobody read within the retention period (24 h, [`RETENTION_SECS`]) expire: a consumer
/// further behind than that skips them, and the report counts them as *expired*.
pub const READ_RETENTION_SECS: i64 = RETENTION_SECS;

pub const ON_DEMAND_RECORD_ROUNDING_BYTES: f64 = 1024.0;
pub const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The shard bounds every provisioned policy runs with (the planner's default `maxShards` of 64
/// is too low for the ramp and spike traces; scaling parameters stay at their defaults).
pub const MIN_SHARDS: u32 = 1;
pub const MAX_SHARDS: u32 = 256;

/// Seconds from trace start to the `DateTime` the planner sees: 2026-11-23T00:00:00Z, a
/// multiple of every alarm period.
pub fn at(t: i64) -> chrono::DateTime<chrono::Utc> {
    const EPOCH: i64 = 1_795_392_000; // 2026-11-23T00:00:00Z
    chrono::DateTime::from_timestamp(EPOCH + t, 0).expect("simulated times are in range")
}

/// The inverse of [`at`]: a planner `DateTime` back to seconds from trace start.
pub fn secs(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp() - at(0).timestamp()
}
