//! Advice `streams status` gives about a stream's policy: here, when to turn on shard-level metrics.
//!
//! Without shard-level metrics the autoscaler sees a stream as a whole: its alarms compare the
//! stream's total against the stream's capacity, and a scale-up spreads the load over the shards by
//! their share of the key space. That is right while writes are spread over the keys. When a few
//! keys carry most of them, their shards throttle while the stream's total is far from the
//! threshold: only the throttling alarm fires, late, and the split cannot tell which shard is hot.
//! The look-back shows this as throttled records while the stream's busiest period stayed under
//! the scale-up threshold, and then shard-level metrics are worth their price. The rule is pure, so
//! it is tested here; the sweep reads the figures and `streams status` prints the advice.

use serde::Serialize;

use crate::{Metric, Policy, ReadStatus, SHARD_METRICS, max_plausible_sum};

/// CloudWatch's price of one metric for a month (each enhanced metric of each shard is one):
/// US$0.30 for the first 10,000 metrics (CloudWatch pricing, <https://aws.amazon.com/cloudwatch/pricing/>,
/// as quoted by <https://cal53.calculator.city/cloudwatch-custom-metrics-calculator/>), prorated
/// by the hour.
pub const PRICE_METRIC_MONTH: f64 = 0.30;

/// CloudWatch's price of one standard-resolution (60 s) alarm for a month: US$0.10 (CloudWatch
/// pricing, as quoted by <https://c3x.dev/resources/aws/aws_cloudwatch_metric_alarm>), prorated by
/// the hour; the free tier's 10 alarms are left out (an account running this tool has more).
pub const PRICE_ALARM_MONTH: f64 = 0.10;

/// What shard-level metrics cost per open shard and month: each metric of [`SHARD_METRICS`] is
/// enabled on the shard and alarmed by [`crate::shard_alarm_specs`], one alarm per metric. US$0.80
/// with the two metrics the tool reads.
pub const SHARD_LEVEL_METRICS_PER_SHARD_MONTH: f64 =
    SHARD_METRICS.len() as f64 * (PRICE_METRIC_MONTH + PRICE_ALARM_MONTH);

/// What a stream's look-back showed, as [`advise`] weighs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleEvidence {
    /// Records rejected with `WriteProvisionedThroughputExceeded` over the look-back
    /// ([`throttled_records`]).
    pub throttled_records: u64,
    /// The stream's utilisation at its busiest datapoint of the look-back (the larger of bytes and
    /// records, against its open shards): [`crate::Utilisation::peak`].
    pub peak_utilisation: f64,
    /// How complete the read of the stream's load was. Only a complete read bounds the peak: a
    /// partial one may lack the very period that was hot.
    pub load_status: ReadStatus,
    pub open_shards: u32,
}

/// A change to a stream's policy that its own metrics argue for, with the figures that argue for
/// it and a sentence saying so.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Advice {
    /// Turn on `shardLevelMetrics`: the stream throttled while it had room as a whole.
    ShardLevelMetrics { throttled_records: u64, peak_utilisation: f64, reason: String },
}

impl std::fmt::Display for Advice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Advice::ShardLevelMetrics { reason, .. } => f.write_str(reason),
        }
    }
}

/// Records rejected over the look-back, from the `Sum` datapoints of
/// `WriteProvisionedThroughputExceeded` of `period_secs` each. The datapoints come from outside the
/// process: one no stream of `open_shards` could have produced (not a number, negative, or above
/// [`max_plausible_sum`]) is left out, as the scale-up leaves out an alarm's implausible evidence.
pub fn throttled_records(sums: impl IntoIterator<Item = f64>, open_shards: u32, period_secs: u32) -> u64 {
    let bound = max_plausible_sum(Metric::WriteProvisionedThroughputExceeded, open_shards, period_secs);
    let total: f64 = sums.into_iter().filter(|v| v.is_finite() && (0.0..=bound).contains(v)).sum();
    // At most about 6e13 (a week of datapoints at the bound of 10,000 shards), well inside the
    // 2^53 an f64 counts exactly; `as` saturates in any case.
    total.round() as u64
}

