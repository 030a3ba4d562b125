//! Distinct sensitive records per account over nested windows (the engine keeps one, the calendar day:
//! an account's daily reads; the structure serves any set of nested windows).
//!
//! One read updates every window, so the windows share what they can. While a window holds few records it
//! counts them exactly from one map, shared by all windows, of record → newest read time: a read looks the
//! record up once, not once per window. Each window keeps a ring of counts by bucket, "records whose
//! newest read falls in this bucket" (plus rows of sources that send no record keys, counted as if each
//! row were a distinct record). A record re-read later moves from its old bucket to the new one. A record
//! whose newest read has slid out of the window has already left the ring with its bucket, so expiry costs
//! nothing per record and the map is pruned only now and then (amortised).
//!
//! A window whose count passes the exact limit (`2^(p-3)`, 2,048 at p = 14) moves its keyed records to its
//! own sliding HyperLogLog ([`crate::engine::sketch::SlidingDistinct`], error within 2% above 10,000) and the map
//! then only needs to cover the windows still counted exactly. Once that window empties it counts exactly
//! again. Memory: the map stays under about twice the exact limit (at most 64 KiB at p = 14, shared by
//! all windows); each sketched window adds at most 256 KiB at p = 14. Both key on the record's 32-bit
//! fingerprint and the map keeps whole seconds ([`crate::engine::record_table`] says what that costs), which is
//! why distinct-record buckets must be whole seconds wide.

use serde::{Deserialize, Serialize};

use crate::engine::record_table::{fingerprint, RecordTable};
use crate::engine::sketch::SlidingDistinct;
use crate::engine::window::{Added, Ring, RingMut, SlidingSums};

/// One of an account's distinct-record windows: exact counts by bucket, and the sketch once the window
/// outgrew exact counting.
#[derive(Debug)]
pub struct DistinctWindow<'a> {
    /// Per live bucket: records counted exactly whose newest read is in it, plus keyless rows.
    counts: RingMut<'a, u32>,
    /// Keyed records once there were too many to count exactly (then `counts` holds keyless rows only).
    sketch: &'a mut Option<Box<SlidingDistinct>>,
}

impl DistinctWindow<'_> {
    /// A cheap upper bound of the distinct count: exact while exact, no sketch estimate otherwise.
    pub fn upper_bound(&self) -> u64 {
        upper_bound(&self.counts, self.sketch)
    }

    /// The distinct count (a full sketch estimate once the window is sketched).
    pub fn estimate(&mut self) -> u64 {
        self.counts
            .total()
            .saturating_add(self.sketch.as_mut().map_or(0, |s| s.estimate()))
    }

    /// Moves the window's end forward to `time_ms` (never back), expiring what falls out: for reading
    /// the count as of a moment after the last read.
    pub fn advance(&mut self, time_ms: i64) {
        self.counts.advance(time_ms);
        if let Some(sketch) = self.sketch.as_mut() {
            sketch.advance(time_ms);
        }
    }

    /// Whether the count is exact (no sketch in use).
    pub fn is_exact(&self) -> bool {
        self.sketch.is_none()
    }

    pub fn length_ms(&self) -> i64 {
        self.counts.length_ms()
    }

    /// Start (inclusive, epoch ms) of the span the count covers.
    pub fn window_start_ms(&self) -> Option<i64> {
        self.counts.window_start_ms()
    }
}

/// See [`DistinctWindow::upper_bound`].
fn upper_bound(counts: &Ring<u64>, sketch: &Option<Box<SlidingDistinct>>) -> u64 {
    counts
        .total()
        .saturating_add(sketch.as_ref().map_or(0, |s| s.upper_bound()))
}

/// The windows still counted from the shared map (no sketch in use).
fn exact_windows<'a>(
    counts: &'a SlidingSums<u32>,
    sketches: &'a [Option<Box<SlidingDistinct>>],
) -> impl Iterator<Item = &'a Ring<u64>> {
    counts
        .iter()
        .zip(sketches)
        .filter(|(_, sketch)| sketch.is_none())
        .map(|(counts, _)| counts)
}

