//! Where an organisation's day begins: at its quiet hour, not at UTC midnight.
//!
//! **Why.** Everything the risk weighs is counted per day. An organisation ten hours west of UTC works
//! 17:00-03:00 UTC, and UTC midnight cuts every shift in two: a departing employee's first day at three
//! times normal shows as two half days at two times, and is caught a day late. The day should end when
//! nobody works.
//!
//! **How.** Per input partition, the people at work are counted per UTC hour over 24 hours of event
//! time: distinct accounts, not events, so a probe that polls every minute or a nightly job of a
//! million statements is one person, as it is in the office. Hours with at most one and a half times the
//! quietest hour's people (plus one) are quiet; the day begins at the middle of the longest run of quiet
//! hours (circularly). Twenty-four hours in which every hour is alike (a weekend or a holiday with only
//! the service accounts at work) say nothing about where a working day ends: the count starts again with
//! the next 24 hours, for up to a week, after which the partition keeps UTC midnight. Until the start is
//! learned days begin at UTC midnight; once learned it is fixed for good, so day numbers only grow, and
//! it depends on the partition's ordered stream alone, so replay equals live.
//!
//! An organisation spread over time zones gets the quiet gap between its desks (follow-the-sun support
//! between the Americas' evening and Asia's morning); a shift that straddles even that gap is split as
//! before.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::engine::accounts::PartitionRef;
use crate::engine::partition_time::PartitionTime;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// `PartitionClock::start` while the day start is still being learned.
const LEARNING: i64 = i64::MIN;
/// `PartitionClock::window_ms` before the partition's first trusted event.
const NOT_COUNTING: i64 = i64::MIN;
/// Bits per hour for counting distinct accounts (linear counting): enough to tell a quiet hour from a
/// busy one in an organisation of any size (busy hours may saturate; they are busy either way).
const PEOPLE_BITS: usize = 1024;
const PEOPLE_WORDS: usize = PEOPLE_BITS / 64;
/// How long a partition looks for 24 hours that show a working day before it keeps UTC midnight.
const MAX_LEARNING_MS: i64 = 7 * DAY_MS;
/// One partition's day: when its current 24 hours of counting began, the accounts at work per UTC hour
/// in them, and the day start once fixed. Plain loads and stores, no read-modify-write: a partition's
/// events are processed by one thread, in order (the same discipline as the engine's newest event time).
#[derive(Debug)]
pub struct PartitionClock {
    /// Start of the 24 hours being counted (moves on when they showed no working day); [`NOT_COUNTING`]
    /// until the first trusted event.
    window_ms: AtomicI64,
    /// Per UTC hour, a bitmap of the accounts' hashes.
    people: Box<[AtomicU64]>,
    start: AtomicI64,
    /// The partition's time, which the day start is learned on.
    time: PartitionTime,
}

impl PartitionClock {
    /// A clock for a partition that has just seen its first event; with a configured `fixed` start it
    /// learns nothing (and keeps no bitmaps).
    fn new(fixed: Option<i64>) -> Self {
        let words = if fixed.is_some() {
            0
        } else {
            24 * PEOPLE_WORDS
        };
        PartitionClock {
            window_ms: AtomicI64::new(NOT_COUNTING),
            people: (0..words).map(|_| AtomicU64::new(0)).collect(),
            start: AtomicI64::new(fixed.unwrap_or(LEARNING)),
            time: PartitionTime::default(),
        }
    }

    /// The partition's time ([`PartitionTime::observe`]).
    pub fn time(&self) -> &PartitionTime {
        &self.time
    }

