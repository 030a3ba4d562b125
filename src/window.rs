//! Window state: one account's bucketed sliding event-time sums. Pure data, no clock.
//!
//! A window of length `L` split into `n` buckets of width `w = L / n` keeps `n` counters in a ring. The
//! window ending at time `t` is the sum of the buckets `bucket(t) - n + 1 ..= bucket(t)`: it always holds
//! everything from the last `L - w` and never anything older than `L`, so the error is at most one bucket,
//! and memory is `n` counters whatever the event rate.

use serde::{Deserialize, Serialize};

/// Where an added value went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Counted in the window.
    InWindow,
    /// Older than the oldest bucket still kept: not counted.
    TooOld,
}

/// A sliding sum over event time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingSum {
    bucket_ms: i64,
    /// Ring of bucket counters; bucket index `i` lives at `i mod len`.
    buckets: Vec<u64>,
    /// Index (time / bucket_ms) of the newest bucket; `None` until the first value.
    head: Option<i64>,
    /// Sum of all buckets, kept incrementally.
    total: u64,
}

impl SlidingSum {
    /// A window of `bucket_count` buckets of `bucket_ms` milliseconds each.
    pub fn new(bucket_ms: i64, bucket_count: usize) -> Self {
        debug_assert!(bucket_ms > 0 && bucket_count > 0);
        SlidingSum {
            bucket_ms: bucket_ms.max(1),
            buckets: vec![0; bucket_count.max(1)],
            head: None,
            total: 0,
        }
    }

    pub fn length_ms(&self) -> i64 {
        self.bucket_ms * self.buckets.len() as i64
    }

    pub fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    fn bucket_of(&self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.bucket_ms)
    }

    /// Moves the window's end forward to `time_ms`, dropping buckets that fall out. Never moves back.
    pub fn advance(&mut self, time_ms: i64) {
        let target = self.bucket_of(time_ms);
        let Some(head) = self.head else {
            self.head = Some(target);
            return;
        };
        if target <= head {
            return;
        }
        let len = self.buckets.len() as i64;
        if target - head >= len {
            self.buckets.iter_mut().for_each(|b| *b = 0);
            self.total = 0;
        } else {
            for index in head + 1..=target {
                let slot = index.rem_euclid(len) as usize;
                self.total -= self.buckets[slot];
                self.buckets[slot] = 0;
            }
        }
        self.head = Some(target);
    }

    /// Adds `value` at event time `time_ms`. Out-of-order values land in their own bucket while it is kept.
    pub fn add(&mut self, time_ms: i64, value: u64) -> Added {
        self.advance(time_ms);
        let index = self.bucket_of(time_ms);
        let head = self.head.unwrap_or(index);
        let len = self.buckets.len() as i64;
        // Buckets head-len+1 ..= head are live; anything older has already been recycled.
        if index <= head - len {
            return Added::TooOld;
        }
        let slot = index.rem_euclid(len) as usize;
        self.buckets[slot] = self.buckets[slot].saturating_add(value);
        self.total = self.total.saturating_add(value);
        Added::InWindow
    }

    /// Sum of the window ending at the newest time seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Start (inclusive, epoch ms) of the span the current total covers.
    pub fn window_start_ms(&self) -> Option<i64> {
        let head = self.head?;
        Some((head - self.buckets.len() as i64 + 1) * self.bucket_ms)
    }

    /// Heap bytes held, for the state-size metric.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sums_within_the_window_and_forgets_old_buckets() {
        let mut w = SlidingSum::new(60_000, 10); // 10 minutes of 1-minute buckets
        assert_eq!(w.add(0, 5), Added::InWindow);
        assert_eq!(w.add(30_000, 5), Added::InWindow);
        assert_eq!(w.add(9 * 60_000, 1), Added::InWindow);
        assert_eq!(w.total(), 11);
        w.advance(10 * 60_000); // minute 0 falls out
        assert_eq!(w.total(), 1);
        w.advance(100 * 60_000);
        assert_eq!(w.total(), 0);
    }

    #[test]
    fn late_value_within_kept_buckets_counts_older_is_refused() {
        let mut w = SlidingSum::new(1_000, 5);
        w.add(10_000, 1);
        assert_eq!(w.add(6_500, 2), Added::InWindow); // bucket 6 is head-4: still kept
        assert_eq!(w.add(5_999, 3), Added::TooOld); // bucket 5 is head-5: recycled
        assert_eq!(w.total(), 3);
        assert_eq!(w.window_start_ms(), Some(6_000));
    }

    #[test]
    fn negative_event_times_use_floor_buckets() {
        let mut w = SlidingSum::new(1_000, 2);
        w.add(-1, 1);
        w.add(0, 1);
        assert_eq!(w.total(), 2);
        w.advance(1_000);
        assert_eq!(w.total(), 1);
    }

    proptest! {
        /// The incremental total always equals a brute-force sum over the live buckets.
        #[test]
        fn total_matches_brute_force(
            bucket_ms in 1i64..5_000,
            bucket_count in 1usize..40,
            events in proptest::collection::vec((0i64..400_000, 0u64..1_000), 1..300),
        ) {
            let mut w = SlidingSum::new(bucket_ms, bucket_count);
            let mut accepted: Vec<(i64, u64)> = Vec::new();
            let mut newest = i64::MIN;
            for (time, value) in events {
                let outcome = w.add(time, value);
                newest = newest.max(time);
                let head = newest.div_euclid(bucket_ms);
                let bucket = time.div_euclid(bucket_ms);
                let expect_kept = bucket > head - bucket_count as i64;
                prop_assert_eq!(outcome == Added::InWindow, expect_kept);
                if expect_kept {
                    accepted.push((time, value));
                }
                let brute: u64 = accepted
                    .iter()
                    .filter(|(t, _)| t.div_euclid(bucket_ms) > head - bucket_count as i64)
                    .map(|(_, v)| v)
                    .sum();
                prop_assert_eq!(w.total(), brute);
            }
        }

        /// Error bound: the window holds every value from the last `L - w` and none older than `L`.
        #[test]
        fn window_covers_between_length_minus_one_bucket_and_length(
            bucket_ms in 1i64..5_000,
            bucket_count in 1usize..40,
            times in proptest::collection::vec(0i64..400_000, 1..200),
        ) {
            let mut sorted = times.clone();
            sorted.sort_unstable();
            let mut w = SlidingSum::new(bucket_ms, bucket_count);
            for &t in &sorted {
                w.add(t, 1);
            }
            let now = *sorted.last().expect("non-empty");
            let length = bucket_ms * bucket_count as i64;
            let must = sorted.iter().filter(|&&t| t > now - (length - bucket_ms)).count() as u64;
            let may = sorted.iter().filter(|&&t| t > now - length).count() as u64;
            prop_assert!(w.total() >= must && w.total() <= may, "total {} not in [{}, {}]", w.total(), must, may);
        }
    }
}
