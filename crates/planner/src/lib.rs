//! The decision core of the Kinesis autoscaler.
//!
//! Everything here is a pure function of its inputs: snapshots of a stream (open shards, load
//! datapoints, policy) and the current time passed in as a value. Nothing performs I/O, awaits, or
//! reads a clock, so every decision can be unit-tested, property-tested, replayed in the simulator
//! and printed by `streams plan` exactly as the Lambdas will make it. The executors in `reconciler`
//! carry out the plans this crate returns and make no choices of their own.

mod advice;
mod alarm_specs;
mod capacity;
mod config_plan;
mod error;
mod forecast;
mod hashkey;
mod load;
mod policy;
mod reads;
mod scale_down;
mod scale_up;
mod shards;
mod step;
mod stream_status;
mod sweep;
mod tags;
mod trigger;

pub use advice::{
    Advice, PRICE_ALARM_MONTH, PRICE_METRIC_MONTH, SHARD_LEVEL_METRICS_PER_SHARD_MONTH, ThrottleEvidence,
    advise, throttled_records,
};
pub use alarm_specs::{
    ALARM_NAME_PREFIX, AlarmSpec, Comparison, KINESIS_NAMESPACE, Metric, SHARD_METRICS, ShardAlarmChanges,
    alarm_name, alarm_specs, shard_alarm_changes, shard_alarm_name, shard_alarm_prefix, shard_alarm_specs,
};
pub use capacity::{
    Rate, Ratio, SHARD_BYTES_PER_SEC, SHARD_GET_RECORDS_PER_SEC, SHARD_READ_BYTES_PER_SEC,
    SHARD_RECORDS_PER_SEC,
};
pub use config_plan::{
    AlarmDefinition, Change, DEFAULT_RETENTION_HOURS, DesiredStream, Disposition, FieldChange, KeepReason,
    Observed, ObservedAlarm, ObservedStream, ObservedSummary, StreamPlan, SyncInput, SyncPlan,
    UnlistedStream, plan_sync,
};
pub use error::PlannerError;
pub use forecast::{
    AGREEMENT, ExpectedPeak, Forecast, MAX_CHANCE, MIN_DAILY_CYCLES, MIN_WEEKLY_CYCLES, NEAR, PreScale,
    PreScaleInput, SURGE_FACTOR, Season, forecast, next_peak, plan_pre_scale,
};
pub use hashkey::{HashKey, HashRange};
pub use load::{
    AlarmEvidence, LoadSeries, LoadSnapshot, LoadSource, PRODUCER_ATTEMPTS, ShardLoad, THROTTLE_RETRY_FACTOR,
    Throttling, Window, align_down, estimate_rate, max_plausible_sum,
};
pub use policy::{
    DEFAULT_MAX_ITERATOR_AGE_SECS, MAX_SHARDS_PER_STREAM, Policy, Predictive, ScaleDown, ScaleUp, Windows,
    bounds,
};
pub use reads::{ReadHistory, ReadSummary, SharedReads};
pub use scale_down::{
    PlannedMerge, ReadStatus, ScaleDownAction, ScaleDownInput, ScaleDownPlan, SeriesRead, plan_scale_down,
    young_shards,
};
pub use scale_up::{
    EVEN_TOLERANCE, PlannedSplit, SKEW_TOLERANCE, ScaleUpAction, ScaleUpInput, ScaleUpPlan,
    UPDATE_SHARD_COUNT_CALLS_PER_DAY, plan_scale_up,
};
pub use shards::{Shard, ShardId, Tiling};
pub use step::{Demand, Execution, NextStep, PlannedCut, Step};
pub use stream_status::StreamStatus;
pub use sweep::{
    MAX_DATAPOINTS_PER_CALL, MAX_QUERIES_PER_CALL, Utilisation, series_per_metrics_call,
    streams_per_metrics_call,
};
pub use tags::{
    DELETION_PROTECTION_TAG, OWNER_TAG, OwnerId, POLICY_TAG, STATE_TAG_PREFIX, TAG_PREFIX, decode_policy,
    decode_policy_with, encode_policy, is_valid_tag_text, managed_tags,
};
pub use trigger::{
    Admission, AlarmKind, CLOCK_SKEW_ALLOWANCE, LAST_SCALED_TAG, ScalingState, UPDATE_CALL_TAG_PREFIX,
    UPDATE_CALLS_TAG, admit,
};
