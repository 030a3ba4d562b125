//! One risk per account: today's evidence, scored feature by feature against the account's own normal
//! and its peers right now, accumulated over days, and judged against a threshold calibrated from the
//! population's own scores.
//!
//! **Scores.** Every feature becomes a z-score. Volumes (customers or rows read, read statements, bytes
//! exported) are compared on the log scale with the account's own level ([`Baseline`]), less the group's
//! common mode when the group runs high ([`GroupView::common_mode`]), over a spread that adds the
//! counting noise of a small day and the uncertainty of a short history; a short history also borrows
//! its spread from the group's typical member and is weighed against the peers' view, which can explain
//! a day away but never add to it (being above one's peers is a heavy reader's normal). Without a level
//! of its own an account is judged against the pooled days of its group. Novelty (a new client address,
//! application, destination or sensitive table, an hour never worked) scores its Good–Turing surprise.
//!
//! **Accumulation.** The day's score is the sum of the features' positive parts, each counted fully up to
//! [`DAY_CAP`] and only logarithmically beyond ([`bounded`]: beyond four sigma a person's own accidents,
//! not Gaussian noise, decide how often a day goes that high; a single extreme day is the business of
//! the absolute rules). An account without a level of its own is judged a day at a time against its
//! peers, unbounded: it has no run to accumulate. Page's CUSUM with forgetting accumulates the rest:
//! `S ← max(0, λ·S + s − k)` once a day, with the allowance `k` half the smallest sustained shift worth
//! catching (one sigma: a run of days at about 1.4× normal at a typical spread) and `λ` forgetting
//! evidence over about a week. A day without sensitive reads or exports is a quiet day of the account's
//! own (it scores nothing and decays the evidence by a day). During the
//! day the risk is `λ·S + s − k` with today's score so far, which only grows with the day, so an alert
//! comes as soon as the evidence suffices. Low-and-slow, the boiling frog, the departing employee and
//! collusion are the same arithmetic. A second, short run (allowance [`BURST_ALLOWANCE`], scaled by
//! [`BURST_SCALE`] so that each statistic has half the budget) catches two or three strong days sooner
//! where the account's level is mature and its team's movement was measured. The bound limits what one
//! day carries into a run, not what it shows: against a level of two working weeks or more, a day
//! whose own deviation is already the threshold's worth of evidence is the risk by itself
//! ([`Risk::now`]; the Gaussian reference and the calibration see the same risk).
//!
//! **Calibration.** The threshold is the risk that a population of Gaussian accounts under this very
//! accumulation exceeds, over as many days, at the configured false-alarm budget (accounts alerted per
//! 1,000 account-days; [`GaussianReference`]), raised by how far the real population's upper quartile of
//! four-week maxima runs above the Gaussian one: real days have heavier tails ([`calibrated_threshold`]).

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::baseline::{Baseline, YOUNG_LEVEL_DAYS};
use super::peers::{GroupView, MIN_COMMON_MEMBERS};
use super::stats::{log_volume, quantile_sorted, Level};

mod calibration;
pub use calibration::{calibrated_threshold, GaussianReference};

/// Page's allowance `k`, in sigma: half the smallest sustained shift worth catching, one sigma (a run of
/// days at about 1.4× normal at a typical spread).
pub const ALLOWANCE: f64 = 0.5;
/// Forgetting per active day `λ`: evidence halves in about a week of working days.
pub const DECAY: f64 = 0.9;
/// The short run's allowance, in sigma: half a three-sigma shift, the departing employee's few days at
/// three times normal (Lucas, 1982: one CUSUM per shift size worth catching fast).
pub const BURST_ALLOWANCE: f64 = 1.5;
/// The short run's statistic in units of the long one: the ratio of their Gaussian thresholds at half
/// the false-alarm budget each over four weeks (measured by `burst_scale_splits_the_budget`), so that
/// either alone is as likely to page an innocent account and the larger of the two is the risk.
pub const BURST_SCALE: f64 = 2.2;
/// Where a feature's day score stops counting fully, in sigma (beyond it, only the logarithm of the
/// rest counts: [`bounded`]).
pub const DAY_CAP: f64 = 4.0;
/// Pseudo-days of the group's typical spread in a member's spread: the upper half of four weeks of days
/// measures a spread to within a third, the group's members together far better, so a member's own
/// spread needs two months of days to outweigh its group's.
const SPREAD_PRIOR_DAYS: f64 = 56.0;
/// Pseudo-days of the peers' view in the score of a short history.
const PEER_PRIOR_DAYS: f64 = 7.0;
/// Accounts (with a week of scored days in the last four weeks) a partition needs before its threshold
/// is calibrated from them.
pub const MIN_CALIBRATION_ACCOUNTS: usize = 10;
/// Scored days an account needs in the last four weeks to count in the calibration.
pub const MIN_CALIBRATION_DAYS: usize = 7;
/// The horizon of the calibration, in days: the accounts' four-week maxima.
pub const CALIBRATION_DAYS: f64 = 28.0;
/// Accounts simulated for the threshold before calibration (see [`gaussian_threshold`]).
const GAUSSIAN_ACCOUNTS: usize = 20_000;
/// The least threshold calibration may set: one feature at the cap for one day never accumulates to it.
pub const MIN_THRESHOLD: f64 = DAY_CAP - ALLOWANCE;
/// Accumulated evidence from which a run of raised days is suspect and held out of the account's
/// level (see [`crate::detect::baseline::mark_run`]): that of one day at the bound.
pub const SUSPECT_RISK: f64 = DAY_CAP - ALLOWANCE;

