//! Sliding-window distinct counter: how many different customer records an account read in the window.
//!
//! Windows are bucketed exactly like [`crate::engine::window::SlidingSums`]: `buckets` buckets of `bucket_ms`; the
//! window ending at the newest time covers `bucket(t) - n + 1 ..= bucket(t)`, values older than the oldest
//! live bucket are refused, and the end never moves back.
//!
//! Two phases, because almost every account reads few records and a few read very many:
//!
//! * **Exact** (at most `2^(p-3)` distinct live records, 2,048 at p = 14): a map record hash → newest
//!   bucket it was read in. A record stays counted until its newest read expires, so duplicates and
//!   out-of-order reads are exact. Expiry runs once per bucket step. The map stays at about a quarter of
//!   the HLL phase's memory or less, so small accounts never pay for the sketch.
//! * **Sliding HyperLogLog** (Chabchoub & Hébrail, "Sliding HyperLogLog", the LPFM variant): each of the
//!   `2^p` registers keeps the list of "possible future maxima" — `(bucket, rho)` pairs ordered oldest
//!   first with strictly decreasing rho. An entry is dropped once a read in the same or a newer bucket has a
//!   rho at least as large, because it can never again be the register's maximum. The register's value for
//!   the window is the rho of its first live entry. The estimate uses Ertl's improved estimator ("New
//!   cardinality estimation algorithms for HyperLogLog sketches", 2017), which needs no empirical bias
//!   tables and is unbiased from 0 up, so there is no bumpy switch between linear counting and raw HLL.
//!   Standard error is `1.04 / sqrt(2^p)`: 0.81% at p = 14, so 2% is about 2.5 standard errors.
//!
//! When the window empties (no accepted read in any live bucket) the sketch drops back to the exact phase.
//!
//! Memory bound in the HLL phase, whatever the event rate: `2^p × 8 entries × 2 bytes` = 256 KiB at
//! p = 14 (16 KiB at p = 10, 1 MiB at p = 16). Each entry packs rho (6 bits, at most `65 - p` ≤ 55) and the
//! bucket as a 10-bit stamp relative to a base bucket, which is why the bucket count is capped at 1,024
//! (the same range `config` accepts). Eight entries per register is ample: a list holds at most one entry
//! per live bucket and, with 24 buckets, averages about three and practically never reaches eight; only
//! with ~1,000 buckets and hundreds of reads per register do a few percent of registers hit the cap. On
//! overflow the oldest entry is dropped (it is the next to expire anyway), which can only lower that
//! register until the entry would have expired. While switching phases both structures exist briefly
//! (≈ 326 KiB peak at p = 14); the exact phase itself stays under ≈ 70 KiB at p = 14.
//!
//! Record hashes are keyed-HMAC outputs and so already uniform; they are passed through a cheap bijective
//! bit mixer only so that badly distributed test inputs cannot skew the registers. Being a bijection, the
//! mixer keeps distinct hashes distinct.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::engine::window::Added;

/// Entries kept per register in the HLL phase.
const SLOTS: usize = 8;
/// Bits of an entry holding rho; the other 10 hold the bucket stamp.
const RHO_BITS: u32 = 6;
const RHO_MASK: u16 = (1 << RHO_BITS) - 1;
/// Largest bucket stamp: buckets are stored as `bucket - base` in 10 bits.
const MAX_STAMP: i64 = (1 << (16 - RHO_BITS)) - 1;
/// Bucket counts above this cannot be stamped in 10 bits; `config` already limits windows to it.
pub const MAX_BUCKETS: usize = 1024;
/// Precision range: below 10 the error is too large for the 2% requirement, above 16 the memory is.
pub const MIN_PRECISION: u8 = 10;
pub const MAX_PRECISION: u8 = 16;

/// Distinct record hashes in a sliding event-time window: exact while small, sliding HyperLogLog after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlidingDistinct {
    bucket_ms: i64,
    /// Number of buckets in the window, `n`.
    buckets: usize,
    /// HLL precision `p`: `2^p` registers.
    precision: u8,
    /// Index (time / bucket_ms) of the newest bucket; `None` until the first value.
    head: Option<i64>,
    /// Newest bucket any accepted insert went to: once it expires the window is empty.
    newest_insert: Option<i64>,
    phase: Phase,
    /// Last estimate computed by `estimate()` (or the exact count when the HLL phase began).
    cached: u64,
    /// Accepted inserts since `cached` was computed, for `upper_bound()`.
    inserts_since: u64,
    /// Whether `cached` still equals what `estimate()` would compute (no register or expiry change since).
    fresh: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Phase {
    Exact(ExactSet),
    Hll(SlidingHll),
}

