//! Peer groups: what the account's colleagues read on a normal day.
//!
//! A support agent who reads ten times what other support agents read is suspicious even when their own
//! history has drifted up with them. Statistics for a group and day are computed once, from the peers'
//! unflagged days before that day, and then frozen: every event of that day sees the same numbers, so
//! the result does not depend on how partitions interleave within the day.
//!
//! The sample is the group's accounts *in the same input partition*. A partition is processed in one
//! order everywhere, so statistics do not depend on how partitions interleave, on which pod owns which
//! partition, or on scaling; and `replay` reproduces them by assigning accounts to partitions with the
//! producer's partitioner. With several hundred accounts per group and a dozen partitions the sample is
//! still dozens of peers.

use dashmap::DashMap;

use crate::accounts::{AccountStore, PartitionRef};
use crate::baseline::{log_normal_tail, quantile_sorted};
use crate::config::PeerGroupConfig;

/// The group of accounts an event's account is compared with when nothing better is known.
pub const ORGANISATION: &str = "organisation";

/// Distribution of peers' daily distinct sensitive records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStats {
    pub samples: usize,
    pub median: f64,
    pub p95: f64,
    /// The top of the group's spread of days on a log scale (see
    /// [`crate::baseline::log_normal_tail`]): how large an ordinary day gets in a heavy-tailed group.
    pub tail: f64,
}

/// Frozen statistics of one group: (partition, day, statistics), newest last.
type FrozenDays = Vec<(Option<PartitionRef>, i32, Option<PeerStats>)>;

/// Frozen per-(group, partition, day) statistics and the group assignment.
#[derive(Debug)]
pub struct PeerBook {
    days: i32,
    patterns: Vec<(String, Vec<String>)>,
    /// group → frozen (partition, day, statistics), newest last; looked up by `&str` without allocating.
    frozen: DashMap<String, FrozenDays, ahash::RandomState>,
    /// group → destinations its accounts exported to: (partition, identity hash, last day). Sampled per
    /// partition like the statistics, so novelty is deterministic too.
    destinations: DashMap<String, GroupDestinations, ahash::RandomState>,
}

/// Destinations a group exported to: (partition, identity hash, last day).
type GroupDestinations = Vec<(Option<PartitionRef>, u64, i32)>;

/// Destinations remembered per peer group.
const GROUP_DESTINATIONS: usize = 512;

impl PeerBook {
    pub fn new(days: u32, groups: &[PeerGroupConfig]) -> Self {
        PeerBook {
            days: i32::try_from(days).unwrap_or(14),
            patterns: groups
                .iter()
                .map(|g| {
                    (
                        g.name.clone(),
                        g.accounts.iter().map(|p| p.to_ascii_lowercase()).collect(),
                    )
                })
                .collect(),
            frozen: DashMap::with_hasher(ahash::RandomState::new()),
            destinations: DashMap::with_hasher(ahash::RandomState::new()),
        }
    }

    /// The account's peer group: the source's word for it, else the first configured pattern that
    /// matches, else the whole organisation.
    pub fn group_of<'a>(&'a self, account: &str, from_event: Option<&'a str>) -> &'a str {
        if let Some(group) = from_event.filter(|g| !g.is_empty()) {
            return group;
        }
        if self.patterns.is_empty() {
            return ORGANISATION;
        }
        let lowered = account.to_ascii_lowercase();
        for (name, patterns) in &self.patterns {
            if patterns
                .iter()
                .any(|p| crate::classify::glob_match(p.as_bytes(), lowered.as_bytes()))
            {
                return name;
            }
        }
        ORGANISATION
    }

    /// Whether an account of `group` in `partition` exported to `hash` since `since_day`.
    pub fn destination_known(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        hash: u64,
        since_day: i32,
    ) -> bool {
        self.destinations.get(group).is_some_and(|list| {
            list.iter()
                .any(|(p, h, day)| *p == partition && *h == hash && *day >= since_day)
        })
    }

    /// Records that an account of `group` exported to `hash` on `day`.
    pub fn touch_destination(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        hash: u64,
        day: i32,
    ) {
        let mut list = match self.destinations.get_mut(group) {
            Some(list) => list,
            None => self.destinations.entry(group.to_string()).or_default(),
        };
        if let Some(entry) = list
            .iter_mut()
            .find(|(p, h, _)| *p == partition && *h == hash)
        {
            entry.2 = entry.2.max(day);
            return;
        }
        if list.len() >= GROUP_DESTINATIONS {
            if let Some(oldest) = list
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.2)
                .map(|(i, _)| i)
            {
                list.swap_remove(oldest);
            }
        }
        list.push((partition, hash, day));
    }

    /// Statistics of `group` for events on `day`, computed on first use from the store and frozen.
    /// Must not be called while holding an account entry of `store` (it reads every account).
    pub fn stats(
        &self,
        store: &AccountStore,
        group: &str,
        partition: Option<PartitionRef>,
        day: i32,
    ) -> Option<PeerStats> {
        if let Some(days) = self.frozen.get(group) {
            if let Some((_, _, stats)) = days
                .iter()
                .rev()
                .find(|(p, d, _)| *d == day && *p == partition)
            {
                return *stats;
            }
        }
        let first = day - self.days;
        let mut values: Vec<f64> = Vec::new();
        store.for_each(|state| {
            if state.peer_group.as_deref() != Some(group) || state.partition != partition {
                return;
            }
            let history = &state.history;
            let open = history.today.iter();
            for d in history.closed.iter().chain(open) {
                if d.day >= first && d.day < day && !d.flagged && d.distinct > 0 {
                    values.push(f64::from(d.distinct));
                }
            }
        });
        let stats = if values.is_empty() {
            None
        } else {
            values.sort_by(f64::total_cmp);
            Some(PeerStats {
                samples: values.len(),
                median: quantile_sorted(&values, 0.5),
                p95: quantile_sorted(&values, 0.95),
                tail: log_normal_tail(values.iter().copied()),
            })
        };
        // Keep three days of frozen statistics per group: enough for slightly late events.
        let mut days = self.frozen.entry(group.to_string()).or_default();
        days.retain(|(_, d, _)| *d >= day - 2);
        days.push((partition, day, stats));
        stats
    }
}
