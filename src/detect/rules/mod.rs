//! The immediate breaches: what is abnormal for anyone, at once, whatever the account's history.
//!
//! A honeytoken or a watched customer read without a reason ([`watchlist`]), a table dump in minutes
//! ([`bulk_read`]), many records exported to a destination nobody in the organisation has used
//! ([`new_destination`]). Everything else is a matter of degree and goes through the accumulated risk
//! ([`crate::detect::risk`]), which reports as [`ACCOUNT_RISK`].

pub mod bulk_read;
pub mod new_destination;
pub mod watchlist;

pub use bulk_read::BulkRead;
pub use new_destination::{DestinationNovelty, NewDestination, PrivateExports, Sent};
pub use watchlist::Watchlist;

use crate::config::RuleMode;

/// The `rule` of alerts raised by the accumulated risk.
pub const ACCOUNT_RISK: &str = "account_risk";

/// Every rule name this build can put in an alert, in a fixed order (metric labels, bitmasks).
pub const RULE_NAMES: [&str; 4] = [
    watchlist::NAME,
    bulk_read::NAME,
    new_destination::NAME,
    ACCOUNT_RISK,
];

/// The position of a rule name in [`RULE_NAMES`] (a bit in an episode's set of rules).
pub fn rule_index(name: &str) -> usize {
    RULE_NAMES
        .iter()
        .position(|&n| n == name)
        .unwrap_or(RULE_NAMES.len() - 1)
}

/// What a rule saw when it fired. Everything an analyst needs to judge it, no raw record data.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: &'static str,
    pub mode: RuleMode,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub observed: f64,
    pub threshold: Option<f64>,
    pub baseline: Option<f64>,
    pub peer_baseline: Option<f64>,
    pub unit: &'static str,
    /// How far past its threshold (≥ 1 when breaching): drives escalation and the score.
    pub ratio: f64,
    pub event_count: u64,
    pub mitre_techniques: &'static [&'static str],
    /// The clause the alert's summary says about this finding.
    pub clause: String,
    /// Near-certain on its own (a honeytoken): critical at once.
    pub critical: bool,
}

/// One sliding window of sensitive reads, as the engine holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowTotal {
    pub length_ms: i64,
    pub rows: u64,
    pub events: u64,
    pub start_ms: Option<i64>,
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

/// Thousands separators for the numbers analysts read: `68000` → `68,000`.
pub fn grouped(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_numbers_read_well() {
        assert_eq!(window_label(600_000), "10m");
        assert_eq!(window_label(3_600_000), "1h");
        assert_eq!(window_label(86_400_000), "24h");
        assert_eq!(window_label(7 * 86_400_000), "7d");
        assert_eq!(grouped(68_000.0), "68,000");
        assert_eq!(grouped(480.0), "480");
        assert_eq!(grouped(1_234_567.4), "1,234,567");
        assert_eq!(rule_index(ACCOUNT_RISK), 3);
    }
}
