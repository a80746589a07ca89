//! The physical bound: how soon *any* policy woken by this project's alarm could have enough
//! capacity after a trace's sudden event, and how much it would throttle on the way. It is the
//! alarm's detection (the breaching minute published, the next evaluation, SNS and Lambda, all
//! from the CloudWatch model's own constants) plus the quickest sequence of reshard rounds, under
//! the model's durations, that makes every shard fit the event's peak second.
//!
//! The bound knows the future peak and which shard is hot, which no policy does; it does not know
//! where in a shard the hot key lies (Kinesis has no per-key metric), so it splits at midpoints.
//! It applies to a step only: when the starting shards still carry the event's first minute (a
//! ramp), a policy can follow the ramp and there is no reaction time to bound, so there is none.

use std::collections::VecDeque;

use crate::SimError;
use simulated_aws::model::{next_evaluation, published_at};

use crate::assumptions::{NOTIFY_LATENCY_SECS, RESHARD_SECS, update_shard_count_secs};
use crate::policies::ours::policy;
use crate::policies::static_peak::even_shards_needed;
use crate::policies::{Controller, Env};
use crate::trace::Trace;

pub const PARAMETERS: &str = "the physical bound's path carried out: nothing until this project's \
alarm could have reached a Lambda, then the quickest reshard rounds to the event's peak, each as soon \
as the previous one completes";

/// One reshard round on the bound's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// `UpdateShardCount` (within 2×), taking [`update_shard_count_secs`].
    Update { from: u32, to: u32 },
    /// `SplitShard` of the most loaded shard at its midpoint, taking [`RESHARD_SECS`].
    Split,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// From the event until the alarm's notification reaches a Lambda.
    pub detection: i64,
    /// Seconds of resharding on the quickest path; 0 when the starting count already fits.
    pub reshard: i64,
    /// The quickest path.
    pub rounds: Vec<Round>,
    /// The path that throttles least ([`BoundPath`] carries it out).
    pub least_throttling: Vec<Round>,
}

impl Bound {
    pub fn total(&self) -> i64 {
        if self.rounds.is_empty() { 0 } else { self.detection + self.reshard }
    }
}

/// Rounds as the report prints them: "UpdateShardCount 4 → 6 → 11 → 22, then 2 splits".
pub fn describe(rounds: &[Round]) -> String {
    {
        let mut counts = rounds.iter().filter_map(|r| match r {
            Round::Update { from, to } => Some((*from, *to)),
            Round::Split => None,
        });
        let updates = counts.next().map(|(from, to)| {
            counts.fold(format!("UpdateShardCount {from} → {to}"), |s, (_, to)| format!("{s} → {to}"))
        });
        let splits = rounds.iter().filter(|r| **r == Round::Split).count();
        let splits = (splits > 0).then(|| format!("{splits} split{}", if splits == 1 { "" } else { "s" }));
        match (updates, splits) {
            (Some(u), Some(s)) => format!("{u}, then {s}"),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => "the starting shards already fit".into(),
        }
    }
}

/// Seconds from a breach starting at `at` until this project's scale-up alarm, which needs
/// `evaluation_periods` breaching periods, reaches the Lambda: the last of those periods is
/// published after the metric delay, the next once-a-minute evaluation sees it, then SNS and
/// Lambda. With one 60 s period and a breach on the minute: 60 + 90, rounded up to the minute
/// (180), + 5 = 185 s.
pub fn detection(at: i64) -> i64 {
    let up = policy().scale_up;
    let period = i64::from(up.period_secs);
    let last_minute = (at.div_euclid(period) + i64::from(up.evaluation_periods)) * period / 60 - 1;
    next_evaluation(published_at(last_minute)) + NOTIFY_LATENCY_SECS - at
}

/// A tiling as key-space fractions, with the load `units` of demand puts on it when `hot` of it
/// is on the key at `hot_at` (a fraction of the key space).
#[derive(Debug, Clone)]
struct Ranges {
    ranges: Vec<(f64, f64)>,
    hot: f64,
    hot_at: f64,
}

