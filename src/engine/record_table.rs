//! The newest read time of each record an account read: the exact half of distinct-record counting.
//!
//! Every sensitive read looks its record up here, and at 100,000 active accounts each account's table is
//! out of cache when its next event comes. A general-purpose map costs two misses per lookup (control
//! bytes, then the entry); this table costs one. Keys are [`Fingerprint`]s, 32 bits of the keyed record
//! hash (uniform, and not choosable by whoever names the records), so the fingerprint scaled to the
//! table's length picks the slot directly (one multiply: any length works, not only powers of two),
//! probing is linear, and an entry is the 8-byte (fingerprint, second) pair itself: half the memory of a
//! (64-bit hash, millisecond) pair, which matters at a million accounts. Entries leave only in batches
//! ([`RecordTable::retain`], which rebuilds), so there are no tombstones.
//!
//! The table grows by 8/5 to a whole number of cache lines rather than doubling to a power of two, so it
//! is between 47% and 75% full once it holds a few dozen records instead of between 37% and 75%: a
//! quarter less memory on average for a few more rebuilds (each a sequential pass over one account's
//! table, which is in cache).
//!
//! What the narrowing costs:
//! * Two different records share a fingerprint with probability about `n² / 2^33` among `n` records in
//!   a window, 0.05% for a full exact table of 2,048; the pair then counts once. The sliding
//!   HyperLogLog takes the same fingerprint ([`crate::engine::distinct`]), so a record moved between the two is
//!   never counted twice, and at 10,000,000 records the collisions are 0.1% of the count, well inside
//!   the sketch's 2%.
//! * Times are kept in whole seconds (rounded down). Distinct-record buckets are whole seconds wide
//!   (`config` refuses others), so a rounded time falls in the same bucket as the exact one and no count
//!   changes. Times after February 2106 (past `u32` seconds) are kept as that moment, so a record
//!   re-read then would be counted again: a limit of this layout (`decode` accepts times to 9999).

use serde::{Deserialize, Serialize};

/// The 32 bits of a keyed record hash that the table and the distinct-record sketches key on.
pub type Fingerprint = u32;

/// The fingerprint of a keyed 64-bit record hash: its high half (the low half of a fingerprint picks
/// table slots, so taking the hash's high half keeps those independent of anything else using the low
/// bits).
pub fn fingerprint(hash: u64) -> Fingerprint {
    (hash >> 32) as Fingerprint
}

/// One slot: a fingerprint (0 = empty) and its newest read time in seconds since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    fingerprint: Fingerprint,
    seconds: u32,
}

/// Marks an empty slot (the record whose fingerprint is 0 is kept beside the slots).
const EMPTY: Fingerprint = 0;
/// Smallest table allocated, and the step its length is rounded up to: one 64-byte cache line of slots.
const SLOT_LINE: usize = 8;

/// Whole seconds of an epoch-ms time, saturating to the `u32` range.
fn seconds_of(time_ms: i64) -> u32 {
    time_ms.div_euclid(1000).clamp(0, i64::from(u32::MAX)) as u32
}

fn millis_of(seconds: u32) -> i64 {
    i64::from(seconds) * 1000
}

/// Fingerprint → newest read time (whole seconds), open addressing at most 3/4 full.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Vec<(Fingerprint, u32)>", into = "Vec<(Fingerprint, u32)>")]
pub struct RecordTable {
    /// A multiple of [`SLOT_LINE`] slots, or none before the first insert.
    slots: Box<[Slot]>,
    /// Occupied slots (a table never nears 2^32 entries: the exact phase is capped far below).
    len: u32,
    /// No record's newest read (seconds) is older than this: the oldest at the last rebuild, lowered by
    /// older inserts (records moving on to newer reads do not raise it, so it is a lower bound). Tells
    /// whether a prune could drop anything without scanning the table.
    oldest: u32,
    /// The newest read (seconds) of the record whose fingerprint is 0, which cannot use a slot.
    zero: Option<u32>,
    /// Rebuilds so far, for tests of how often the table is rebuilt.
    #[cfg(test)]
    rebuilds: usize,
}

impl RecordTable {
    pub fn len(&self) -> usize {
        self.occupied() + usize::from(self.zero.is_some())
    }

    /// Occupied slots.
    fn occupied(&self) -> usize {
        self.len as usize
    }