/// A piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Feature {
    /// Customers (or rows) read and read statements, against the account's own level.
    Reads,
    /// The same against the group's pooled days (no level of its own yet).
    ReadsVsPeers,
    /// Bytes exported against the account's own export days.
    Exports,
    /// Bytes exported against the other members exporting today.
    ExportsVsPeers,
    /// Sensitive records exported against the customers (or rows) the account reads in a day: the
    /// only reference of a whole day's exports when neither the account nor any other member of its
    /// group exported in four weeks.
    ExportsVsReads,
    NewClientAddress,
    NewClientApplication,
    UnusualHour,
    NewDestination,
    NewTable,
}

impl Feature {
    /// A comparison of the account's volume with its peers' levels rather than its own.
    pub fn is_peer_comparison(self) -> bool {
        matches!(self, Feature::ReadsVsPeers | Feature::ExportsVsPeers)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Reads => "reads",
            Feature::ReadsVsPeers => "reads_vs_peers",
            Feature::Exports => "exports",
            Feature::ExportsVsPeers => "exports_vs_peers",
            Feature::ExportsVsReads => "exports_vs_reads",
            Feature::NewClientAddress => "new_client_address",
            Feature::NewClientApplication => "new_client_application",
            Feature::UnusualHour => "unusual_hour",
            Feature::NewDestination => "new_destination",
            Feature::NewTable => "new_table",
        }
    }
}

/// The novelty features, in [`Novelties`] order.
pub const NOVELTIES: [Feature; 5] = [
    Feature::NewClientAddress,
    Feature::NewClientApplication,
    Feature::UnusualHour,
    Feature::NewDestination,
    Feature::NewTable,
];

/// Today's strongest surprise per novelty feature (z-scores, 0 when nothing was new).
pub type Novelties = [f32; 5];

/// One feature's part in the day's score, with what an analyst needs to read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    pub feature: Feature,
    /// The z-score, before the cap.
    pub score: f64,
    /// Today's value (customers, rows, bytes; 0 for novelty).
    pub value: f64,
    /// The account's own normal day, when it has one.
    pub normal: Option<f64>,
    /// The peers' normal day.
    pub peer_normal: Option<f64>,
}

/// What the account did today so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Today {
    pub reads: f64,
    pub queries: f64,
    pub exported: f64,
    /// Sensitive records among what was exported.
    pub exported_records: f64,
}

/// Today's evidence for one account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assessment {
    /// The day's score: the sum of the capped positive parts.
    pub score: f64,
    /// Whether the account was judged against a level of its own, in reads or in exports (only then
    /// does evidence accumulate over days: without it there is no run to speak of).
    pub own: bool,
    /// The day's strongest deviation from the account's own levels (reads or exports), unbounded: a
    /// day that alone is as much evidence as the threshold asks needs no run ([`Risk::now`]).
    pub alone: f64,
    /// Whether the day counts in the short run: a level of ten days or more of its own (a younger
    /// spread is too uncertain for a few days to say much) and the group's movement measured that day
    /// (a team-wide surge of a day or two that a thin partition cannot see as the team's is exactly a
    /// short run). Otherwise the day is a quiet one for the short run.
    pub mature: bool,
    pub parts: SmallVec<[Contribution; 4]>,
}