/// Hasher for record hashes: keyed HMAC outputs are uniform already, so one cheap bijective mix is all
/// the hashing they need (it only guards against badly distributed test inputs). Keyed HMAC also means
/// nobody can choose keys to collide, so there is no flooding risk.
#[derive(Default, Clone, Copy)]
pub(crate) struct RecordHasher(u64);

impl Hasher for RecordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u64 keys, which this module never uses; fold them in rather than panic.
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = mix(n);
    }
}

/// Exact phase: mixed record hash → newest bucket index it was read in, all within the live window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct ExactSet {
    newest: HashMap<u64, i64, BuildHasherDefault<RecordHasher>>,
}

/// HLL phase: `2^p` registers of `SLOTS` packed entries each, oldest first, zero-terminated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SlidingHll {
    /// Entry = `stamp << 6 | rho`, stamp = bucket - `base`; 0 means "empty" because rho is always ≥ 1.
    slots: Vec<u16>,
    /// Bucket index that stamp 0 stands for; always ≤ the oldest live bucket.
    base: i64,
}

/// murmur3's 64-bit finalizer: a cheap bijection that spreads every input bit over the whole word.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn stamp_of(entry: u16) -> u16 {
    entry >> RHO_BITS
}

fn rho_of(entry: u16) -> u8 {
    (entry & RHO_MASK) as u8
}

impl SlidingHll {
    /// Empty registers whose stamps start at `base`.
    fn new(precision: u8, base: i64) -> Self {
        SlidingHll {
            slots: vec![0; SLOTS << precision],
            base,
        }
    }

    /// Records `rho` for `register` in `bucket`; `oldest` is the oldest live bucket. Returns whether the
    /// register's list changed (a dominated read changes nothing, so the cached estimate stays valid).
    fn insert(&mut self, register: usize, bucket: i64, rho: u8, oldest: i64) -> bool {
        let stamp = (bucket - self.base) as u16;
        let lo = (oldest - self.base) as u16;
        let reg = &mut self.slots[register * SLOTS..(register + 1) * SLOTS];
        let len = reg.iter().position(|&e| e == 0).unwrap_or(SLOTS);
        // Expired entries form a prefix (stamps ascend); skipping them here purges them on rewrite.
        let start = reg[..len]
            .iter()
            .position(|&e| stamp_of(e) >= lo)
            .unwrap_or(len);
        let live = &reg[start..len];
        // The first entry no older than the new one has the highest rho of all such entries (rho
        // descends), so if it is at least as high the new read can never become the maximum.
        let at_or_after = live
            .iter()
            .position(|&e| stamp_of(e) >= stamp)
            .unwrap_or(live.len());
        if at_or_after < live.len() && rho_of(live[at_or_after]) >= rho {
            return false;
        }
        // Older-or-same-bucket entries with rho ≤ the new one are now useless; they are the tail of the
        // entries up to the new bucket.
        let after = live
            .iter()
            .position(|&e| stamp_of(e) > stamp)
            .unwrap_or(live.len());
        let keep_before = live[..after]
            .iter()
            .position(|&e| rho_of(e) <= rho)
            .unwrap_or(after);
        let mut out = [0u16; SLOTS + 1];
        let mut n = 0;
        for &e in live[..keep_before]
            .iter()
            .chain(std::iter::once(&((stamp << RHO_BITS) | u16::from(rho))))
            .chain(&live[after..])
        {
            out[n] = e;
            n += 1;
        }
        // Over the cap: drop the oldest, the entry closest to expiring anyway.
        let kept = if n > SLOTS { &out[1..n] } else { &out[..n] };
        reg[..kept.len()].copy_from_slice(kept);
        reg[kept.len()..].fill(0);
        true
    }

    /// The register's value for the window: rho of its first live entry (the highest live rho), else 0.
    fn register_max(entries: &[u16], lo: u16) -> u8 {
        entries
            .iter()
            .take_while(|&&e| e != 0)
            .find(|&&e| stamp_of(e) >= lo)
            .map_or(0, |&e| rho_of(e))
    }

