//! "What would it do on my streams?": a stream's own history replayed with its own policy, the
//! bill under each capacity mode, and the advice between them (`streams whatif`).
//!
//! The advice rule lives here, not in `planner`: it weighs the simulator's bills (its prices and
//! its replay of this tool), which the planner, deciding reshards from live metrics, never needs;
//! it is pure all the same (figures in, advice out), and tested below.

use planner::Policy;
use serde::Serialize;

use crate::SimError;
use crate::assumptions::{HOURS_PER_MONTH, MAX_SHARDS};
use crate::cost::advantage_commitment;
use crate::history::Replayable;
use crate::policies::PolicyKind;
use crate::sim::{Outcome, run_with};

/// Above this share of the demand throttled, the tool's replay did not keep up with the stream,
/// and on-demand (which absorbs up to twice its previous peak at once) is advised whatever it
/// costs: a cheaper bill that drops writes is no saving.
pub const MAX_THROTTLED_PCT: f64 = 0.1;

/// A switch is advised only for a saving of at least this share of the current bill and
/// [`MIN_SAVING_PER_MONTH`]: the mode can switch at most twice per 24 h, and a change of mode
/// for pennies is churn.
pub const MIN_SAVING_SHARE: f64 = 0.10;
pub const MIN_SAVING_PER_MONTH: f64 = 1.0;

/// Kinesis's limit on capacity-mode switches, quoted in every advice.
pub const SWITCH_LIMIT: &str = "the capacity mode can switch at most twice per 24 h";

/// A stream's capacity mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Provisioned, its shards scaled by this tool.
    Provisioned,
    OnDemand,
}

/// What [`advise_mode`] weighs, each bill per month (730 h).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeFigures {
    pub current: Mode,
    pub provisioned_with_tool: f64,
    pub on_demand: f64,
    /// The share of the demand the tool's replay throttled (%).
    pub tool_throttled_pct: f64,
}

/// The advice: which mode, whether that is a switch, by how much a month, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeAdvice {
    pub mode: Mode,
    pub switch: bool,
    /// The advised mode's bill minus the other's, per month (negative: it saves).
    pub monthly_difference: f64,
    pub reason: String,
}

/// Provisioned with this tool, or on-demand: the cheaper, unless the tool's replay throttled
/// more than [`MAX_THROTTLED_PCT`] (then on-demand), and a switch only for a saving of at least
/// [`MIN_SAVING_SHARE`] and [`MIN_SAVING_PER_MONTH`] (else the stream stays as it is).
pub fn advise_mode(f: &ModeFigures) -> ModeAdvice {
    let (p, d) = (f.provisioned_with_tool, f.on_demand);
    let (current, other) = match f.current {
        Mode::Provisioned => (p, d),
        Mode::OnDemand => (d, p),
    };
    let saving = current - other;
    let worth_it = saving >= MIN_SAVING_PER_MONTH && saving >= MIN_SAVING_SHARE * current;
    let (mode, reason) = if f.tool_throttled_pct > MAX_THROTTLED_PCT {
        (
            Mode::OnDemand,
            format!(
                "this tool's replay throttled {:.2} % of the writes (more than {MAX_THROTTLED_PCT} %): the traffic \
                 jumps faster than alarms and splits follow, and on-demand absorbs up to twice its previous peak at once",
                f.tool_throttled_pct
            ),
        )
    } else if worth_it {
        let mode = match f.current {
            Mode::Provisioned => Mode::OnDemand,
            Mode::OnDemand => Mode::Provisioned,
        };
        (
            mode,
            format!(
                "it saves ${saving:.2} a month ({:.0} % of today's bill)",
                100.0 * saving / current.max(1e-9)
            ),
        )
    } else {
        let why = if saving > 0.0 {
            format!(
                "switching would save only ${saving:.2} a month, under the {:.0} % and ${MIN_SAVING_PER_MONTH:.2} worth a switch",
                MIN_SAVING_SHARE * 100.0
            )
        } else {
            format!("the other mode would cost ${:.2} a month more", -saving)
        };
        (f.current, why)
    };
    let (chosen, rejected) = match mode {
        Mode::Provisioned => (p, d),
        Mode::OnDemand => (d, p),
    };
    ModeAdvice {
        mode,
        switch: mode != f.current,
        monthly_difference: chosen - rejected,
        reason: format!("{}: {reason} ({SWITCH_LIMIT})", action(mode, mode != f.current)),
    }
}