impl Ranges {
    fn even(n: u32, hot: f64, hot_at: f64) -> Ranges {
        let ranges = (0..n).map(|i| (f64::from(i) / f64::from(n), f64::from(i + 1) / f64::from(n))).collect();
        Ranges { ranges, hot, hot_at }
    }

    fn loads(&self, units: f64) -> impl Iterator<Item = f64> + '_ {
        self.ranges.iter().map(move |&(a, b)| {
            units * (1.0 - self.hot) * (b - a)
                + if (a..b).contains(&self.hot_at) { units * self.hot } else { 0.0 }
        })
    }

    /// Units per second throttled when `units` arrive evenly over the second.
    fn excess(&self, units: f64) -> f64 {
        self.loads(units).map(|l| (l - 1.0).max(0.0)).sum()
    }

    /// Splits the most loaded shard (the first of equals) at its midpoint, if one exceeds its
    /// limit at `units`; `false` when every shard fits.
    fn split_hottest(&mut self, units: f64) -> bool {
        let (i, worst) = self.loads(units).enumerate().fold((0, 0.0), |m, x| if x.1 > m.1 { x } else { m });
        if worst <= 1.0 {
            return false;
        }
        let (a, b) = self.ranges[i];
        self.ranges[i] = (a, (a + b) / 2.0);
        self.ranges.insert(i + 1, ((a + b) / 2.0, b));
        true
    }
}

/// What a path of rounds is the quickest in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective<'a> {
    /// Seconds until every shard fits: the bound on time to capacity.
    Time,
    /// Units throttled on the way, for per-second demand distributed as these samples (the
    /// event's seconds, so near-capacity tilings throttle on their jittery seconds as they do in
    /// the simulation): the path whose throttling bounds every policy's. Not the quickest path:
    /// an early doubling throttles less than a slower start to a quicker finish.
    Throttling(&'a [f64]),
}

impl Objective<'_> {
    /// The cost of `secs` spent with `tiling` open.
    fn cost(self, secs: i64, tiling: &Ranges) -> f64 {
        match self {
            Objective::Time => secs as f64,
            Objective::Throttling(demand) => {
                secs as f64 * demand.iter().map(|u| tiling.excess(*u)).sum::<f64>() / demand.len() as f64
            }
        }
    }
}

/// `count` evenly spaced quantiles of `values`: the per-second demand of an event, small enough
/// to weigh every candidate tiling against.
fn quantiles(mut values: Vec<f64>, count: usize) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    (0..count).map(|i| values[(2 * i + 1) * values.len() / (2 * count)]).collect()
}

/// The best rounds, by `objective`, from `n0` even shards to a tiling whose every shard carries
/// `units` with `hot` of it on the key at `hot_at`, and their seconds: a shortest path over shard
/// counts up to the even count that fits (`UpdateShardCount` within 2× of the current count;
/// going past that count or down only costs more, since a call's duration grows with the larger
/// count), finished by midpoint splits of the hottest shard. Splits come last because
/// `UpdateShardCount` re-creates even shards, undoing earlier splits.
pub fn best_rounds(
    n0: u32,
    units: f64,
    hot: f64,
    hot_at: f64,
    objective: Objective<'_>,
) -> (Vec<Round>, i64) {
    let need = even_shards_needed(units, hot).max(n0) as usize;
    let n0 = n0 as usize;
    // best[n]: the least cost (and its seconds) to n even shards by UpdateShardCount, and the
    // count before.
    let mut best: Vec<Option<(f64, i64, usize)>> = vec![None; need + 1];
    best[n0] = Some((0.0, 0, n0));
    for n in n0..need {
        let Some((cost, secs, _)) = best[n] else { continue };
        let open = Ranges::even(n as u32, hot, hot_at);
        let reachable = (2 * n).min(need);
        for (m, to) in best.iter_mut().enumerate().take(reachable + 1).skip(n + 1) {
            let took = update_shard_count_secs(n as u32, m as u32);
            let via = cost + objective.cost(took, &open);
            if to.is_none_or(|(b, _, _)| via < b) {
                *to = Some((via, secs + took, n));
            }
        }
    }
    let finish = |n: usize| {
        let (mut cost, mut secs, _) = best[n]?;
        let mut tiling = Ranges::even(n as u32, hot, hot_at);
        let mut splits = 0;
        loop {
            let before = tiling.clone();
            if !tiling.split_hottest(units) {
                return Some((n, cost, secs, splits));
            }
            cost += objective.cost(RESHARD_SECS, &before);
            secs += RESHARD_SECS;
            splits += 1;
        }
    };
    let (mut n, _, secs, splits) = (n0..=need)
        .filter_map(finish)
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)))
        .expect("n0 itself is reachable");
    let mut rounds = vec![Round::Split; splits];
    while n != n0 {
        let (_, _, from) = best[n].expect("on the path");
        rounds.insert(0, Round::Update { from: from as u32, to: n as u32 });
        n = from;
    }
    (rounds, secs)
}