    /// The day start in force at `time_ms` (ms after UTC midnight; 0 while it is being learned),
    /// counting the event's account (`account_hash`, asked only while learning) at its hour. An event
    /// whose time is not `trusted` ([`PartitionTime::observe`]) is not counted.
    pub fn offset(
        &self,
        partition: Option<PartitionRef>,
        time_ms: i64,
        trusted: bool,
        account_hash: impl FnOnce() -> u64,
    ) -> i64 {
        let start = self.start.load(Ordering::Relaxed);
        if start != LEARNING {
            return start;
        }
        if !trusted {
            return 0;
        }
        // Counting begins at the partition's start, once its opening is over.
        let first_ms = self.time.start().unwrap_or(time_ms);
        let mut window = self.window_ms.load(Ordering::Relaxed);
        if window == NOT_COUNTING {
            window = first_ms;
            self.window_ms.store(window, Ordering::Relaxed);
        }
        if time_ms >= window.saturating_add(DAY_MS) {
            let hourly: [u64; 24] = std::array::from_fn(|h| self.people_at(h));
            match quiet_start(&hourly) {
                Some(offset) => {
                    tracing::info!(
                        ?partition,
                        day_starts_at_utc = format!("{:02}:00", offset / HOUR_MS),
                        "day start learned from the people at work per hour over 24 hours"
                    );
                    self.start.store(offset, Ordering::Relaxed);
                    return offset;
                }
                None if time_ms < first_ms.saturating_add(MAX_LEARNING_MS) => {
                    // Every hour alike: a weekend, a holiday. Count the next 24 hours instead.
                    self.people
                        .iter()
                        .for_each(|word| word.store(0, Ordering::Relaxed));
                    self.window_ms.store(time_ms, Ordering::Relaxed);
                }
                None => {
                    tracing::info!(
                        ?partition,
                        "no working day seen in a week: days begin at UTC midnight"
                    );
                    self.start.store(0, Ordering::Relaxed);
                    return 0;
                }
            }
        }
        if time_ms >= self.window_ms.load(Ordering::Relaxed) {
            let hour = (time_ms.rem_euclid(DAY_MS) / HOUR_MS) as usize;
            let bit = (account_hash() % PEOPLE_BITS as u64) as usize;
            if let Some(word) = self.people.get(hour * PEOPLE_WORDS + bit / 64) {
                let set = word.load(Ordering::Relaxed) | (1 << (bit % 64));
                word.store(set, Ordering::Relaxed);
            }
        }
        0
    }

    /// The accounts counted at UTC `hour`: the linear-counting estimate `m·ln(m / zero bits)`.
    fn people_at(&self, hour: usize) -> u64 {
        let words = self
            .people
            .get(hour * PEOPLE_WORDS..(hour + 1) * PEOPLE_WORDS)
            .unwrap_or(&[]);
        let set: u32 = words
            .iter()
            .map(|w| w.load(Ordering::Relaxed).count_ones())
            .sum();
        let zero = (PEOPLE_BITS as f64 - f64::from(set)).max(0.5);
        (PEOPLE_BITS as f64 * (PEOPLE_BITS as f64 / zero).ln()).round() as u64
    }
}

/// The day start and the time of every input partition.
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

    /// `partition`'s trusted time ([`PartitionTime::observe`]), once its opening has set it.
    pub fn time_of(&self, partition: Option<PartitionRef>) -> Option<i64> {
        self.clocks
            .get(&partition)
            .and_then(|clock| clock.time.now())
    }

    /// When `partition` started ([`PartitionTime::start`]), once its opening is over.
    pub fn start_of(&self, partition: Option<PartitionRef>) -> Option<i64> {
        self.clocks
            .get(&partition)
            .and_then(|clock| clock.time.start())
    }

    /// Forgets revoked partitions' clocks: whenever one comes back, its opening sets its time and its
    /// day start is learned again, as on an instance that never owned it.
    pub fn forget(&self, partitions: &[PartitionRef]) {
        for partition in partitions {
            self.clocks.remove(&Some(*partition));
        }
    }

    /// `partition`'s clock, made at its first event.
    pub fn clock(&self, partition: Option<PartitionRef>) -> Arc<PartitionClock> {
        if let Some(clock) = self.clocks.get(&partition) {
            return Arc::clone(&clock);
        }
        Arc::clone(
            &self
                .clocks
                .entry(partition)
                .or_insert_with(|| Arc::new(PartitionClock::new(self.fixed))),
        )
    }
}

