//! `peer_deviation`: today's distinct sensitive records against what the account's peers read on
//! their recent days (frozen per group and day, see [`crate::peers`]).
//!
//! Threshold = max(floor, peers' 95th percentile × factor). Compared with colleagues, a baseline that
//! drifts up with a slowly growing theft (the boiling frog) does not help the thief; and a whole team
//! surging on an outage day stays under a multiple of the team's own high percentile.

use super::{day_distinct_verdict, DayFinding, EvalContext, Rule, Verdict};
use crate::accounts::AccountState;
use crate::config::{PeerDeviationConfig, RuleMode};

pub(super) const NAME: &str = "peer_deviation";

/// T1213.006 Databases; T1078 Valid Accounts.
const MITRE: &[&str] = &["T1213.006", "T1078"];

#[derive(Debug, Clone)]
pub struct PeerDeviationRule {
    config: PeerDeviationConfig,
}

impl PeerDeviationRule {
    pub fn from_config(config: &PeerDeviationConfig) -> Self {
        PeerDeviationRule {
            config: config.clone(),
        }
    }
}

impl Rule for PeerDeviationRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.config.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        if ctx.sensitive_records == 0 {
            return Verdict::NotApplicable;
        }
        let Some(peers) = ctx.peers.filter(|p| p.samples >= self.config.min_samples) else {
            return Verdict::NotApplicable;
        };
        // A colleague's busy day, scaled by how far the whole group is above normal today (an outage
        // day lifts everyone together).
        let threshold = (self.config.min_records as f64)
            .max(peers.p95 * self.config.p95_factor * peers.surge.unwrap_or(1.0));
        let finding = DayFinding {
            rule: NAME,
            baseline: None,
            peer_baseline: Some(peers.median),
            mitre_techniques: MITRE,
            lowered_by_run: false,
        };
        day_distinct_verdict(state, threshold, finding)
    }
}
