//! The book of peer groups: who belongs to which group, each group's view right now per input
//! partition, when a partition started, and the threshold in force; what the groups use (destinations,
//! tables, client applications) is kept in [`usage`].
//!
//! Everything here is computed from the accounts of one input partition, which the partition's ordered
//! stream alone determines: the same events give the same views, thresholds and alerts whatever the
//! interleaving of partitions (replay equals live). A view is measured again once per quarter-hour of
//! event time (a scan of the store) and the threshold once per day.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::config::PeerGroupConfig;
use crate::detect::features::{ALERTED, HISTORY_DAYS};
use crate::detect::peers::{GroupScan, GroupView, Member};
use crate::detect::risk::{
    calibrated_threshold, GaussianReference, CALIBRATION_DAYS, MIN_CALIBRATION_ACCOUNTS,
    MIN_CALIBRATION_DAYS,
};
use crate::engine::accounts::{AccountStore, PartitionRef};
use crate::engine::day_clock::{DayClocks, PartitionClock};
use crate::engine::learned::LearnedGroups;
use crate::engine::partition_time::EventTime;
pub use calibration::CalibrationCoverage;
use calibration::PartitionThresholds;
pub use usage::{DestinationNews, GroupUsage, Habit};

/// The group of accounts no configured pattern or source names.
pub const ORGANISATION: &str = "organisation";

/// How often a group's view is measured again, in event time: a quarter-hour follows a surge that
/// builds over a shift, and each measurement reads every account.
pub const VIEW_SLOT_MS: i64 = 15 * 60_000;

const DAY_MS: i64 = 86_400_000;

/// A group's view in one partition, and when it was measured.
#[derive(Debug, Clone)]
struct KeptView {
    partition: Option<PartitionRef>,
    /// The keyed hash of the group's name, as members carry it.
    group_hash: u64,
    slot: i64,
    day: i32,
    view: Arc<GroupView>,
}

/// A group view being measured: the group, its keyed hash, its previous view in the partition (whose
/// past common modes the new one carries on the same day) and the scan.
struct Measuring {
    name: String,
    hash: u64,
    kept: Option<KeptView>,
    scan: GroupScan,
}

/// The threshold in force in one partition on one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub day: i32,
    pub value: f64,
    /// Accounts it was calibrated from (0: not yet calibrated, the conservative default is in force).
    pub samples: usize,
}

#[derive(Debug)]
pub struct GroupBook {
    /// Tells this book's entries in [`LAST_VIEW`] and [`LAST_CLOCK`] from another engine's on the same
    /// thread.
    id: u64,
    /// Moves on whenever partitions are forgotten: the per-thread entries of before are stale.
    epoch: AtomicU64,
    patterns: Vec<(String, Vec<String>)>,
    views: DashMap<String, Vec<KeptView>, ahash::RandomState>,
    thresholds: DashMap<Option<PartitionRef>, PartitionThresholds, ahash::RandomState>,
    /// What events whose time the partition has not confirmed measured, for other such events only.
    unconfirmed_views: DashMap<String, Vec<KeptView>, ahash::RandomState>,
    unconfirmed_thresholds: DashMap<Option<PartitionRef>, PartitionThresholds, ahash::RandomState>,
    started: DashMap<Option<PartitionRef>, i64, ahash::RandomState>,
    /// What the groups of each partition use.
    usage: GroupUsage,
    /// How many accounts carry each learned signature.
    learned: LearnedGroups,
    /// Where each partition's day begins.
    clocks: DayClocks,
}

/// The group context one thread last read: most events share it with the event before (same group,
/// partition and quarter-hour), and skip the book's maps (a lock, an atomic read-modify-write and a
/// string hash each; on x86 every atomic read-modify-write also stalls the prefetches in flight).
#[derive(Debug)]
struct LastView {
    /// The book and its epoch.
    book: (u64, u64),
    group_hash: u64,
    partition: Option<PartitionRef>,
    slot: i64,
    view: Arc<GroupView>,
    threshold: Threshold,
    started: i64,
}

/// An account's peer group, as [`GroupBook::group_of`] found it (derefs to its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupName<'a> {
    /// Named by the source or a configured pattern: a role, whose change starts the history afresh.
    Named(&'a str),
    /// The learned signature of the account's behaviour (shared, never copied per event).
    Learned(Arc<str>),
    /// Nothing names it and no learned group has formed yet: [`ORGANISATION`].
    Organisation,
}

impl GroupName<'_> {
    /// Named by the source or the configuration, rather than learned.
    pub fn is_named(&self) -> bool {
        matches!(self, GroupName::Named(_))
    }
}

impl std::ops::Deref for GroupName<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            GroupName::Named(name) => name,
            GroupName::Learned(signature) => signature,
            GroupName::Organisation => ORGANISATION,
        }
    }
}

