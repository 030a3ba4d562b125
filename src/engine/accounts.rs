//! All accounts' state in one concurrent map: windows, evidence for alerts, open alert episodes,
//! which partition owns the account, and the eviction that keeps memory bounded.
//!
//! State is plain serde data so that a changelog can persist and restore it when partitions move.

use std::collections::VecDeque;
use std::sync::Arc;

use compact_str::CompactString;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::detect::baseline::Baseline;
use crate::detect::features::{DayShape, History};
use crate::detect::novelty::{Hours, Seen};
use crate::detect::risk::{Novelties, Risk};
use crate::detect::rules::PrivateExports;
use crate::engine::distinct::DistinctRecords;
use crate::engine::episode::Episode;
pub use crate::engine::evidence::{Evidence, RecentEvents, Tally, RECENT_EVENTS, TALLY_CAPACITY};
use crate::engine::learned::Role;
use crate::engine::window::{Pair, Ring, SlidingSums};

/// An input partition, with the topic as an index into the configured input topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionRef {
    pub topic: u16,
    pub partition: i32,
}

/// An account's sliding windows of sensitive reads: records read and sensitive events, counted in one
/// ring of [`Pair`] buckets per window (they always change together).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReadWindows {
    sums: SlidingSums<Pair>,
}

/// Lanes of a read window's buckets.
const RECORDS: usize = 0;
const EVENTS: usize = 1;

impl ReadWindows {
    /// `shapes`: (bucket width ms, bucket count) per window.
    pub fn new(shapes: &[(i64, usize)]) -> Self {
        ReadWindows {
            sums: SlidingSums::new(shapes),
        }
    }

    /// Counts one sensitive event that read `records` records at `time_ms`, in every window.
    pub fn add(&mut self, time_ms: i64, records: u64) {
        let mut value = [0; 2];
        value[RECORDS] = records;
        value[EVENTS] = 1;
        for mut window in self.sums.iter_mut() {
            window.add(time_ms, value);
        }
    }

    pub fn len(&self) -> usize {
        self.sums.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// Window `index` (same order as the layout).
    pub fn get(&self, index: usize) -> Option<ReadWindow<'_>> {
        self.sums.get(index).map(ReadWindow)
    }

    pub fn iter(&self) -> impl Iterator<Item = ReadWindow<'_>> {
        self.sums.iter().map(ReadWindow)
    }

    fn heap_bytes(&self) -> usize {
        self.sums.heap_bytes()
    }

    fn prefetch(&self) {
        self.sums.prefetch();
    }
}

/// One read window, for reading.
#[derive(Debug, Clone, Copy)]
pub struct ReadWindow<'a>(&'a Ring<[u64; 2]>);

impl ReadWindow<'_> {
    /// Records read in the window.
    pub fn records(&self) -> u64 {
        self.0.total()[RECORDS]
    }

    /// Sensitive events in the window.
    pub fn events(&self) -> u64 {
        self.0.total()[EVENTS]
    }

    pub fn length_ms(&self) -> i64 {
        self.0.length_ms()
    }

    /// Start (inclusive, epoch ms) of the span the totals cover.
    pub fn window_start_ms(&self) -> Option<i64> {
        self.0.window_start_ms()
    }
}

/// Window shapes, derived once from config: (bucket width ms, bucket count) per window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateLayout {
    pub read: Vec<(i64, usize)>,
    pub distinct: Vec<(i64, usize)>,
    pub precision: u8,
}

/// Destinations remembered per account.
pub const DESTINATION_CAPACITY: usize = 32;
/// Client addresses, applications and sensitive tables remembered per account.
pub const CLIENT_CAPACITY: usize = 16;