impl Assessment {
    /// The parts that added to the score, strongest first (a comparison with the peers' levels adds
    /// nothing to an account with a level of its own; see [`assess`]).
    pub fn contributing(&self) -> Vec<Contribution> {
        let mut parts: Vec<Contribution> = self
            .parts
            .iter()
            .copied()
            .filter(|p| p.score > 0.0 && !(self.own && p.feature.is_peer_comparison()))
            .collect();
        parts.sort_by(|a, b| b.score.total_cmp(&a.score));
        parts
    }
}

/// What the peer group says about a day: its rise (taken out when positive) and its references.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeerContext {
    /// The group's common mode in reads, in log units.
    pub common_mode: Option<f64>,
    /// The group's common mode in exports.
    pub export_mode: Option<f64>,
    pub pooled: Option<Level>,
    pub typical_spread: Option<f64>,
    pub typical_export_spread: Option<f64>,
    pub exports_today: Option<Level>,
    /// A whole past day is judged (see [`PeerContext::on_day`]), and exporting is not something the
    /// account's group does: it has three other members or more in the partition (fewer cannot tell),
    /// and fewer than three of them, and fewer than half, exported in the four weeks up to that day's
    /// end. The day's exports then have no reference but the account's reads.
    pub exports_foreign_to_group: bool,
}

impl PeerContext {
    /// The group right now.
    pub fn now(view: &GroupView) -> Self {
        PeerContext {
            common_mode: view.common_mode,
            export_mode: view.export_mode,
            pooled: view.pooled,
            typical_spread: view.typical_spread,
            typical_export_spread: view.typical_export_spread,
            exports_today: view.exports_today,
            exports_foreign_to_group: false,
        }
    }

    /// The group on a whole past `day` (its common mode over the whole day, when measured).
    /// `exported`: whether the account itself exported in the four weeks up to `day`.
    pub fn on_day(view: &GroupView, day: i32, exported: bool) -> Self {
        let exporting = view.exporters.saturating_sub(usize::from(exported));
        let others = view.members.saturating_sub(1);
        PeerContext {
            common_mode: view.judged_shift_on(day),
            export_mode: view.export_shift_on(day),
            exports_foreign_to_group: others >= MIN_COMMON_MEMBERS
                && exporting < MIN_COMMON_MEMBERS
                && 2 * exporting < others,
            ..PeerContext::now(view)
        }
    }
}

