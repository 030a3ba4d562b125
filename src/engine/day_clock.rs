//! Where an organisation's day begins: at its quiet hour, not at UTC midnight.
//!
//! **Why.** Everything the risk weighs is counted per day. An organisation ten hours west of UTC works
//! 17:00-03:00 UTC, and UTC midnight cuts every shift in two: a departing employee's first day at three
//! times normal shows as two half days at two times, and is caught a day late. The day should end when
//! nobody works.
//!
//! **How.** Per input partition, the events of its first 24 hours of event time are counted per UTC hour.
//! Hours with at most one and a half times the quietest hour's count (plus one: a probe or a sync job
//! runs around the clock) are quiet; the day begins at the middle of the longest run of quiet hours
//! (circularly). A partition whose every hour is alike keeps UTC midnight. The start is fixed for good
//! once those 24 hours have passed (the learning period is still running then), so day numbers only
//! grow, and it depends on the partition's ordered stream alone, so replay equals live.
//!
//! An organisation spread over time zones gets the quiet gap between its desks (follow-the-sun support
//! between the Americas' evening and Asia's morning); a shift that straddles even that gap is split as
//! before.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::engine::accounts::PartitionRef;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// `PartitionClock::start` while the day start is still being learned.
const LEARNING: i64 = i64::MIN;

/// One partition's day: its first event, the events per UTC hour of its first 24 hours, and the day
/// start once fixed. Plain loads and stores, no read-modify-write: a partition's events are processed
/// by one thread, in order (the same discipline as the engine's newest event time).
#[derive(Debug)]
pub struct PartitionClock {
    first_ms: i64,
    hourly: [AtomicU64; 24],
    start: AtomicI64,
}

impl PartitionClock {
    fn new(first_ms: i64) -> Self {
        PartitionClock {
            first_ms,
            hourly: std::array::from_fn(|_| AtomicU64::new(0)),
            start: AtomicI64::new(LEARNING),
        }
    }

    /// The day start in force at `time_ms` (ms after UTC midnight; 0 while it is being learned),
    /// counting the event while the partition's first 24 hours last.
    pub fn offset(&self, partition: Option<PartitionRef>, time_ms: i64) -> i64 {
        let start = self.start.load(Ordering::Relaxed);
        if start != LEARNING {
            return start;
        }
        if time_ms >= self.first_ms.saturating_add(DAY_MS) {
            let hourly: [u64; 24] = std::array::from_fn(|h| self.hourly[h].load(Ordering::Relaxed));
            let offset = quiet_start(&hourly);
            tracing::info!(
                ?partition,
                day_starts_at_utc = format!("{:02}:00", offset / HOUR_MS),
                "day start learned from the partition's first 24 hours"
            );
            self.start.store(offset, Ordering::Relaxed);
            return offset;
        }
        if time_ms >= self.first_ms {
            let hour = (time_ms.rem_euclid(DAY_MS) / HOUR_MS) as usize;
            if let Some(count) = self.hourly.get(hour) {
                count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
        }
        0
    }
}

/// The day start of every input partition.
#[derive(Debug, Default)]
pub struct DayClocks {
    clocks: DashMap<Option<PartitionRef>, Arc<PartitionClock>, ahash::RandomState>,
    /// `detection.day_start` when configured: every partition's day starts there from its first event.
    fixed: Option<i64>,
}

impl DayClocks {
    /// Clocks that learn each partition's day start (`None`), or start every day at `fixed` ms after UTC
    /// midnight.
    pub fn new(fixed: Option<i64>) -> Self {
        DayClocks {
            clocks: DashMap::default(),
            fixed: fixed.map(|ms| ms.rem_euclid(DAY_MS)),
        }
    }

    /// The configured day start, if any.
    pub fn fixed(&self) -> Option<i64> {
        self.fixed
    }