/// What to do, in a few words: the advice's headline, which its reason starts with.
fn action(mode: Mode, switch: bool) -> &'static str {
    match (mode, switch) {
        (Mode::Provisioned, false) => "stay provisioned with this tool",
        (Mode::Provisioned, true) => "switch to provisioned with this tool",
        (Mode::OnDemand, false) => "stay on-demand",
        (Mode::OnDemand, true) => "switch to on-demand",
    }
}

impl ModeAdvice {
    /// The headline alone, for a table's column.
    pub fn action(&self) -> &'static str {
        action(self.mode, self.switch)
    }
}

/// One policy's replay, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub max_shards: u32,
    pub mean_shards: f64,
    pub shard_hours: f64,
    pub throttled_records: f64,
    pub throttled_pct: f64,
    pub cost: f64,
    pub monthly_cost: f64,
}

impl Run {
    fn of(o: &Outcome, hours: f64) -> Run {
        Run {
            max_shards: o.max_open,
            mean_shards: o.shard_hours / hours.max(1e-9),
            shard_hours: o.shard_hours,
            throttled_records: o.throttled_records,
            throttled_pct: o.throttled_pct(),
            cost: o.cost,
            monthly_cost: o.cost * HOURS_PER_MONTH / hours.max(1e-9),
        }
    }
}

/// A stream's replay under each mode, and the advice.
#[derive(Debug, Clone)]
pub struct WhatIf {
    /// The stream's mode today: its current bill is the unchanged count's, or on-demand's.
    pub current: Mode,
    pub hours: f64,
    /// This tool with the stream's policy, prediction off.
    pub with_tool: Outcome,
    /// This tool with the stream's policy as it is, prediction on: only where the policy sets
    /// `scaleUp.predictive`. The forecast learns from the replay's own earlier part as it goes.
    pub with_tool_predictive: Option<Outcome>,
    pub unchanged: Outcome,
    pub on_demand: Outcome,
    pub advantage: Outcome,
    pub advice: ModeAdvice,
    /// On-demand Advantage's account-wide minimum per month, whatever this stream writes.
    pub advantage_commitment_monthly: f64,
}

impl WhatIf {
    /// `replayable` under this tool with `policy` (its shard bounds held within the simulated
    /// [`MAX_SHARDS`]), prediction off and, where the policy sets it, on; its shards unchanged,
    /// on-demand and On-demand Advantage; `current` is the stream's mode today. The advice weighs
    /// the policy as it is ([`WhatIf::configured`]).
    pub fn run(replayable: &Replayable, policy: &Policy, current: Mode) -> Result<WhatIf, SimError> {
        let policy = Policy {
            min_shards: policy.min_shards.min(MAX_SHARDS),
            max_shards: policy.max_shards.min(MAX_SHARDS),
            ..policy.clone()
        };
        let trace = &replayable.trace;
        let ours = if policy.shard_level_metrics { PolicyKind::OursShardMetrics } else { PolicyKind::Ours };
        let run = |kind| run_with(trace, kind, &policy);
        let (with_tool, unchanged) = (run(ours)?, run(PolicyKind::Unchanged)?);
        let with_tool_predictive =
            policy.scale_up.predictive.map(|_| run(PolicyKind::OursPredictive)).transpose()?;
        let configured = configured(&with_tool, &with_tool_predictive);
        let (on_demand, advantage) = (run(PolicyKind::OnDemand)?, run(PolicyKind::OnDemandAdvantage)?);
        let hours = trace.secs as f64 / 3600.0;
        let monthly = |o: &Outcome| o.cost * HOURS_PER_MONTH / hours.max(1e-9);
        let advice = advise_mode(&ModeFigures {
            current,
            provisioned_with_tool: monthly(configured),
            on_demand: monthly(&on_demand),
            tool_throttled_pct: configured.throttled_pct(),
        });
        Ok(WhatIf {
            current,
            hours,
            advice,
            advantage_commitment_monthly: advantage_commitment(HOURS_PER_MONTH),
            with_tool,
            with_tool_predictive,
            unchanged,
            on_demand,
            advantage,
        })
    }