    /// A time (epoch ms, whole seconds) no record's newest read is older than; `None` when empty.
    fn oldest_ms(&self) -> Option<i64> {
        (!self.is_empty()).then(|| millis_of(self.oldest))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots allocated (for the memory estimate).
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Rebuilds so far (growth, shrinking, pruning).
    #[cfg(test)]
    pub fn rebuilds(&self) -> usize {
        self.rebuilds
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }

    /// Hints that `fingerprint` will be looked up soon (see [`crate::engine::prefetch`]).
    pub fn prefetch(&self, fingerprint: Fingerprint) {
        if let Some(slot) = self.slots.get(self.home(fingerprint)) {
            crate::engine::prefetch::value(slot);
        }
    }

    /// The slot a probe for `fingerprint` starts at: the fingerprint scaled to the table's length
    /// (`fingerprint × len / 2^32`, below `len`; 0 while nothing is allocated).
    fn home(&self, fingerprint: Fingerprint) -> usize {
        ((u64::from(fingerprint) * self.slots.len() as u64) >> 32) as usize
    }

    /// Where `fingerprint` is, or the empty slot where it would go (`None` while nothing is allocated).
    fn find(&self, fingerprint: Fingerprint) -> Option<usize> {
        let len = self.slots.len();
        if len == 0 {
            return None;
        }
        let mut index = self.home(fingerprint);
        // At most 3/4 full, so an empty slot ends every probe.
        loop {
            let slot = self.slots[index];
            if slot.fingerprint == fingerprint || slot.fingerprint == EMPTY {
                return Some(index);
            }
            index += 1;
            if index == len {
                index = 0;
            }
        }
    }

    /// The newest read time (epoch ms, rounded down to the second) of `fingerprint`, if it is in the
    /// table.
    pub fn get(&self, fingerprint: Fingerprint) -> Option<i64> {
        self.get_seconds(fingerprint).map(millis_of)
    }

    fn get_seconds(&self, fingerprint: Fingerprint) -> Option<u32> {
        if fingerprint == EMPTY {
            return self.zero;
        }
        let slot = self.slots[self.find(fingerprint)?];
        (slot.fingerprint == fingerprint).then_some(slot.seconds)
    }

    /// Whether one more record would make the table grow (a rebuild).
    fn is_full(&self) -> bool {
        (self.occupied() + 1) * 4 > self.slots.len() * 3
    }

    /// More than 11/16 full: too full to wait for the next prune after this one (see
    /// [`RecordTable::grow`]).
    fn is_crowded(&self) -> bool {
        self.occupied() * 16 > self.slots.len() * 11
    }

    /// Grows by 8/5 now, for a table that a prune left [crowded](RecordTable::is_crowded): it would be
    /// full again within a few records, and pruning on every one of them would cost a rebuild per
    /// record. A table that is not crowded takes at least a sixteenth of its slots in new records
    /// before it is full (3/4) again, so a rebuild costs at most 16 slot copies per record.
    fn grow(&mut self) {
        self.rebuild((self.occupied() + 1) * 8 / 5);
    }

    /// Sets the newest read time of `fingerprint` (kept in whole seconds).
    pub fn insert(&mut self, fingerprint: Fingerprint, time_ms: i64) {
        self.insert_seconds(fingerprint, seconds_of(time_ms));
    }

    /// [`RecordTable::insert`], but before the table grows for a new record it drops the records last
    /// read before `live_from()` (every record for `None`), if its oldest-read bound says there may be
    /// any: a steady reader's table then stays sized to its live records. `live_from` is asked only
    /// then. A prune that leaves the table [crowded](RecordTable::is_crowded) is followed by growth.
    pub fn insert_dropping_expired(
        &mut self,
        fingerprint: Fingerprint,
        time_ms: i64,
        live_from: impl FnOnce() -> Option<i64>,
    ) {
        if fingerprint != EMPTY && self.is_full() && self.get_seconds(fingerprint).is_none() {
            let live_from = live_from();
            let may_have_expired = self
                .oldest_ms()
                .is_some_and(|oldest| live_from.is_none_or(|from| oldest < from));
            if may_have_expired {
                self.retain(|at| live_from.is_some_and(|from| at >= from));
                if self.is_crowded() {
                    self.grow();
                }
            }
        }
        self.insert(fingerprint, time_ms);
    }

    fn insert_seconds(&mut self, fingerprint: Fingerprint, seconds: u32) {
        if fingerprint != EMPTY && self.is_full() {
            self.grow();
        }
        // After growing: a rebuild recomputes the bound from the entries already there.
        self.oldest = if self.is_empty() {
            seconds
        } else {
            self.oldest.min(seconds)
        };
        if fingerprint == EMPTY {
            self.zero = Some(seconds);
            return;
        }
        let Some(index) = self.find(fingerprint) else {
            return;
        };
        let slot = &mut self.slots[index];
        if slot.fingerprint == EMPTY {
            self.len += 1;
        }
        *slot = Slot {
            fingerprint,
            seconds,
        };
    }

    /// Every (fingerprint, newest read time in epoch ms), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Fingerprint, i64)> + '_ {
        self.entries()
            .map(|(fingerprint, seconds)| (fingerprint, millis_of(seconds)))
    }