/// Scores today's features.
pub fn assess(
    today: Today,
    baseline: &Baseline,
    group: &PeerContext,
    novelty: &Novelties,
) -> Assessment {
    let mut assessment = Assessment::default();
    let rising = group.common_mode.unwrap_or(0.0).max(0.0);
    if today.reads > 0.0 {
        match (baseline.reads, baseline.queries) {
            (Some(reads), Some(queries)) => {
                let spread = |level: Level| prior_spread(level, group.typical_spread);
                let own_reads = volume_z(today.reads, reads, spread(reads), rising);
                let own_queries = volume_z(today.queries, queries, spread(queries), rising);
                let own = own_reads.max(own_queries);
                // The peers may explain a short history's deviation away, never add to it.
                let score = match group.pooled {
                    Some(pooled) => {
                        let peers = volume_z(today.reads, pooled, f64::from(pooled.spread), rising);
                        let n = f64::from(reads.samples);
                        let weight = n / (n + PEER_PRIOR_DAYS);
                        own.min(weight * own + (1.0 - weight) * peers)
                    }
                    None => own,
                };
                assessment.own = true;
                assessment.parts.push(Contribution {
                    feature: Feature::Reads,
                    score,
                    value: today.reads,
                    normal: Some(f64::from(reads.median).exp_m1()),
                    peer_normal: group.pooled.map(|p| f64::from(p.median).exp_m1()),
                });
            }
            _ => {
                if let Some(pooled) = group.pooled {
                    let score = volume_z(today.reads, pooled, f64::from(pooled.spread), rising);
                    assessment.parts.push(Contribution {
                        feature: Feature::ReadsVsPeers,
                        score,
                        value: today.reads,
                        normal: None,
                        peer_normal: Some(f64::from(pooled.median).exp_m1()),
                    });
                }
            }
        }
    }
    if today.exported > 0.0 {
        if let Some(exports) = baseline.exports {
            let rising = group.export_mode.unwrap_or(0.0).max(0.0);
            let spread = prior_spread(exports, group.typical_export_spread);
            let score = volume_z(today.exported, exports, spread, rising);
            assessment.own = true;
            assessment.parts.push(Contribution {
                feature: Feature::Exports,
                score,
                value: today.exported,
                normal: Some(f64::from(exports.median).exp_m1()),
                peer_normal: group.exports_today.map(|p| f64::from(p.median).exp_m1()),
            });
        } else if let Some(peers) = group.exports_today {
            let score = volume_z(today.exported, peers, f64::from(peers.spread), 0.0);
            assessment.parts.push(Contribution {
                feature: Feature::ExportsVsPeers,
                score,
                value: today.exported,
                normal: None,
                peer_normal: Some(f64::from(peers.median).exp_m1()),
            });
        } else if group.exports_foreign_to_group && today.exported_records > 0.0 {
            // Exporting is something neither the account nor its group does: what the whole day sent
            // out is judged by what the account reads (fifty thousand customers shipped by an agent
            // who reads a hundred a day), or, with no level of its own yet, by what its peers read.
            // Only a whole day: until it ends the peers may still join (a team's first report run),
            // and then they are the reference.
            let reference = match (baseline.reads, group.pooled) {
                (Some(reads), _) => Some((reads, prior_spread(reads, group.typical_spread), true)),
                (None, Some(pooled)) => Some((pooled, f64::from(pooled.spread), false)),
                (None, None) => None,
            };
            if let Some((level, spread, own)) = reference {
                let score = volume_z(today.exported_records, level, spread, 0.0);
                let median = Some(f64::from(level.median).exp_m1());
                assessment.own |= own;
                assessment.parts.push(Contribution {
                    feature: Feature::ExportsVsReads,
                    score,
                    value: today.exported_records,
                    normal: median.filter(|_| own),
                    peer_normal: median.filter(|_| !own),
                });
            }
        }
    }
    for (feature, &surprise) in NOVELTIES.iter().zip(novelty) {
        if surprise > 0.0 {
            assessment.parts.push(Contribution {
                feature: *feature,
                score: f64::from(surprise),
                value: 0.0,
                normal: None,
                peer_normal: None,
            });
        }
    }
    // A day without sensitive reads or exports from an account with a level of its own is a quiet day of
    // its own: it scores nothing and lets the evidence decay by a day, no more. (Judged as a day without
    // a level, it would wipe the evidence: a day of other work between heavy days would hide a run.)
    if today.reads <= 0.0
        && today.exported <= 0.0
        && (baseline.reads.is_some() || baseline.exports.is_some())
    {
        assessment.own = true;
    }
    // Without a level of its own an account has no run to accumulate: each day stands alone, and its
    // peer evidence is not bounded (the bound limits what one accidental day adds to a run). With one,
    // a comparison with peers is a comparison of levels, where half the group is above the median:
    // it adds nothing to the account's own evidence.
    let own = assessment.own;
    // Only a level of two working weeks or more judges a day alone: a younger one's spread is too
    // uncertain to put one day beyond the threshold (a DBA's first quarter-end after three days).
    let mature =
        |level: Option<Level>| level.is_some_and(|l| usize::from(l.samples) >= YOUNG_LEVEL_DAYS);
    assessment.alone = assessment
        .parts
        .iter()
        .filter(|p| match p.feature {
            Feature::Reads | Feature::ExportsVsReads => mature(baseline.reads),
            Feature::Exports => mature(baseline.exports),
            _ => false,
        })
        .map(|p| p.score)
        .fold(0.0, f64::max);
    assessment.mature =
        (mature(baseline.reads) || mature(baseline.exports)) && group.common_mode.is_some();
    assessment.score = assessment
        .parts
        .iter()
        .filter(|p| !(own && p.feature.is_peer_comparison()))
        .map(|p| {
            if own {
                bounded(p.score)
            } else {
                p.score.max(0.0)
            }
        })
        .sum();
    assessment
}

/// What one feature adds to a day's score: its z-score up to [`DAY_CAP`], and only the logarithm of
/// the rest beyond it (a Huber-like bound: a day far beyond anything normal still counts for more, but
/// one accidental day cannot make a run).
pub fn bounded(z: f64) -> f64 {
    if z <= DAY_CAP {
        z.max(0.0)
    } else {
        DAY_CAP + (z - DAY_CAP).ln_1p()
    }
}

