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
//!
//! A small team over many partitions leaves two or three members per sample, too few at work at once
//! to measure today's surge. Their finished days still say something: [`LatestDays`] counts, once per
//! group, partition and day, whose latest day ran high, which tells one member's run of high days from
//! the group's ([`TeamSight`] records which of these an event was judged with).

use dashmap::DashMap;

use crate::accounts::{AccountState, AccountStore, PartitionRef};
use crate::baseline::{log_normal_tail, quantile_sorted};
use crate::config::PeerGroupConfig;

/// The group of accounts an event's account is compared with when nothing better is known.
pub const ORGANISATION: &str = "organisation";

/// Distribution of peers' daily distinct sensitive records.
///
/// Each peer-day is first divided by how busy the whole group was that day (see `normalize_by_day`),
/// so an outage day on which everyone worked three times as hard does not make "a busy colleague's
/// day" three times larger for the two weeks it stays in the sample. What today's surge does is
/// measured separately, while it happens: [`PeerStats::surge`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStats {
    pub samples: usize,
    pub median: f64,
    pub p95: f64,
    /// The top of the group's spread of days on a log scale (see
    /// [`crate::baseline::log_normal_tail`]): how large an ordinary day gets in a heavy-tailed group.
    pub tail: f64,
    /// How far the group as a whole is above its usual level today, so far (at least 1): the median,
    /// over peers active today, of today's distinct records divided by the peer's own median day.
    /// Thresholds that compare an account with normal days are multiplied by it: when the whole team
    /// surges together (an outage), one member surging with it is not a deviation. Measured again every
    /// [`SURGE_SLOT_MS`] of event time and never lowered within the day. `None` while fewer than
    /// three peers (`SURGE_MIN_PEERS`) are active today: the group cannot be seen, so an outage could not be
    /// told from one person's deviation (rules then keep a wider margin).
    pub surge: Option<f64>,
}

/// What a group's members in one partition did on their latest active day before today, counted when
/// the day's statistics are frozen: members whose day was ordinary for them (`calm`) and members whose
/// day ran [`UNTRAINED_SURGE`] or more above their own median (`high`). Members with no learned median
/// or no active day in the last [`LATEST_DAY_LOOKBACK`] days are not counted.
///
/// It answers, from finished days, the question today's surge answers while it happens: did the group
/// run high together? A team of two or three in a partition is too few to measure today's surge
/// (see [`SURGE_MIN_PEERS`]), but one colleague who had an ordinary day while the account ran high
/// says the account's run is its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatestDays {
    pub calm: u32,
    pub high: u32,
}

impl LatestDays {
    /// Whether a run of high days can be the account's own: at least two members were counted (the
    /// account is one of them when it has a learned level: alone, it has nobody to be told from), some
    /// member's latest day was ordinary, and the members whose day ran high are one (the account, if
    /// anyone) or fewer than those whose day did not. Two of a pair, or half a team, running high
    /// together is what a group surge looks like.
    pub fn run_is_own(self) -> bool {
        self.calm + self.high >= 2 && self.calm >= 1 && (self.high <= 1 || self.high < self.calm)
    }

    /// No member of the group in the partition has a learned level and a recent active day.
    pub fn none_counted(self) -> bool {
        self.calm + self.high == 0
    }

    /// Whether the group ran high together on its latest days: two or more members, at least as many
    /// as did not. Such a surge can run on past midnight where nobody measures it (see
    /// [`crate::accounts::AccountState::unseen_surge_today`]).
    pub fn group_ran_high(self) -> bool {
        self.high >= 2 && self.high >= self.calm
    }
}

/// How much of its peer group an account's sensitive read was judged with, in its partition. Operators
/// watch the share of `LatestDays` and `Unseen` among reads with learned levels
/// (`exfilwatch_team_sight_total`, alert ExfilwatchPeerGroupsThin): peer groups split too thin over
/// partitions lose the margin a measured surge allows, and, when `Unseen`, the run of high days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamSight {
    /// Enough colleagues at work to measure today's surge.
    Measured,
    /// Too few at work today, but colleagues' latest days show whether a run is the account's own.
    LatestDays,
    /// Neither: alone in the partition, or with colleagues whose latest days ran high with the
    /// account's (a group surge cannot be ruled out).
    Unseen,
    /// Nobody in the group in the partition has a learned daily level yet (the first week), or ever
    /// (days mostly without sensitive reads, such as occasional extracts): nothing to compare with,
    /// however the partitions are laid out.
    NoLevels,
}

