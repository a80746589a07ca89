//! Consumers in simulated time: every record accepted is read once by each of the trace's
//! consumers, as fast as Kinesis and the application allow, and whatever it cannot read yet waits
//! in its backlog.
//!
//! Each second a consumer asks for its whole backlog plus the second's new records, up to what
//! its application processes ([`Consumer::processing_limit`]). Kinesis serves that per shard:
//! shared consumers together get [`SHARD_READ_BYTES_PER_SEC`] of each shard, split in proportion
//! to what they ask (a shard asked for more refuses that share of its `GetRecords` calls: the
//! `ReadProvisionedThroughputExceeded` count), and each enhanced fan-out consumer gets as much
//! again of its own. On-demand shards serve twice their write limit, as provisioned ones do.
//! Capacity follows the open shards, so a merged shard serves its readers one limit where the pair
//! served two.
//!
//! One simplification: a consumer's backlog is kept for the whole stream and spread over the open
//! shards by their write shares, not kept per shard. On an even tiling (the traces' start, every
//! `UpdateShardCount`) that is exact; on an uneven one a narrow shard with room to spare reads part
//! of a wide shard's backlog, so the model understates how far behind the busiest shard's readers
//! fall. Records stay in order: the iterator age is the age of the oldest record a consumer has
//! not read, and records older than the retention period expire unread.

use crate::assumptions::{
    EFO_READ_BYTES_PER_SEC, GET_RECORDS_POLLS_PER_SEC, READ_RETENTION_SECS, SHARD_READ_BYTES_PER_SEC,
};
use crate::trace::Consumer;
use simulated_aws::accepted_units;

/// A shortfall this small against what was asked is float rounding, not throttling.
const ROUNDING: f64 = 1e-9;

/// What the consumers did in one second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadSecond {
    /// Bytes read by shared consumers: what `GetRecords.Bytes` sums.
    pub shared_bytes: f64,
    /// `GetRecords` calls made, and those refused for the shard's read limit (what
    /// `ReadProvisionedThroughputExceeded` sums).
    pub calls: f64,
    pub throttled_calls: f64,
    /// The oldest unread record's age in seconds: over shared consumers (what
    /// `GetRecords.IteratorAgeMilliseconds` reports) and over every consumer.
    pub shared_age: i64,
    pub age: i64,
    /// Bytes that expired unread this second, summed over consumers.
    pub expired_bytes: f64,
}

/// Every consumer's position in the stream.
#[derive(Debug, Clone)]
pub struct Readers {
    consumers: Vec<Consumer>,
    /// Bytes accepted up to the end of each second so far.
    written: Vec<f64>,
    /// Per consumer: bytes read so far, and the first second with a record it has not read.
    read: Vec<f64>,
    oldest: Vec<usize>,
    /// What each consumer asks for in the current second (kept to spare an allocation a second).
    asked: Vec<f64>,
}

impl Readers {
    /// Consumers caught up at the start of a trace of `secs` seconds.
    pub fn new(consumers: &[Consumer], secs: i64) -> Readers {
        Readers {
            consumers: consumers.to_vec(),
            written: Vec::with_capacity(if consumers.is_empty() { 0 } else { secs as usize }),
            read: vec![0.0; consumers.len()],
            oldest: vec![0; consumers.len()],
            asked: vec![0.0; consumers.len()],
        }
    }

    /// Second `t` (the next one): `written` bytes accepted, spread over the open shards by
    /// `shares`, each shard writing at most `write_limit` shard units.
    pub fn second(&mut self, t: i64, written: f64, shares: &[f64], write_limit: f64) -> ReadSecond {
        let mut out = ReadSecond::default();
        if self.consumers.is_empty() {
            return out;
        }
        debug_assert_eq!(t as usize, self.written.len());
        let total = self.written.last().copied().unwrap_or(0.0) + written;
        self.written.push(total);
        let expired = t.checked_sub(READ_RETENTION_SECS).and_then(|s| usize::try_from(s).ok());
        let floor = expired.map_or(0.0, |s| self.written[s]);
        let asked = &mut self.asked;
        for (c, consumer) in self.consumers.iter().enumerate() {
            if self.read[c] < floor {
                out.expired_bytes += floor - self.read[c];
                self.read[c] = floor;
            }
            asked[c] = (total - self.read[c]).min(consumer.processing_limit(t));
        }
        let shared_limit = SHARD_READ_BYTES_PER_SEC * write_limit;
        let asked = &self.asked;
        let shared =
            || self.consumers.iter().zip(asked).filter(|(c, _)| !c.enhanced_fan_out).map(|(_, a)| *a);
        let shared_asked: f64 = shared().sum();
        let served = if shared_asked > 0.0 {
            let (served, refused) = serve(shared_asked, shares, shared_limit);
            let active = shared().filter(|a| *a > 0.0).count() as f64;
            out.calls = active * GET_RECORDS_POLLS_PER_SEC * shares.len() as f64;
            out.throttled_calls = active * GET_RECORDS_POLLS_PER_SEC * refused;
            served / shared_asked
        } else {
            1.0
        };
        for (c, consumer) in self.consumers.iter().enumerate() {
            let got = if consumer.enhanced_fan_out {
                accepted_units(asked[c], shares, EFO_READ_BYTES_PER_SEC * write_limit)
            } else {
                asked[c] * served
            };
            // Everything asked and everything there: caught up exactly, whatever the rounding.
            self.read[c] =
                if got >= (total - self.read[c]) * (1.0 - ROUNDING) { total } else { self.read[c] + got };
            if !consumer.enhanced_fan_out {
                out.shared_bytes += got;
            }
            while self.oldest[c] <= t as usize && self.written[self.oldest[c]] <= self.read[c] {
                self.oldest[c] += 1;
            }
            let age = t - (self.oldest[c] as i64).min(t);
            out.age = out.age.max(age);
            if !consumer.enhanced_fan_out {
                out.shared_age = out.shared_age.max(age);
            }
        }
        out
    }
}

