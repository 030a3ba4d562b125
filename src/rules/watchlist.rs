//! `watchlist`: reads of watched records (VIP customers) by accounts with no business reason, and any
//! read of a honeytoken. Few rows, the wrong rows: volume rules never see it. A honeytoken read is
//! near-certain, so its ratio is set to score critical at once.

use super::{EvalContext, Finding, Rule, Verdict};
use crate::accounts::AccountState;
use crate::config::{RuleMode, WatchlistConfig};

pub(super) const NAME: &str = "watchlist";

/// T1213.006 Databases; T1078 Valid Accounts.
const MITRE: &[&str] = &["T1213.006", "T1078"];

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
pub struct WatchlistRule {
    config: WatchlistConfig,
}

impl WatchlistRule {
    pub fn from_config(config: &WatchlistConfig) -> Self {
        WatchlistRule {
            config: config.clone(),
        }
    }

    fn allowed(&self, account: &str, peer_group: Option<&str>) -> bool {
        self.config.allowed_accounts.iter().any(|a| a == account)
            || peer_group.is_some_and(|g| self.config.allowed_peer_groups.iter().any(|a| a == g))
    }
}

impl Rule for WatchlistRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.config.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        let time = ctx.event.event_time_ms;
        if ctx.honeytoken_hits > 0 {
            return Verdict::Breach(Finding {
                rule: NAME,
                window_label: "event".into(),
                window_start_ms: time,
                window_end_ms: state.newest_event_ms.max(time),
                observed: f64::from(ctx.honeytoken_hits),
                threshold: Some(1.0),
                baseline: None,
                peer_baseline: None,
                unit: "honeytoken records",
                // 2^4 over the threshold: risk 50 + 60, critical.
                ratio: 16.0,
                event_count: 1,
                mitre_techniques: MITRE,
                action: "read",
                detail: None,
            });
        }
        if ctx.watched_hits == 0 {
            return Verdict::NotApplicable;
        }
        if self.allowed(&ctx.event.account, state.peer_group.as_deref()) {
            return Verdict::Clear;
        }
        let since = state.newest_event_ms - DAY_MS;
        let mut distinct: Vec<u64> = state
            .watched_reads
            .iter()
            .filter(|(_, t)| *t > since)
            .map(|(h, _)| *h)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let observed = distinct.len() as u64;
        if observed < self.config.min_records {
            return Verdict::Clear;
        }
        Verdict::Breach(Finding {
            rule: NAME,
            window_label: "24h".into(),
            window_start_ms: since + 1,
            window_end_ms: state.newest_event_ms,
            observed: observed as f64,
            threshold: Some(self.config.min_records as f64),
            baseline: None,
            peer_baseline: None,
            unit: "watched records",
            // Watched records are few by nature: reaching the threshold is already a high-risk finding.
            ratio: 2.0 * observed as f64 / self.config.min_records as f64,
            event_count: 0,
            mitre_techniques: MITRE,
            action: "read",
            detail: None,
        })
    }
}