    fn entries(&self) -> impl Iterator<Item = (Fingerprint, u32)> + '_ {
        self.zero.map(|seconds| (EMPTY, seconds)).into_iter().chain(
            self.slots
                .iter()
                .filter(|s| s.fingerprint != EMPTY)
                .map(|s| (s.fingerprint, s.seconds)),
        )
    }

    /// Keeps the records whose newest read time (epoch ms, whole seconds) satisfies `keep`, shrinking
    /// the table when it is mostly empty afterwards.
    pub fn retain(&mut self, mut keep: impl FnMut(i64) -> bool) {
        self.zero = self.zero.filter(|&seconds| keep(millis_of(seconds)));
        let kept: Vec<Slot> = self
            .slots
            .iter()
            .filter(|s| s.fingerprint != EMPTY && keep(millis_of(s.seconds)))
            .copied()
            .collect();
        let wanted = if kept.is_empty() { 0 } else { kept.len() * 2 };
        let size = if wanted * 2 < self.slots.len() {
            wanted
        } else {
            self.slots.len()
        };
        self.refill(size, kept);
    }

    /// Moves every entry into a table of at least `size` slots.
    fn rebuild(&mut self, size: usize) {
        let entries: Vec<Slot> = self
            .slots
            .iter()
            .filter(|s| s.fingerprint != EMPTY)
            .copied()
            .collect();
        self.refill(size, entries);
    }

    fn refill(&mut self, size: usize, entries: Vec<Slot>) {
        #[cfg(test)]
        {
            self.rebuilds += 1;
        }
        let size = if size == 0 && entries.is_empty() {
            0
        } else {
            size.max(entries.len() * 4 / 3 + 1)
                .next_multiple_of(SLOT_LINE)
        };
        self.slots = vec![Slot::default(); size].into_boxed_slice();
        self.len = 0;
        self.oldest = entries
            .iter()
            .map(|e| e.seconds)
            .chain(self.zero)
            .min()
            .unwrap_or(u32::MAX);
        for entry in entries {
            if let Some(index) = self.find(entry.fingerprint) {
                if self.slots[index].fingerprint == EMPTY {
                    self.len += 1;
                }
                self.slots[index] = entry;
            }
        }
    }
}

/// Two tables are equal when they hold the same records with the same times, whatever their layout.
impl PartialEq for RecordTable {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .entries()
                .all(|(fingerprint, seconds)| other.get_seconds(fingerprint) == Some(seconds))
    }
}

impl From<Vec<(Fingerprint, u32)>> for RecordTable {
    fn from(entries: Vec<(Fingerprint, u32)>) -> Self {
        let mut table = RecordTable::default();
        for (fingerprint, seconds) in entries {
            let newest = table
                .get_seconds(fingerprint)
                .map_or(seconds, |s| s.max(seconds));
            table.insert_seconds(fingerprint, newest);
        }
        table
    }
}

