//! Rules: read an account's window state after an event was recorded and say whether it breaches.
//!
//! Rules are pure and read-only over state; deciding whether a breach is news (a new episode, an
//! escalation) or a repeat is the job of [`crate::episode`], and turning it into an alert is
//! [`crate::alert`]'s.

mod baseline_deviation;
mod bulk_read;
mod distinct_records;
mod egress_volume;
mod new_destination;
mod peer_deviation;
mod unusual_access;
mod watchlist;

pub use baseline_deviation::BaselineDeviationRule;
pub use bulk_read::BulkReadRule;
pub use distinct_records::DistinctRecordsRule;
pub use egress_volume::EgressVolumeRule;
pub use new_destination::NewDestinationRule;
pub use peer_deviation::PeerDeviationRule;
pub use unusual_access::UnusualAccessRule;
pub use watchlist::WatchlistRule;

use crate::peers::{PeerStats, TeamSight};

use crate::accounts::AccountState;
use crate::baseline::Sustained;
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
    /// The verb of the summary: `read`, `exported`.
    pub action: &'static str,
    /// A clause the summary appends, e.g. where data went or what was unusual.
    pub detail: Option<String>,
}

/// What a rule gets to look at besides the account's state. The engine fills it before recording the
/// event, so "new" means new before this event.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    pub event: &'a Activity,
    /// Records the event contributed to sensitive-read windows (0 if it touched no sensitive table).
    pub sensitive_records: u64,
    /// Sensitive records an export shipped (client-side exports included, which do not count as reads).
    pub exported_records: u64,
    /// UTC day of the event.
    pub day: i32,
    /// Days the account has been known.
    pub days_known: u32,
    /// The peer group's frozen statistics for this day, when there are any.
    pub peers: Option<PeerStats>,
    /// For a sensitive read with peer groups enabled: how much of its group the account is judged with
    /// (see [`TeamSight`]), which says whether a run of high days can be told from the group's.
    pub team_sight: Option<TeamSight>,
    /// How far the peer group's exports as a whole are above their usual level today, for exports
    /// (see [`crate::peers::PeerBook::egress_surge`]).
    pub egress_surge: Option<f64>,
    /// Largest daily sensitive records / distinct records of the account's unflagged history, once
    /// the account is warmed up: what it has shown to be normal (nightly jobs and the like).
    pub learned_records_max: Option<f64>,
    pub learned_distinct_max: Option<f64>,
    /// The top of the account's own spread of active days, once learned and not rising (see
    /// [`crate::baseline::log_normal_tail`]); 0 otherwise.
    pub records_tail: f64,
    pub distinct_tail: f64,
    /// The top of the peers' spread of days alone (0 until a few peer-days are known).
    pub peer_tail: f64,
    /// What a busy colleague reads in a day (the peers' 95th percentile of daily distinct records), once
    /// a few peer-days are known: a day this size is ordinary for the group.
    pub peer_busy_day: Option<f64>,
    pub novelty: Novelty,
    /// Watched records (distinct, this event) and honeytoken records read by the event.
    pub watched_hits: u32,
    pub honeytoken_hits: u32,
}

/// What is new about this event for this account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Novelty {
    pub new_client_ip: bool,
    pub new_client_app: bool,
    pub unusual_hour: bool,
    /// An export to a destination not used within the retention period.
    pub new_destination: bool,
    pub destination_internal: bool,
    pub destination_allowed: bool,
}

/// The effective threshold of an absolute rule: the configured one, or what the account has shown to
/// be normal (half again its largest normal day, or the top of its own heavy-tailed spread), whichever
/// is higher. A nightly ETL job that reads the whole customer table every night stops alerting once
/// learned; so does an analyst's occasional large extract.
pub fn learned_threshold(configured: f64, learned_max: Option<f64>, tail: f64) -> f64 {
    match learned_max {
        Some(max) => configured.max(max * 1.5).max(tail),
        None => configured,
    }
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
    /// Whether the account's state breaches the rule right after `ctx.event` was recorded. State is
    /// mutable only so sketches can cache estimates; rules change nothing else.
    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict;
}

/// The enabled rules, in evaluation order.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Box<dyn Rule>>,
}

