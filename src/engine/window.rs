//! Window state: one account's bucketed sliding event-time sums. Pure data, no clock.
//!
//! A window of length `L` split into `n` buckets of width `w = L / n` keeps `n` counters in a ring. The
//! window ending at time `t` is the sum of the buckets `bucket(t) - n + 1 ..= bucket(t)`: it always holds
//! everything from the last `L - w` and never anything older than `L`, so the error is at most one bucket,
//! and memory is `n` counters whatever the event rate.

use serde::{Deserialize, Serialize};

/// `Ring::head` before the first value. Only an event time of `i64::MIN` ms (292 million years before
/// 1970) in 1 ms buckets has that index; such a window would just start afresh at its next value.
const NO_HEAD: i64 = i64::MIN;

/// Where an added value went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Counted in the window.
    InWindow,
    /// Older than the oldest bucket still kept: not counted.
    TooOld,
}

/// What a bucket holds. Counts of records and events fit `u32` (a bucket saturates at 4.29 billion, far
/// above any threshold) and halve the memory of the rings kept per account; byte counts need `u64` (one
/// export can exceed 4 GiB); [`Pair`] counts two things that always arrive together (records read and
/// read events) in one ring, so updating both finds the slot once. A bucket saturates, and the window's
/// total then grows by exactly what the bucket kept, so expiring the bucket leaves the total exact.
pub trait Bucket: Copy + Default + Eq + std::fmt::Debug {
    /// The window's total (and the value added): wide enough never to saturate.
    type Total: Copy + Default + Eq + std::fmt::Debug;
    /// Adds `value` to the bucket (saturating) and what it kept to `total`.
    fn add(&mut self, value: Self::Total, total: &mut Self::Total);
    /// Takes up to `value` out of the bucket, and the same out of `total`.
    fn take(&mut self, value: Self::Total, total: &mut Self::Total);
    /// Empties the bucket, taking what it held out of `total`.
    fn expire(&mut self, total: &mut Self::Total);
}

/// A single-counter bucket type (`u32`, `u64`) with a `u64` total.
macro_rules! counter_bucket {
    ($t:ty) => {
        impl Bucket for $t {
            type Total = u64;
            fn add(&mut self, value: u64, total: &mut u64) {
                let after =
                    <$t>::try_from(u64::from(*self).saturating_add(value)).unwrap_or(<$t>::MAX);
                *total = total.saturating_add(u64::from(after) - u64::from(*self));
                *self = after;
            }
            fn take(&mut self, value: u64, total: &mut u64) {
                let taken = u64::from(*self).min(value);
                // `taken` is at most the bucket's value, so it converts back without loss.
                *self -= <$t>::try_from(taken).unwrap_or(0);
                *total -= taken;
            }
            fn expire(&mut self, total: &mut u64) {
                *total -= u64::from(*self);
                *self = 0;
            }
        }
    };
}

counter_bucket!(u32);
counter_bucket!(u64);

/// Two `u32` counters per bucket (e.g. records read and read events), with a `[u64; 2]` total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair(pub [u32; 2]);

impl Bucket for Pair {
    type Total = [u64; 2];
    fn add(&mut self, value: [u64; 2], total: &mut [u64; 2]) {
        for ((bucket, value), total) in self.0.iter_mut().zip(value).zip(total) {
            bucket.add(value, total);
        }
    }
    fn take(&mut self, value: [u64; 2], total: &mut [u64; 2]) {
        for ((bucket, value), total) in self.0.iter_mut().zip(value).zip(total) {
            bucket.take(value, total);
        }
    }
    fn expire(&mut self, total: &mut [u64; 2]) {
        for (bucket, total) in self.0.iter_mut().zip(total) {
            bucket.expire(total);
        }
    }
}