/// Whether `policy`'s stream should turn on shard-level metrics, judged from its look-back.
///
/// Advised when shard-level metrics are off, some writes were throttled, and the stream's busiest
/// datapoint stayed under the scale-up threshold: the stream had room as a whole, so the load sat
/// on a few shards, which a stream-level alarm cannot see and a stream-level scale-up cannot
/// target. A stream at or over the threshold throttled for want of capacity, which the
/// stream-level alarms already answer. The price is [`SHARD_LEVEL_METRICS_PER_SHARD_MONTH`] per
/// open shard, so the advice is given only on evidence, never by default.
pub fn advise(policy: &Policy, evidence: &ThrottleEvidence) -> Option<Advice> {
    let threshold = policy.scale_up.threshold.get();
    let had_room =
        evidence.load_status.is_complete() && (0.0..threshold).contains(&evidence.peak_utilisation);
    if policy.shard_level_metrics || evidence.throttled_records == 0 || !had_room {
        return None;
    }
    let down = &policy.scale_down;
    let reason = format!(
        "throttled {} records in {} while its busiest {} period used {:.0} % of its capacity: the load is \
         concentrated on a few shards. Set shardLevelMetrics: true in streams.yaml (about ${:.2} per \
         shard-month, ${:.2} a month at its {} shards) so each shard has its alarm and a scale-up splits \
         the hot shard first.",
        grouped(evidence.throttled_records),
        span(down.lookback_secs),
        period(down.period_secs),
        evidence.peak_utilisation * 100.0,
        SHARD_LEVEL_METRICS_PER_SHARD_MONTH,
        SHARD_LEVEL_METRICS_PER_SHARD_MONTH * f64::from(evidence.open_shards),
        evidence.open_shards,
    );
    Some(Advice::ShardLevelMetrics {
        throttled_records: evidence.throttled_records,
        peak_utilisation: evidence.peak_utilisation,
        reason,
    })
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A look-back as people say it: `24 h`, or `30 s` for the compressed windows of the tests.
fn span(secs: u32) -> String {
    if secs.is_multiple_of(3_600) { format!("{} h", secs / 3_600) } else { format!("{secs} s") }
}

/// A datapoint's period as an adjective: `5-minute`, `10-second`.
fn period(secs: u32) -> String {
    if secs.is_multiple_of(60) { format!("{}-minute", secs / 60) } else { format!("{secs}-second") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ratio;

    fn evidence(throttled_records: u64, peak_utilisation: f64) -> ThrottleEvidence {
        ThrottleEvidence {
            throttled_records,
            peak_utilisation,
            load_status: ReadStatus::Complete,
            open_shards: 4,
        }
    }

    #[track_caller]
    fn check(policy: &Policy, evidence: ThrottleEvidence, advised: bool) {
        assert_eq!(advise(policy, &evidence).is_some(), advised, "{evidence:?}");
    }

    #[test]
    fn shard_level_metrics_cost_eighty_cents_per_shard_month() {
        // 2 metrics × $0.30 + 2 alarms × $0.10.
        assert!((SHARD_LEVEL_METRICS_PER_SHARD_MONTH - 0.80).abs() < 1e-12);
    }

    #[test]
    fn a_stream_throttled_while_under_the_threshold_is_advised_with_its_figures() {
        let advice = advise(&Policy::default(), &evidence(1_234, 0.35)).expect("advised");
        let Advice::ShardLevelMetrics { throttled_records, peak_utilisation, reason } = &advice;
        assert_eq!((*throttled_records, *peak_utilisation), (1_234, 0.35));
        assert_eq!(
            reason,
            "throttled 1,234 records in 24 h while its busiest 5-minute period used 35 % of its capacity: the load \
             is concentrated on a few shards. Set shardLevelMetrics: true in streams.yaml (about $0.80 per \
             shard-month, $3.20 a month at its 4 shards) so each shard has its alarm and a scale-up splits \
             the hot shard first."
        );
        assert_eq!(advice.to_string(), *reason);
    }

    #[test]
    fn a_stream_at_or_over_the_threshold_is_not_advised() {
        // Its throttling is for want of capacity, which the stream-level alarms answer.
        check(&Policy::default(), evidence(1_234, 0.8), false);
        check(&Policy::default(), evidence(1_234, 1.3), false);
        check(&Policy::default(), evidence(1_234, 0.799), true);
    }

    #[test]
    fn the_threshold_is_the_policys_own() {
        let mut policy = Policy::default();
        policy.scale_up.threshold = Ratio::from_percent(30.0).unwrap();
        check(&policy, evidence(1_234, 0.35), false);
        policy.scale_up.threshold = Ratio::from_percent(36.0).unwrap();
        check(&policy, evidence(1_234, 0.35), true);
    }

    #[test]
    fn a_stream_that_never_throttled_is_not_advised() {
        check(&Policy::default(), evidence(0, 0.35), false);
        check(&Policy::default(), evidence(1, 0.35), true);
    }

    #[test]
    fn a_stream_with_shard_level_metrics_already_on_is_not_advised() {
        let policy = Policy { shard_level_metrics: true, ..Policy::default() };
        check(&policy, evidence(1_234, 0.35), false);
    }

    #[test]
    fn a_peak_read_incompletely_or_not_a_number_is_no_evidence_of_room() {
        let partial = ThrottleEvidence { load_status: ReadStatus::PartialData, ..evidence(1_234, 0.35) };
        check(&Policy::default(), partial, false);
        check(&Policy::default(), evidence(1_234, f64::NAN), false);
        check(&Policy::default(), evidence(1_234, -0.1), false);
    }

    #[test]
    fn implausible_throttle_datapoints_are_left_out_of_the_total() {
        // 2 shards × 1,000 records/s × 300 s × 10 attempts: at most 6,000,000 a period.
        let sums = [10.0, 5.5, f64::NAN, -3.0, f64::INFINITY, 6_000_000.0, 6_000_001.0, 1e300];
        assert_eq!(throttled_records(sums, 2, 300), 6_000_016);
        assert_eq!(throttled_records([], 2, 300), 0);
    }

    #[test]
    fn figures_are_written_as_people_read_them() {
        assert_eq!(
            [grouped(0), grouped(999), grouped(1_000), grouped(1_234_567)],
            ["0", "999", "1,000", "1,234,567"]
        );
        assert_eq!([span(86_400), span(3_600), span(30)], ["24 h", "1 h", "30 s"]);
        assert_eq!([period(300), period(60), period(10)], ["5-minute", "1-minute", "10-second"]);
    }
}
