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

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::engine::accounts::PartitionRef;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// `PartitionClock::start` while the day start is still being learned.
const LEARNING: i64 = i64::MIN;
/// `PartitionClock::now_ms` when the partition's next event sets its time.
const UNSET: i64 = i64::MIN;
/// Bits per hour for counting distinct accounts (linear counting): enough to tell a quiet hour from a
/// busy one in an organisation of any size (busy hours may saturate; they are busy either way).
const PEOPLE_BITS: usize = 1024;
const PEOPLE_WORDS: usize = PEOPLE_BITS / 64;
/// How long a partition looks for 24 hours that show a working day before it keeps UTC midnight.
const MAX_LEARNING_MS: i64 = 7 * DAY_MS;
/// How far past the partition's time an event may run and still be trusted at once.
const TRUSTED_STEP_MS: i64 = HOUR_MS;
/// Events in a row running further ahead than [`TRUSTED_STEP_MS`] that move the partition's time to them.
pub(crate) const CORROBORATING_EVENTS: u32 = 8;
/// How far past the partition's time an unconfirmed event may run before it cannot be placed at all:
/// the default `state.idle_timeout`. A partition silent for longer has had every account dropped as
/// idle, so the few events lost before a run confirms its time are lost from a fresh start; a clock that
/// jumped years ahead (a reset real-time clock, a wrong year) is far beyond it.
pub const IMPLAUSIBLE_AHEAD_MS: i64 = 35 * DAY_MS;

/// What an event's time is to its partition ([`PartitionClock::observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// At most an hour past the partition's time, or confirmed by a run of events: it moves the time.
    Trusted,
    /// Further ahead and not yet confirmed: processed for its account, measuring nothing kept for others.
    Unconfirmed,
    /// Unconfirmed and more than [`IMPLAUSIBLE_AHEAD_MS`] ahead of the partition's time and of the event
    /// before it: a clock error rather than a partition resuming after a silence; placing it would move
    /// its account's watermark and day that far ahead.
    Implausible,
}

/// One partition's day: when its current 24 hours of counting began, the accounts at work per UTC hour
/// in them, and the day start once fixed. Plain loads and stores, no read-modify-write: a partition's
/// events are processed by one thread, in order (the same discipline as the engine's newest event time).
#[derive(Debug)]
pub struct PartitionClock {
    first_ms: i64,
    /// Start of the 24 hours being counted (moves on when they showed no working day).
    window_ms: AtomicI64,
    /// Per UTC hour, a bitmap of the accounts' hashes.
    people: Box<[AtomicU64]>,
    start: AtomicI64,
    /// The partition's time: the newest trusted event time (see [`PartitionClock::observe`]).
    now_ms: AtomicI64,
    /// Events in a row that ran far ahead of `now_ms`, and the earliest of them.
    ahead: AtomicU32,
    ahead_min_ms: AtomicI64,
    /// The previous event's time, trusted or not.
    last_ms: AtomicI64,
}

impl PartitionClock {
    /// A clock from the partition's first event; with a configured `fixed` start it learns nothing
    /// (and keeps no bitmaps).
    fn new(first_ms: i64, fixed: Option<i64>) -> Self {
        let words = if fixed.is_some() {
            0
        } else {
            24 * PEOPLE_WORDS
        };
        PartitionClock {
            first_ms,
            window_ms: AtomicI64::new(first_ms),
            people: (0..words).map(|_| AtomicU64::new(0)).collect(),
            start: AtomicI64::new(fixed.unwrap_or(LEARNING)),
            now_ms: AtomicI64::new(first_ms),
            ahead: AtomicU32::new(0),
            ahead_min_ms: AtomicI64::new(i64::MAX),
            last_ms: AtomicI64::new(first_ms),
        }
    }