/// An event placed in its partition's time ([`GroupBook::place`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Where the partition's day begins, in ms after UTC midnight.
    pub day_offset_ms: i64,
    /// What the event's time is to the partition.
    pub time: EventTime,
    /// For an unconfirmed event, its place in the run of events far ahead of the partition's time (1:
    /// the first).
    pub run: u32,
    /// Accounts (keyed hashes, as `AccountState::key`) whose events among the partition's first were
    /// outvoted by the others' time, when this event ended that opening: their state was built on a
    /// wrong clock.
    pub outvoted: Vec<u64>,
}

/// What an event needs of its group: the view, the threshold in force and when the partition started.
#[derive(Debug, Clone)]
pub struct GroupContext {
    pub view: Arc<GroupView>,
    pub threshold: Threshold,
    /// The time of the partition's first event (the start of its learning period).
    pub started: i64,
}

/// A partition clock one thread last read: ((book, epoch), partition, clock).
type LastClock = ((u64, u64), Option<PartitionRef>, Arc<PartitionClock>);

thread_local! {
    static LAST_VIEW: Cell<Option<LastView>> = const { Cell::new(None) };
    /// The partition clock this thread last read.
    static LAST_CLOCK: Cell<Option<LastClock>> = const { Cell::new(None) };
}

static NEXT_BOOK_ID: AtomicU64 = AtomicU64::new(0);

impl GroupBook {
    /// The book for `groups` (configured patterns) and `day_start` (ms after UTC midnight; `None`:
    /// learned per partition, see [`crate::engine::day_clock`]).
    pub fn new(groups: &[PeerGroupConfig], day_start: Option<i64>) -> Self {
        GroupBook {
            id: NEXT_BOOK_ID.fetch_add(1, Ordering::Relaxed),
            epoch: AtomicU64::new(0),
            patterns: groups
                .iter()
                .map(|g| {
                    (
                        g.name.clone(),
                        g.accounts.iter().map(|p| p.to_ascii_lowercase()).collect(),
                    )
                })
                .collect(),
            views: DashMap::with_hasher(ahash::RandomState::new()),
            thresholds: DashMap::with_hasher(ahash::RandomState::new()),
            unconfirmed_views: DashMap::with_hasher(ahash::RandomState::new()),
            unconfirmed_thresholds: DashMap::with_hasher(ahash::RandomState::new()),
            started: DashMap::with_hasher(ahash::RandomState::new()),
            usage: GroupUsage::default(),
            learned: LearnedGroups::default(),
            clocks: DayClocks::new(day_start),
        }
    }

    /// The configured day start (a reload must not change it).
    pub fn day_start(&self) -> Option<i64> {
        self.clocks.fixed()
    }

    /// The configured group patterns (a reload must not change them).
    pub fn patterns(&self) -> &[(String, Vec<String>)] {
        &self.patterns
    }