impl RuleSet {
    pub fn from_config(config: &RulesConfig) -> Self {
        let mut rules: Vec<Box<dyn Rule>> = Vec::new();
        if config.watchlist.enabled {
            rules.push(Box::new(WatchlistRule::from_config(&config.watchlist)));
        }
        if config.bulk_read.enabled {
            rules.push(Box::new(BulkReadRule::from_config(&config.bulk_read)));
        }
        if config.distinct_records.enabled {
            rules.push(Box::new(DistinctRecordsRule::from_config(
                &config.distinct_records,
            )));
        }
        if config.baseline_deviation.enabled {
            rules.push(Box::new(BaselineDeviationRule::from_config(
                &config.baseline_deviation,
            )));
        }
        if config.peer_deviation.enabled {
            rules.push(Box::new(PeerDeviationRule::from_config(
                &config.peer_deviation,
            )));
        }
        if config.egress_volume.enabled {
            rules.push(Box::new(EgressVolumeRule::from_config(
                &config.egress_volume,
            )));
        }
        if config.new_destination.enabled {
            rules.push(Box::new(NewDestinationRule::from_config(
                &config.new_destination,
            )));
        }
        if config.unusual_access.enabled {
            rules.push(Box::new(UnusualAccessRule::from_config(
                &config.unusual_access,
            )));
        }
        RuleSet { rules }
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn Rule> {
        self.rules.iter().map(|r| r.as_ref())
    }

    /// Names of every rule this build knows, for pre-registering metric label values.
    pub fn known_rule_names() -> &'static [&'static str] {
        &[
            watchlist::NAME,
            bulk_read::NAME,
            distinct_records::NAME,
            baseline_deviation::NAME,
            peer_deviation::NAME,
            egress_volume::NAME,
            new_destination::NAME,
            unusual_access::NAME,
        ]
    }
}

/// Window label of the calendar-day window (see [`crate::distinct::DistinctRecords::day_window_mut`]).
pub const TODAY: &str = "today";

/// Judges the account's calendar-day distinct-records window against `threshold` (shared by the baseline
/// and peer rules, which differ only in how they set the threshold).
pub(crate) fn day_distinct_verdict(
    state: &mut AccountState,
    threshold: f64,
    finding: DayFinding,
) -> Verdict {
    let Some(mut window) = state.distinct.day_window_mut() else {
        return Verdict::NotApplicable;
    };
    // The bound is free; the estimate is only computed when the bound says it could matter.
    if (window.upper_bound() as f64) < threshold {
        return Verdict::Clear;
    }
    let observed = window.estimate() as f64;
    if observed < threshold {
        return Verdict::Clear;
    }
    let window_end_ms = state.newest_event_ms;
    Verdict::Breach(Finding {
        rule: finding.rule,
        window_label: TODAY.into(),
        window_start_ms: window.window_start_ms().unwrap_or(window_end_ms),
        window_end_ms,
        observed,
        threshold: Some(threshold),
        baseline: finding.baseline,
        peer_baseline: finding.peer_baseline,
        unit: "distinct records",
        ratio: observed / threshold,
        event_count: sensitive_events_over(state, 86_400_000),
        mitre_techniques: finding.mitre_techniques,
        action: "read",
        // Worked out only here, on a breach: the rule runs on every sensitive event.
        detail: finding.lowered_by_run.then(|| {
            let days = state.history.training(|d| u64::from(d.distinct));
            match Sustained::of(&days).run_days {
                0 => "after recent days above its normal".to_string(),
                1 => "after reading well above its normal on its previous working day".to_string(),
                n => format!(
                    "after reading well above its normal on each of its {n} previous working days"
                ),
            }
        }),
    })
}

/// Sensitive events in the read window whose length is closest to `length_ms`: the event count an
/// alert quotes for its window.
pub(crate) fn sensitive_events_over(state: &AccountState, length_ms: i64) -> u64 {
    state
        .read_windows
        .iter()
        .min_by_key(|w| (w.length_ms() - length_ms).abs())
        .map_or(0, |w| w.events())
}

/// What a day-window rule adds to its finding.
pub(crate) struct DayFinding {
    pub rule: &'static str,
    pub baseline: Option<f64>,
    pub peer_baseline: Option<f64>,
    pub mitre_techniques: &'static [&'static str],
    /// Days in a row just before today, each well above the account's normal, lowered the threshold
    /// (see [`crate::baseline::Sustained`]): said in the summary, since the threshold is then below
    /// what the baselines alone would give.
    pub lowered_by_run: bool,
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