/// Everything tracked for one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    /// A keyed hash of the account's name: tells the account from its peers in group views.
    pub key: u64,
    pub partition: Option<PartitionRef>,
    /// Newest event time seen: the account's own clock and watermark.
    pub newest_event_ms: i64,
    /// One per `rules.bulk_read.windows` entry, same order: the table-dump ceilings.
    pub read_windows: ReadWindows,
    /// Distinct customers in the current day (rows of keyless sources counted as records).
    pub distinct: DistinctRecords,
    /// Daily totals: the open day and four weeks of closed ones.
    pub history: History,
    /// When in the day the account reads.
    pub shape: DayShape,
    /// The account's own normal, recomputed when a day closes.
    pub baseline: Baseline,
    /// Evidence accumulated over days.
    pub risk: Risk,
    /// Today's strongest surprise per novelty feature.
    pub novelty_today: Novelties,
    pub peer_group: Option<String>,
    /// Keyed fast hash of `peer_group`, checked on every event instead of the name (another cache line).
    pub peer_group_hash: u64,
    /// Whether `peer_group` was named by the source or a configured pattern (a role) or learned.
    pub peer_group_named: bool,
    /// The job its behaviour shows, when neither the source nor the configuration names its group.
    pub role: Role,
    pub client_ips: Seen,
    pub client_apps: Seen,
    pub destinations: Seen,
    /// What it sent to destinations new to the organisation, for a day from each first export.
    pub private_exports: PrivateExports,
    pub tables: Seen,
    pub hours: Hours,
    /// Watched records read: (keyed hash, event time), newest last.
    pub watched_reads: VecDeque<(u64, i64)>,
    pub evidence: Evidence,
    /// The account's open alert episode.
    pub episode: Option<Episode>,
    /// Windows, distinct-record map and evidence were released after a long idle spell (see
    /// [`AccountState::compact`]); they are rebuilt, empty, by the next event.
    pub compacted: bool,
}

/// Watched-record reads remembered per account.
pub const WATCHED_CAPACITY: usize = 32;

impl AccountState {
    pub fn new(layout: &StateLayout, partition: Option<PartitionRef>) -> Self {
        AccountState {
            key: 0,
            partition,
            newest_event_ms: i64::MIN,
            read_windows: ReadWindows::new(&layout.read),
            distinct: DistinctRecords::new(&layout.distinct, layout.precision),
            history: History::default(),
            shape: DayShape::default(),
            baseline: Baseline::default(),
            risk: Risk::default(),
            novelty_today: [0.0; 5],
            peer_group: None,
            peer_group_hash: 0,
            peer_group_named: false,
            role: Role::default(),
            client_ips: Seen::default(),
            client_apps: Seen::default(),
            destinations: Seen::default(),
            private_exports: PrivateExports::default(),
            tables: Seen::default(),
            hours: Hours::default(),
            watched_reads: VecDeque::new(),
            evidence: Evidence::default(),
            episode: None,
            compacted: false,
        }
    }

    /// Shrinks an account idle for longer than every window to what outlives them: daily history,
    /// baseline, risk, day shape, what it has used, peer group and open episode stay; windows, the
    /// distinct-record map and sketches, and alert evidence (all of it older than any window, so no alert
    /// could show it) are released. The caller guarantees the idle spell. Nothing a rule or the risk sees
    /// changes: every window was empty, and an empty window rebuilt by [`AccountState::expand`] behaves
    /// exactly like the old one. The open day's distinct count is already in its totals.
    pub fn compact(&mut self) {
        if self.compacted {
            return;
        }
        self.read_windows = ReadWindows::default();
        self.distinct = DistinctRecords::new(&[], 0);
        self.evidence = Evidence::default();
        self.destinations.shrink_to_fit();
        self.client_ips.shrink_to_fit();
        self.client_apps.shrink_to_fit();
        self.tables.shrink_to_fit();
        self.watched_reads.shrink_to_fit();
        self.history.closed.shrink_to_fit();
        self.compacted = true;
    }

    /// Rebuilds the empty windows of a compacted account.
    pub fn expand(&mut self, layout: &StateLayout) {
        if !self.compacted {
            return;
        }
        let fresh = AccountState::new(layout, self.partition);
        self.read_windows = fresh.read_windows;
        self.distinct = fresh.distinct;
        self.compacted = false;
    }

