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
mod tests;