impl TeamSight {
    pub const ALL: [TeamSight; 4] = [
        TeamSight::Measured,
        TeamSight::LatestDays,
        TeamSight::Unseen,
        TeamSight::NoLevels,
    ];

    /// Whether a run of high days can be told from the group's: today's surge is measured, or the
    /// members' latest days say the run is the account's own ([`LatestDays::run_is_own`]).
    pub fn tells_own_run(self) -> bool {
        matches!(self, TeamSight::Measured | TeamSight::LatestDays)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TeamSight::Measured => "measured",
            TeamSight::LatestDays => "latest_days",
            TeamSight::Unseen => "unseen",
            TeamSight::NoLevels => "no_levels",
        }
    }
}

/// Sensitive reads by how much of the account's peer group they were judged with (see
/// [`TeamSight`]): how thin the groups are in each sample. `evaluate` prints the shares and `replay` the
/// counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TeamSightCounts {
    pub measured: u64,
    pub latest_days: u64,
    pub unseen: u64,
    /// Nobody in the group had a learned level (see [`TeamSight::NoLevels`]).
    #[serde(default)]
    pub no_levels: u64,
}

impl TeamSightCounts {
    pub fn count(&mut self, sight: TeamSight) {
        match sight {
            TeamSight::Measured => self.measured += 1,
            TeamSight::LatestDays => self.latest_days += 1,
            TeamSight::Unseen => self.unseen += 1,
            TeamSight::NoLevels => self.no_levels += 1,
        }
    }

    /// `(measured, latest_days, unseen, no_levels)` in percent of all counted reads (zeros when there
    /// are none).
    pub fn percentages(&self) -> (f64, f64, f64, f64) {
        let total = (self.measured + self.latest_days + self.unseen + self.no_levels).max(1) as f64;
        let pct = |n: u64| 100.0 * n as f64 / total;
        (
            pct(self.measured),
            pct(self.latest_days),
            pct(self.unseen),
            pct(self.no_levels),
        )
    }
}

impl PeerView {
    /// What this view lets the rules see of the group (see [`TeamSight`]).
    pub fn sight(&self) -> TeamSight {
        if self.stats.is_some_and(|s| s.surge.is_some()) {
            TeamSight::Measured
        } else if self.latest_days.run_is_own() {
            TeamSight::LatestDays
        } else if self.latest_days.none_counted() {
            TeamSight::NoLevels
        } else {
            TeamSight::Unseen
        }
    }
}

/// Statistics of a group in one partition for one day, as the rules see them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeerView {
    /// `None` with fewer than [`MIN_PEER_ACCOUNTS`] members.
    pub stats: Option<PeerStats>,
    /// Whatever the group's size.
    pub latest_days: LatestDays,
}

/// Frozen statistics of one group and day in one partition, and the surge measured in the latest slot.
#[derive(Debug, Clone, Copy)]
struct FrozenDay {
    partition: Option<PartitionRef>,
    day: i32,
    stats: Option<PeerStats>,
    latest_days: LatestDays,
    /// Event-time slot ([`SURGE_SLOT_MS`]) the stored surge was measured in.
    surge_slot: i64,
}

/// Frozen statistics of one group, newest last.
type FrozenDays = Vec<FrozenDay>;

/// How often the group's surge is measured again, in event time. Each measurement reads every
/// account, so it is paced by the clock, not by events; a quarter of an hour is quick enough to follow
/// a surge that builds over a shift.
pub const SURGE_SLOT_MS: i64 = 15 * 60_000;

/// Peers active today (with a learned median) needed before their surge counts: with three, one
/// insider among them cannot move the median; with two it would be half of it. (Peers are sampled per
/// partition, so a team of forty over twelve partitions has three or four in each.)
const SURGE_MIN_PEERS: usize = 3;

/// Peers that exported today (with a learned export level) needed before their export surge counts.
/// Exports are few and lumpy: with three the median is the second largest of three, which the one
/// exfiltrating and one colleague's ordinary big export day would make; with five it takes three.
const EGRESS_SURGE_MIN_PEERS: usize = 5;

