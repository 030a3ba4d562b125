//! `peer_deviation`: today's distinct sensitive records against what the account's peers read on
//! their recent days (frozen per group and day, see [`crate::peers`]).
//!
//! Threshold = max(floor, peers' 95th percentile × factor). Compared with colleagues, a baseline that
//! drifts up with a slowly growing theft (the boiling frog) does not help the thief; and a whole team
//! surging on an outage day stays under a multiple of the team's own high percentile.

use super::{day_window_index, EvalContext, Finding, Rule, Verdict};
use crate::accounts::AccountState;
use crate::config::{DistinctRecordsConfig, PeerDeviationConfig, RuleMode};

pub(super) const NAME: &str = "peer_deviation";

/// T1213.006 Databases; T1078 Valid Accounts.
const MITRE: &[&str] = &["T1213.006", "T1078"];

#[derive(Debug, Clone)]
pub struct PeerDeviationRule {
    config: PeerDeviationConfig,
    day_window: Option<usize>,
}

impl PeerDeviationRule {
    pub fn from_config(config: &PeerDeviationConfig, distinct: &DistinctRecordsConfig) -> Self {
        PeerDeviationRule {
            config: config.clone(),
            day_window: day_window_index(&distinct.windows),
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
        let threshold = (self.config.min_records as f64).max(peers.p95 * self.config.p95_factor);
        let Some(window) = self
            .day_window
            .and_then(|i| state.distinct_windows.get_mut(i))
        else {
            return Verdict::NotApplicable;
        };
        if (window.upper_bound() as f64) < threshold {
            return Verdict::Clear;
        }
        let observed = window.estimate() as f64;
        if observed < threshold {
            return Verdict::Clear;
        }
        let window_end_ms = state.newest_event_ms;
        Verdict::Breach(Finding {
            rule: NAME,
            window_label: "24h".into(),
            window_start_ms: window.keyless.window_start_ms().unwrap_or(window_end_ms),
            window_end_ms,
            observed,
            threshold: Some(threshold),
            baseline: None,
            peer_baseline: Some(peers.median),
            unit: "distinct records",
            ratio: observed / threshold,
            event_count: state.read_windows.last().map_or(0, |w| w.events.total()),
            mitre_techniques: MITRE,
            action: "read",
            detail: None,
        })
    }
}