/// The spread of a level measured from `samples` days, with the group's typical spread as a prior worth
/// [`SPREAD_PRIOR_DAYS`] days, widened by the uncertainty of the level's median (predictive spread).
fn prior_spread(level: Level, typical: Option<f64>) -> f64 {
    let n = f64::from(level.samples.max(1));
    let own = f64::from(level.spread);
    let spread = match typical {
        Some(typical) => ((n * own * own + SPREAD_PRIOR_DAYS * typical * typical)
            / (n + SPREAD_PRIOR_DAYS))
            .sqrt(),
        None => own,
    };
    // The median of n days is uncertain by about 1.25σ/√n.
    spread * (1.0 + 1.57 / n).sqrt()
}

/// How far `value` is above `level`, in units of `spread` with the counting noise of small counts
/// added (a count of n is uncertain by about 1/√n on the log scale, today's and the normal day's
/// alike: five rows against a normal of one is not a five-sigma day), after taking out the group's
/// `rising` common mode.
fn volume_z(value: f64, level: Level, spread: f64, rising: f64) -> f64 {
    let deviation = log_volume(value) - f64::from(level.median) - rising;
    let normal = f64::from(level.median).exp_m1().max(0.0);
    let noise = 1.0 / (1.0 + value) + 1.0 / (1.0 + normal);
    deviation / (spread * spread + noise).sqrt()
}

/// The account's accumulated evidence: a slow run and a short one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// Page's statistic after the last closed day (allowance [`ALLOWANCE`]: the slow run).
    pub accumulated: f32,
    /// The short run's statistic after the last closed day (allowance [`BURST_ALLOWANCE`]), unscaled.
    #[serde(default)]
    pub burst: f32,
}

impl Risk {
    /// The risk right now, with today's score so far: the slow run's evidence, the short run's scaled
    /// by [`BURST_SCALE`], or the day's strongest deviation alone, whichever is most. The bound on a
    /// day's parts ([`bounded`]) limits what one accidental day carries into a run; it does not hide a
    /// day whose own deviation is already as much evidence as the threshold asks (a small team's member
    /// at five times a tight normal).
    pub fn now(&self, assessment: &Assessment) -> f64 {
        let accumulated = self.accumulating(assessment);
        if assessment.own {
            accumulated
                .max(self.short_run_now(assessment))
                .max(assessment.alone)
        } else {
            accumulated
        }
    }

    /// The short run's part of the risk right now, with today's score so far.
    pub fn short_run_now(&self, assessment: &Assessment) -> f64 {
        if assessment.own {
            BURST_SCALE * self.bursting(assessment)
        } else {
            0.0
        }
    }

    /// The short run's part of the evidence carried from closed days.
    pub fn short_run_carried(&self) -> f64 {
        BURST_SCALE * f64::from(self.burst)
    }

    /// The evidence carried from closed days, in the units of the threshold (what keeps an episode
    /// open before today's reads add to it).
    pub fn carried(&self) -> f64 {
        f64::from(self.accumulated).max(self.short_run_carried())
    }

    /// Page's statistic with today's score: `λ·S + s − k` (nothing carried without a level of its own).
    fn accumulating(&self, assessment: &Assessment) -> f64 {
        let carried = if assessment.own {
            DECAY * f64::from(self.accumulated)
        } else {
            0.0
        };
        carried + assessment.score - ALLOWANCE
    }

    /// The short run with today's score: `λ·B + s − k₂`, a day that does not count in it
    /// ([`Assessment::mature`]) scoring nothing.
    fn bursting(&self, assessment: &Assessment) -> f64 {
        let score = if assessment.mature {
            assessment.score
        } else {
            0.0
        };
        DECAY * f64::from(self.burst) + score - BURST_ALLOWANCE
    }

    /// Closes a day whose final assessment was `assessment`: returns whether the day raised the slow
    /// run's statistic (a run under suspicion). A day judged against the peers only accumulates nothing,
    /// but one well above them is still under suspicion: it must not become the account's first normal.
    pub fn close_day(&mut self, assessment: &Assessment) -> bool {
        if !assessment.own {
            self.accumulated = 0.0;
            self.burst = 0.0;
            return assessment.score > ALLOWANCE;
        }
        let next = self.accumulating(assessment).max(0.0);
        self.accumulated = next as f32;
        self.burst = self.bursting(assessment).max(0.0) as f32;
        assessment.score > ALLOWANCE && next > 0.0
    }

    /// Starts over (the account's role changed).
    pub fn reset(&mut self) {
        *self = Risk::default();
    }
}

#[cfg(test)]
mod tests;