/// Accounts whose days make up a group's statistics before there are any. The sample includes the
/// account being judged, whose unflagged days (an insider not yet caught) would otherwise be most of a
/// two- or three-person sample and lift its own thresholds; from five, one account is a fifth of it.
/// Peers are sampled per partition, so a small team spread over many partitions often has fewer: the
/// account's own baseline and the absolute ceilings judge it then.
pub const MIN_PEER_ACCOUNTS: usize = 5;

/// Peer-days of one day needed before that day's level is measured and divided out.
const NORMALIZE_MIN_PEERS: usize = 5;

/// How far above 1 the peers' median ratio goes on an ordinary day, from noise alone: the surge is the
/// ratio divided by this. The median is measured many times a day and the day keeps its largest, so
/// ordinary ups and downs would otherwise lift every threshold by a fifth; an outage's threefold day
/// still lifts them by 2.4.
const SURGE_TOLERANCE: f64 = 1.25;

/// A surge from which the day is set apart from training (see [`crate::baseline::DayTotals::flagged`]).
pub const UNTRAINED_SURGE: f64 = 1.5;

/// Active days a peer needs before its median day is a level its surge can be measured from.
const SURGE_MIN_TRAINED_DAYS: u32 = 5;

/// Days back a member's latest active day may lie and still say how the group is doing now: a weekend
/// and a day off.
const LATEST_DAY_LOOKBACK: i32 = 3;

/// Frozen per-(group, partition, day) statistics and the group assignment.
#[derive(Debug)]
pub struct PeerBook {
    /// Tells this book's entries in [`LAST_STATS`] from another engine's on the same thread.
    id: u64,
    days: i32,
    patterns: Vec<(String, Vec<String>)>,
    /// group → frozen (partition, day, statistics), newest last; looked up by `&str` without allocating.
    frozen: DashMap<String, FrozenDays, ahash::RandomState>,
    /// group → destinations its accounts exported to: (partition, identity hash, last day). Sampled per
    /// partition like the statistics, so novelty is deterministic too.
    destinations: DashMap<String, GroupDestinations, ahash::RandomState>,
    /// group → the export surge per (partition, day), newest last (see [`PeerBook::egress_surge`]).
    egress: DashMap<String, Vec<EgressDay>, ahash::RandomState>,
}

/// A group's export surge on one day in one partition, and the slot it was last measured in.
#[derive(Debug, Clone, Copy)]
struct EgressDay {
    partition: Option<PartitionRef>,
    day: i32,
    surge: Option<f64>,
    slot: i64,
}

/// Destinations a group exported to: (partition, identity hash, last day).
type GroupDestinations = Vec<(Option<PartitionRef>, u64, i32)>;

/// Destinations remembered per peer group.
const GROUP_DESTINATIONS: usize = 512;

/// The statistics one thread last read: every event of an account's group in the same partition and
/// quarter-hour gets the same answer, and the stream is mostly such runs, so most events skip the
/// book's map (a lock and a string hash).
#[derive(Debug, Clone, Copy)]
struct LastStats {
    book: u64,
    group_hash: u64,
    partition: Option<PartitionRef>,
    day: i32,
    slot: i64,
    view: PeerView,
}

thread_local! {
    static LAST_STATS: std::cell::Cell<Option<LastStats>> = const { std::cell::Cell::new(None) };
}