    /// `partition`'s clock, started at `time_ms` if this is its first event.
    pub fn clock(&self, partition: Option<PartitionRef>, time_ms: i64) -> Arc<PartitionClock> {
        if let Some(clock) = self.clocks.get(&partition) {
            return Arc::clone(&clock);
        }
        Arc::clone(&self.clocks.entry(partition).or_insert_with(|| {
            let clock = PartitionClock::new(time_ms);
            if let Some(start) = self.fixed {
                clock.start.store(start, Ordering::Relaxed);
            }
            Arc::new(clock)
        }))
    }
}

/// The start (ms after UTC midnight) of the middle hour of the longest circular run of quiet hours; 0
/// when every hour is quiet (traffic round the clock says nothing about where a day ends).
pub fn quiet_start(hourly: &[u64; 24]) -> i64 {
    let least = hourly.iter().copied().min().unwrap_or(0);
    let quiet: Vec<bool> = hourly.iter().map(|&n| n * 2 <= least * 3 + 2).collect();
    if quiet.iter().all(|&q| q) || !quiet.iter().any(|&q| q) {
        return 0;
    }
    // Longest circular run: start scanning just after a busy hour, so no run wraps past the scan.
    let busy = quiet.iter().position(|&q| !q).unwrap_or(0);
    let (mut best_start, mut best_len, mut run_start, mut run_len) =
        (0usize, 0usize, 0usize, 0usize);
    for step in 1..=24 {
        let hour = (busy + step) % 24;
        if quiet[hour] {
            if run_len == 0 {
                run_start = hour;
            }
            run_len += 1;
            if run_len > best_len {
                (best_start, best_len) = (run_start, run_len);
            }
        } else {
            run_len = 0;
        }
    }
    ((best_start + best_len / 2) % 24) as i64 * HOUR_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(clocks: &DayClocks, partition: Option<PartitionRef>, time_ms: i64) -> i64 {
        clocks.clock(partition, time_ms).offset(partition, time_ms)
    }

    /// 500 events in each hour from `first` to before `end` (past 24 wraps), over `background`.
    fn shifts(first: usize, end: usize, background: u64) -> [u64; 24] {
        let mut hourly = [background; 24];
        for hour in first..end {
            hourly[hour % 24] += 500;
        }
        hourly
    }

    #[test]
    fn the_day_begins_in_the_middle_of_the_quiet_night() {
        // Shifts 07:00-22:00 UTC and a probe every minute: quiet 22:00-07:00, the day starts at 02:00.
        assert_eq!(quiet_start(&shifts(7, 22, 60)), 2 * HOUR_MS);
        // An organisation ten hours west of UTC works 17:00-03:00: its night is 03:00-17:00 UTC.
        assert_eq!(quiet_start(&shifts(17, 27, 60)), 10 * HOUR_MS);
        // A nightly job's burst splits the night; the longer part wins.
        let mut hourly = shifts(7, 22, 0);
        hourly[1] += 10_000;
        assert_eq!(quiet_start(&hourly), 4 * HOUR_MS);
    }

    #[test]
    fn a_configured_day_start_holds_from_the_first_event() {
        let clocks = DayClocks::new(Some(14 * HOUR_MS));
        assert_eq!(offset(&clocks, None, 20_000 * DAY_MS + 1), 14 * HOUR_MS);
    }

    #[test]
    fn traffic_round_the_clock_keeps_utc_midnight() {
        assert_eq!(quiet_start(&[100; 24]), 0);
        assert_eq!(quiet_start(&[0; 24]), 0);
    }

    #[test]
    fn the_start_is_learned_from_the_first_24_hours_then_fixed() {
        let clocks = DayClocks::default();
        let day0 = 20_000 * DAY_MS;
        for hour in 0..24 {
            let events = if (17..24).contains(&hour) || hour < 3 {
                50
            } else {
                1
            };
            for i in 0..events {
                assert_eq!(offset(&clocks, None, day0 + hour * HOUR_MS + i * 1000), 0);
            }
        }
        // Quiet 03:00-17:00: the day starts at 10:00, from the first event after 24 hours on.
        assert_eq!(offset(&clocks, None, day0 + DAY_MS), 10 * HOUR_MS);
        assert_eq!(offset(&clocks, None, day0 + 5 * DAY_MS + 3), 10 * HOUR_MS);
        // Another partition learns its own.
        assert_eq!(
            offset(
                &clocks,
                Some(PartitionRef {
                    topic: 0,
                    partition: 1
                }),
                day0
            ),
            0
        );
    }
}