    /// Moves the partition's time with an event and says whether the event's time is trusted.
    ///
    /// **Why.** The partition's shared state is measured at its time: the peer groups' views once per
    /// quarter hour, the calibrated threshold once per day, the day start. One event whose proxy clock
    /// jumped years ahead would otherwise move that time for everyone: every later measurement would be
    /// the future one, kept until the future arrives, and the whole partition judged with stale views.
    ///
    /// **How.** An event at most [`TRUSTED_STEP_MS`] past the partition's time is trusted and moves it.
    /// One further ahead is not, until [`CORROBORATING_EVENTS`] such events come in a row; then the time
    /// moves to the earliest of them (the partition resumed after a silence: a night without service
    /// accounts, an outage). A trusted event in between ends the run: the odd one out was the clock
    /// error. Unconfirmed events are still processed for their accounts; they only measure nothing
    /// that is kept for others. One more than [`IMPLAUSIBLE_AHEAD_MS`] ahead of both the partition's
    /// time and the event before it is not placed at all (the engine refuses it: see
    /// [`EventTime::Implausible`]), though it still counts towards a run, so a partition silent for
    /// longer than that loses only its first event after the silence.
    /// Plain loads and stores: one thread processes a partition, in order.
    pub fn observe(&self, time_ms: i64) -> EventTime {
        let now = self.now_ms.load(Ordering::Relaxed);
        let last = self.last_ms.load(Ordering::Relaxed);
        self.last_ms.store(time_ms, Ordering::Relaxed);
        if now == UNSET || time_ms <= now.saturating_add(TRUSTED_STEP_MS) {
            if time_ms > now {
                self.now_ms.store(time_ms, Ordering::Relaxed);
            }
            self.ahead.store(0, Ordering::Relaxed);
            return EventTime::Trusted;
        }
        let run = self.ahead.load(Ordering::Relaxed) + 1;
        let earliest = if run == 1 {
            time_ms
        } else {
            self.ahead_min_ms.load(Ordering::Relaxed).min(time_ms)
        };
        if run >= CORROBORATING_EVENTS {
            let moved = earliest.max(now);
            let now = if time_ms <= moved.saturating_add(TRUSTED_STEP_MS) {
                moved.max(time_ms)
            } else {
                moved
            };
            self.now_ms.store(now, Ordering::Relaxed);
            self.ahead.store(0, Ordering::Relaxed);
            return EventTime::Trusted;
        }
        self.ahead.store(run, Ordering::Relaxed);
        self.ahead_min_ms.store(earliest, Ordering::Relaxed);
        // Implausible only when far ahead of the event before it too: a partition whose events come a
        // week apart is sparse, not wrong.
        if time_ms > now.saturating_add(IMPLAUSIBLE_AHEAD_MS)
            && time_ms > last.saturating_add(IMPLAUSIBLE_AHEAD_MS)
        {
            EventTime::Implausible
        } else {
            EventTime::Unconfirmed
        }
    }

    /// Forgets the partition's time: the partition was revoked, and whenever it comes back its first
    /// event sets the time again, as on an instance that never owned it (a time kept from weeks before
    /// would make its first events look implausibly far ahead). The day start is kept.
    pub fn restart_time(&self) {
        self.now_ms.store(UNSET, Ordering::Relaxed);
        self.ahead.store(0, Ordering::Relaxed);
    }