    /// Moves `base` up to `new_base` (the oldest live bucket), dropping expired entries, so that stamps of
    /// live buckets fit in 10 bits again. One pass over the registers every `1024 - n + 1` bucket steps.
    fn rebase(&mut self, new_base: i64) {
        let delta = new_base - self.base;
        if delta <= 0 {
            return;
        }
        for reg in self.slots.chunks_exact_mut(SLOTS) {
            let mut n = 0;
            for i in 0..SLOTS {
                let e = reg[i];
                if e == 0 {
                    break;
                }
                if i64::from(stamp_of(e)) >= delta {
                    reg[n] = e - ((delta as u16) << RHO_BITS);
                    n += 1;
                }
            }
            reg[n..].fill(0);
        }
        self.base = new_base;
    }

    /// Ertl's improved estimator over the live register values.
    fn estimate(&self, precision: u8, oldest: i64) -> f64 {
        let lo = (oldest - self.base) as u16;
        let q = 64 - usize::from(precision);
        let mut counts = vec![0u32; q + 2];
        for reg in self.slots.chunks_exact(SLOTS) {
            counts[usize::from(Self::register_max(reg, lo))] += 1;
        }
        ertl_estimate(&counts, precision)
    }
}

/// Ertl (2017), algorithm 6: `counts[k]` is the number of registers holding `k`, for `k` in `0..=q + 1`.
fn ertl_estimate(counts: &[u32], precision: u8) -> f64 {
    let m = (1u64 << precision) as f64;
    let q = counts.len() - 2;
    if f64::from(counts[0]) == m {
        return 0.0;
    }
    let mut z = m * ertl_tau((m - f64::from(counts[q + 1])) / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + f64::from(counts[k]));
    }
    z += m * ertl_sigma(f64::from(counts[0]) / m);
    m * m / (2.0 * std::f64::consts::LN_2) / z
}

/// σ(x) = x + Σ x^(2^k) 2^(k-1): the correction for empty registers (it plays linear counting's role).
fn ertl_sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// τ(x): the correction for saturated registers (all hash bits zero), negligible with 64-bit hashes.
fn ertl_tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

impl SlidingDistinct {
    /// A window of `buckets` buckets of `bucket_ms` ms. `precision` p for the HLL phase (2^p registers);
    /// validate 10..=16, clamp otherwise. `buckets` is clamped to `1..=1024` (what `config` accepts).
    pub fn new(bucket_ms: i64, buckets: usize, precision: u8) -> Self {
        debug_assert!(bucket_ms > 0 && buckets > 0);
        SlidingDistinct {
            bucket_ms: bucket_ms.max(1),
            buckets: buckets.clamp(1, MAX_BUCKETS),
            precision: precision.clamp(MIN_PRECISION, MAX_PRECISION),
            head: None,
            newest_insert: None,
            phase: Phase::Exact(ExactSet::default()),
            cached: 0,
            inserts_since: 0,
            fresh: true,
        }
    }

    /// Distinct live records above which the exact map is replaced by the sketch: `2^(p-3)`, where the
    /// map (≈ 34 bytes per entry at its sparsest) still costs only about a quarter of the sketch.
    fn exact_limit(&self) -> usize {
        1 << (self.precision - 3)
    }