/// The start (ms after UTC midnight) of the middle hour of the longest circular run of quiet hours;
/// `None` when every hour is alike (nobody at work, or work round the clock: nothing says where a day
/// ends).
pub fn quiet_start(hourly: &[u64; 24]) -> Option<i64> {
    let least = hourly.iter().copied().min().unwrap_or(0);
    let quiet: Vec<bool> = hourly.iter().map(|&n| n * 2 <= least * 3 + 2).collect();
    if quiet.iter().all(|&q| q) || !quiet.iter().any(|&q| q) {
        return None;
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
    Some(((best_start + best_len / 2) % 24) as i64 * HOUR_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::partition_time::EventTime;

    /// The offset in force at `time_ms` for an event of account number `who`.
    fn offset(clocks: &DayClocks, partition: Option<PartitionRef>, time_ms: i64, who: u64) -> i64 {
        let clock = clocks.clock(partition);
        let trusted = clock.time().observe(time_ms, || who) == EventTime::Trusted;
        clock.offset(partition, time_ms, trusted, || {
            who.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        })
    }

    /// 500 people in each hour from `first` to before `end` (past 24 wraps), over `background`.
    fn shifts(first: usize, end: usize, background: u64) -> [u64; 24] {
        let mut hourly = [background; 24];
        for hour in first..end {
            hourly[hour % 24] += 500;
        }
        hourly
    }

    /// A day from `day_ms`: `people(hour)` accounts at work in each hour, each with several events.
    fn day(clocks: &DayClocks, day_ms: i64, people: impl Fn(i64) -> u64) {
        for hour in 0..24 {
            for who in 0..people(hour) {
                for event in 0..3 {
                    let time = day_ms + hour * HOUR_MS + (who as i64 * 3 + event) * 1000;
                    assert_eq!(offset(clocks, None, time, who), 0, "still learning");
                }
            }
        }
    }

    #[test]
    fn the_day_begins_in_the_middle_of_the_quiet_night() {
        // Shifts 07:00-22:00 UTC and a probe: quiet 22:00-07:00, the day starts at 02:00.
        assert_eq!(quiet_start(&shifts(7, 22, 1)), Some(2 * HOUR_MS));
        // An organisation ten hours west of UTC works 17:00-03:00: its night is 03:00-17:00 UTC.
        assert_eq!(quiet_start(&shifts(17, 27, 1)), Some(10 * HOUR_MS));
        // A night shift of a few people splits the night; the longer part wins.
        let mut hourly = shifts(7, 22, 0);
        hourly[1] += 20;
        assert_eq!(quiet_start(&hourly), Some(4 * HOUR_MS));
    }

    #[test]
    fn a_configured_day_start_holds_from_the_first_event() {
        let clocks = DayClocks::new(Some(14 * HOUR_MS));
        assert_eq!(offset(&clocks, None, 20_000 * DAY_MS + 1, 1), 14 * HOUR_MS);
    }

    #[test]
    fn hours_that_are_all_alike_say_nothing() {
        assert_eq!(quiet_start(&[100; 24]), None);
        assert_eq!(quiet_start(&[0; 24]), None);
        assert_eq!(quiet_start(&[1; 24]), None);
    }

    #[test]
    fn the_start_is_learned_from_24_hours_of_people_then_fixed() {
        let clocks = DayClocks::default();
        let day0 = 20_000 * DAY_MS;
        // 50 people at work 17:00-03:00, one (a probe) otherwise.
        day(&clocks, day0, |hour| {
            if (17..24).contains(&hour) || hour < 3 {
                50
            } else {
                1
            }
        });
        // Quiet 03:00-17:00: the day starts at 10:00, from the first event after 24 hours on.
        assert_eq!(offset(&clocks, None, day0 + DAY_MS, 0), 10 * HOUR_MS);
        assert_eq!(
            offset(&clocks, None, day0 + 5 * DAY_MS + 3, 0),
            10 * HOUR_MS
        );
        // Another partition learns its own.
        let other = Some(PartitionRef {
            topic: 0,
            partition: 1,
        });
        assert_eq!(offset(&clocks, other, day0, 0), 0);
    }

    #[test]
    fn one_busy_account_is_one_person_not_a_working_day() {
        // A weekend: a probe every minute and a nightly job of thousands of events at 02:00. Counted
        // in events that would be a "day" starting in the afternoon; counted in people it is nothing,
        // and the start is learned from the Monday that follows.
        let clocks = DayClocks::default();
        let saturday = 20_000 * DAY_MS;
        for minute in 0..24 * 60 {
            offset(&clocks, None, saturday + minute * 60_000, 0);
        }
        for i in 0..5_000 {
            offset(&clocks, None, saturday + 2 * HOUR_MS + i * 100, 1);
        }
        let monday = saturday + DAY_MS;
        day(&clocks, monday, |hour| {
            if (8..17).contains(&hour) {
                40
            } else {
                1
            }
        });
        // Quiet 17:00-08:00: the day starts at 00:00.
        assert_eq!(offset(&clocks, None, monday + DAY_MS + 1, 0), 0);
        assert_eq!(
            offset(&clocks, None, monday + DAY_MS + HOUR_MS, 0),
            0,
            "fixed"
        );
        // The same Monday shifted ten hours west learns its own night.
        let west = DayClocks::default();
        for minute in 0..24 * 60 {
            offset(&west, None, saturday + minute * 60_000, 0);
        }
        day(&west, monday, |hour| {
            if (18..24).contains(&hour) || hour < 3 {
                40
            } else {
                1
            }
        });
        assert_eq!(offset(&west, None, monday + DAY_MS + 1, 0), 10 * HOUR_MS);
    }

    #[test]
    fn a_week_without_a_working_day_keeps_utc_midnight() {
        let clocks = DayClocks::default();
        let day0 = 20_000 * DAY_MS;
        for minute in 0..8 * 24 * 60 {
            let time = day0 + minute * 60_000;
            assert_eq!(offset(&clocks, None, time, 0), 0);
        }
        assert_eq!(
            clocks.clock(None).start.load(Ordering::Relaxed),
            0,
            "fixed at UTC midnight"
        );
    }
}