/// Start of the oldest span a window counted exactly still covers: map entries read before it are
/// garbage. `None` when no window is counted exactly (every entry is).
fn oldest_needed(
    counts: &SlidingSums<u32>,
    sketches: &[Option<Box<SlidingDistinct>>],
) -> Option<i64> {
    exact_windows(counts, sketches)
        .filter_map(Ring::window_start_ms)
        .min()
}

/// Records of one event whose table slots are prefetched: bulk reads are not latency-bound anyway.
const PREFETCH_RECORDS: usize = 4;

/// Distinct records of one account in each configured window, in the configured order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Unchecked")]
pub struct DistinctRecords {
    /// Record fingerprint → newest read time (whole seconds), for records whose newest read may still be
    /// live in a window counted exactly. Entries older than every exact window are garbage, pruned in batches.
    newest: RecordTable,
    /// Per window and live bucket: records counted exactly whose newest read is in it, plus keyless rows.
    counts: SlidingSums<u32>,
    /// Per window: its keyed records once there were too many to count exactly (then its counts hold
    /// keyless rows only).
    sketches: Box<[Option<Box<SlidingDistinct>>]>,
    /// HLL precision of the sketches.
    precision: u8,
}

/// Serialized [`DistinctRecords`] before its shape is checked (saved state may be corrupt).
#[derive(Deserialize)]
struct Unchecked {
    newest: RecordTable,
    counts: SlidingSums<u32>,
    sketches: Box<[Option<Box<SlidingDistinct>>]>,
    precision: u8,
}

/// Saved distinct-record state that this code could not use safely.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    #[error("{sketches} sketch slots for {windows} distinct-record windows")]
    SketchSlots { sketches: usize, windows: usize },
    #[error("sketch precision {0} outside the supported range")]
    Precision(u8),
}

impl TryFrom<Unchecked> for DistinctRecords {
    type Error = ShapeError;
    fn try_from(unchecked: Unchecked) -> Result<Self, ShapeError> {
        if unchecked.sketches.len() != unchecked.counts.len() {
            return Err(ShapeError::SketchSlots {
                sketches: unchecked.sketches.len(),
                windows: unchecked.counts.len(),
            });
        }
        let supported = crate::engine::sketch::MIN_PRECISION..=crate::engine::sketch::MAX_PRECISION;
        if !supported.contains(&unchecked.precision) {
            return Err(ShapeError::Precision(unchecked.precision));
        }
        Ok(DistinctRecords {
            newest: unchecked.newest,
            counts: unchecked.counts,
            sketches: unchecked.sketches,
            precision: unchecked.precision,
        })
    }
}

impl DistinctRecords {
    /// `shapes`: (bucket width ms, bucket count) per window.
    pub fn new(shapes: &[(i64, usize)], precision: u8) -> Self {
        DistinctRecords {
            newest: RecordTable::default(),
            counts: SlidingSums::new(shapes),
            sketches: shapes.iter().map(|_| None).collect(),
            precision: precision.clamp(
                crate::engine::sketch::MIN_PRECISION,
                crate::engine::sketch::MAX_PRECISION,
            ),
        }
    }

    /// Records above which a window is sketched: where the shared map still costs a fraction of a sketch.
    fn exact_limit(&self) -> u64 {
        1 << (self.precision - 3)
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Window `index` (same order as the layout).
    pub fn get_mut(&mut self, index: usize) -> Option<DistinctWindow<'_>> {
        Some(DistinctWindow {
            counts: self.counts.get_mut(index)?,
            sketch: self.sketches.get_mut(index)?,
        })
    }