/// One window of a [`SlidingSums`] group: its shape, where its ring sits in the group's shared buckets,
/// and its running total. Everything a rule reads about a window is here; adding needs the buckets too
/// ([`RingMut`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ring<T> {
    bucket_ms: i64,
    /// Index (time / bucket_ms) of the newest bucket; [`NO_HEAD`] until the first value (a sentinel
    /// rather than an `Option`: 8 bytes less per window).
    head: i64,
    /// Sum of the ring's buckets, kept incrementally (and exactly: a saturated bucket adds only what it
    /// kept).
    total: T,
    /// The ring's first bucket in the group's shared buckets.
    start: u32,
    /// The ring's number of buckets (at least 1); bucket index `i` lives at `start + i mod len`.
    len: u32,
    /// `head mod len`: the head's slot in the ring.
    head_slot: u32,
}

impl<T: Copy> Ring<T> {
    pub fn length_ms(&self) -> i64 {
        self.bucket_ms * i64::from(self.len)
    }

    pub fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    /// Number of buckets in the ring.
    pub fn buckets(&self) -> usize {
        self.len as usize
    }

    /// Sum of the window ending at the newest time seen.
    pub fn total(&self) -> T {
        self.total
    }

    /// Start (inclusive, epoch ms) of the span the current total covers.
    pub fn window_start_ms(&self) -> Option<i64> {
        let head = self.head()?;
        Some((head - i64::from(self.len) + 1) * self.bucket_ms)
    }

    /// Whether a value at `time_ms` would land in a live bucket (not older than the oldest kept).
    pub fn is_live(&self, time_ms: i64) -> bool {
        let index = self.bucket_of(time_ms);
        self.head()
            .is_none_or(|head| index > head - i64::from(self.len) && index <= head)
    }

    /// Index of the newest bucket, once a value has been seen.
    fn head(&self) -> Option<i64> {
        (self.head != NO_HEAD).then_some(self.head)
    }

    fn bucket_of(&self, time_ms: i64) -> i64 {
        // Most values land in the newest bucket, or (late) in the one before it.
        if let Some(head) = self.head() {
            if let Some(offset) = head
                .checked_mul(self.bucket_ms)
                .and_then(|start| time_ms.checked_sub(start))
            {
                if (0..self.bucket_ms).contains(&offset) {
                    return head;
                }
                if (-self.bucket_ms..0).contains(&offset) {
                    return head - 1;
                }
            }
        }
        time_ms.div_euclid(self.bucket_ms)
    }
}

/// A window with its buckets, for changing it: a sliding sum over event time, with buckets of type `B`.
///
/// Every event updates several windows, so the arithmetic avoids integer division (tens of cycles
/// each): a time in the newest bucket or the one before it is placed by one multiply and compare, and
/// the head's ring slot is kept so that finding any live slot is a subtraction.
#[derive(Debug)]
pub struct RingMut<'a, B: Bucket> {
    ring: &'a mut Ring<B::Total>,
    /// The ring's own buckets (never empty: [`SlidingSums`] checks its layout).
    buckets: &'a mut [B],
}

impl<B: Bucket> std::ops::Deref for RingMut<'_, B> {
    type Target = Ring<B::Total>;
    fn deref(&self) -> &Self::Target {
        self.ring
    }
}