impl From<RecordTable> for Vec<(Fingerprint, u32)> {
    fn from(table: RecordTable) -> Self {
        let mut entries: Vec<(Fingerprint, u32)> = table.entries().collect();
        // Sorted, so equal tables serialize to equal bytes.
        entries.sort_unstable();
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const SECOND: i64 = 1000;

    #[test]
    fn empty_table_allocates_nothing_and_finds_nothing() {
        let table = RecordTable::default();
        assert_eq!(table.get(42), None);
        assert_eq!(table.heap_bytes(), 0);
    }

    #[test]
    fn a_slot_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 8);
    }

    #[test]
    fn fingerprint_zero_is_a_record_like_any_other() {
        let mut table = RecordTable::default();
        table.insert(0, 5 * SECOND);
        assert_eq!(table.get(0), Some(5 * SECOND));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn times_are_kept_in_whole_seconds_and_saturate_past_u32() {
        let mut table = RecordTable::default();
        table.insert(1, 1_700_000_000_999);
        table.insert(2, -5);
        table.insert(3, 253_402_300_799_000);
        assert_eq!(table.get(1), Some(1_700_000_000_000));
        assert_eq!(table.get(2), Some(0));
        assert_eq!(table.get(3), Some(i64::from(u32::MAX) * SECOND));
    }

    #[test]
    fn the_fingerprint_is_the_high_half_of_the_hash() {
        assert_eq!(fingerprint(0xDEAD_BEEF_0000_0001), 0xDEAD_BEEF);
    }

    #[test]
    fn colliding_slots_probe_onwards() {
        let mut table = RecordTable::default();
        // Small fingerprints: all want slot 0 of a small table.
        for i in 0..5u32 {
            table.insert((i << 16) | 3, i64::from(i) * SECOND);
        }
        for i in 0..5u32 {
            assert_eq!(table.get((i << 16) | 3), Some(i64::from(i) * SECOND));
        }
        assert_eq!(table.get((9 << 16) | 3), None);
    }

    #[test]
    fn a_growing_table_stays_between_half_and_three_quarters_full() {
        let mut table = RecordTable::default();
        for i in 1..=3_000u32 {
            table.insert(i.wrapping_mul(0x9E37_79B9), i64::from(i) * SECOND);
            let (len, slots) = (table.len(), table.slots());
            assert_eq!(slots % SLOT_LINE, 0);
            assert!(len * 4 <= slots * 3, "{len} records in {slots} slots");
            assert!(
                slots <= len * 8 / 5 + SLOT_LINE,
                "{len} records in {slots} slots"
            );
        }
        for i in 1..=3_000u32 {
            assert_eq!(
                table.get(i.wrapping_mul(0x9E37_79B9)),
                Some(i64::from(i) * SECOND)
            );
        }
    }

    #[test]
    fn retain_shrinks_a_mostly_empty_table() {
        let mut table = RecordTable::default();
        for i in 0..10_000u32 {
            table.insert(i.wrapping_mul(0x9E37_79B9), i64::from(i) * SECOND);
        }
        let big = table.slots();
        table.retain(|t| t >= 9_990 * SECOND);
        assert_eq!(table.len(), 10);
        assert!(table.slots() < big / 16, "{} slots left", table.slots());
        table.retain(|_| false);
        assert_eq!((table.len(), table.slots()), (0, 0));
    }

    #[test]
    fn serialized_form_is_the_sorted_entries() {
        let mut a = RecordTable::default();
        let mut b = RecordTable::default();
        for (f, t) in [(7u32, 1i64), (3, 2), (11, 3)] {
            a.insert(f, t * SECOND);
        }
        for (f, t) in [(11u32, 3i64), (7, 1), (3, 2)] {
            b.insert(f, t * SECOND);
        }
        let json = serde_json::to_string(&a).expect("serializes");
        assert_eq!(json, "[[3,2],[7,1],[11,3]]");
        assert_eq!(json, serde_json::to_string(&b).expect("serializes"));
        let back: RecordTable = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, a);
    }

    proptest! {
        /// The table behaves like a map of fingerprint → last inserted time (whole seconds), through
        /// growth and pruning.
        #[test]
        fn behaves_like_a_map(
            ops in proptest::collection::vec((0u32..64, 0i64..1_000_000, any::<bool>()), 1..400),
        ) {
            let mut table = RecordTable::default();
            let mut model: HashMap<u32, i64> = HashMap::new();
            for (key, time, prune) in ops {
                // Spread keys over the high bits too, and make some share low bits.
                let fingerprint = key.wrapping_mul(0x1000_0001) ^ (key & 3);
                let seconds = time - time % SECOND;
                if prune {
                    table.retain(|t| t >= seconds);
                    model.retain(|_, t| *t >= seconds);
                } else {
                    table.insert(fingerprint, time);
                    model.insert(fingerprint, seconds);
                }
                prop_assert_eq!(table.len(), model.len());
                for (&f, &t) in &model {
                    prop_assert_eq!(table.get(f), Some(t));
                }
                // A lower bound of the oldest newest-read, and present exactly when not empty.
                let oldest = model.values().min().copied();
                prop_assert_eq!(table.oldest_ms().is_some(), oldest.is_some());
                if let (Some(bound), Some(oldest)) = (table.oldest_ms(), oldest) {
                    prop_assert!(bound <= oldest, "{} above the oldest {}", bound, oldest);
                }
            }
        }
    }
}
