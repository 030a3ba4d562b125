//! Rules: read an account's window state after an event was recorded and say whether it breaches.
//!
//! Rules are pure and read-only over state; deciding whether a breach is news (a new episode, an
//! escalation) or a repeat is the job of [`crate::episode`], and turning it into an alert is
//! [`crate::alert`]'s.

mod bulk_read;

pub use bulk_read::BulkReadRule;

use crate::accounts::AccountState;
use crate::config::{RuleMode, RulesConfig};
use crate::event::Activity;

/// What a rule saw when it fired. Everything an analyst needs to judge it, no raw record data.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static str,
    /// Human label of the window that breached worst, e.g. `1h`.
    pub window_label: String,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub observed: f64,
    pub threshold: Option<f64>,
    pub baseline: Option<f64>,
    pub peer_baseline: Option<f64>,
    pub unit: &'static str,
    /// observed / threshold (or the rule's equivalent): ≥ 1 when breaching; drives score and escalation.
    pub ratio: f64,
    pub event_count: u64,
    pub mitre_techniques: &'static [&'static str],
}

/// What a rule gets to look at besides the account's state.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    pub event: &'a Activity,
    /// Records the event contributed to sensitive-read windows (0 if it touched no sensitive table).
    pub sensitive_records: u64,
}

/// A rule's answer for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The event cannot change this rule's answer (e.g. it read nothing sensitive): nothing to say.
    NotApplicable,
    /// Evaluated, within limits: lets an open episode go quiet.
    Clear,
    Breach(Finding),
}

/// A detection rule.
pub trait Rule: Send + Sync + std::fmt::Debug {
    /// Stable name: the `rule` field of alerts and a metric label.
    fn name(&self) -> &'static str;
    fn mode(&self) -> RuleMode;
    /// Whether the account's state breaches the rule right after `ctx.event` was recorded.
    fn evaluate(&self, ctx: &EvalContext<'_>, state: &AccountState) -> Verdict;
}

/// The enabled rules, in evaluation order.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Box<dyn Rule>>,
}

impl RuleSet {
    pub fn from_config(config: &RulesConfig) -> Self {
        let mut rules: Vec<Box<dyn Rule>> = Vec::new();
        if config.bulk_read.enabled {
            rules.push(Box::new(BulkReadRule::from_config(&config.bulk_read)));
        }
        RuleSet { rules }
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn Rule> {
        self.rules.iter().map(|r| r.as_ref())
    }

    /// Names of every rule this build knows, for pre-registering metric label values.
    pub fn known_rule_names() -> &'static [&'static str] {
        &[bulk_read::NAME]
    }
}

/// `600000` → `10m`, `86400000` → `24h`: compact window labels for alerts.
pub fn window_label(length_ms: i64) -> String {
    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;
    const MINUTE: i64 = 60_000;
    if length_ms % DAY == 0 && length_ms > DAY {
        format!("{}d", length_ms / DAY)
    } else if length_ms % HOUR == 0 {
        format!("{}h", length_ms / HOUR)
    } else if length_ms % MINUTE == 0 {
        format!("{}m", length_ms / MINUTE)
    } else {
        format!("{}s", length_ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_labels_are_compact() {
        assert_eq!(window_label(600_000), "10m");
        assert_eq!(window_label(3_600_000), "1h");
        assert_eq!(window_label(86_400_000), "24h");
        assert_eq!(window_label(7 * 86_400_000), "7d");
        assert_eq!(window_label(90_000), "90s");
    }
}
