//! Small conversions between SDK primitives and the reconciler's plain types, kept in one place so
//! the range checks (AWS uses `i32` where we use `u32`) are written once.

use aws_sdk_kinesis::primitives::DateTime as SdkDateTime;
use chrono::{DateTime, Utc};
use reconciler::{ErrorKind, PortError};

pub(crate) fn to_chrono(t: &SdkDateTime) -> DateTime<Utc> {
    // An SDK timestamp outside chrono's range (±262,000 years) would be a service bug.
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or(DateTime::UNIX_EPOCH)
}

pub(crate) fn to_sdk(t: DateTime<Utc>) -> SdkDateTime {
    SdkDateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

/// A count we send as the SDK's `i32`; rejects values AWS could not accept anyway.
pub(crate) fn to_i32(call: &'static str, what: &str, value: u32) -> Result<i32, PortError> {
    i32::try_from(value).map_err(|_| {
        PortError::new(call, ErrorKind::InvalidArgument, format!("{what} {value} is out of range"))
    })
}

/// A count the SDK returns as `i32`; negative values (never sent by AWS) read as 0.
pub(crate) fn from_i32(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}