    /// The account's peer group: the source's word for it, else the first configured pattern that
    /// matches, else its learned signature once that has enough members in the partition
    /// ([`crate::engine::learned`]), else the whole organisation. `learned` is asked only when nothing
    /// names the group.
    pub fn group_of<'a>(
        &'a self,
        account: &str,
        from_event: Option<&'a str>,
        partition: Option<PartitionRef>,
        learned: impl FnOnce() -> Option<Arc<str>>,
    ) -> GroupName<'a> {
        if let Some(group) = from_event.filter(|g| !g.is_empty()) {
            return GroupName::Named(group);
        }
        if !self.patterns.is_empty() {
            let lowered = account.to_ascii_lowercase();
            for (name, patterns) in &self.patterns {
                if patterns
                    .iter()
                    .any(|p| crate::detect::classify::glob_match(p.as_bytes(), lowered.as_bytes()))
                {
                    return GroupName::Named(name);
                }
            }
        }
        match learned() {
            Some(signature) if self.learned.is_group(partition, &signature) => {
                GroupName::Learned(signature)
            }
            _ => GroupName::Organisation,
        }
    }

    /// Places an event in its partition's time ([`crate::engine::day_clock`]): where the partition's
    /// day begins (an event's day is `day_of(time_ms − day_offset_ms)`; `account_hash` identifies the
    /// event's account while the start is being learned) and what the event's time is to the partition
    /// ([`crate::engine::partition_time::PartitionTime::observe`]). The partition's clock is remembered per
    /// thread.
    pub fn place(
        &self,
        partition: Option<PartitionRef>,
        time_ms: i64,
        account_hash: impl Fn() -> u64,
    ) -> Placement {
        let book = self.cache_key();
        let clock = match LAST_CLOCK.take() {
            Some((last_book, last, clock)) if last_book == book && last == partition => clock,
            _ => self.clocks.clock(partition),
        };
        let time = clock.time().observe(time_ms, &account_hash);
        let run = clock.time().run();
        let outvoted = clock.time().take_outvoted();
        let day_offset_ms =
            clock.offset(partition, time_ms, time == EventTime::Trusted, account_hash);
        LAST_CLOCK.set(Some((book, partition, clock)));
        Placement {
            day_offset_ms,
            time,
            run,
            outvoted,
        }
    }

    /// `partition`'s trusted time ([`crate::engine::partition_time::PartitionTime::observe`]), once its
    /// opening is over.
    pub fn partition_time(&self, partition: Option<PartitionRef>) -> Option<i64> {
        self.clocks.time_of(partition)
    }

    /// What tells this book's per-thread entries, as of now, from stale ones and other books'.
    fn cache_key(&self) -> (u64, u64) {
        (self.id, self.epoch.load(Ordering::Relaxed))
    }

    /// Forgets everything of revoked partitions: their time and day start, learning period, views,
    /// thresholds, the destinations and habits their groups used, their learned groups. Their accounts
    /// are dropped too (another instance owns them now), so whenever a partition comes back it is new
    /// here, as on an instance that never owned it: learning again, rather than judging accounts
    /// without history (a nightly job whose learned ceiling went with its account) as if it had learned.
    pub fn forget_partitions(&self, partitions: &[PartitionRef]) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
        let revoked = |p: &Option<PartitionRef>| p.is_some_and(|p| partitions.contains(&p));
        self.clocks.forget(partitions);
        self.learned.forget(partitions);
        for partition in partitions {
            let partition = Some(*partition);
            self.started.remove(&partition);
            self.thresholds.remove(&partition);
            self.unconfirmed_thresholds.remove(&partition);
        }
        for views in [&self.views, &self.unconfirmed_views] {
            views
                .iter_mut()
                .for_each(|mut kept| kept.retain(|k| !revoked(&k.partition)));
        }
        self.usage.forget(partitions);
    }

    /// Counts an account whose learned signature was just fixed.
    pub fn join_learned(&self, partition: Option<PartitionRef>, signature: &Arc<str>) {
        self.learned.join(partition, signature);
    }

    /// When the partition started (the start of its learning period): the earliest of its opening
    /// events that agreed with the others ([`crate::engine::partition_time::PartitionTime::start`]),
    /// fixed by its first `trusted` event. Until then, the event's own time: the partition is new.
    pub fn started(&self, partition: Option<PartitionRef>, time_ms: i64, trusted: bool) -> i64 {
        if let Some(start) = self.started.get(&partition) {
            return *start;
        }
        if !trusted {
            return time_ms;
        }
        let start = self.clocks.start_of(partition).unwrap_or(time_ms);
        *self.started.entry(partition).or_insert(start)
    }

    /// `group`'s context in `partition` at `time_ms`: its view, measured at most once per
    /// [`VIEW_SLOT_MS`], the threshold in force on `day` ([`GroupBook::threshold`]) and the partition's
    /// start ([`GroupBook::started`]). Must not be called while holding an account entry of `store` (it
    /// may read every account).
    ///
    /// `group_hash` identifies `group` in a per-thread cache of the last answer (a keyed 64-bit hash: two
    /// names colliding is not a practical concern); it answers only within the same quarter-hour, whose
    /// view, threshold and start the book never changes once measured, so it cannot change a result.
    ///
    /// An event whose time is not `trusted` (far ahead of the partition's time, and not yet confirmed by
    /// others) gets a context measured at its time, kept apart for other such events only: a clock
    /// error must not become the measurement every trusted event of the partition reuses, and must not
    /// cost a scan of the store per event either (a proxy logging local time as UTC sends every event
    /// hours ahead, interleaved with trusted ones): such events share one view per group and quarter
    /// hour, and one threshold per day, as trusted ones do.
    #[allow(clippy::too_many_arguments)]
    pub fn context(
        &self,
        store: &AccountStore,
        group: &str,
        group_hash: u64,
        partition: Option<PartitionRef>,
        (time_ms, trusted): (i64, bool),
        (day, day_offset_ms): (i32, i64),
        reference: &GaussianReference,
    ) -> GroupContext {
        let slot = time_ms.div_euclid(VIEW_SLOT_MS);
        if !trusted {
            let (view, _) = self.view_uncached(
                store,
                (group, group_hash),
                partition,
                (time_ms, day_offset_ms),
                (slot, false),
            );
            return GroupContext {
                view,
                threshold: self.threshold(store, group, partition, (day, false), reference),
                started: self.started(partition, time_ms, false),
            };
        }
        let book = self.cache_key();
        if let Some(last) = LAST_VIEW.take() {
            if last.book == book
                && last.group_hash == group_hash
                && last.partition == partition
                && last.slot >= slot
                && last.threshold.day >= day
            {
                let context = GroupContext {
                    view: Arc::clone(&last.view),
                    threshold: last.threshold,
                    started: last.started,
                };
                LAST_VIEW.set(Some(last));
                return context;
            }
        }
        let (view, measured) = self.view_uncached(
            store,
            (group, group_hash),
            partition,
            (time_ms, day_offset_ms),
            (slot, true),
        );
        let threshold = self.threshold(store, group, partition, (day, true), reference);
        let started = self.started(partition, time_ms, true);
        LAST_VIEW.set(Some(LastView {
            book,
            group_hash,
            partition,
            slot: measured,
            view: Arc::clone(&view),
            threshold,
            started,
        }));
        GroupContext {
            view,
            threshold,
            started,
        }
    }

    fn view_uncached(
        &self,
        store: &AccountStore,
        (group, group_hash): (&str, u64),
        partition: Option<PartitionRef>,
        (time_ms, day_offset_ms): (i64, i64),
        (slot, keep): (i64, bool),
    ) -> (Arc<GroupView>, i64) {
        // The partition's own day (see `GroupBook::place`); the day shapes are learned on the same clock.
        let local_ms = time_ms - day_offset_ms;
        let day = i32::try_from(local_ms.div_euclid(DAY_MS)).unwrap_or(i32::MAX);
        let find = |views: &DashMap<String, Vec<KeptView>, ahash::RandomState>| {
            views
                .get(group)
                .and_then(|views| views.iter().find(|k| k.partition == partition).cloned())
        };
        let kept = find(&self.views);
        // A late event from an earlier quarter-hour gets the latest measurement; no new one.
        if let Some(kept) = kept.as_ref().filter(|k| slot <= k.slot) {
            return (Arc::clone(&kept.view), kept.slot);
        }
        // An unconfirmed event: the measurement other unconfirmed events made at its quarter hour, or
        // a new one, carrying the day's past common modes from whichever was measured on its day.
        let kept = if keep {
            kept
        } else {
            let own = find(&self.unconfirmed_views);
            if let Some(own) = own.as_ref().filter(|k| k.slot == slot) {
                return (Arc::clone(&own.view), own.slot);
            }
            own.filter(|k| k.day == day)
                .or(kept.filter(|k| k.day == day))
        };
        // One pass of the store is what a measurement costs, whatever the number of groups: a trusted
        // one also measures every other group of the partition whose view is older than this quarter
        // hour (the view of a quarter hour is taken at its first event of any group, not of its own).
        let measure = |name: String, hash: u64, kept: Option<KeptView>| {
            let with_past = kept.as_ref().is_none_or(|k| k.day != day);
            let scan = GroupScan::new(time_ms, day, with_past);
            Measuring {
                name,
                hash,
                kept,
                scan,
            }
        };
        let mut requested = measure(group.to_string(), group_hash, kept);
        let mut others: Vec<_> = if keep {
            self.views
                .iter()
                .filter(|entry| entry.key() != group)
                .filter_map(|entry| {
                    let stale = entry
                        .value()
                        .iter()
                        .find(|k| k.partition == partition && k.slot < slot)?
                        .clone();
                    Some(measure(entry.key().clone(), stale.group_hash, Some(stale)))
                })
                .collect()
        } else {
            Vec::new()
        };
        store.for_each(|state| {
            // Members are told by the keyed hash of their group's name, which every state carries (no
            // string compare per account of the store).
            if state.partition != partition {
                return;
            }
            let scan = if state.peer_group_hash == group_hash {
                &mut requested.scan
            } else if let Some(other) = others.iter_mut().find(|m| m.hash == state.peer_group_hash)
            {
                &mut other.scan
            } else {
                return;
            };
            scan.add(Member {
                key: state.key,
                history: &state.history,
                baseline: &state.baseline,
                done_by_now: state.shape.done_by(local_ms),
                last_event_ms: state.newest_event_ms,
            });
        });
        let kept_views = if keep {
            &self.views
        } else {
            &self.unconfirmed_views
        };
        let keep_view = |m: Measuring| {
            let view = Arc::new(m.scan.finish(m.kept.as_ref().map(|k| k.view.as_ref())));
            let mut views = kept_views.entry(m.name).or_default();
            views.retain(|k| k.partition != partition);
            views.push(KeptView {
                partition,
                group_hash: m.hash,
                slot,
                day,
                view: Arc::clone(&view),
            });
            view
        };
        for other in others {
            keep_view(other);
        }
        let view = keep_view(requested);
        (view, slot)
    }

    /// What the groups of each partition use: destinations, sensitive tables, client applications.
    pub fn usage(&self) -> &GroupUsage {
        &self.usage
    }
}

mod calibration;
mod usage;

#[cfg(test)]
mod tests;