impl<B: Bucket> RingMut<'_, B> {
    /// Ring slot of the live bucket `index` (`head - len < index <= head`).
    fn slot_of(&self, head: i64, index: i64) -> usize {
        let len = self.buckets.len();
        let back = ((head - index) as usize).min(len - 1);
        // Clamped, so a head slot restored from corrupt state cannot index outside the ring.
        let slot = (self.ring.head_slot as usize).min(len - 1);
        if back <= slot {
            slot - back
        } else {
            slot + len - back
        }
    }

    /// Moves the window's end forward to `time_ms`, dropping buckets that fall out. Never moves back.
    pub fn advance(&mut self, time_ms: i64) {
        self.advance_to(self.ring.bucket_of(time_ms));
    }

    /// [`RingMut::advance`] to bucket index `target`.
    fn advance_to(&mut self, target: i64) {
        let len = self.buckets.len();
        let ring = &mut *self.ring;
        let Some(head) = ring.head() else {
            ring.head = target;
            ring.head_slot = target.rem_euclid(len as i64) as u32;
            return;
        };
        if target <= head {
            return;
        }
        ring.head = target;
        let steps = target - head;
        if steps >= len as i64 {
            if ring.total != B::Total::default() {
                self.buckets.fill(B::default());
                ring.total = B::Total::default();
            }
            ring.head_slot = target.rem_euclid(len as i64) as u32;
            return;
        }
        let steps = steps as usize;
        let from = (ring.head_slot as usize).min(len - 1);
        let to = from + steps;
        ring.head_slot = (if to >= len { to - len } else { to }) as u32;
        // An empty window has an all-zero ring: nothing to clear. Most accounts are quiet most of the
        // time, so this skips touching the ring on most of their events.
        if ring.total == B::Total::default() {
            return;
        }
        let mut slot = from;
        for _ in 0..steps {
            slot += 1;
            if slot == len {
                slot = 0;
            }
            self.buckets[slot].expire(&mut ring.total);
        }
    }

    /// Adds `value` at event time `time_ms`. Out-of-order values land in their own bucket while it is kept.
    pub fn add(&mut self, time_ms: i64, value: B::Total) -> Added {
        let index = self.ring.bucket_of(time_ms);
        self.advance_to(index);
        let head = self.ring.head().unwrap_or(index);
        // Buckets head-len+1 ..= head are live; anything older has already been recycled.
        if index <= head - self.buckets.len() as i64 {
            return Added::TooOld;
        }
        if value == B::Total::default() {
            return Added::InWindow;
        }
        let slot = self.slot_of(head, index);
        self.buckets[slot].add(value, &mut self.ring.total);
        Added::InWindow
    }

    /// Moves `value`, added earlier at `from_ms`, to `to_ms` (not earlier than `from_ms`): a re-read
    /// record's newest read moving on. Adds it at `to_ms` when `from_ms` is `None` or no longer live.
    /// Same result as [`RingMut::remove`] then [`RingMut::add`], with each bucket found once.
    pub fn shift(&mut self, from_ms: Option<i64>, to_ms: i64, value: B::Total) -> Added {
        let to = self.ring.bucket_of(to_ms);
        self.advance_to(to);
        let head = self.ring.head().unwrap_or(to);
        let oldest = head - self.buckets.len() as i64 + 1;
        if to < oldest {
            return Added::TooOld;
        }
        if let Some(from) = from_ms.map(|time| self.ring.bucket_of(time)) {
            if from == to {
                return Added::InWindow;
            }
            if from >= oldest && from <= head {
                let slot = self.slot_of(head, from);
                self.buckets[slot].take(value, &mut self.ring.total);
            }
        }
        let slot = self.slot_of(head, to);
        self.buckets[slot].add(value, &mut self.ring.total);
        Added::InWindow
    }

    /// Takes back `value` added earlier at `time_ms`, if its bucket is still live (saturating at zero).
    pub fn remove(&mut self, time_ms: i64, value: B::Total) {
        let Some(head) = self.ring.head() else {
            return;
        };
        let index = self.ring.bucket_of(time_ms);
        if index <= head - self.buckets.len() as i64 || index > head {
            return;
        }
        let slot = self.slot_of(head, index);
        self.buckets[slot].take(value, &mut self.ring.total);
    }
}

/// A group of sliding windows of one bucket type (an account's read windows, say), with every window's
/// ring in one shared allocation sized exactly to the configured buckets.
///
/// Exact sizing matters at a million accounts: rings kept inline at the largest default size (24
/// buckets) left two fifths of an account's read and distinct-record buckets unused. One allocation per
/// group keeps an account's windows on neighbouring cache lines, so one prefetch covers them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    bound(
        serialize = "B: Serialize, B::Total: Serialize",
        deserialize = "B: Deserialize<'de>, B::Total: Deserialize<'de>"
    ),
    try_from = "Unchecked<B>"
)]
pub struct SlidingSums<B: Bucket> {
    rings: Box<[Ring<B::Total>]>,
    /// The rings' buckets back to back, in window order.
    buckets: Box<[B]>,
}

