//! What an alert shows as evidence, kept per account: the newest contributing events and bounded
//! tallies of the tables, client addresses and destinations the data came from and went to.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Makes room for exactly one more entry. The bounded lists of an account's state (evidence tallies)
/// usually hold one or two entries and gain one rarely, so they grow one at a time: a `Vec`'s first
/// allocation would reserve four (up to 144 wasted bytes per list, on every tracked account).
fn grow_by_one<T>(list: &mut Vec<T>) {
    if list.len() == list.capacity() {
        list.reserve_exact(1);
    }
}

/// A bounded tally of names (tables, client addresses, destinations) with what they carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Keyed fast hash of `name`: found without reading the name (another cache line) on every event.
    pub hash: u64,
    pub name: String,
    pub records: u64,
    pub last_seen_ms: i64,
}

/// Most entries kept per tally: enough to explain an alert, small enough for thousands of accounts.
pub const TALLY_CAPACITY: usize = 8;
/// Contributing event ids kept per account (alerts carry at most 10).
pub const RECENT_EVENTS: usize = 10;

/// The newest contributing events of an account, oldest first: their times, and their ids back to back
/// in one buffer (two allocations for all of them rather than one per id; an account's state is a
/// few KiB, and ten ids were a fifth of it in allocations alone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentEvents {
    /// (event time, length of its id in `ids`), oldest first.
    entries: VecDeque<(i64, u32)>,
    ids: String,
}

impl RecentEvents {
    /// Appends an event; past [`RECENT_EVENTS`] the oldest gives way.
    pub fn push(&mut self, time_ms: i64, event_id: &str) {
        if self.entries.len() == RECENT_EVENTS {
            if let Some((_, len)) = self.entries.pop_front() {
                let len = len as usize;
                if self.ids.is_char_boundary(len) {
                    self.ids.drain(..len);
                } else {
                    // Lengths that do not match the buffer (restored from damaged state): start afresh.
                    self.entries.clear();
                    self.ids.clear();
                }
            }
        }
        // An id of 4 GiB or more cannot have been decoded (messages are capped far below); kept empty.
        let id = match u32::try_from(event_id.len()) {
            Ok(_) => event_id,
            Err(_) => "",
        };
        if self.entries.capacity() == 0 {
            // Exactly the ring's size: growth by doubling would reserve 16 slots for 10, and grow the
            // ids four times on the way to 10 ids of a source's usual length (to 1.6 times their size).
            self.entries.reserve_exact(RECENT_EVENTS);
            self.ids
                .reserve_exact(RECENT_EVENTS.saturating_mul(id.len()));
        }
        self.ids.push_str(id);
        self.entries.push_back((time_ms, id.len() as u32));
    }

    /// (event time, id) of every event kept, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = (i64, &str)> {
        let mut end = self.ids.len();
        self.entries.iter().rev().map(move |&(time, len)| {
            let start = end.saturating_sub(len as usize);
            let id = self.ids.get(start..end).unwrap_or_default();
            end = start;
            (time, id)
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(i64, u32)>() + self.ids.capacity()
    }

    /// Hints that an event will be pushed soon (see [`crate::engine::prefetch`]).
    pub(super) fn prefetch(&self) {
        let (oldest, _) = self.entries.as_slices();
        crate::engine::prefetch::slice(oldest);
        crate::engine::prefetch::bytes(
            self.ids.as_ptr(),
            self.ids.len().min(crate::engine::prefetch::LINE),
        );
    }
}

/// What an alert shows as evidence: recent contributing events and where the data came from and went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The newest sensitive events.
    pub recent_events: RecentEvents,
    pub tables: Vec<Tally>,
    pub client_ips: Vec<Tally>,
    pub destinations: Vec<Tally>,
}

impl Evidence {
    pub fn record_event(&mut self, time_ms: i64, event_id: &str) {
        self.recent_events.push(time_ms, event_id);
    }

    /// Counts `records` against `name` (whose keyed hash is `hash`); when full, the entry seen least
    /// recently gives way.
    pub fn bump(tally: &mut Vec<Tally>, hash: u64, name: &str, records: u64, time_ms: i64) {
        // A keyed 64-bit hash: names that collide by chance would need ~2^32 names in one tally.
        if let Some(entry) = tally.iter_mut().find(|t| t.hash == hash) {
            entry.records = entry.records.saturating_add(records);
            entry.last_seen_ms = entry.last_seen_ms.max(time_ms);
            return;
        }
        let fresh = Tally {
            hash,
            name: name.to_string(),
            records,
            last_seen_ms: time_ms,
        };
        if tally.len() < TALLY_CAPACITY {
            grow_by_one(tally);
            tally.push(fresh);
            return;
        }
        if let Some(stalest) = tally.iter_mut().min_by_key(|t| (t.last_seen_ms, t.records)) {
            if stalest.last_seen_ms <= time_ms {
                *stalest = fresh;
            }
        }
    }

    /// Names seen at or after `since_ms`, most records first (ties by name, for determinism).
    pub fn names_since(tally: &[Tally], since_ms: i64) -> Vec<String> {
        let mut live: Vec<&Tally> = tally
            .iter()
            .filter(|t| t.last_seen_ms >= since_ms)
            .collect();
        live.sort_by(|a, b| b.records.cmp(&a.records).then_with(|| a.name.cmp(&b.name)));
        live.into_iter().map(|t| t.name.clone()).collect()
    }

    /// Ids of recent events at or after `since_ms`, newest first.
    pub fn event_ids_since(&self, since_ms: i64) -> Vec<String> {
        self.recent_events
            .newest_first()
            .filter(|(time, _)| *time >= since_ms)
            .map(|(_, id)| id.to_string())
            .collect()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        let tally_bytes = |t: &Vec<Tally>| {
            t.capacity() * std::mem::size_of::<Tally>()
                + t.iter().map(|e| e.name.capacity()).sum::<usize>()
        };
        self.recent_events.heap_bytes()
            + tally_bytes(&self.tables)
            + tally_bytes(&self.client_ips)
            + tally_bytes(&self.destinations)
    }
}
