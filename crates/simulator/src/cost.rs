//! The bill: provisioned shard-hours plus PUT payload units, or on-demand stream-hours plus data
//! written. Prices and rounding rules are in [`crate::assumptions`].

use crate::assumptions::{
    GB, ON_DEMAND_RECORD_ROUNDING_BYTES, PRICE_ON_DEMAND_PER_GB, PRICE_ON_DEMAND_STREAM_HOUR,
    PRICE_PUT_UNITS_PER_MILLION, PRICE_SHARD_HOUR, PUT_PAYLOAD_UNIT_BYTES,
};

/// Provisioned mode: `shard_hours` of open shards (closed ones are not billed) and one PUT
/// payload unit per started 25 KB of every accepted record.
pub fn provisioned(shard_hours: f64, records: f64, record_bytes: f64) -> f64 {
    let units_per_record = (record_bytes / PUT_PAYLOAD_UNIT_BYTES).ceil();
    shard_hours * PRICE_SHARD_HOUR + records * units_per_record / 1e6 * PRICE_PUT_UNITS_PER_MILLION
}

/// On-demand mode: `hours` of the stream and every accepted record rounded up to 1 KB.
pub fn on_demand(hours: f64, records: f64, record_bytes: f64) -> f64 {
    let billed = (record_bytes / ON_DEMAND_RECORD_ROUNDING_BYTES).ceil() * ON_DEMAND_RECORD_ROUNDING_BYTES;
    hours * PRICE_ON_DEMAND_STREAM_HOUR + records * billed / GB * PRICE_ON_DEMAND_PER_GB
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_cost_matches_a_hand_computed_bill() {
        // 10 shards for 24 h = 240 shard-hours × $0.015 = $3.60; 100 M records of 2 KiB are one
        // PUT unit each: 100 × $0.014 = $1.40. Total $5.00.
        assert!((provisioned(240.0, 100e6, 2048.0) - 5.00).abs() < 1e-9);
        // A 30 KB record takes two 25 KB units: 1 M of them cost 2 × $0.014.
        assert!((provisioned(0.0, 1e6, 30.0 * 1024.0) - 0.028).abs() < 1e-12);
    }

    #[test]
    fn on_demand_cost_matches_a_hand_computed_bill() {
        // 24 stream-hours × $0.04 = $0.96; 2^20 records of 2 KiB = 2 GiB × $0.08 = $0.16.
        assert!((on_demand(24.0, 1_048_576.0, 2048.0) - 1.12).abs() < 1e-9);
        // A 100-byte record is billed as 1 KB: 2^20 of them are 1 GiB, $0.08.
        assert!((on_demand(0.0, 1_048_576.0, 100.0) - 0.08).abs() < 1e-12);
    }
}
