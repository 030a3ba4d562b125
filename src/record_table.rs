//! The newest read time of each record an account read: the exact half of distinct-record counting.
//!
//! Every sensitive read looks its record up here, and at 100,000 active accounts each account's table is
//! out of cache when its next event comes. A general-purpose map costs two misses per lookup (control
//! bytes, then the entry); this table costs one. Keys are already keyed 64-bit hashes (uniform, and not
//! choosable by whoever names the records), so the hash's low bits pick the slot directly, probing is
//! linear, and an entry is the 16-byte (hash, time) pair itself. Entries leave only in batches
//! ([`RecordTable::retain`], which rebuilds), so there are no tombstones.

use serde::{Deserialize, Serialize};

/// One slot: a record hash (0 = empty) and its newest read time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    hash: u64,
    time_ms: i64,
}

/// Marks an empty slot (the record whose hash is 0 is kept beside the slots).
const EMPTY: u64 = 0;
/// Smallest table allocated.
const MIN_SLOTS: usize = 8;

/// Record hash → newest read time (epoch ms), open addressing at most 3/4 full.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Vec<(u64, i64)>", into = "Vec<(u64, i64)>")]
pub struct RecordTable {
    /// Power-of-two length, or empty before the first insert.
    slots: Box<[Slot]>,
    /// Occupied slots.
    len: usize,
    /// The newest read of the record whose hash is 0, which cannot use a slot.
    zero: Option<i64>,
}

impl RecordTable {
    pub fn len(&self) -> usize {
        self.len + usize::from(self.zero.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots allocated (for the memory estimate).
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }

    /// Hints that `hash` will be looked up soon (see [`crate::prefetch`]).
    pub fn prefetch(&self, hash: u64) {
        if let Some(mask) = self.slots.len().checked_sub(1) {
            if let Some(slot) = self.slots.get(hash as usize & mask) {
                crate::prefetch::value(slot);
            }
        }
    }

    /// Where `hash` is, or the empty slot where it would go (`None` while nothing is allocated).
    fn find(&self, hash: u64) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut index = hash as usize & mask;
        // At most 3/4 full, so an empty slot ends every probe.
        loop {
            let slot = self.slots[index];
            if slot.hash == hash || slot.hash == EMPTY {
                return Some(index);
            }
            index = (index + 1) & mask;
        }
    }

    /// The newest read time of `hash`, if it is in the table.
    pub fn get(&self, hash: u64) -> Option<i64> {
        if hash == EMPTY {
            return self.zero;
        }
        let slot = self.slots[self.find(hash)?];
        (slot.hash == hash).then_some(slot.time_ms)
    }

    /// Sets the newest read time of `hash`.
    pub fn insert(&mut self, hash: u64, time_ms: i64) {
        if hash == EMPTY {
            self.zero = Some(time_ms);
            return;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.rebuild(((self.len + 1) * 2).max(MIN_SLOTS));
        }
        let Some(index) = self.find(hash) else {
            return;
        };
        let slot = &mut self.slots[index];
        if slot.hash == EMPTY {
            self.len += 1;
        }
        *slot = Slot { hash, time_ms };
    }