/// `None` for traces without an event, and for events the starting shards carry at first (ramps).
pub fn physical_bound(trace: &Trace) -> Option<Bound> {
    let event = trace.event?;
    let n0 = trace.initial_shards();
    let first = event.at / 60;
    if even_shards_needed(trace.peak_units_in_minute(first), trace.hot_share(first)) <= n0 {
        return None;
    }
    let minutes = first..event.until.min(trace.secs) / 60;
    let units = minutes.clone().map(|m| trace.peak_units_in_minute(m)).fold(0.0, f64::max);
    let demand = quantiles(
        (event.at..event.until.min(trace.secs)).map(|t| trace.units(trace.bytes_at(t))).collect(),
        64,
    );
    let hot = minutes.map(|m| trace.hot_share(m)).fold(0.0, f64::max);
    let hot_at = trace.hot_key.0 as f64 / u128::MAX as f64;
    let (rounds, reshard) = best_rounds(n0, units, hot, hot_at, Objective::Time);
    let (least_throttling, _) = best_rounds(n0, units, hot, hot_at, Objective::Throttling(&demand));
    Some(Bound { detection: detection(event.at), reshard, rounds, least_throttling })
}

/// The bound's path carried out in the simulated stream, so its throttling comes from the same
/// engine as every policy's: the least any policy woken by this project's alarm could throttle.
#[derive(Debug)]
pub struct BoundPath {
    start: i64,
    rounds: VecDeque<Round>,
}

impl BoundPath {
    pub fn new(trace: &Trace) -> BoundPath {
        match (trace.event, physical_bound(trace)) {
            (Some(event), Some(bound)) => {
                BoundPath { start: event.at + bound.detection, rounds: bound.least_throttling.into() }
            }
            _ => BoundPath { start: i64::MAX, rounds: VecDeque::new() },
        }
    }
}

