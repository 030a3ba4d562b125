//! `watchlist`: reads of watched records (VIP customers) by accounts with no business reason, and any
//! read of a honeytoken. Few rows, the wrong rows: no volume statistic ever sees it. A honeytoken read
//! is near-certain, so it is critical at once.

use super::{Finding, WindowTotal};
use crate::config::{RuleMode, WatchlistConfig};

pub const NAME: &str = "watchlist";

/// T1213.006 Databases; T1078 Valid Accounts.
const MITRE: &[&str] = &["T1213.006", "T1078"];

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
pub struct Watchlist {
    mode: RuleMode,
    allowed_accounts: Vec<String>,
    allowed_groups: Vec<String>,
    min_records: u64,
}

impl Watchlist {
    pub fn from_config(config: &WatchlistConfig) -> Option<Self> {
        config.enabled.then(|| Watchlist {
            mode: config.mode,
            allowed_accounts: config.allowed_accounts.clone(),
            allowed_groups: config.allowed_peer_groups.clone(),
            min_records: config.min_records.max(1),
        })
    }

    /// A honeytoken read by the event.
    pub fn honeytoken(&self, account: &str, hits: u32, time_ms: i64) -> Option<Finding> {
        (hits > 0).then(|| Finding {
            rule: NAME,
            mode: self.mode,
            window_start_ms: time_ms,
            window_end_ms: time_ms,
            observed: f64::from(hits),
            threshold: Some(1.0),
            baseline: None,
            peer_baseline: None,
            unit: "honeytoken records",
            ratio: 16.0,
            event_count: 1,
            mitre_techniques: MITRE,
            clause: format!("{account} read {hits} honeytoken record(s) planted as bait"),
            critical: true,
        })
    }

    /// Watched records read in the last 24 hours (`reads`: keyed hash and time, any order).
    pub fn watched(
        &self,
        account: &str,
        group: &str,
        reads: impl Iterator<Item = (u64, i64)>,
        now_ms: i64,
    ) -> Option<Finding> {
        if self.allowed_accounts.iter().any(|a| a == account)
            || self.allowed_groups.iter().any(|g| g == group)
        {
            return None;
        }
        let since = now_ms - DAY_MS;
        let mut distinct: Vec<u64> = reads.filter(|&(_, t)| t > since).map(|(h, _)| h).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let observed = distinct.len() as u64;
        if observed < self.min_records {
            return None;
        }
        let window = WindowTotal {
            length_ms: DAY_MS,
            rows: observed,
            events: 0,
            start_ms: Some(since + 1),
        };
        Some(Finding {
            rule: NAME,
            mode: self.mode,
            window_start_ms: window.start_ms.unwrap_or(since),
            window_end_ms: now_ms,
            observed: observed as f64,
            threshold: Some(self.min_records as f64),
            baseline: None,
            peer_baseline: None,
            unit: "watched records",
            ratio: 2.0 * observed as f64 / self.min_records as f64,
            event_count: 0,
            mitre_techniques: MITRE,
            clause: format!(
                "{account} read {observed} watched customer records in 24 hours with no business reason on file"
            ),
            critical: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honeytokens_are_critical_and_watched_records_need_two_without_a_reason() {
        let config = WatchlistConfig {
            allowed_peer_groups: vec!["vip-desk".into()],
            ..WatchlistConfig::default()
        };
        let rule = Watchlist::from_config(&config).expect("enabled");
        assert!(rule.honeytoken("a", 1, 5).expect("breach").critical);
        assert!(rule.honeytoken("a", 0, 5).is_none());
        let reads = [(1u64, 100i64), (1, 200), (2, 300)];
        assert!(rule
            .watched("a", "support", reads.iter().copied(), 400)
            .is_some());
        assert!(rule
            .watched("a", "vip-desk", reads.iter().copied(), 400)
            .is_none());
        assert!(rule
            .watched("a", "support", reads[..2].iter().copied(), 400)
            .is_none());
    }
}