/// Serialized [`SlidingSums`] before its layout is checked (saved state may be corrupt).
#[derive(Deserialize)]
#[serde(bound(deserialize = "B: Deserialize<'de>, B::Total: Deserialize<'de>"))]
struct Unchecked<B: Bucket> {
    rings: Box<[Ring<B::Total>]>,
    buckets: Box<[B]>,
}

/// Saved window state whose rings do not tile its buckets.
#[derive(Debug, thiserror::Error)]
#[error("window {window}: ring does not start where the previous one ends, is empty, or runs past the buckets")]
pub struct LayoutError {
    window: usize,
}

impl<B: Bucket> TryFrom<Unchecked<B>> for SlidingSums<B> {
    type Error = LayoutError;
    fn try_from(unchecked: Unchecked<B>) -> Result<Self, LayoutError> {
        let mut next = 0usize;
        for (window, ring) in unchecked.rings.iter().enumerate() {
            if ring.start as usize != next || ring.len == 0 || ring.bucket_ms <= 0 {
                return Err(LayoutError { window });
            }
            next += ring.len as usize;
        }
        if next != unchecked.buckets.len() {
            return Err(LayoutError {
                window: unchecked.rings.len(),
            });
        }
        Ok(SlidingSums {
            rings: unchecked.rings,
            buckets: unchecked.buckets,
        })
    }
}

impl<B: Bucket> Default for SlidingSums<B> {
    /// No windows (a compacted account's).
    fn default() -> Self {
        SlidingSums {
            rings: Box::default(),
            buckets: Box::default(),
        }
    }
}

impl<B: Bucket> SlidingSums<B> {
    /// One window per `(bucket width ms, bucket count)`, in that order.
    pub fn new(shapes: &[(i64, usize)]) -> Self {
        let mut start = 0u32;
        let rings: Box<[Ring<B::Total>]> = shapes
            .iter()
            .map(|&(bucket_ms, bucket_count)| {
                debug_assert!(bucket_ms > 0 && bucket_count > 0);
                let len = u32::try_from(bucket_count.max(1)).unwrap_or(u32::MAX);
                let ring = Ring {
                    bucket_ms: bucket_ms.max(1),
                    head: NO_HEAD,
                    total: B::Total::default(),
                    start,
                    len,
                    head_slot: 0,
                };
                start = start.saturating_add(len);
                ring
            })
            .collect();
        SlidingSums {
            rings,
            buckets: vec![B::default(); start as usize].into_boxed_slice(),
        }
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// Window `index`, for reading.
    pub fn get(&self, index: usize) -> Option<&Ring<B::Total>> {
        self.rings.get(index)
    }

    /// The windows in order, for reading.
    pub fn iter(&self) -> std::slice::Iter<'_, Ring<B::Total>> {
        self.rings.iter()
    }

    /// Window `index`, for changing.
    pub fn get_mut(&mut self, index: usize) -> Option<RingMut<'_, B>> {
        let ring = self.rings.get_mut(index)?;
        let start = ring.start as usize;
        let buckets = self.buckets.get_mut(start..start + ring.len as usize)?;
        Some(RingMut { ring, buckets })
    }

    /// The windows in order, for changing.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = RingMut<'_, B>> {
        let mut rest: &mut [B] = &mut self.buckets;
        self.rings.iter_mut().map(move |ring| {
            // The rings tile the buckets in order (checked on construction and restore).
            let (buckets, tail) = std::mem::take(&mut rest).split_at_mut(ring.len as usize);
            rest = tail;
            RingMut { ring, buckets }
        })
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.rings) + std::mem::size_of_val(&*self.buckets)
    }

    /// Hints that the windows will be updated soon (see [`crate::engine::prefetch`]).
    pub fn prefetch(&self) {
        crate::engine::prefetch::slice(&self.rings);
        crate::engine::prefetch::slice(&self.buckets);
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod live;