impl Controller for BoundPath {
    fn tick(&mut self, now: i64, env: &mut Env<'_>) -> Result<(), SimError> {
        if now < self.start || !env.is_active() {
            return Ok(());
        }
        match self.rounds.pop_front() {
            Some(Round::Update { to, .. }) => {
                env.update_shard_count(to);
            }
            Some(Round::Split) => {
                let shares = env.shares(env.trace.hot_key, env.trace.hot_share(now / 60));
                let hottest = (0..shares.len()).fold(0, |m, i| if shares[i] > shares[m] { i } else { m });
                let tiling = env.tiling();
                let shard = &tiling.shards()[hottest];
                let (id, mid) = (shard.id.clone(), shard.range.midpoint().expect("a hot shard is wide"));
                env.split(&id, mid);
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assumptions::METRIC_DELAY_SECS;

    /// Doubling `UpdateShardCount`s, the last straight to the need: the bound's old path.
    fn doubling_secs(n0: u32, need: u32) -> i64 {
        let (mut n, mut secs) = (n0, 0);
        while n < need {
            let next = (n * 2).min(need);
            secs += update_shard_count_secs(n, next);
            n = next;
        }
        secs
    }

    #[test]
    fn detection_is_publication_then_the_next_evaluation_then_notification() {
        // The event's minute ends at +60, is published METRIC_DELAY_SECS later, evaluated on the
        // next minute boundary, and notified.
        let published = 60 + METRIC_DELAY_SECS;
        let evaluated = next_evaluation(published);
        assert_eq!(detection(6 * 3600), evaluated + NOTIFY_LATENCY_SECS);
        assert_eq!(detection(6 * 3600), 185);
        // Mid-minute, the breach's minute is published sooner after the event.
        assert_eq!(detection(6 * 3600 + 30), 155);
    }

    #[test]
    fn the_flash_spike_path_is_4_6_11_22_and_beats_doubling() {
        let (rounds, secs) = best_rounds(4, 21.5, 0.0, 0.5, Objective::Time);
        assert_eq!(
            rounds,
            [
                Round::Update { from: 4, to: 6 },
                Round::Update { from: 6, to: 11 },
                Round::Update { from: 11, to: 22 }
            ]
        );
        assert_eq!(secs, 84 + 104 + 148);
        assert_eq!(doubling_secs(4, 22), 92 + 124 + 148);
    }

    #[test]
    fn the_reshard_path_is_never_slower_than_doubling_or_splitting() {
        for n0 in 1..12 {
            for tenths in 5..400 {
                let units = f64::from(tenths) / 10.0;
                let need = even_shards_needed(units, 0.0).max(n0);
                let (_, secs) = best_rounds(n0, units, 0.0, 0.5, Objective::Time);
                assert!(secs <= doubling_secs(n0, need), "{n0} shards, {units} units");
                let mut tiling = Ranges::even(n0, 0.0, 0.5);
                let mut splits = 0;
                while tiling.split_hottest(units) {
                    splits += RESHARD_SECS;
                }
                assert!(secs <= splits, "{n0} shards, {units} units");
            }
        }
    }

    #[test]
    fn a_hot_shard_is_split_not_the_whole_stream_updated() {
        // The hot-key trace: 5 shards, a 2.77-unit peak second, 30 % on the key at 0.8. The hot
        // shard carries 0.83 + 0.39; two midpoint splits bring it to 0.83 + 0.10 (60 s), where even
        // shards would need 12 (5 → 6 → 12: 192 s).
        let (rounds, secs) = best_rounds(5, 2.77, 0.3, 0.8, Objective::Time);
        assert_eq!(rounds, [Round::Split, Round::Split]);
        assert_eq!(secs, 2 * RESHARD_SECS);
    }

    #[test]
    fn the_least_throttling_path_doubles_early_where_the_quickest_starts_slow() {
        // At about 20 units of demand (18 to 21.5 from second to second), 4 → 8 → 16 → 22
        // throttles about 16·92 + 12·124 + 4·148 = 3,552 unit-seconds after detection; the
        // quickest, 4 → 6 → 11 → 22, about 16·84 + 14·104 + 9·148 = 4,132.
        let demand: Vec<f64> = (0..=35).map(|i| 18.0 + f64::from(i) / 10.0).collect();
        let (rounds, _) = best_rounds(4, 21.5, 0.0, 0.5, Objective::Throttling(&demand));
        let (fastest, _) = best_rounds(4, 21.5, 0.0, 0.5, Objective::Time);
        let throttled = |rounds: &[Round]| -> f64 {
            rounds
                .iter()
                .map(|r| match r {
                    Round::Update { from, to } => {
                        update_shard_count_secs(*from, *to) as f64 * (20.0 - f64::from(*from)).max(0.0)
                    }
                    Round::Split => RESHARD_SECS as f64 * 20.0,
                })
                .sum()
        };
        assert!(throttled(&rounds) <= 3552.0, "{rounds:?}");
        assert!(throttled(&fastest) > throttled(&rounds));
    }

    #[test]
    fn the_path_reads_as_counts_then_splits() {
        let rounds = [Round::Update { from: 4, to: 6 }, Round::Update { from: 6, to: 11 }, Round::Split];
        assert_eq!(describe(&rounds), "UpdateShardCount 4 → 6 → 11, then 1 split");
        assert_eq!(describe(&[]), "the starting shards already fit");
    }
}