/// Of `asked` bytes spread over shards by `shares`, each serving `limit`: the bytes served, and
/// the shards' refused shares of what they were asked, summed (in shards).
fn serve(asked: f64, shares: &[f64], limit: f64) -> (f64, f64) {
    let (mut served, mut refused) = (0.0, 0.0);
    for share in shares {
        let want = asked * share;
        served += want.min(limit);
        if want > limit * (1.0 + ROUNDING) {
            refused += 1.0 - limit / want;
        }
    }
    (if served >= asked * (1.0 - ROUNDING) { asked } else { served }, refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Slowdown;

    const MIB: f64 = 1024.0 * 1024.0;

    fn consumer(enhanced_fan_out: bool, slowdowns: Vec<Slowdown>) -> Consumer {
        Consumer { name: "c".into(), enhanced_fan_out, slowdowns }
    }

    /// `secs` seconds of `mib` MiB/s written over `shares`; the last second's figures.
    fn run(readers: &mut Readers, from: i64, secs: i64, mib: f64, shares: &[f64]) -> ReadSecond {
        (from..from + secs).map(|t| readers.second(t, mib * MIB, shares, 1.0)).last().unwrap()
    }

    #[test]
    fn shared_consumers_beyond_a_shards_read_limit_are_throttled_and_fall_behind() {
        // Three shared consumers of one shard written at 1 MiB/s ask for 3 MiB/s; it serves 2.
        let mut readers = Readers::new(&vec![consumer(false, vec![]); 3], 600);
        let first = run(&mut readers, 0, 1, 1.0, &[1.0]);
        assert!((first.shared_bytes - 2.0 * MIB).abs() < 1e-6, "{}", first.shared_bytes / MIB);
        assert!((first.throttled_calls - 3.0 / 3.0).abs() < 1e-9, "a third of 3 calls refused");
        assert_eq!(first.calls, 3.0);
        let later = run(&mut readers, 1, 299, 1.0, &[1.0]);
        assert!(later.age > 90, "a third behind after 300 s: {} s", later.age);
    }

    #[test]
    fn enhanced_fan_out_consumers_do_not_count_against_the_shared_limit() {
        // One shared and three enhanced fan-out consumers at 1.5 MiB/s: each has 2 MiB/s.
        let mut consumers = vec![consumer(true, vec![]); 3];
        consumers.push(consumer(false, vec![]));
        let mut readers = Readers::new(&consumers, 600);
        let last = run(&mut readers, 0, 600, 1.5, &[1.0]);
        assert_eq!((last.throttled_calls, last.age), (0.0, 0));
        assert!((last.shared_bytes - 1.5 * MIB).abs() < 1e-6);
    }

    #[test]
    fn the_iterator_age_grows_while_a_consumer_is_short_and_falls_once_it_catches_up() {
        // Stalled for the first 100 s, then free: 0.5 MiB/s written on one shard, 2 MiB/s to read.
        let stall = Slowdown { at_hours: 0.0, hours: 100.0 / 3600.0, mib_per_sec: 0.0 };
        let mut readers = Readers::new(&[consumer(false, vec![stall])], 600);
        let stalled = run(&mut readers, 0, 100, 0.5, &[1.0]);
        assert_eq!(stalled.age, 99, "the first second's records are unread");
        // Reading 2 MiB/s, four seconds of writes a second: the age falls by three a second.
        let catching_up = run(&mut readers, 100, 10, 0.5, &[1.0]);
        assert!((65..=70).contains(&catching_up.age), "{}", catching_up.age);
        assert!(catching_up.throttled_calls > 0.0, "reading 2 MiB/s to catch up is at the limit");
        // 50 MiB behind, gaining 1.5 MiB/s: caught up within 34 s of the stall's end.
        let caught_up = run(&mut readers, 110, 30, 0.5, &[1.0]);
        assert_eq!((caught_up.age, caught_up.throttled_calls), (0, 0.0));
    }

    #[test]
    fn a_merged_shard_serves_its_readers_half_what_the_pair_did() {
        // Two shared consumers of 1.5 MiB/s of writes ask for 3 MiB/s: two shards serve 4, one 2.
        let consumers = vec![consumer(false, vec![]); 2];
        let pair = run(&mut Readers::new(&consumers, 60), 0, 60, 1.5, &[0.5, 0.5]);
        assert_eq!((pair.age, pair.throttled_calls), (0, 0.0));
        let merged = run(&mut Readers::new(&consumers, 60), 0, 60, 1.5, &[1.0]);
        assert!((merged.shared_bytes - 2.0 * MIB).abs() < 1e-6, "{}", merged.shared_bytes / MIB);
        assert!(merged.age > 10 && merged.throttled_calls > 0.0, "{merged:?}");
    }

    #[test]
    fn records_older_than_the_retention_period_expire_unread() {
        // A consumer stalled for 25 h loses the first hour's records.
        let stall = Slowdown { at_hours: 0.0, hours: 25.0, mib_per_sec: 0.0 };
        let secs = 25 * 3600;
        let mut readers = Readers::new(&[consumer(false, vec![stall])], secs);
        let seconds: Vec<ReadSecond> = (0..secs).map(|t| readers.second(t, 1.0, &[1.0], 1.0)).collect();
        assert_eq!(seconds.iter().map(|s| s.expired_bytes).sum::<f64>(), 3600.0);
        assert_eq!(seconds.last().unwrap().age, READ_RETENTION_SECS - 1);
    }
}
