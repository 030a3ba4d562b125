//! `baseline_deviation`: today's distinct sensitive records against the account's own history.
//!
//! Threshold = max(floor, surge × max(level × multiple, median + k·σ, largest unflagged day, the peers'
//! busy day, the top of the peers' spread)) with σ = 1.4826 × MAD over the last four weeks of unflagged
//! active days.
//! - level is the median, or the quietest recent week's median when the last week runs 1.5× above it
//!   (a boiling frog is measured against where it started, and its own spread and largest day, which
//!   the rise made, do not count);
//! - surge is how far the peer group as a whole is above its normal today ([`crate::peers`]); while it
//!   cannot be measured, `multiple_without_peers` replaces `multiple`;
//! - an account whose median day reads nothing sensitive is judged by the spread of the days it did;
//! - days that ran well above normal one after another lower the account's own part (everything but
//!   the peers' terms) to where the run's accumulated excess would pass a limit
//!   ([`crate::baseline::Sustained`], Page's CUSUM), when the run is the account's own: the peer
//!   group's surge is measured today, or its members' latest days show it did not run high with the
//!   account ([`crate::peers::LatestDays`]).
//!
//! Until the account has `warmup_days` of history the rule stays out of the way and the peer rule
//! judges the newcomer against colleagues instead of an empty baseline.

use super::{day_distinct_verdict, DayFinding, EvalContext, Rule, Verdict};
use crate::accounts::AccountState;
use crate::baseline::Robust;
use crate::config::{BaselineDeviationConfig, RuleMode};
use crate::peers::TeamSight;

pub(super) const NAME: &str = "baseline_deviation";

/// T1213.006 Databases; T1030 Data Transfer Size Limits (small daily portions); T1078 Valid Accounts.
const MITRE: &[&str] = &["T1213.006", "T1030", "T1078"];

#[derive(Debug, Clone)]
pub struct BaselineDeviationRule {
    config: BaselineDeviationConfig,
}

impl BaselineDeviationRule {
    pub fn from_config(config: &BaselineDeviationConfig) -> Self {
        BaselineDeviationRule {
            config: config.clone(),
        }
    }
}

impl Rule for BaselineDeviationRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.config.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        if ctx.sensitive_records == 0 || ctx.days_known < self.config.warmup_days {
            return Verdict::NotApplicable;
        }
        let trained = &state.history.trained;
        // Half the warm-up in active days: weekends off must not keep a person cold forever.
        if (trained.days as usize) < (self.config.warmup_days as usize).div_ceil(2) {
            return Verdict::NotApplicable;
        }
        let stats = Robust {
            median: trained.distinct_median,
            mad: trained.distinct_mad,
        };
        // An account that reads sensitive records on fewer than half its days (an analyst's occasional
        // extract) has a median day of zero: its own history speaks through the spread of the days it
        // did read, which needs a few such days (the log-scale tail is 0 until then). Until it has
        // them, peers and the absolute ceilings judge it, as they do a newcomer.
        let sparse = stats.median <= 0.0;
        if sparse && trained.distinct_tail <= 0.0 {
            return Verdict::NotApplicable;
        }
        // Never below the account's own largest unflagged day: what it has already shown to be normal
        // (spiky jobs such as a weekly extract have a low median and a high, legitimate maximum).
        // When the last week runs 1.5x above the quietest recent week (a steady rise), the multiple applies
        // to that quieter level, so an account growing a little every day is measured against where it
        // started, not against a median it has already pulled up.
        let rising = trained.rising();
        let level = if rising {
            stats.median.min(trained.distinct_low_median)
        } else {
            stats.median
        };
        // Nor below a busy colleague's day or the top of the peers' heavy-tailed spread: a day that is
        // ordinary for the peer group is not actionable, however quiet the account's own history (an
        // analyst whose extracts are rare). The account's own log-scale spread is used only for sparse
        // accounts: an insider who grows slowly or has exfiltrated before widens it, whereas one
        // account barely moves the peers' robust statistics.
        // On a day the whole peer group surges (an outage), everything that describes a normal day is
        // scaled by how far the group is above its own normal: surging with the team is no deviation.
        // When the group cannot be seen, a wider multiple has to cover a surge nobody measured.
        let team_surge = ctx.peers.and_then(|p| p.surge);
        // So does a day the group's latest surge may have reached unmeasured (a night shift's outage
        // hours after midnight, see `AccountState::unseen_surge_today`).
        let (multiple, surge) = match team_surge {
            Some(surge) if !state.unseen_surge_today => (self.config.multiple, surge),
            Some(surge) => (self.config.multiple_without_peers, surge),
            None => (self.config.multiple_without_peers, 1.0),
        };
        // While the account rises steadily, its median's spread and its largest day are what the rise
        // itself has made them (every unflagged day of a boiling frog is its new normal): they count
        // only while it does not.
        let own_spread_bound = if rising {
            0.0
        } else {
            let own_tail = if sparse { trained.distinct_tail } else { 0.0 };
            (stats.median + self.config.sigmas * stats.sigma())
                .max(trained.distinct_max as f64 + 1.0)
                .max(own_tail)
        };
        // Days running above normal one after another lower the bar, by how much they accumulated
        // (Page's CUSUM, `baseline::Sustained`): a day breaches once the excess with it would pass
        // `baseline::SUSTAINED_LIMIT` σ. With nothing accumulated that is e^(5.5σ), at least 3.96×
        // the median, above the multiple; after one day at 3× it is about 2×. The insider who reads
        // a steady 2-3× their normal every shift is caught on the second day, before those days
        // train the median, the spread and the largest day up to the theft's level. Only when the
        // run is the account's own: days that run high for a whole group (quarter-end reporting, a
        // long outage) are nobody's deviation, and only the team's own days tell them from one
        // person's. Today's surge says so when enough members are at work to measure it; otherwise
        // their latest days do, down to one colleague who had an ordinary day (a small team split
        // over many partitions). An account alone in its partition has no run.
        let run_is_own = ctx.team_sight.is_some_and(TeamSight::tells_own_run);
        let sustained_bound = if sparse || !run_is_own || trained.sustained_bound <= 0.0 {
            f64::INFINITY
        } else {
            f64::from(trained.sustained_bound)
        };
        let own_bound = (level * multiple).max(own_spread_bound);
        let peer_floor = ctx
            .peer_busy_day
            .map_or(0.0, |busy| busy + 1.0)
            .max(ctx.peer_tail);
        let normal_day_bound = own_bound.min(sustained_bound).max(peer_floor);
        let lowered_by_run = sustained_bound < own_bound && sustained_bound > peer_floor;
        let threshold = (self.config.min_records as f64).max(normal_day_bound * surge);
        let finding = DayFinding {
            rule: NAME,
            baseline: Some(stats.median),
            peer_baseline: ctx.peers.map(|p| p.median),
            mitre_techniques: MITRE,
            lowered_by_run,
        };
        day_distinct_verdict(state, threshold, finding)
    }
}