    /// Every (record hash, newest read time), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, i64)> + '_ {
        self.zero.map(|time| (EMPTY, time)).into_iter().chain(
            self.slots
                .iter()
                .filter(|s| s.hash != EMPTY)
                .map(|s| (s.hash, s.time_ms)),
        )
    }

    /// Keeps the records whose newest read time satisfies `keep`, shrinking the table when it is
    /// mostly empty afterwards.
    pub fn retain(&mut self, mut keep: impl FnMut(i64) -> bool) {
        self.zero = self.zero.filter(|&time| keep(time));
        let kept: Vec<Slot> = self
            .slots
            .iter()
            .filter(|s| s.hash != EMPTY && keep(s.time_ms))
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
            .filter(|s| s.hash != EMPTY)
            .copied()
            .collect();
        self.refill(size, entries);
    }

    fn refill(&mut self, size: usize, entries: Vec<Slot>) {
        let size = if size == 0 && entries.is_empty() {
            0
        } else {
            size.max(entries.len() * 4 / 3 + 1)
                .max(MIN_SLOTS)
                .next_power_of_two()
        };
        self.slots = vec![Slot::default(); size].into_boxed_slice();
        self.len = 0;
        for entry in entries {
            if let Some(index) = self.find(entry.hash) {
                if self.slots[index].hash == EMPTY {
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
                .iter()
                .all(|(hash, time)| other.get(hash) == Some(time))
    }
}

impl From<Vec<(u64, i64)>> for RecordTable {
    fn from(entries: Vec<(u64, i64)>) -> Self {
        let mut table = RecordTable::default();
        for (hash, time_ms) in entries {
            let newest = table.get(hash).map_or(time_ms, |t| t.max(time_ms));
            table.insert(hash, newest);
        }
        table
    }
}

impl From<RecordTable> for Vec<(u64, i64)> {
    fn from(table: RecordTable) -> Self {
        let mut entries: Vec<(u64, i64)> = table.iter().collect();
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

    #[test]
    fn empty_table_allocates_nothing_and_finds_nothing() {
        let table = RecordTable::default();
        assert_eq!(table.get(42), None);
        assert_eq!(table.heap_bytes(), 0);
    }

    #[test]
    fn hash_zero_is_a_record_like_any_other() {
        let mut table = RecordTable::default();
        table.insert(0, 5);
        assert_eq!(table.get(0), Some(5));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn colliding_slots_probe_onwards() {
        let mut table = RecordTable::default();
        // Same low bits: all want slot 3 of a small table.
        for i in 0..5u64 {
            table.insert((i << 32) | 3, i as i64);
        }
        for i in 0..5u64 {
            assert_eq!(table.get((i << 32) | 3), Some(i as i64));
        }
        assert_eq!(table.get((9 << 32) | 3), None);
    }

    #[test]
    fn retain_shrinks_a_mostly_empty_table() {
        let mut table = RecordTable::default();
        for i in 0..10_000u64 {
            table.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), i as i64);
        }
        let big = table.slots();
        table.retain(|t| t >= 9_990);
        assert_eq!(table.len(), 10);
        assert!(table.slots() < big / 16, "{} slots left", table.slots());
        table.retain(|_| false);
        assert_eq!((table.len(), table.slots()), (0, 0));
    }

    #[test]
    fn serialized_form_is_the_sorted_entries() {
        let mut a = RecordTable::default();
        let mut b = RecordTable::default();
        for (h, t) in [(7u64, 1i64), (3, 2), (11, 3)] {
            a.insert(h, t);
        }
        for (h, t) in [(11u64, 3i64), (7, 1), (3, 2)] {
            b.insert(h, t);
        }
        let json = serde_json::to_string(&a).expect("serializes");
        assert_eq!(json, "[[3,2],[7,1],[11,3]]");
        assert_eq!(json, serde_json::to_string(&b).expect("serializes"));
        let back: RecordTable = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, a);
    }

    proptest! {
        /// The table behaves like a map of hash → last inserted time, through growth and pruning.
        #[test]
        fn behaves_like_a_map(
            ops in proptest::collection::vec((0u64..64, 0i64..1_000, any::<bool>()), 1..400),
        ) {
            let mut table = RecordTable::default();
            let mut model: HashMap<u64, i64> = HashMap::new();
            for (key, time, prune) in ops {
                // Spread keys over the high bits too, and make some share low bits.
                let hash = key.wrapping_mul(0x1000_0000_0000_0001) ^ (key & 3);
                if prune {
                    table.retain(|t| t >= time);
                    model.retain(|_, t| *t >= time);
                } else {
                    table.insert(hash, time);
                    model.insert(hash, time);
                }
                prop_assert_eq!(table.len(), model.len());
                for (&h, &t) in &model {
                    prop_assert_eq!(table.get(h), Some(t));
                }
            }
        }
    }
}