    /// The day start in force at `time_ms` (ms after UTC midnight; 0 while it is being learned),
    /// counting the event's account (`account_hash`, asked only while learning) at its hour. An event
    /// whose time is not `trusted` ([`PartitionClock::observe`]) is not counted.
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
        let window = self.window_ms.load(Ordering::Relaxed);
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
                None if time_ms < self.first_ms.saturating_add(MAX_LEARNING_MS) => {
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

    /// `partition`'s trusted time ([`PartitionClock::observe`]), once it has seen an event.
    pub fn time_of(&self, partition: Option<PartitionRef>) -> Option<i64> {
        self.clocks
            .get(&partition)
            .map(|clock| clock.now_ms.load(Ordering::Relaxed))
            .filter(|&now| now != UNSET)
    }

    /// Forgets the time of revoked partitions ([`PartitionClock::restart_time`]).
    pub fn restart_times(&self, partitions: &[PartitionRef]) {
        for partition in partitions {
            if let Some(clock) = self.clocks.get(&Some(*partition)) {
                clock.restart_time();
            }
        }
    }

    /// `partition`'s clock, started at `time_ms` if this is its first event.
    pub fn clock(&self, partition: Option<PartitionRef>, time_ms: i64) -> Arc<PartitionClock> {
        if let Some(clock) = self.clocks.get(&partition) {
            return Arc::clone(&clock);
        }
        Arc::clone(
            &self
                .clocks
                .entry(partition)
                .or_insert_with(|| Arc::new(PartitionClock::new(time_ms, self.fixed))),
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

    /// The offset in force at `time_ms` for an event of account number `who`.
    fn offset(clocks: &DayClocks, partition: Option<PartitionRef>, time_ms: i64, who: u64) -> i64 {
        let clock = clocks.clock(partition, time_ms);
        let trusted = clock.observe(time_ms) == EventTime::Trusted;
        clock.offset(partition, time_ms, trusted, || {
            who.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        })
    }

    #[test]
    fn one_event_far_ahead_does_not_move_the_partitions_time_and_a_resumed_stream_does() {
        let clock = PartitionClock::new(0, None);
        assert_eq!(clock.observe(10 * 60_000), EventTime::Trusted);
        // A proxy clock four years ahead: not placed, and the next ordinary event ends its run.
        assert_eq!(clock.observe(4 * 365 * DAY_MS), EventTime::Implausible);
        assert_eq!(clock.observe(11 * 60_000), EventTime::Trusted);
        assert_eq!(clock.now_ms.load(Ordering::Relaxed), 11 * 60_000);
        // The partition resumes two days later: after a run of events there, its time moves to them.
        let resumed = 2 * DAY_MS;
        let times: Vec<EventTime> = (0..CORROBORATING_EVENTS as i64)
            .map(|i| clock.observe(resumed + i * 1_000))
            .collect();
        assert!(times[..times.len() - 1]
            .iter()
            .all(|&t| t == EventTime::Unconfirmed));
        assert_eq!(times.last(), Some(&EventTime::Trusted));
        let last = resumed + (i64::from(CORROBORATING_EVENTS) - 1) * 1_000;
        assert_eq!(clock.now_ms.load(Ordering::Relaxed), last);
        assert_eq!(clock.observe(resumed + 60_000), EventTime::Trusted);
        // After six weeks of silence the first event cannot be placed; the ones after it, close to it,
        // can, and the run confirms the time.
        let later = resumed + 42 * DAY_MS;
        let times: Vec<EventTime> = (0..CORROBORATING_EVENTS as i64)
            .map(|i| clock.observe(later + i * 1_000))
            .collect();
        assert_eq!(times[0], EventTime::Implausible);
        assert!(times[1..times.len() - 1]
            .iter()
            .all(|&t| t == EventTime::Unconfirmed));
        assert_eq!(times.last(), Some(&EventTime::Trusted));
        // A partition whose events come a week apart is sparse: never implausible.
        let sparse = PartitionClock::new(0, None);
        assert!((0..20).all(|week| sparse.observe(week * 7 * DAY_MS) != EventTime::Implausible));
        // Revoked, and back weeks later: its first event sets the time again.
        clock.restart_time();
        assert_eq!(clock.observe(later + 90 * DAY_MS), EventTime::Trusted);
        assert_eq!(clock.now_ms.load(Ordering::Relaxed), later + 90 * DAY_MS);
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
            clocks.clock(None, day0).start.load(Ordering::Relaxed),
            0,
            "fixed at UTC midnight"
        );
    }
}