static NEXT_BOOK_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl PeerBook {
    pub fn new(days: u32, groups: &[PeerGroupConfig]) -> Self {
        PeerBook {
            id: NEXT_BOOK_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
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
            egress: DashMap::with_hasher(ahash::RandomState::new()),
        }
    }

    /// How far the group's exports as a whole are above their usual level today (at least 1): the
    /// median, over peers in the partition that exported today and have a learned export level, of
    /// today's bytes over the peer's median export day, divided by the same tolerance as the read surge.
    /// Quarter-end reporting lifts a whole team's exports together; one member's chunked exfiltration
    /// does not move the median. Measured at exports only (reads never trigger it, nor it the read
    /// surge, so neither depends on when the other kind of event came), at most once per
    /// [`SURGE_SLOT_MS`] of event time, and never lowered within the day. `None` while fewer than five
    /// such peers exported today (`EGRESS_SURGE_MIN_PEERS`).
    pub fn egress_surge(
        &self,
        store: &AccountStore,
        group: &str,
        partition: Option<PartitionRef>,
        day: i32,
        time_ms: i64,
    ) -> Option<f64> {
        let slot = time_ms.div_euclid(SURGE_SLOT_MS);
        let known = self.egress.get(group).and_then(|days| {
            days.iter()
                .rev()
                .find(|e| e.day == day && e.partition == partition)
                .copied()
        });
        if let Some(known) = known.filter(|k| slot <= k.slot) {
            return known.surge;
        }
        let ratios = ratios_in(store, group, partition, |state| {
            today_egress_ratio(state, day)
        });
        let surge = raise(
            known.and_then(|k| k.surge),
            surge_of(ratios, EGRESS_SURGE_MIN_PEERS),
        );
        let mut days = self.egress.entry(group.to_string()).or_default();
        // Three days, like the frozen statistics: enough for slightly late events.
        days.retain(|e| e.day >= day - 2 && !(e.day == day && e.partition == partition));
        days.push(EgressDay {
            partition,
            day,
            surge,
            slot,
        });
        surge
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

    /// Statistics of `group` for events at `time_ms` (UTC day `day`): the day's statistics are computed
    /// on first use from the store and frozen; the surge is measured again once per [`SURGE_SLOT_MS`].
    /// Both read only the accounts of `partition`, whose state at this event is the same whatever the
    /// batching, so the result is deterministic (see the module documentation).
    /// Must not be called while holding an account entry of `store` (it reads every account).
    ///
    /// `group_hash` identifies `group` in a per-thread cache of the last answer (a keyed 64-bit hash: two
    /// names colliding is not a practical concern). The cache answers only for the same quarter-hour,
    /// whose statistics the book never changes once measured, so it cannot change a result.
    pub fn stats(
        &self,
        store: &AccountStore,
        group: &str,
        group_hash: u64,
        partition: Option<PartitionRef>,
        day: i32,
        time_ms: i64,
    ) -> PeerView {
        let slot = time_ms.div_euclid(SURGE_SLOT_MS);
        let last = LAST_STATS.get();
        if let Some(last) = last.filter(|l| {
            l.book == self.id
                && l.group_hash == group_hash
                && l.partition == partition
                && l.day == day
                && l.slot == slot
        }) {
            return last.view;
        }
        let (view, measured_slot) = self.stats_uncached(store, group, partition, day, slot);
        LAST_STATS.set(Some(LastStats {
            book: self.id,
            group_hash,
            partition,
            day,
            slot: measured_slot,
            view,
        }));
        view
    }

    /// [`PeerBook::stats`] from the book; also returns the slot its surge was measured in.
    fn stats_uncached(
        &self,
        store: &AccountStore,
        group: &str,
        partition: Option<PartitionRef>,
        day: i32,
        slot: i64,
    ) -> (PeerView, i64) {
        let frozen = self.frozen.get(group).and_then(|days| {
            days.iter()
                .rev()
                .find(|f| f.day == day && f.partition == partition)
                .copied()
        });
        if let Some(frozen) = frozen {
            let view = |stats| PeerView {
                stats,
                latest_days: frozen.latest_days,
            };
            if frozen.stats.is_none() {
                // No peers that day: nothing to measure a surge on, whatever the hour.
                return (view(None), slot);
            }
            // A late event from an earlier quarter-hour gets the latest measurement; no new one.
            if slot <= frozen.surge_slot {
                return (view(frozen.stats), frozen.surge_slot);
            }
            let surge = measure_surge(store, group, partition, day);
            let mut days = self.frozen.entry(group.to_string()).or_default();
            let mut stats = frozen.stats;
            if let Some(entry) = days
                .iter_mut()
                .rev()
                .find(|f| f.day == day && f.partition == partition)
            {
                if let Some(stats) = entry.stats.as_mut() {
                    stats.surge = raise(stats.surge, surge);
                }
                entry.surge_slot = slot;
                stats = entry.stats;
            }
            return (view(stats), slot);
        }
        let first = day - self.days;
        let mut peer_days: Vec<(i32, f64)> = Vec::new();
        let mut accounts = 0usize;
        let mut today_ratios: Vec<f64> = Vec::new();
        let mut latest_days = LatestDays::default();
        store.for_each(|state| {
            if state.peer_group.as_deref() != Some(group) || state.partition != partition {
                return;
            }
            today_ratios.extend(today_ratio(state, day));
            match latest_day_ratio(state, day) {
                Some(ratio) if ratio >= UNTRAINED_SURGE => latest_days.high += 1,
                Some(_) => latest_days.calm += 1,
                None => {}
            }
            let before = peer_days.len();
            let history = &state.history;
            let open = history.today.iter();
            for d in history.closed.iter().chain(open) {
                if d.day >= first && d.day < day && !d.flagged && d.distinct > 0 {
                    peer_days.push((d.day, f64::from(d.distinct)));
                }
            }
            accounts += usize::from(peer_days.len() > before);
        });
        let stats = if accounts < MIN_PEER_ACCOUNTS {
            None
        } else {
            let mut values = normalize_by_day(peer_days);
            values.sort_by(f64::total_cmp);
            Some(PeerStats {
                samples: values.len(),
                median: quantile_sorted(&values, 0.5),
                p95: quantile_sorted(&values, 0.95),
                tail: log_normal_tail(values.iter().copied()),
                surge: surge_of(today_ratios, SURGE_MIN_PEERS),
            })
        };
        // Keep three days of frozen statistics per group: enough for slightly late events.
        let mut days = self.frozen.entry(group.to_string()).or_default();
        days.retain(|f| f.day >= day - 2);
        days.push(FrozenDay {
            partition,
            day,
            stats,
            latest_days,
            surge_slot: slot,
        });
        (PeerView { stats, latest_days }, slot)
    }
}

/// Peer-days `(day, distinct)` with each day's values rescaled to the group's usual level: multiplied
/// by (median of the days' medians) / (that day's median). Days with fewer than
/// [`NORMALIZE_MIN_PEERS`] active peers are kept as they are (their median says little). A day on
/// which the whole group surged then counts as an ordinary day, and the spread that remains is the
/// spread between colleagues and between one person's days, which is what an outlier stands out from.
fn normalize_by_day(mut peer_days: Vec<(i32, f64)>) -> Vec<f64> {
    peer_days.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut day_medians: Vec<(i32, f64)> = Vec::new();
    for same_day in peer_days.chunk_by(|a, b| a.0 == b.0) {
        if same_day.len() >= NORMALIZE_MIN_PEERS {
            let values: Vec<f64> = same_day.iter().map(|&(_, v)| v).collect();
            day_medians.push((same_day[0].0, quantile_sorted(&values, 0.5)));
        }
    }
    if day_medians.is_empty() {
        return peer_days.into_iter().map(|(_, v)| v).collect();
    }
    let mut levels: Vec<f64> = day_medians.iter().map(|&(_, m)| m).collect();
    levels.sort_by(f64::total_cmp);
    let usual = quantile_sorted(&levels, 0.5);
    peer_days
        .into_iter()
        .map(
            |(day, value)| match day_medians.binary_search_by_key(&day, |&(d, _)| d) {
                Ok(i) if day_medians[i].1 > 0.0 => value * usual / day_medians[i].1,
                _ => value,
            },
        )
        .collect()
}

/// How far `group`'s accounts in `partition` are above their own usual day on `day`, so far: the
/// median of (today's distinct records / the account's median day) over the peers active today with a
/// learned median, at least 1; `None` with fewer than [`SURGE_MIN_PEERS`] of them. Today's count is the
/// day window's cheap upper bound (exact below the sketch threshold, which is where peers' days are).
fn measure_surge(
    store: &AccountStore,
    group: &str,
    partition: Option<PartitionRef>,
    day: i32,
) -> Option<f64> {
    let ratios = ratios_in(store, group, partition, |state| today_ratio(state, day));
    surge_of(ratios, SURGE_MIN_PEERS)
}

/// `ratio` of every account of `group` in `partition` that has one (one pass over the accounts).
fn ratios_in(
    store: &AccountStore,
    group: &str,
    partition: Option<PartitionRef>,
    ratio: impl Fn(&AccountState) -> Option<f64>,
) -> Vec<f64> {
    let mut ratios = Vec::new();
    store.for_each(|state| {
        if state.peer_group.as_deref() == Some(group) && state.partition == partition {
            ratios.extend(ratio(state));
        }
    });
    ratios
}

/// Never lowered within the day: the day's count holds a surge however quiet the group has become
/// since (the rest of a shift after an outage, a second shift that starts before midnight).
fn raise(kept: Option<f64>, measured: Option<f64>) -> Option<f64> {
    match (kept, measured) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One peer's part in the egress surge: bytes exported today over its median export day, if it
/// exported today and has a learned export level.
fn today_egress_ratio(state: &AccountState, day: i32) -> Option<f64> {
    let usual = state.history.trained.egress_median;
    let today = state.history.today.as_ref().filter(|t| t.day == day)?;
    (usual > 0.0 && today.egress_bytes > 0).then(|| today.egress_bytes as f64 / usual)
}

/// One peer's part in the surge: today's distinct records over its median day, if it is active today
/// and has a learned median.
fn today_ratio(state: &AccountState, day: i32) -> Option<f64> {
    let trained = &state.history.trained;
    if trained.days < SURGE_MIN_TRAINED_DAYS || trained.distinct_median <= 0.0 {
        return None;
    }
    if state.history.today.as_ref().is_none_or(|t| t.day != day) {
        return None;
    }
    let today = state.distinct.day_upper_bound()? as f64;
    (today > 0.0).then(|| today / trained.distinct_median)
}

/// One member's part in [`LatestDays`]: its latest active day before `day` (within
/// [`LATEST_DAY_LOOKBACK`] days) over its median day, if it has a learned median. That day is often
/// still the member's open day (its first event of `day` not yet come), whose distinct count is not
/// stored until it closes: it is read from the calendar-day window, as [`today_ratio`] does.
fn latest_day_ratio(state: &AccountState, day: i32) -> Option<f64> {
    let trained = &state.history.trained;
    if trained.days < SURGE_MIN_TRAINED_DAYS || trained.distinct_median <= 0.0 {
        return None;
    }
    let history = &state.history;
    let open = history
        .today
        .as_ref()
        .filter(|t| t.day < day)
        .and_then(|t| Some((t.day, state.distinct.day_upper_bound()? as f64)))
        .filter(|&(_, distinct)| distinct > 0.0);
    let (latest, distinct) = open.or_else(|| {
        history
            .closed
            .iter()
            .rev()
            .find(|d| d.day < day && d.distinct > 0)
            .map(|d| (d.day, f64::from(d.distinct)))
    })?;
    (latest >= day - LATEST_DAY_LOOKBACK).then(|| distinct / trained.distinct_median)
}

/// The surge from the peers' ratios (see [`measure_surge`]).
fn surge_of(mut ratios: Vec<f64>, min_peers: usize) -> Option<f64> {
    if ratios.len() < min_peers {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    Some((quantile_sorted(&ratios, 0.5) / SURGE_TOLERANCE).max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_the_whole_group_surged_counts_as_an_ordinary_day() {
        // Five peers over four days; day 2 everyone read three times as much.
        let mut peer_days = Vec::new();
        for day in 0..4 {
            for (peer, usual) in [100.0, 110.0, 120.0, 130.0, 140.0].into_iter().enumerate() {
                let factor = if day == 2 { 3.0 } else { 1.0 };
                peer_days.push((day, usual * factor + peer as f64));
            }
        }
        let mut values = normalize_by_day(peer_days);
        values.sort_by(f64::total_cmp);
        let largest = values.last().copied().unwrap_or_default();
        assert!(largest < 150.0, "the outage day is rescaled: {values:?}");
        assert!(
            (quantile_sorted(&values, 0.5) - 122.0).abs() < 1.0,
            "{values:?}"
        );
    }

    #[test]
    fn days_with_few_peers_are_kept_as_they_are() {
        let peer_days = vec![(0, 100.0), (0, 400.0), (1, 120.0)];
        let mut values = normalize_by_day(peer_days);
        values.sort_by(f64::total_cmp);
        assert_eq!(values, vec![100.0, 120.0, 400.0]);
    }

    #[test]
    fn a_run_is_the_accounts_own_only_beside_a_colleague_who_did_not_share_it() {
        let days = |calm, high| LatestDays { calm, high };
        // One colleague's ordinary day beside the account's high one: the pair a thin partition holds.
        assert!(days(1, 1).run_is_own());
        assert!(days(2, 0).run_is_own());
        // A team where a few ran high among many who did not.
        assert!(days(30, 4).run_is_own());
        // Both of a pair or half a team: a group surge cannot be ruled out.
        assert!(!days(0, 2).run_is_own());
        assert!(!days(2, 2).run_is_own());
        // A member alone, whatever its own latest day, or nobody counted.
        assert!(!days(1, 0).run_is_own());
        assert!(!days(0, 1).run_is_own());
        assert!(!days(0, 0).run_is_own());
    }
}
