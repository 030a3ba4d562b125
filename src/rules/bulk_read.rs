//! `bulk_read`: sensitive records read by one account over sliding windows, above thresholds.
//!
//! Several horizons catch different thieves: ten minutes catches a smash-and-grab dump, a day catches
//! the insider paging through customers one screen at a time. The rule reports the window that breaches
//! worst (highest observed/threshold), so one burst gives one finding, not one per horizon.

use super::{learned_threshold, window_label, EvalContext, Finding, Rule, Verdict};
use crate::accounts::AccountState;
use crate::config::{BulkReadConfig, RuleMode};

pub(super) const NAME: &str = "bulk_read";

/// T1213.006 Data from Information Repositories: Databases; T1078 Valid Accounts (the reads are authorised).
const MITRE: &[&str] = &["T1213.006", "T1078"];

#[derive(Debug, Clone)]
struct Threshold {
    records: u64,
    label: String,
}

#[derive(Debug, Clone)]
pub struct BulkReadRule {
    mode: RuleMode,
    /// Same order as `AccountState::read_windows`.
    thresholds: Vec<Threshold>,
}

impl BulkReadRule {
    pub fn from_config(config: &BulkReadConfig) -> Self {
        let thresholds = config
            .windows
            .iter()
            .map(|w| {
                let length_ms = i64::try_from(w.length.as_millis()).unwrap_or(i64::MAX);
                Threshold {
                    records: w.rows,
                    label: window_label(length_ms),
                }
            })
            .collect();
        BulkReadRule {
            mode: config.mode,
            thresholds,
        }
    }
}

impl Rule for BulkReadRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        // Only a sensitive read can push a sum up; skipping the rest keeps the hot path short.
        if ctx.sensitive_records == 0 {
            return Verdict::NotApplicable;
        }
        let mut worst: Option<(usize, f64)> = None;
        for (index, (threshold, window)) in self
            .thresholds
            .iter()
            .zip(state.read_windows.iter())
            .enumerate()
        {
            let observed = window.records();
            let effective = learned_threshold(
                threshold.records as f64,
                ctx.learned_records_max,
                ctx.records_tail,
            );
            if (observed as f64) < effective {
                continue;
            }
            let ratio = observed as f64 / effective;
            // Ties go to the shorter window: the tighter evidence.
            if worst.is_none_or(|(_, best)| ratio > best) {
                worst = Some((index, ratio));
            }
        }
        let Some((index, ratio)) = worst else {
            return Verdict::Clear;
        };
        let effective = learned_threshold(
            self.thresholds[index].records as f64,
            ctx.learned_records_max,
            ctx.records_tail,
        );
        let threshold = &self.thresholds[index];
        let Some(window) = state.read_windows.get(index) else {
            return Verdict::Clear;
        };
        let window_end_ms = state.newest_event_ms;
        // The bucket-aligned start of what was summed: up to one bucket more than the nominal length.
        let window_start_ms = window.window_start_ms().unwrap_or(window_end_ms);
        Verdict::Breach(Finding {
            rule: NAME,
            window_label: threshold.label.clone(),
            window_start_ms,
            window_end_ms,
            observed: window.records() as f64,
            threshold: Some(effective),
            baseline: ctx.learned_records_max,
            peer_baseline: None,
            unit: "records",
            ratio,
            event_count: window.events(),
            mitre_techniques: MITRE,
            action: "read",
            detail: None,
        })
    }
}
