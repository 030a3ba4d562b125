//! `egress_volume`: bytes an account exported, against absolute ceilings and its own history.
//!
//! Two history checks: a day far above the account's largest normal day (a one-off bulk transfer), and
//! seven days far above its median seven-day total (a steady drip of moderate exports, ATT&CK T1030
//! and T1029). Weekly sums count idle days as zero, so a weekly backup is its own normal. Both are
//! multiplied by the peer group's egress surge today ([`crate::peers::PeerBook::egress_surge`]):
//! quarter-end reporting lifts a whole team's exports together, one person's exfiltration does not.

use super::{window_label, EvalContext, Finding, Rule, Verdict};
use crate::accounts::AccountState;
use crate::baseline::Robust;
use crate::config::{EgressVolumeConfig, RuleMode};
use crate::event::ActivityKind;

pub(super) const NAME: &str = "egress_volume";

/// T1030 Data Transfer Size Limits; T1029 Scheduled Transfer; T1020 Automated Exfiltration.
const MITRE: &[&str] = &["T1030", "T1029", "T1020"];

#[derive(Debug, Clone)]
pub struct EgressVolumeRule {
    config: EgressVolumeConfig,
    labels: Vec<String>,
}

impl EgressVolumeRule {
    pub fn from_config(config: &EgressVolumeConfig) -> Self {
        EgressVolumeRule {
            config: config.clone(),
            labels: config
                .windows
                .iter()
                .map(|w| window_label(i64::try_from(w.length.as_millis()).unwrap_or(i64::MAX)))
                .collect(),
        }
    }

    fn finding(
        &self,
        state: &AccountState,
        label: String,
        observed: f64,
        threshold: f64,
        baseline: Option<f64>,
    ) -> Finding {
        let window_end_ms = state.newest_event_ms;
        let length_ms = if label == "7d" {
            7 * 86_400_000
        } else {
            86_400_000
        };
        Finding {
            rule: NAME,
            window_label: label,
            window_start_ms: window_end_ms - length_ms + 1,
            window_end_ms,
            observed,
            threshold: Some(threshold),
            baseline,
            peer_baseline: None,
            unit: "bytes",
            ratio: observed / threshold,
            event_count: 0,
            mitre_techniques: MITRE,
            action: "exported",
            detail: None,
        }
    }
}

impl Rule for EgressVolumeRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.config.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        if ctx.event.kind != ActivityKind::Export || ctx.event.bytes.unwrap_or(0) == 0 {
            return Verdict::NotApplicable;
        }
        let mut best: Option<Finding> = None;
        let mut consider = |finding: Finding| {
            if finding.ratio >= 1.0 && best.as_ref().is_none_or(|b| finding.ratio > b.ratio) {
                best = Some(finding);
            }
        };
        for ((window, threshold), label) in state
            .egress_windows
            .iter()
            .zip(&self.config.windows)
            .zip(&self.labels)
        {
            let observed = window.total() as f64;
            consider(self.finding(
                state,
                label.clone(),
                observed,
                threshold.threshold as f64,
                None,
            ));
        }
        let today = state.history.today.as_ref().map_or(0, |d| d.egress_bytes) as f64;
        let min = self.config.min_bytes as f64;
        let surge = ctx.egress_surge.unwrap_or(1.0);
        let days = state.history.egress_training();
        if days.len() >= 3 {
            let largest = days.iter().copied().max().unwrap_or(0) as f64;
            let threshold = min.max(largest * self.config.day_multiple * surge);
            consider(self.finding(state, "24h".into(), today, threshold, Some(largest)));
        }
        let weeks = state.history.weekly_sums(|d| d.egress_bytes);
        if weeks.len() >= 3 {
            if let Some(stats) = Robust::of(&weeks) {
                // The last six closed days plus today, but for days the whole team surged (quarter
                // end): those exports were the team's, judged on their day against its surge.
                let recent: u64 = state
                    .history
                    .closed
                    .iter()
                    .filter(|d| d.day > ctx.day - 7 && !d.surged)
                    .map(|d| d.egress_bytes)
                    .sum();
                let observed = (recent as f64) + today;
                let threshold = min.max(stats.median * self.config.week_multiple * surge);
                consider(self.finding(state, "7d".into(), observed, threshold, Some(stats.median)));
            }
        }
        match best {
            Some(finding) => Verdict::Breach(finding),
            None => Verdict::Clear,
        }
    }
}
