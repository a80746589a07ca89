//! The bill: provisioned shard-hours plus PUT payload units, or on-demand stream-hours plus data
//! written and read. Prices and rounding rules are in [`crate::assumptions`].

use crate::assumptions::{
    GB, HOURS_PER_MONTH, ON_DEMAND_ADVANTAGE, ON_DEMAND_ADVANTAGE_COMMITMENT_MIB_PER_SEC,
    ON_DEMAND_RECORD_ROUNDING_BYTES, OnDemandPrices, PRICE_PUT_UNITS_PER_MILLION, PRICE_SHARD_HOUR,
    PUT_PAYLOAD_UNIT_BYTES, SHARD_LEVEL_METRICS_PER_SHARD_MONTH,
};

/// Provisioned mode: `shard_hours` of open shards (closed ones are not billed) and one PUT
/// payload unit per started 25 KB of every accepted record.
pub fn provisioned(shard_hours: f64, records: f64, record_bytes: f64) -> f64 {
    let units_per_record = (record_bytes / PUT_PAYLOAD_UNIT_BYTES).ceil();
    shard_hours * PRICE_SHARD_HOUR + records * units_per_record / 1e6 * PRICE_PUT_UNITS_PER_MILLION
}

/// Shard-level metrics over `shard_hours` of open shards (CloudWatch prorates by the hour).
pub fn shard_level_metrics(shard_hours: f64) -> f64 {
    shard_hours / HOURS_PER_MONTH * SHARD_LEVEL_METRICS_PER_SHARD_MONTH
}

/// An on-demand mode: `hours` of the stream, every accepted record rounded up to 1 KB written,
/// and read `reads` times (once by each consumer). Enhanced fan-out reads are billed at the same
/// per-GB price: its own on-demand price was not among the figures the issue gave.
pub fn on_demand(prices: OnDemandPrices, hours: f64, records: f64, reads: f64, record_bytes: f64) -> f64 {
    let billed = (record_bytes / ON_DEMAND_RECORD_ROUNDING_BYTES).ceil() * ON_DEMAND_RECORD_ROUNDING_BYTES;
    let gb = records * billed / GB;
    hours * prices.stream_hour + gb * prices.per_gb_in + gb * reads * prices.per_gb_out
}

/// On-demand Advantage's account-wide minimum for `hours`: the committed ingest at the
/// Advantage data-in price, whatever the account's streams write.
pub fn advantage_commitment(hours: f64) -> f64 {
    ON_DEMAND_ADVANTAGE_COMMITMENT_MIB_PER_SEC * 1024.0 * 1024.0 * hours * 3600.0 / GB
        * ON_DEMAND_ADVANTAGE.per_gb_in
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
    fn shard_level_metrics_cost_eighty_cents_per_shard_month() {
        // 2 metrics × $0.30 + 2 alarms × $0.10 = $0.80 a shard-month, prorated by the hour.
        assert!((shard_level_metrics(730.0) - 0.80).abs() < 1e-12);
    }

    #[test]
    fn on_demand_cost_matches_a_hand_computed_bill() {
        use crate::assumptions::ON_DEMAND_STANDARD;
        // 24 stream-hours × $0.04 = $0.96; 2^20 records of 2 KiB = 2 GiB written × $0.08 = $0.16
        // and read once × $0.04 = $0.08.
        assert!((on_demand(ON_DEMAND_STANDARD, 24.0, 1_048_576.0, 1.0, 2048.0) - 1.20).abs() < 1e-9);
        // A 100-byte record is billed as 1 KB: 2^20 of them are 1 GiB, $0.08 in + $0.04 out.
        assert!((on_demand(ON_DEMAND_STANDARD, 0.0, 1_048_576.0, 1.0, 100.0) - 0.12).abs() < 1e-12);
    }

    #[test]
    fn on_demand_advantage_has_no_stream_hours_and_cheaper_data() {
        // 2 GiB written ($0.064) and read ($0.032); the 24 stream-hours cost nothing.
        assert!((on_demand(ON_DEMAND_ADVANTAGE, 24.0, 1_048_576.0, 1.0, 2048.0) - 0.096).abs() < 1e-9);
        // The commitment: 25 MiB/s for a day is 2,109.375 GiB × $0.032 = $67.50.
        assert!((advantage_commitment(24.0) - 67.5).abs() < 1e-9);
    }
}
