//! What a config sets up in the engine: the reloadable detection (the rules, the destination policy,
//! watched keys, the Gaussian reference for the risk threshold) and the layout of the state kept per
//! account, which only a restart may change.

use std::collections::HashSet;

use crate::config::{Config, RuleMode};
use crate::detect::classify::Classifier;
use crate::detect::features::DAY_MS;
use crate::detect::risk::GaussianReference;
use crate::detect::rules::{BulkRead, NewDestination, Watchlist};
use crate::engine::accounts::StateLayout;
use crate::engine::destinations::DestinationPolicy;
use crate::engine::episode::EpisodePolicy;
use crate::privacy::RecordKeyHasher;

/// The reloadable part of the engine.
#[derive(Debug)]
pub(super) struct Detection {
    pub(super) classifier: Classifier,
    pub(super) bulk_read: Option<BulkRead>,
    pub(super) new_destination: Option<NewDestination>,
    pub(super) watchlist: Option<Watchlist>,
    /// Keyed hashes of watched and honeytoken record keys (hashed at load with the record-key secret).
    pub(super) watched: HashSet<u64>,
    pub(super) honeytokens: HashSet<u64>,
    pub(super) destinations: DestinationPolicy,
    /// Days before a destination, client or table counts as new again.
    pub(super) retention_days: i32,
    pub(super) episodes: EpisodePolicy,
    pub(super) suppressed_accounts: HashSet<String>,
    /// What a Gaussian population does at the budget (see [`GaussianReference`]).
    pub(super) reference: GaussianReference,
    pub(super) learning_ms: i64,
    pub(super) risk_mode: RuleMode,
}

impl Detection {
    pub(super) fn new(config: &Config, hasher: &RecordKeyHasher) -> Self {
        let rules = &config.rules;
        Detection {
            classifier: Classifier::new(&config.data_classes),
            bulk_read: BulkRead::from_config(&rules.bulk_read),
            new_destination: NewDestination::from_config(&rules.new_destination),
            watchlist: Watchlist::from_config(&rules.watchlist),
            watched: rules
                .watchlist
                .keys
                .iter()
                .map(|k| hasher.hash(k))
                .collect(),
            honeytokens: rules
                .watchlist
                .honeytoken_keys
                .iter()
                .map(|k| hasher.hash(k))
                .collect(),
            destinations: DestinationPolicy::new(&rules.new_destination),
            retention_days: i32::try_from(rules.new_destination.retention.as_secs() / 86_400)
                .unwrap_or(30)
                .max(1),
            episodes: EpisodePolicy {
                escalation_factor: config.alerts.escalation_factor,
                cooldown_ms: millis(config.alerts.cooldown),
            },
            suppressed_accounts: config.alerts.suppress_accounts.iter().cloned().collect(),
            reference: GaussianReference::new(config.detection.false_alarm_budget),
            learning_ms: millis(config.detection.learning_period),
            risk_mode: config.detection.mode,
        }
    }
}

/// Why a reload was refused; the running rules stay in force.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("window lengths or bucket counts changed; they shape the state kept per account, so they need a restart")]
    WindowsChanged,
    #[error(
        "peer groups changed; they decide which accounts are compared, so they need a restart"
    )]
    GroupsChanged,
    #[error("detection.day_start changed; it numbers the days every account's history is kept in, so it needs a restart")]
    DayStartChanged,
}

pub(super) fn layout_of(config: &Config) -> StateLayout {
    let rules = &config.rules;
    StateLayout {
        read: shapes(
            rules
                .bulk_read
                .windows
                .iter()
                .map(|w| (w.length, w.buckets)),
        ),
        // One bucket of a day (on the partition's day clock): today's distinct customers, what the risk
        // scores.
        distinct: vec![(DAY_MS, 1)],
        precision: rules.distinct_records.precision,
    }
}

/// How late (in event time, behind its partition's newest event) an idle account's next event may be
/// without compaction changing a result. The sweep judges idleness by the account's own partition's
/// clock (see [`AccountStore::sweep_idle`]), but proxies ship out of order: within this margin a late
/// event still finds every window empty.
const COMPACT_SKEW_MARGIN_MS: i64 = 86_400_000;

/// Idle time (by the stream's clock) after which every window of the layout is empty for the account's
/// next event: the longest window plus one bucket (a window's newest bucket may begin up to one bucket
/// before the time it was advanced to), plus the partition skew margin.
pub(super) fn compact_after_ms(layout: &StateLayout) -> i64 {
    COMPACT_SKEW_MARGIN_MS
        + layout
            .read
            .iter()
            .chain(&layout.distinct)
            .map(|&(bucket_ms, buckets)| bucket_ms.saturating_mul(buckets as i64 + 1))
            .max()
            .unwrap_or(0)
}

pub(super) fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn shapes(windows: impl Iterator<Item = (std::time::Duration, u32)>) -> Vec<(i64, usize)> {
    windows
        .map(|(length, buckets)| {
            let buckets = buckets.max(1) as usize;
            (millis(length) / buckets as i64, buckets)
        })
        .collect()
}
