//! `distinct_records`: how many *different* customers an account read, per sliding window.
//!
//! The insider of the incident looked customers up one at a time: every query was normal, the number
//! of different customers was not. Counting distinct hashed record keys (a sketch: exact for small
//! counts, HyperLogLog beyond) catches paging through a table that row sums blur with repeat lookups.

use super::{learned_threshold, window_label, EvalContext, Finding, Rule, Verdict};
use crate::accounts::AccountState;
use crate::config::{DistinctRecordsConfig, RuleMode};

pub(super) const NAME: &str = "distinct_records";

/// T1213.006 Databases; T1119 Automated Collection (paging through records); T1078 Valid Accounts.
const MITRE: &[&str] = &["T1213.006", "T1119", "T1078"];

#[derive(Debug, Clone)]
pub struct DistinctRecordsRule {
    mode: RuleMode,
    /// (threshold, label) per window, same order as the windows of `AccountState::distinct`.
    thresholds: Vec<(u64, String)>,
}

impl DistinctRecordsRule {
    pub fn from_config(config: &DistinctRecordsConfig) -> Self {
        DistinctRecordsRule {
            mode: config.mode,
            thresholds: config
                .windows
                .iter()
                .map(|w| {
                    (
                        w.threshold,
                        window_label(i64::try_from(w.length.as_millis()).unwrap_or(i64::MAX)),
                    )
                })
                .collect(),
        }
    }
}

impl Rule for DistinctRecordsRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        // Without record keys the distinct measure is the row count, which `bulk_read` already judges.
        let keyed = ctx
            .event
            .record_key_hashes
            .as_ref()
            .is_some_and(|k| !k.is_empty());
        if ctx.sensitive_records == 0 || !keyed {
            return Verdict::NotApplicable;
        }
        // (index, ratio, observed, threshold, window start, window length)
        let mut worst: Option<(usize, f64, u64, f64, Option<i64>, i64)> = None;
        for (index, (threshold, _)) in self.thresholds.iter().enumerate() {
            let Some(mut window) = state.distinct.get_mut(index) else {
                continue;
            };
            let effective = learned_threshold(
                *threshold as f64,
                ctx.learned_distinct_max,
                ctx.distinct_tail,
            );
            // The bound is free; the estimate is only computed when the bound says it could matter.
            if (window.upper_bound() as f64) < effective {
                continue;
            }
            let observed = window.estimate();
            let ratio = observed as f64 / effective;
            if ratio >= 1.0 && worst.is_none_or(|(_, best, ..)| ratio > best) {
                worst = Some((
                    index,
                    ratio,
                    observed,
                    effective,
                    window.window_start_ms(),
                    window.length_ms(),
                ));
            }
        }
        let Some((index, ratio, observed, effective, window_start_ms, window_length_ms)) = worst
        else {
            return Verdict::Clear;
        };
        let window_end_ms = state.newest_event_ms;
        Verdict::Breach(Finding {
            rule: NAME,
            window_label: self.thresholds[index].1.clone(),
            window_start_ms: window_start_ms.unwrap_or(window_end_ms),
            window_end_ms,
            observed: observed as f64,
            threshold: Some(effective),
            baseline: ctx.learned_distinct_max,
            peer_baseline: ctx.peers.map(|p| p.median),
            unit: "distinct records",
            ratio,
            event_count: super::sensitive_events_over(state, window_length_ms),
            mitre_techniques: MITRE,
            action: "read",
            detail: None,
        })
    }
}