    fn bucket_of(&self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.bucket_ms)
    }

    /// Oldest live bucket for a given newest bucket.
    fn oldest_for(&self, head: i64) -> i64 {
        head.saturating_sub(self.buckets as i64 - 1)
    }

    /// Moves the window's end forward to `time_ms`, expiring buckets that fall out. Never moves back.
    pub fn advance(&mut self, time_ms: i64) {
        let target = self.bucket_of(time_ms);
        let Some(head) = self.head else {
            self.head = Some(target);
            return;
        };
        if target <= head {
            return;
        }
        self.head = Some(target);
        let oldest = self.oldest_for(target);
        if self.newest_insert.is_none_or(|b| b < oldest) {
            // Nothing live: start over in the cheap exact phase (also frees the sketch).
            self.reset_to_empty();
            return;
        }
        match &mut self.phase {
            Phase::Exact(set) => {
                set.newest.retain(|_, bucket| *bucket >= oldest);
                // Give memory back after a burst has expired, without thrashing on small changes.
                if set.newest.capacity() > 64 && set.newest.len() * 4 < set.newest.capacity() {
                    set.newest.shrink_to_fit();
                }
                self.cached = set.newest.len() as u64;
            }
            Phase::Hll(hll) => {
                if target - hll.base > MAX_STAMP {
                    hll.rebase(oldest);
                }
                self.fresh = false;
            }
        }
    }

    fn reset_to_empty(&mut self) {
        self.phase = Phase::Exact(ExactSet::default());
        self.newest_insert = None;
        self.cached = 0;
        self.inserts_since = 0;
        self.fresh = true;
    }

    /// Counts record `hash` read at event time `time_ms`. Out-of-order reads land in their own bucket while
    /// it is live; older ones are refused, as in [`crate::engine::window::RingMut::add`].
    pub fn insert(&mut self, time_ms: i64, hash: u64) -> Added {
        self.advance(time_ms);
        let bucket = self.bucket_of(time_ms);
        let head = self.head.unwrap_or(bucket);
        let oldest = self.oldest_for(head);
        if bucket < oldest {
            return Added::TooOld;
        }
        self.newest_insert = Some(self.newest_insert.map_or(bucket, |b| b.max(bucket)));
        let key = mix(hash);
        let precision = self.precision;
        let exact_limit = self.exact_limit();
        match &mut self.phase {
            Phase::Exact(set) => {
                let newest = set.newest.entry(key).or_insert(bucket);
                *newest = (*newest).max(bucket);
                self.cached = set.newest.len() as u64;
                if set.newest.len() > exact_limit {
                    self.migrate(oldest);
                }
            }
            Phase::Hll(hll) => {
                let (register, rho) = register_and_rho(key, precision);
                self.inserts_since = self.inserts_since.saturating_add(1);
                if hll.insert(register, bucket, rho, oldest) {
                    self.fresh = false;
                }
            }
        }
        Added::InWindow
    }

    /// Replaces the exact map by a sketch holding the same live records. The count at this moment is
    /// exact, so it seeds `cached` and keeps `upper_bound()` a true bound.
    fn migrate(&mut self, oldest: i64) {
        let Phase::Exact(set) = &self.phase else {
            return;
        };
        let mut hll = SlidingHll::new(self.precision, oldest);
        for (&key, &bucket) in &set.newest {
            let (register, rho) = register_and_rho(key, self.precision);
            hll.insert(register, bucket, rho, oldest);
        }
        self.cached = set.newest.len() as u64;
        self.inserts_since = 0;
        self.fresh = false;
        self.phase = Phase::Hll(hll);
    }

    /// Distinct hashes inserted in the live window (exact in the exact phase, HLL estimate after).
    /// O(1) in the exact phase; O(2^p) in the HLL phase unless nothing changed since the last call.
    pub fn estimate(&mut self) -> u64 {
        match &self.phase {
            Phase::Exact(set) => self.cached = set.newest.len() as u64,
            Phase::Hll(hll) => {
                if !self.fresh {
                    let oldest = self.oldest_for(self.head.unwrap_or(0));
                    self.cached = hll.estimate(self.precision, oldest).round() as u64;
                    self.fresh = true;
                }
            }
        }
        self.inserts_since = 0;
        self.cached
    }

    /// Cheap upper bound without a full estimate: last computed estimate + inserts since (for rules that
    /// only need to know whether a threshold could have been crossed). Exact in the exact phase. In the
    /// HLL phase it bounds the true count whenever the last estimate did (expiry only lowers the count),
    /// so it is as trustworthy as the estimate itself.
    pub fn upper_bound(&self) -> u64 {
        match &self.phase {
            Phase::Exact(set) => set.newest.len() as u64,
            Phase::Hll(_) => self.cached.saturating_add(self.inserts_since),
        }
    }

    /// Moves to the sketch phase now, whatever the count (for a caller that decided the window is big).
    pub fn force_sketch_phase(&mut self) {
        if self.is_exact() {
            let oldest = self.oldest_for(self.head.unwrap_or(0));
            self.migrate(oldest);
        }
    }

    /// Whether `estimate()` is an exact count.
    pub fn is_exact(&self) -> bool {
        matches!(self.phase, Phase::Exact(_))
    }

    /// Heap bytes held, for the state-size metric. The exact phase's figure models std's hash table
    /// layout (a power-of-two bucket array at ≤ 7/8 load, one control byte per bucket plus one group).
    pub fn heap_bytes(&self) -> usize {
        match &self.phase {
            Phase::Exact(set) => {
                let capacity = set.newest.capacity();
                if capacity == 0 {
                    return 0;
                }
                let table = if capacity < 8 {
                    (capacity + 1).next_power_of_two()
                } else {
                    (capacity * 8 / 7).next_power_of_two()
                };
                table * (std::mem::size_of::<(u64, i64)>() + 1) + 16
            }
            Phase::Hll(hll) => hll.slots.capacity() * std::mem::size_of::<u16>(),
        }
    }

    /// Start (inclusive, epoch ms) of the span the current count covers.
    pub fn window_start_ms(&self) -> Option<i64> {
        let head = self.head?;
        Some(self.oldest_for(head).saturating_mul(self.bucket_ms))
    }
}