    /// The calendar-day window (one bucket, 00:00-24:00 UTC): the engine's layout always ends with it
    /// (`engine::layout_of`), after the configured windows. `None` once the account is compacted.
    pub fn day_window_mut(&mut self) -> Option<DistinctWindow<'_>> {
        let last = self.len().checked_sub(1)?;
        self.get_mut(last)
    }

    /// [`DistinctWindow::upper_bound`] of the calendar-day window, read only (see
    /// [`DistinctRecords::day_window_mut`]).
    pub fn day_upper_bound(&self) -> Option<u64> {
        let last = self.len().checked_sub(1)?;
        Some(upper_bound(
            self.counts.get(last)?,
            self.sketches.get(last)?,
        ))
    }

    /// Hints that reads of `hashes` will be counted soon (see [`crate::engine::prefetch`]): the window rings
    /// and the records' table slots.
    pub fn prefetch(&self, hashes: &[u64]) {
        self.counts.prefetch();
        for &hash in hashes.iter().take(PREFETCH_RECORDS) {
            self.newest.prefetch(fingerprint(hash));
        }
    }

    /// Counts a read of the record with keyed hash `hash` at `time_ms` in every window that still keeps
    /// that time (a window refuses reads older than its oldest bucket, as [`RingMut::add`] does).
    ///
    /// Only the record's [`fingerprint`] is kept, in the table and in the sketches alike, so a record
    /// moved from the table to a sketch is the same record there as its next read.
    pub fn insert(&mut self, time_ms: i64, hash: u64) {
        let fingerprint = fingerprint(hash);
        let key = u64::from(fingerprint);
        let previous = self.newest.get(fingerprint);
        let newest = previous.map_or(time_ms, |p| p.max(time_ms));
        let limit = self.exact_limit();
        let mut keep = false;
        for index in 0..self.len() {
            let Some(DistinctWindow { mut counts, sketch }) = self.get_mut(index) else {
                continue;
            };
            if let Some(sketch_in_use) = sketch {
                counts.advance(time_ms);
                sketch_in_use.advance(time_ms);
                if !sketch_in_use.is_exact() {
                    sketch_in_use.insert(time_ms, key);
                    continue;
                }
                // The sketch emptied: no keyed read is live in this window, so the shared map (which
                // then holds nothing inside it either) can count it exactly again.
                *sketch = None;
            }
            let counted = counts.shift(previous, newest, 1) == Added::InWindow;
            keep |= counted;
            if counted && counts.total() > limit {
                self.sketch_window(index);
            }
        }
        if keep {
            let (counts, sketches) = (&self.counts, &self.sketches);
            self.newest
                .insert_dropping_expired(fingerprint, newest, || oldest_needed(counts, sketches));
            self.prune_if_bloated();
        }
    }

    /// Counts `rows` of a source without record keys, each row as a distinct record.
    pub fn add_keyless(&mut self, time_ms: i64, rows: u64) {
        for (mut counts, sketch) in self.counts.iter_mut().zip(self.sketches.iter_mut()) {
            if let Some(sketch) = sketch {
                sketch.advance(time_ms);
            }
            counts.add(time_ms, rows);
        }
    }

    /// Moves window `index`'s exactly counted records into a sketch of its own.
    fn sketch_window(&mut self, index: usize) {
        let (Some(mut counts), Some(slot)) =
            (self.counts.get_mut(index), self.sketches.get_mut(index))
        else {
            return;
        };
        let mut sketch = SlidingDistinct::new(counts.bucket_ms(), counts.buckets(), self.precision);
        if let Some(start) = counts.window_start_ms() {
            // Same end as the ring, so the sketch accepts exactly the records the ring holds.
            sketch.advance(start + counts.length_ms() - 1);
        }
        for (fingerprint, at) in self.newest.iter() {
            if counts.is_live(at) {
                sketch.insert(at, u64::from(fingerprint));
                counts.remove(at, 1);
            }
        }
        sketch.force_sketch_phase();
        *slot = Some(Box::new(sketch));
        self.prune();
    }

    /// Prunes the map once garbage (records expired from every exact window) could dominate it.
    fn prune_if_bloated(&mut self) {
        let live_bound = exact_windows(&self.counts, &self.sketches)
            .map(Ring::total)
            .max()
            .unwrap_or(0);
        if self.newest.len() as u64 > 2 * live_bound + 64 {
            self.prune();
        }
    }

    /// Drops map entries no window counted exactly can still see.
    fn prune(&mut self) {
        match oldest_needed(&self.counts, &self.sketches) {
            None => self.newest = RecordTable::default(),
            Some(start) => self.newest.retain(|at| at >= start),
        }
    }

    /// Heap bytes of the exact map and the sketches (bounded separately from the rest of the state).
    pub fn sketch_bytes(&self) -> usize {
        let map = self.newest.heap_bytes();
        map + self
            .sketches
            .iter()
            .flatten()
            .map(|s| std::mem::size_of::<SlidingDistinct>() + s.heap_bytes())
            .sum::<usize>()
    }

    /// Heap bytes of the rings (part of the per-account state proper).
    pub fn ring_bytes(&self) -> usize {
        self.counts.heap_bytes() + std::mem::size_of_val(&*self.sketches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::window::live::LiveBuckets;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashMap as StdMap;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    /// A record hash as the keyed hasher makes them: uniform in all 64 bits (the table and sketches key
    /// on the high half, which small test numbers would leave all zero).
    fn record(k: u64) -> u64 {
        k.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// 1h of 5-minute buckets, 24h of hours, 7d of days: the default windows.
    fn default_windows() -> DistinctRecords {
        DistinctRecords::new(&[(5 * MINUTE, 12), (HOUR, 24), (24 * HOUR, 7)], 14)
    }

    /// What a window should count: records whose newest accepted read is in a live bucket.
    fn brute_force(reads: &[(i64, u64)], window: &LiveBuckets) -> u64 {
        let mut newest: StdMap<u64, i64> = StdMap::new();
        for &(t, k) in reads {
            let e = newest.entry(k).or_insert(t);
            *e = (*e).max(t);
        }
        newest.values().filter(|&&t| window.live(t)).count() as u64
    }

    #[test]
    fn one_read_counts_in_every_window_and_rereads_do_not() {
        let mut d = default_windows();
        for _ in 0..3 {
            d.insert(HOUR, record(42));
        }
        d.insert(HOUR + MINUTE, record(7));
        for index in 0..3 {
            assert_eq!(d.get_mut(index).map(|mut w| w.estimate()), Some(2));
        }
    }

    #[test]
    fn records_leave_each_window_on_its_own_schedule() {
        let mut d = default_windows();
        d.insert(0, record(1));
        d.insert(2 * HOUR, record(2)); // record 1 has left the 1h window, not the 24h or 7d ones
        let counts: Vec<u64> = (0..3)
            .map(|i| d.get_mut(i).map_or(0, |mut w| w.estimate()))
            .collect();
        assert_eq!(counts, vec![1, 2, 2]);
        d.insert(2 * HOUR + MINUTE, record(1)); // re-read: back in the 1h window, still once in the others
        let counts: Vec<u64> = (0..3)
            .map(|i| d.get_mut(i).map_or(0, |mut w| w.estimate()))
            .collect();
        assert_eq!(counts, vec![2, 2, 2]);
        d.insert(30 * HOUR, record(3));
        let counts: Vec<u64> = (0..3)
            .map(|i| d.get_mut(i).map_or(0, |mut w| w.estimate()))
            .collect();
        assert_eq!(counts, vec![1, 1, 3]);
    }

    #[test]
    fn keyless_rows_add_to_every_window_and_expire() {
        let mut d = default_windows();
        d.insert(0, record(1));
        d.add_keyless(MINUTE, 100);
        assert_eq!(d.get_mut(1).map(|mut w| w.estimate()), Some(101));
        d.add_keyless(3 * HOUR, 0);
        assert_eq!(d.get_mut(0).map(|mut w| w.estimate()), Some(0));
        assert_eq!(d.get_mut(2).map(|mut w| w.estimate()), Some(101));
    }

    #[test]
    fn a_big_window_is_sketched_within_two_percent_and_small_ones_stay_exact() {
        let mut d = default_windows();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // 3,000 records a day for 6 days: the 7d window passes 2,048 and is sketched; the last hour holds
        // ~120, counted exactly.
        let mut time = 0;
        let mut times = Vec::new();
        for _ in 0..18_000 {
            time += 28_800; // 8 hours / 1,000 reads
            d.insert(time, rng.gen());
            times.push(time);
        }
        let head = time / (5 * MINUTE);
        let last_hour = times
            .iter()
            .filter(|t| *t / (5 * MINUTE) > head - 12)
            .count() as u64;
        let mut week = d.get_mut(2).expect("7d");
        assert!(!week.is_exact());
        let estimate = week.estimate() as f64;
        assert!(
            (estimate - 18_000.0).abs() / 18_000.0 < 0.02,
            "7d estimate {estimate}"
        );
        assert!(d.get_mut(0).is_some_and(|w| w.is_exact()));
        assert_eq!(d.get_mut(0).map(|mut w| w.estimate()), Some(last_hour));
        assert!(
            !d.get_mut(1).is_some_and(|w| w.is_exact()),
            "3,000 a day: the 24h window too"
        );
        assert!(
            d.newest.len() as u64 <= 2 * last_hour + 64,
            "map pruned to what the 1h window needs: {} entries",
            d.newest.len()
        );
        assert!(d.sketch_bytes() < 2 * (260 << 10) + (16 << 10));
    }

    #[test]
    fn saved_state_round_trips_and_a_damaged_shape_is_refused() {
        let mut d = default_windows();
        for k in 0..50u64 {
            d.insert(k as i64 * MINUTE, record(k));
        }
        let json = serde_json::to_string(&d).expect("serializes");
        let back: DistinctRecords = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, d);
        let mut value: serde_json::Value = serde_json::from_str(&json).expect("json");
        value["sketches"].as_array_mut().expect("sketches").pop();
        let error = serde_json::from_value::<DistinctRecords>(value).expect_err("refused");
        assert!(error.to_string().contains("sketch slots"), "{error}");
        let mut value: serde_json::Value = serde_json::from_str(&json).expect("json");
        value["precision"] = 2.into();
        let error = serde_json::from_value::<DistinctRecords>(value).expect_err("refused");
        assert!(error.to_string().contains("precision 2"), "{error}");
    }

    #[test]
    fn a_steady_reader_rebuilds_its_table_rarely() {
        // One new record every 3 s through a 1-hour window of minutes: about 1,200 live records, one
        // expiring for each new one, for five hours.
        let mut d = DistinctRecords::new(&[(MINUTE, 60)], 14);
        let reads = 5 * 1_200;
        for k in 0..reads {
            d.insert(k as i64 * 3_000, record(k));
        }
        let live = d.get_mut(0).map(|mut w| w.estimate());
        assert_eq!(live, Some(1_200));
        // Each rebuild is paid for by at least a sixteenth of the table's slots in new records (pruning
        // whenever the table was full: 442 rebuilds, one every 14 records).
        let rebuilds = d.newest.rebuilds();
        assert!(
            (rebuilds as u64) < reads / 60,
            "{rebuilds} rebuilds for {reads} reads"
        );
        assert!(d.newest.slots() <= 2 * 1_200, "{} slots", d.newest.slots());
    }

    #[test]
    fn a_sketched_window_counts_exactly_again_once_empty() {
        let mut d = DistinctRecords::new(&[(HOUR, 2)], 10); // limit 128
        for k in 0..200u64 {
            d.insert(k as i64, record(k));
        }
        assert!(!d.get_mut(0).is_some_and(|w| w.is_exact()));
        d.insert(10 * HOUR, record(1));
        assert!(d.get_mut(0).is_some_and(|w| w.is_exact()));
        assert_eq!(d.get_mut(0).map(|mut w| w.estimate()), Some(1));
    }

    proptest! {
        /// Exact windows always equal a brute-force count of records by newest read, out-of-order reads
        /// and re-reads included.
        #[test]
        fn exact_counts_match_brute_force(
            reads in proptest::collection::vec((0i64..20 * HOUR, 0u64..60), 1..300),
        ) {
            let shapes = [(5 * MINUTE, 12usize), (HOUR, 24), (6 * HOUR, 4)];
            let mut d = DistinctRecords::new(&shapes, 14);
            let mut accepted: Vec<Vec<(i64, u64)>> = vec![Vec::new(); shapes.len()];
            let mut live: Vec<LiveBuckets> =
                shapes.iter().map(|&(bucket_ms, buckets)| LiveBuckets::new(bucket_ms, buckets)).collect();
            for &(t, k) in &reads {
                for (i, window) in live.iter_mut().enumerate() {
                    if window.see(t) {
                        accepted[i].push((t, k));
                    }
                }
                d.insert(t, record(k));
                for (i, window) in live.iter().enumerate() {
                    let expected = brute_force(&accepted[i], window);
                    prop_assert_eq!(d.get_mut(i).map(|mut w| w.estimate()), Some(expected), "window {}", i);
                }
            }
        }
    }
}