    /// Today's distinct customers (or rows) read, from the calendar-day window.
    pub fn reads_today(&self) -> u64 {
        self.distinct.day_upper_bound().unwrap_or(0)
    }

    /// Hints that an event reading `record_hashes` will update this state soon: prefetches what the
    /// state points to and every event touches (see [`crate::engine::prefetch`]). Reading the pointers
    /// needs the state itself in cache, so callers first prefetch the state
    /// ([`AccountStore::prefetch_state`]).
    pub fn prefetch_parts(&self, record_hashes: &[u64]) {
        use crate::engine::prefetch;
        self.read_windows.prefetch();
        self.distinct.prefetch(record_hashes);
        self.evidence.recent_events.prefetch();
        prefetch::slice(&self.evidence.tables);
        prefetch::slice(&self.evidence.client_ips);
        prefetch::slice(self.hours.prefetch_slice());
        if let Some(today) = self.history.closed.back() {
            prefetch::value(today);
        }
    }

    /// Heap bytes of the distinct-record sketches (bounded separately: see [`crate::engine::sketch`]).
    pub fn sketch_bytes(&self) -> usize {
        self.distinct.sketch_bytes()
    }

    /// Approximate bytes this account costs (struct plus heap), for the state-size metric.
    pub fn approx_bytes(&self, key_len: usize) -> usize {
        std::mem::size_of::<Self>()
            + key_len
            + self.read_windows.heap_bytes()
            + self.evidence.heap_bytes()
            + self.distinct.ring_bytes()
            + self.distinct.sketch_bytes()
            + self.history.heap_bytes()
            + self.peer_group.as_ref().map_or(0, String::capacity)
            + self.role.heap_bytes()
            + self.client_ips.heap_bytes()
            + self.client_apps.heap_bytes()
            + self.destinations.heap_bytes()
            + self.private_exports.heap_bytes()
            + self.tables.heap_bytes()
            + self.hours.heap_bytes()
            + self.watched_reads.capacity() * std::mem::size_of::<(u64, i64)>()
            + self
                .episode
                .as_ref()
                .map_or(0, |e| e.opening_event_id.capacity())
    }
}

/// Where each shard's table of an [`AccountStore`] was when looked at (the end of its slots, and its
/// number of slots), read under each shard's lock once for many events, so that prefetching a slot
/// needs no lock per event (an atomic read-modify-write is a full barrier on x86, which stalls the
/// loads in flight). A table that grew since then moved: its addresses are then stale, which costs the
/// prefetch its benefit and nothing else, since a prefetch reads nothing. The map's raw shards
/// (dashmap's `raw-api`) give hashbrown's tables.
pub struct SlotMap {
    /// Per shard: the end of its slots, and its number of slots.
    shards: Vec<(*const Slot, usize)>,
}

/// One slot of the account map's tables.
type Slot = (CompactString, dashmap::SharedValue<Box<AccountState>>);

/// The concurrent map of account → state, with a cap on how many accounts are tracked.
#[derive(Debug)]
pub struct AccountStore {
    /// aHash: fast and, unlike FxHash, keyed per process so account names cannot be chosen to collide.
    /// Keys up to 24 bytes are stored inline and each state is boxed, so the table itself (32 bytes a
    /// slot) stays small enough to sit in cache: finding an account costs one miss, on its state,
    /// rather than three (the slot, the key's heap string, the state inline in a 600-byte slot).
    accounts: DashMap<CompactString, Box<AccountState>, ahash::RandomState>,
    max_accounts: usize,
}