/// Register index from the top `p` bits; rho = position of the first 1 in the remaining `64 - p` bits
/// (1-based), `65 - p` if they are all zero. The guard bit caps the leading-zero count.
fn register_and_rho(key: u64, precision: u8) -> (usize, u8) {
    let register = (key >> (64 - u32::from(precision))) as usize;
    let rest = (key << precision) | (1u64 << (precision - 1));
    (register, rest.leading_zeros() as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashSet;

    const HOUR: i64 = 3_600_000;

    fn relative_error(estimate: u64, truth: u64) -> f64 {
        (estimate as f64 - truth as f64).abs() / truth as f64
    }

    #[test]
    fn counts_small_sets_exactly_ignoring_duplicates() {
        let mut d = SlidingDistinct::new(60_000, 10, 14);
        for i in 0..100u64 {
            for _ in 0..3 {
                assert_eq!(d.insert(1_000 + i as i64, i), Added::InWindow);
            }
        }
        assert!(d.is_exact());
        assert_eq!(d.estimate(), 100);
        assert_eq!(d.upper_bound(), 100);
    }

    #[test]
    fn out_of_order_reads_within_live_buckets_count_once_and_keep_the_newest_bucket() {
        let mut d = SlidingDistinct::new(1_000, 5, 14);
        d.insert(10_000, 1); // head bucket 10, live 6..=10
        assert_eq!(d.insert(6_500, 2), Added::InWindow); // late but live
        assert_eq!(d.insert(9_000, 2), Added::InWindow); // same record, newer bucket
        assert_eq!(d.insert(7_000, 1), Added::InWindow); // same record, older bucket: no change
        assert_eq!(d.estimate(), 2);
        d.advance(13_999); // live 9..=13: record 2 survives through its bucket-9 read
        assert_eq!(d.estimate(), 2);
        d.advance(14_000); // live 10..=14
        assert_eq!(d.estimate(), 1);
    }

    #[test]
    fn forgets_records_as_the_window_slides() {
        let mut d = SlidingDistinct::new(60_000, 10, 14);
        for minute in 0..10i64 {
            for k in 0..10u64 {
                d.insert(minute * 60_000, minute as u64 * 100 + k);
            }
        }
        assert_eq!(d.estimate(), 100);
        d.advance(10 * 60_000); // minute 0 falls out
        assert_eq!(d.estimate(), 90);
        assert_eq!(d.window_start_ms(), Some(60_000));
        d.advance(15 * 60_000 + 59_999);
        assert_eq!(d.estimate(), 40);
        d.advance(1_000 * 60_000);
        assert_eq!(d.estimate(), 0);
        assert_eq!(d.heap_bytes(), 0);
    }

    #[test]
    fn too_old_reads_are_refused_and_not_counted() {
        let mut d = SlidingDistinct::new(1_000, 5, 14);
        d.insert(10_000, 1);
        assert_eq!(d.insert(5_999, 2), Added::TooOld); // bucket 5 = head - 5: gone
        assert_eq!(d.insert(6_000, 3), Added::InWindow);
        assert_eq!(d.estimate(), 2);
        d.advance(5_000); // never moves back
        assert_eq!(d.window_start_ms(), Some(6_000));
    }

    #[test]
    fn too_old_reads_are_refused_in_the_hll_phase_too() {
        let mut d = SlidingDistinct::new(1_000, 5, 10);
        for i in 0..1_000u64 {
            d.insert(10_000, i);
        }
        assert!(!d.is_exact());
        let before = d.estimate();
        for i in 0..1_000u64 {
            assert_eq!(d.insert(5_999, 1_000_000 + i), Added::TooOld);
        }
        assert_eq!(d.estimate(), before);
    }

    #[test]
    fn negative_event_times_use_floor_buckets() {
        let mut d = SlidingDistinct::new(1_000, 2, 14);
        d.insert(-1, 1);
        d.insert(0, 2);
        assert_eq!(d.estimate(), 2);
        d.advance(1_000);
        assert_eq!(d.estimate(), 1);
    }

    #[test]
    fn precision_and_bucket_count_are_clamped() {
        let low = SlidingDistinct::new(1_000, 1, 3);
        assert_eq!((low.precision, low.buckets), (MIN_PRECISION, 1));
        let high = SlidingDistinct::new(1_000, 5_000, 30);
        assert_eq!((high.precision, high.buckets), (MAX_PRECISION, MAX_BUCKETS));
    }

    #[test]
    fn switches_to_the_sketch_past_the_exact_limit_and_back_when_the_window_empties() {
        let mut d = SlidingDistinct::new(HOUR, 24, 14);
        for i in 0..2_048u64 {
            d.insert(0, i);
        }
        assert!(d.is_exact());
        assert_eq!(d.estimate(), 2_048);
        d.insert(0, 2_048);
        assert!(!d.is_exact());
        assert_eq!(d.upper_bound(), 2_049); // seeded from the exact count
        assert!(relative_error(d.estimate(), 2_049) < 0.02);
        d.advance(23 * HOUR); // bucket 0 still live
        assert!(!d.is_exact());
        d.advance(24 * HOUR); // bucket 0 expires: nothing live
        assert!(d.is_exact());
        assert_eq!(d.estimate(), 0);
        d.insert(24 * HOUR, 7);
        assert_eq!(d.estimate(), 1);
    }

    #[test]
    fn upper_bound_is_last_estimate_plus_inserts_since() {
        let mut d = SlidingDistinct::new(HOUR, 24, 14);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..20_000 {
            d.insert(0, rng.gen());
        }
        let estimate = d.estimate();
        assert_eq!(d.upper_bound(), estimate);
        for _ in 0..500 {
            d.insert(1, rng.gen());
        }
        assert_eq!(d.upper_bound(), estimate + 500);
        let next = d.estimate();
        assert!(
            next <= estimate + 500 + estimate / 50,
            "{next} vs {estimate}"
        );
        assert_eq!(d.upper_bound(), next);
    }

    #[test]
    fn estimate_is_within_two_percent_above_ten_thousand_distinct() {
        for seed in 1..=5u64 {
            for n in [10_000u64, 50_000, 200_000] {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut d = SlidingDistinct::new(HOUR, 24, 14);
                for i in 0..n {
                    // Spread over the day, a little out of order.
                    let time = (i as i64 * 24 * HOUR / n as i64 - rng.gen_range(0..HOUR)).max(0);
                    assert_eq!(d.insert(time, rng.gen()), Added::InWindow);
                }
                let estimate = d.estimate();
                let error = relative_error(estimate, n);
                assert!(error < 0.02, "seed {seed} n {n}: {estimate} ({error:.4})");
            }
        }
    }

    #[test]
    fn duplicates_do_not_inflate_the_estimate() {
        let n = 50_000;
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let hashes: Vec<u64> = (0..n).map(|_| rng.gen()).collect();
        let mut once = SlidingDistinct::new(HOUR, 24, 14);
        let mut thrice = SlidingDistinct::new(HOUR, 24, 14);
        for (i, &h) in hashes.iter().enumerate() {
            once.insert(i as i64, h);
        }
        for round in 0..3 {
            for (i, &h) in hashes.iter().enumerate() {
                thrice.insert(round * HOUR + i as i64, h);
            }
        }
        let (a, b) = (once.estimate(), thrice.estimate());
        assert_eq!(
            a, b,
            "a re-read record must not change any register maximum"
        );
        assert!(relative_error(b, n) < 0.02, "{b}");
    }

    #[test]
    fn day_two_estimate_forgets_day_one_once_it_expires() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut d = SlidingDistinct::new(HOUR, 24, 14);
        let day = 24 * HOUR;
        let mut day_two = Vec::new();
        for (start, n) in [(0, 50_000i64), (day, 20_000)] {
            for i in 0..n {
                let time = start + i * day / n;
                let time = time - rng.gen_range(0..60_000).min(time - start); // a little out of order
                assert_eq!(d.insert(time, rng.gen()), Added::InWindow);
                if start == day {
                    day_two.push(time);
                }
            }
        }
        d.advance(2 * day - 1); // buckets 24..=47: day two only
        assert_eq!(d.window_start_ms(), Some(day));
        let estimate = d.estimate();
        assert!(relative_error(estimate, 20_000) < 0.02, "{estimate}");
        d.advance(2 * day + 12 * HOUR - 1); // buckets 36..=59: the second half of day two
        let half = d.estimate();
        let live = day_two.iter().filter(|&&t| t >= day + 12 * HOUR).count() as u64;
        assert!(relative_error(half, live) < 0.02, "{half} vs {live}");
    }

    #[test]
    fn memory_is_bounded_in_both_phases() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut big = SlidingDistinct::new(HOUR, 24, 14);
        for i in 0..200_000i64 {
            big.insert(i * 400, rng.gen());
        }
        assert!(!big.is_exact());
        // 2^14 registers × 8 entries × 2 bytes, whatever the rate.
        assert_eq!(big.heap_bytes(), 256 * 1024);
        assert!(big.heap_bytes() < 300 * 1024);

        let mut small = SlidingDistinct::new(HOUR, 24, 14);
        for i in 0..100u64 {
            small.insert(0, i);
        }
        assert!(small.heap_bytes() < 8 * 1024, "{}", small.heap_bytes());

        // Just below the switch the exact map still costs less than the sketch would.
        let mut edge = SlidingDistinct::new(HOUR, 24, 14);
        for i in 0..2_048u64 {
            edge.insert(0, i);
        }
        assert!(edge.is_exact());
        assert!(edge.heap_bytes() < 128 * 1024, "{}", edge.heap_bytes());
    }

    #[test]
    fn stamps_survive_many_rebases_over_a_long_run() {
        // 1,024 one-second buckets, sliding for 3,000 s: the 10-bit stamps are rebased every bucket step.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut d = SlidingDistinct::new(1_000, 1_024, 12);
        let mut truth: Vec<(i64, u64)> = Vec::new();
        for second in 0..3_000i64 {
            for _ in 0..5 {
                let h: u64 = rng.gen();
                d.insert(second * 1_000, h);
                truth.push((second, h));
            }
        }
        let live = truth.iter().filter(|(s, _)| *s > 2_999 - 1_024).count() as u64;
        let estimate = d.estimate();
        assert!(
            relative_error(estimate, live) < 0.06,
            "{estimate} vs {live}"
        );
    }

    #[test]
    fn round_trips_through_serde() {
        let mut d = SlidingDistinct::new(HOUR, 24, 10);
        for i in 0..50u64 {
            d.insert(i as i64 * 1_000, i);
        }
        let json = serde_json::to_string(&d).expect("serialize");
        let back: SlidingDistinct = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, d);
        for i in 0..5_000u64 {
            d.insert(HOUR + i as i64, i);
        }
        assert!(!d.is_exact());
        let json = serde_json::to_string(&d).expect("serialize");
        let mut back: SlidingDistinct = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, d);
        assert_eq!(back.estimate(), d.estimate());
    }

    /// Brute force: the max rho per register over accepted reads whose bucket is live.
    fn brute_register_max(events: &[(i64, u64)], oldest: i64, precision: u8) -> Vec<u8> {
        let mut max = vec![0u8; 1 << precision];
        for &(_, hash) in events.iter().filter(|(b, _)| *b >= oldest) {
            let (register, rho) = register_and_rho(mix(hash), precision);
            max[register] = max[register].max(rho);
        }
        max
    }

    proptest! {
        /// Exact phase: the count always equals a brute-force distinct count over the live buckets.
        #[test]
        fn exact_phase_matches_brute_force_over_live_buckets(
            bucket_ms in 1i64..5_000,
            bucket_count in 1usize..40,
            events in proptest::collection::vec((0i64..400_000, 0u64..300), 1..300),
        ) {
            let mut d = SlidingDistinct::new(bucket_ms, bucket_count, 14);
            let mut accepted: Vec<(i64, u64)> = Vec::new();
            let mut newest = i64::MIN;
            for (time, hash) in events {
                let outcome = d.insert(time, hash);
                newest = newest.max(time);
                let head = newest.div_euclid(bucket_ms);
                let bucket = time.div_euclid(bucket_ms);
                let expect_kept = bucket > head - bucket_count as i64;
                prop_assert_eq!(outcome == Added::InWindow, expect_kept);
                if expect_kept {
                    accepted.push((bucket, hash));
                }
                let brute: HashSet<u64> = accepted
                    .iter()
                    .filter(|(b, _)| *b > head - bucket_count as i64)
                    .map(|(_, h)| *h)
                    .collect();
                prop_assert!(d.is_exact());
                prop_assert_eq!(d.upper_bound(), brute.len() as u64);
                prop_assert_eq!(d.estimate(), brute.len() as u64);
            }
        }

        /// HLL phase: every register's live maximum equals the brute-force maximum over live reads
        /// (with at most 8 buckets no register list can overflow, so the sketch loses nothing).
        #[test]
        fn sketch_registers_match_brute_force_max_over_live_buckets(
            bucket_count in 1usize..=8,
            events in proptest::collection::vec((0i64..3_000, 0u64..5_000), 1..400),
            checks in proptest::collection::vec(0i64..3_000, 1..5),
        ) {
            let precision = 10;
            let mut d = SlidingDistinct::new(100, bucket_count, precision);
            let mut accepted: Vec<(i64, u64)> = Vec::new();
            for i in 0..200u64 {
                d.insert(0, u64::MAX - i); // force the sketch phase
                accepted.push((0, u64::MAX - i));
            }
            prop_assert!(!d.is_exact());
            let mut events = events;
            events.sort_by_key(|(t, _)| *t / 7); // mostly ordered, some disorder within a bucket
            let mut checks = checks;
            checks.sort_unstable();
            let mut next_check = checks.into_iter().peekable();
            for (time, hash) in events {
                while next_check.peek().is_some_and(|&c| c <= time) {
                    d.advance(next_check.next().expect("peeked"));
                }
                if d.insert(time, hash) == Added::InWindow {
                    accepted.push((time.div_euclid(100), hash));
                }
                let head = d.head.expect("head");
                let oldest = head - bucket_count as i64 + 1;
                let brute = brute_register_max(&accepted, oldest, precision);
                if let Phase::Hll(hll) = &d.phase {
                    let lo = (oldest - hll.base) as u16;
                    let got: Vec<u8> = hll
                        .slots
                        .chunks_exact(SLOTS)
                        .map(|r| SlidingHll::register_max(r, lo))
                        .collect();
                    prop_assert_eq!(got, brute);
                } else {
                    // Emptied and back to exact: only legal if the read just made is the only live one.
                    let live: HashSet<u64> =
                        accepted.iter().filter(|(b, _)| *b >= oldest).map(|(_, h)| *h).collect();
                    prop_assert!(live.len() <= 1);
                    prop_assert_eq!(d.estimate(), live.len() as u64);
                    break;
                }
            }
        }

        /// Each register list is the set of undominated reads, so arrival order does not matter (as long
        /// as no list overflows, impossible with 8 buckets).
        #[test]
        fn sketch_estimate_is_independent_of_insert_order(
            seed in 0u64..1_000,
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let reads: Vec<(i64, u64)> = (0..3_000).map(|_| (rng.gen_range(0..8_000), rng.gen())).collect();
            let mut forward = SlidingDistinct::new(1_000, 8, 10);
            let mut shuffled = SlidingDistinct::new(1_000, 8, 10);
            forward.advance(7_999);
            shuffled.advance(7_999);
            let mut sorted = reads.clone();
            sorted.sort_unstable();
            for &(t, h) in &sorted {
                forward.insert(t, h);
            }
            for &(t, h) in &reads {
                shuffled.insert(t, h);
            }
            prop_assert_eq!(forward.estimate(), shuffled.estimate());
        }
    }
}
