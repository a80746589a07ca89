//! The one error type of the planner. Every variant is a fact about the *input* (a malformed hash
//! key, a shard set that does not tile the key space); the planner never fails for any other reason.

use crate::{HashKey, ShardId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlannerError {
    #[error("hash key {value:?} is not a decimal integer in 0..=2^128-1")]
    InvalidHashKey { value: String },
    #[error("hash range {start}..={end} is empty: its start is after its end")]
    EmptyRange { start: HashKey, end: HashKey },
    #[error("the stream has no open shards")]
    NoOpenShards,
    #[error("shard {shard} is listed twice")]
    DuplicateShard { shard: ShardId },
    #[error("no open shard covers hash keys {from}..={to}")]
    Gap { from: HashKey, to: HashKey },
    #[error("policy tag {value:?} is not valid: {reason}")]
    InvalidPolicyTag { value: String, reason: String },
    #[error("state tag {key} = {value:?} is not valid: {reason}")]
    InvalidStateTag { key: String, value: String, reason: String },
    #[error("open shards {first} and {second} overlap at hash keys {from}..={to}")]
    Overlap { first: ShardId, second: ShardId, from: HashKey, to: HashKey },
}
