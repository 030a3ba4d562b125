//! `bulk_read`: a table dump in minutes. Sensitive rows read by one account over sliding windows
//! (10 minutes, an hour, a day by default), above ceilings an order of magnitude beyond any person's
//! working day. What an account has shown to be normal raises its ceiling: half again its largest
//! training day, once it has a level of its own (a nightly job that reads the whole table every night).

use super::{grouped, window_label, Finding, WindowTotal};
use crate::config::{BulkReadConfig, RuleMode};

pub const NAME: &str = "bulk_read";

/// T1213.006 Data from Information Repositories: Databases; T1078 Valid Accounts.
const MITRE: &[&str] = &["T1213.006", "T1078"];

/// How far above its largest normal day an account's ceiling sits.
const LEARNED_MARGIN: f64 = 1.5;

#[derive(Debug, Clone)]
pub struct BulkRead {
    mode: RuleMode,
    /// Rows per window, in the engine's window order.
    ceilings: Vec<u64>,
}

impl BulkRead {
    pub fn from_config(config: &BulkReadConfig) -> Option<Self> {
        config.enabled.then(|| BulkRead {
            mode: config.mode,
            ceilings: config.windows.iter().map(|w| w.rows).collect(),
        })
    }

    /// The worst breach over `windows` (highest rows / ceiling; ties to the shorter window), given the
    /// account's largest training day when it has a level of its own.
    pub fn check(
        &self,
        account: &str,
        windows: &[WindowTotal],
        largest_day: Option<u32>,
        now_ms: i64,
    ) -> Option<Finding> {
        let mut worst: Option<(f64, f64, &WindowTotal)> = None;
        for (&ceiling, window) in self.ceilings.iter().zip(windows) {
            let learned = largest_day.map_or(0.0, |d| f64::from(d) * LEARNED_MARGIN);
            let threshold = (ceiling as f64).max(learned);
            let ratio = window.rows as f64 / threshold;
            if ratio >= 1.0 && worst.is_none_or(|(r, _, _)| ratio > r) {
                worst = Some((ratio, threshold, window));
            }
        }
        let (ratio, threshold, window) = worst?;
        let label = window_label(window.length_ms);
        Some(Finding {
            rule: NAME,
            mode: self.mode,
            window_start_ms: window.start_ms.unwrap_or(now_ms),
            window_end_ms: now_ms,
            observed: window.rows as f64,
            threshold: Some(threshold),
            baseline: largest_day.map(f64::from),
            peer_baseline: None,
            unit: "rows",
            ratio,
            event_count: window.events,
            mitre_techniques: MITRE,
            clause: format!(
                "{account} read {} sensitive rows in the last {label} ({} queries), {:.1}x the ceiling of {}",
                grouped(window.rows as f64),
                grouped(window.events as f64),
                ratio,
                grouped(threshold)
            ),
            critical: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(rows: [u64; 3]) -> Vec<WindowTotal> {
        [600_000, 3_600_000, 86_400_000]
            .iter()
            .zip(rows)
            .map(|(&length_ms, rows)| WindowTotal {
                length_ms,
                rows,
                events: 3,
                start_ms: Some(0),
            })
            .collect()
    }

    #[test]
    fn a_dump_breaches_its_worst_window_and_a_learned_job_does_not() {
        let rule = BulkRead::from_config(&BulkReadConfig::default()).expect("enabled");
        let dump = rule
            .check("mallory", &windows([40_000, 40_000, 40_000]), None, 1)
            .expect("breach");
        assert!(dump.clause.contains("10m"), "{}", dump.clause);
        assert_eq!(dump.threshold, Some(5_000.0));
        assert!(rule
            .check("etl", &windows([300_000; 3]), Some(300_000), 1)
            .is_none());
        assert!(rule
            .check("agent", &windows([40, 400, 1_500]), None, 1)
            .is_none());
    }
}