    /// This tool's replay of the stream's policy as it is: with prediction where it sets it.
    pub fn configured(&self) -> &Outcome {
        configured(&self.with_tool, &self.with_tool_predictive)
    }

    /// The replay of the stream as it is today: its shards unchanged, or on-demand.
    pub fn today(&self) -> &Outcome {
        match self.current {
            Mode::Provisioned => &self.unchanged,
            Mode::OnDemand => &self.on_demand,
        }
    }

    /// The four replays as the report shows them: with this tool, as today (its shards
    /// unchanged, or on-demand for an on-demand stream), on-demand, Advantage.
    pub fn runs(&self) -> [(&'static str, Run); 4] {
        [
            ("with_tool", Run::of(&self.with_tool, self.hours)),
            ("current", Run::of(self.today(), self.hours)),
            ("on_demand", Run::of(&self.on_demand, self.hours)),
            ("on_demand_advantage", Run::of(&self.advantage, self.hours)),
        ]
    }

    /// The replay with prediction on, where the policy sets it.
    pub fn predictive_run(&self) -> Option<Run> {
        self.with_tool_predictive.as_ref().map(|o| Run::of(o, self.hours))
    }
}

/// The replay of the policy as it is: the predictive one where there is one.
fn configured<'a>(with_tool: &'a Outcome, predictive: &'a Option<Outcome>) -> &'a Outcome {
    predictive.as_ref().unwrap_or(with_tool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advise(
        current: Mode,
        provisioned_with_tool: f64,
        on_demand: f64,
        tool_throttled_pct: f64,
    ) -> ModeAdvice {
        advise_mode(&ModeFigures { current, provisioned_with_tool, on_demand, tool_throttled_pct })
    }

    /// `advice` is `expected` (mode, switch, monthly difference) and its reason starts with `reason`.
    fn check(advice: ModeAdvice, expected: (Mode, bool, f64), reason: &str) {
        assert_eq!((advice.mode, advice.switch, advice.monthly_difference), expected);
        assert!(advice.reason.starts_with(reason), "{}", advice.reason);
    }

    #[test]
    fn a_provisioned_stream_cheaper_with_the_tool_stays_provisioned() {
        let a = advise(Mode::Provisioned, 20.0, 50.0, 0.0);
        assert_eq!((a.mode, a.switch, a.monthly_difference), (Mode::Provisioned, false, -30.0));
        assert_eq!(
            a.reason,
            "stay provisioned with this tool: the other mode would cost $30.00 a month more (the capacity mode \
             can switch at most twice per 24 h)"
        );
    }

    #[test]
    fn a_provisioned_stream_much_cheaper_on_demand_is_told_to_switch_with_the_saving() {
        check(
            advise(Mode::Provisioned, 40.0, 30.0, 0.0),
            (Mode::OnDemand, true, -10.0),
            "switch to on-demand: it saves $10.00 a month (25 % of today's bill)",
        );
    }

    #[test]
    fn a_saving_under_ten_percent_or_a_dollar_is_not_worth_a_switch() {
        assert!(!advise(Mode::Provisioned, 40.0, 37.0, 0.0).switch);
        assert!(!advise(Mode::Provisioned, 5.0, 4.2, 0.0).switch);
        assert!(advise(Mode::Provisioned, 40.0, 36.0, 0.0).switch);
        let a = advise(Mode::Provisioned, 40.0, 37.0, 0.0);
        assert!(a.reason.contains("would save only $3.00 a month"), "{}", a.reason);
    }

    #[test]
    fn a_replay_that_throttled_advises_on_demand_whatever_it_costs() {
        check(
            advise(Mode::Provisioned, 10.0, 50.0, 0.5),
            (Mode::OnDemand, true, 40.0),
            "switch to on-demand: this tool's replay throttled 0.50 % of the writes",
        );
        assert!(!advise(Mode::Provisioned, 10.0, 50.0, 0.1).switch);
    }

    #[test]
    fn an_on_demand_stream_is_compared_the_other_way_round() {
        check(
            advise(Mode::OnDemand, 10.0, 30.0, 0.0),
            (Mode::Provisioned, true, -20.0),
            "switch to provisioned with this tool: it saves $20.00",
        );
        let a = advise(Mode::OnDemand, 29.0, 30.0, 0.0);
        assert_eq!((a.mode, a.switch), (Mode::OnDemand, false));
    }

    /// Two hours of a stream on 2 shards writing `mib_per_sec` of 1 KiB records, every minute.
    fn two_hours(mib_per_sec: f64) -> crate::history::Replayable {
        use crate::history::{History, HistoryWindow, replayable};
        let start: chrono::DateTime<chrono::Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let window = HistoryWindow {
            start,
            end: start + chrono::Duration::hours(2),
            period_secs: 60,
            younger_than_window: false,
        };
        let history = History {
            stream: "s".into(),
            bytes: vec![Some(60.0 * mib_per_sec * 1_048_576.0); 120],
            records: vec![Some(60.0 * mib_per_sec * 1024.0); 120],
            throttled: vec![None; 120],
            window,
            shards: 2,
        };
        replayable(&history).unwrap()
    }

    #[test]
    fn the_replay_runs_the_streams_own_policy_from_its_own_shards() {
        use planner::Ratio;
        // 1.5 MiB/s of 1 KiB records on 2 shards: 75 %, under the default 80 % threshold.
        let r = two_hours(1.5);
        let default = WhatIf::run(&r, &crate::policies::ours::policy(), Mode::Provisioned).unwrap();
        let [(_, tool), (_, current), ..] = default.runs();
        assert_eq!((tool.max_shards, current.max_shards, current.mean_shards), (2, 2, 2.0));
        // A stream whose own policy scales up at 50 % to 40 %: 1.5 / 0.4 = 4 shards.
        let mut eager = crate::policies::ours::policy();
        eager.scale_up.threshold = Ratio::from_percent(50.0).unwrap();
        eager.scale_up.target = Ratio::from_percent(40.0).unwrap();
        eager.scale_down.threshold = Ratio::from_percent(20.0).unwrap();
        let w = WhatIf::run(&r, &eager, Mode::Provisioned).unwrap();
        assert_eq!((w.with_tool.max_open, w.unchanged.max_open), (4, 2));
        assert_eq!(w.hours, 2.0);
    }

    #[test]
    fn a_predictive_policy_is_replayed_with_prediction_on_and_off() {
        let r = two_hours(1.0);
        let reactive = WhatIf::run(&r, &crate::policies::ours::policy(), Mode::Provisioned).unwrap();
        assert!(reactive.with_tool_predictive.is_none() && reactive.predictive_run().is_none());
        let mut policy = crate::policies::ours::policy();
        policy.scale_up.predictive = Some(planner::Predictive { lookback_days: 14, lead_minutes: 15 });
        let w = WhatIf::run(&r, &policy, Mode::Provisioned).unwrap();
        let (on, off) = (w.with_tool_predictive.as_ref().unwrap(), &w.with_tool);
        assert_eq!((on.policy, off.policy), (PolicyKind::OursPredictive, PolicyKind::Ours));
        // Two hours are no history to forecast from: prediction changes nothing, and says so by
        // replaying exactly as the reactive policy.
        assert_eq!((on.shard_hours, on.ops), (off.shard_hours, off.ops));
        assert_eq!(w.configured().policy, PolicyKind::OursPredictive);
        assert_eq!(w.predictive_run().unwrap().shard_hours, w.runs()[0].1.shard_hours);
    }

    #[test]
    fn every_advice_quotes_the_switch_limit() {
        for current in [Mode::Provisioned, Mode::OnDemand] {
            for (p, d, t) in [(1.0, 2.0, 0.0), (2.0, 1.0, 0.0), (1.0, 2.0, 5.0)] {
                assert!(advise(current, p, d, t).reason.ends_with(&format!("({SWITCH_LIMIT})")));
            }
        }
    }
}