impl AccountStore {
    pub fn new(max_accounts: usize) -> Self {
        AccountStore {
            accounts: DashMap::with_hasher(ahash::RandomState::new()),
            max_accounts: max_accounts.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Runs `f` on the account's state, creating it with `create` first if needed. Returns what `f`
    /// returns and how many accounts were evicted to make room.
    pub fn with_account<R>(
        &self,
        account: &str,
        create: impl FnOnce() -> AccountState,
        f: impl FnOnce(&mut AccountState) -> R,
    ) -> (R, usize) {
        if let Some(mut state) = self.accounts.get_mut(account) {
            return (f(&mut state), 0);
        }
        let evicted = if self.accounts.len() >= self.max_accounts {
            self.evict_least_recent()
        } else {
            0
        };
        let mut entry = self
            .accounts
            .entry(CompactString::from(account))
            .or_insert_with(|| Box::new(create()));
        (f(&mut entry), evicted)
    }

    /// Where the map's tables are now, for [`AccountStore::prefetch_slot`] (see [`SlotMap`]).
    pub fn slot_map(&self) -> SlotMap {
        SlotMap {
            shards: self
                .accounts
                .shards()
                .iter()
                .map(|shard| {
                    let table = shard.read();
                    (table.data_end().as_ptr().cast_const(), table.buckets())
                })
                .collect(),
        }
    }

    /// First of three prefetch steps for an upcoming event of `account` (see [`crate::engine::prefetch`]): the
    /// table's control bytes and the slots where the lookup of `account` starts, so that the next
    /// step's lookup does not wait for them (with 100,000 accounts the table is megabytes: its lines are
    /// rarely in cache). Takes no lock: `map` says where the tables were.
    pub fn prefetch_slot(&self, map: &SlotMap, account: &str) {
        if let Some(lines) = self.slot_lines(map, account) {
            for line in lines {
                crate::engine::prefetch::bytes(line, 1);
            }
        }
    }

    /// Where [`AccountStore::prefetch_slot`] expects the lookup of `account` to read: its control bytes,
    /// and the lines of its home slot and of the slot two further on. A lookup reads the entry from the
    /// first slot of its 16-slot control group that matches, which is the home slot or one of the next
    /// two for about 9 accounts in 10 (test below). hashbrown keeps slot `i` just below the control
    /// bytes, and those right where the slots end.
    fn slot_lines(&self, map: &SlotMap, account: &str) -> Option<[*const u8; 3]> {
        let hash = self.accounts.hash_usize(&account);
        let &(slots_end, buckets) = map.shards.get(self.accounts.determine_shard(hash))?;
        let home = hash & (buckets - 1);
        Some([
            slots_end.cast::<u8>().wrapping_add(home),
            slots_end.wrapping_sub(home + 1).cast::<u8>(),
            slots_end.wrapping_sub(home + 3).cast::<u8>(),
        ])
    }

    /// Second step, a few events later: the state, found through the table.
    pub fn prefetch_state(&self, account: &str) {
        if let Some(state) = self.accounts.get(account) {
            crate::engine::prefetch::value::<AccountState>(&state);
        }
    }

    /// Last step, a few events later, once the state is in cache: what it points to (see
    /// [`AccountState::prefetch_parts`]).
    pub fn prefetch_parts(&self, account: &str, record_hashes: &[u64]) {
        if let Some(state) = self.accounts.get(account) {
            state.prefetch_parts(record_hashes);
        }
    }

    /// Drops about 1% of the cap (at least one), the accounts with the oldest event times. Amortised:
    /// one scan per that many new accounts.
    fn evict_least_recent(&self) -> usize {
        let batch = (self.max_accounts / 100).max(1);
        let mut ages: Vec<(i64, CompactString)> = self
            .accounts
            .iter()
            .map(|entry| (entry.value().newest_event_ms, entry.key().clone()))
            .collect();
        let batch = batch.min(ages.len());
        if batch == 0 {
            return 0;
        }
        ages.select_nth_unstable(batch - 1);
        for (_, key) in ages.into_iter().take(batch) {
            self.accounts.remove(&key);
        }
        batch
    }

    /// Drops accounts whose newest event is older than `evict_before_ms` and compacts those older than
    /// `compact_before_ms` (see [`AccountState::compact`]); returns (dropped, newly compacted).
    ///
    /// Idleness is judged by the clock of the account's own partition (its newest event time), never the
    /// whole stream's: partitions are consumed at their own pace, so by the stream's clock an account of a
    /// lagging partition may look idle while its next event is already waiting. Judged by its own
    /// partition, the sweep gives the same result whatever the interleaving of partitions.
    pub fn sweep_idle(
        &self,
        evict_after_ms: i64,
        compact_after_ms: i64,
        partition_time: impl Fn(Option<PartitionRef>) -> Option<i64>,
    ) -> (usize, usize) {
        // Each partition's time, once per partition: its trusted event time, which one event with a
        // clock years ahead does not move (the newest account would: every other account would then
        // look idle for years and be dropped with its history).
        let mut clocks: Vec<(Option<PartitionRef>, i64)> = Vec::new();
        for entry in self.accounts.iter() {
            let partition = entry.value().partition;
            if !clocks.iter().any(|(p, _)| *p == partition) {
                clocks.push((partition, partition_time(partition).unwrap_or(i64::MIN)));
            }
        }
        let clock_of = |partition: Option<PartitionRef>| {
            clocks
                .iter()
                .find(|(p, _)| *p == partition)
                .map_or(i64::MIN, |&(_, newest)| newest)
        };
        let before = self.accounts.len();
        let mut compacted = 0;
        self.accounts.retain(|_, state| {
            let clock = clock_of(state.partition);
            if state.newest_event_ms < clock.saturating_sub(evict_after_ms) {
                return false;
            }
            if state.newest_event_ms < clock.saturating_sub(compact_after_ms) && !state.compacted {
                state.compact();
                compacted += 1;
            }
            true
        });
        (before - self.accounts.len(), compacted)
    }

    /// Drops `partition`'s accounts whose keys are in `keys` (their state was built on a clock the
    /// partition's first events outvoted); returns how many.
    pub fn drop_accounts(&self, partition: Option<PartitionRef>, keys: &[u64]) -> usize {
        if keys.is_empty() {
            return 0;
        }
        let before = self.accounts.len();
        self.accounts
            .retain(|_, state| state.partition != partition || !keys.contains(&state.key));
        let dropped = before - self.accounts.len();
        tracing::warn!(
            ?partition,
            accounts = dropped,
            "events among the partition's first were outvoted by the others' time: their accounts start afresh"
        );
        dropped
    }

    /// Drops the accounts owned by revoked partitions: another consumer owns them now.
    pub fn drop_partitions(&self, revoked: &[PartitionRef]) -> usize {
        let before = self.accounts.len();
        self.accounts
            .retain(|_, state| !state.partition.is_some_and(|p| revoked.contains(&p)));
        before - self.accounts.len()
    }

    /// Total approximate bytes of the distinct-record sketches alone.
    pub fn sketch_bytes(&self) -> usize {
        self.accounts
            .iter()
            .map(|entry| entry.value().sketch_bytes())
            .sum()
    }

    /// Total approximate bytes of all state (iterates every account: call it on a timer, not per event).
    pub fn approx_bytes(&self) -> usize {
        self.accounts
            .iter()
            .map(|entry| {
                let key = entry.key();
                let key_heap = if key.is_heap_allocated() {
                    key.capacity()
                } else {
                    0
                };
                entry.value().approx_bytes(key_heap)
                    + std::mem::size_of::<CompactString>()
                    + std::mem::size_of::<Box<AccountState>>()
            })
            .sum()
    }

    /// Calls `f` on every account's state (read-only). Takes every shard's read lock in turn: never call
    /// it while holding an entry.
    pub fn for_each(&self, mut f: impl FnMut(&AccountState)) {
        for entry in self.accounts.iter() {
            f(entry.value());
        }
    }

    /// The learned signature of an account, when it has one (read before the account's entry is taken;
    /// see [`crate::engine::learned`]).
    pub fn learned_signature(&self, account: &str) -> Option<Arc<str>> {
        self.accounts
            .get(account)
            .and_then(|state| state.role.signature().cloned())
    }

    /// A copy of one account's state (tests, diagnostics).
    pub fn snapshot(&self, account: &str) -> Option<AccountState> {
        self.accounts.get(account).map(|s| AccountState::clone(&s))
    }
}

#[cfg(test)]
mod tests;
