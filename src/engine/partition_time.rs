//! A partition's time: the event time its shared measurements are taken at, which one event with a
//! wrong clock cannot move.
//!
//! **Why.** Everything a partition shares is measured at its time: the peer groups' views once per
//! quarter hour, the calibrated threshold once per day, the day start (`day_clock.rs`), the idle sweep.
//! One event from a proxy whose clock jumped four years ahead made the newest time of its partition
//! 2030: the sweep dropped every account as four years idle, and views and thresholds were the 2030
//! ones until 2030 (docs/detection.md, section 1b).

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// `PartitionTime::now_ms` when the partition's next event sets its time.
const UNSET: i64 = i64::MIN;
/// How far past the partition's time an event may run and still be trusted at once.
const TRUSTED_STEP_MS: i64 = HOUR_MS;
/// Events in a row running further ahead than [`TRUSTED_STEP_MS`] that move the partition's time to them.
pub(crate) const CORROBORATING_EVENTS: u32 = 8;
/// How far past the partition's time an unconfirmed event may run before it cannot be placed at all:
/// the default `state.idle_timeout`. A partition silent for longer has had every account dropped as
/// idle, so the few events lost before a run confirms its time are lost from a fresh start; a clock that
/// jumped years ahead (a reset real-time clock, a wrong year) is far beyond it.
pub const IMPLAUSIBLE_AHEAD_MS: i64 = 35 * DAY_MS;

/// What an event's time is to its partition ([`PartitionTime::observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// At most an hour past the partition's time, or confirmed by a run of events: it moves the time.
    Trusted,
    /// Further ahead and not yet confirmed, or one of the partition's first events before they agree
    /// on its time: processed for its account, measuring nothing kept for others.
    Unconfirmed,
    /// Unconfirmed and more than [`IMPLAUSIBLE_AHEAD_MS`] ahead of the partition's time and of the event
    /// before it: a clock error rather than a partition resuming after a silence; placing it would move
    /// its account's watermark and day that far ahead.
    Implausible,
}

/// The first events of a partition (or of its return after a revoke) its time is taken from.
const OPENING_EVENTS: usize = CORROBORATING_EVENTS as usize;

/// One partition's time: the newest trusted event time, the run of events far ahead of it that may yet
/// confirm a new one, and the opening events it was first taken from. Plain loads and stores, no
/// read-modify-write: a partition's events are processed by one thread, in order (the same discipline
/// as the engine's newest event time).
#[derive(Debug)]
pub struct PartitionTime {
    /// The newest trusted event time; [`UNSET`] during the opening.
    now_ms: AtomicI64,
    /// Events in a row that ran far ahead of `now_ms`, and the earliest of them.
    ahead: AtomicU32,
    ahead_min_ms: AtomicI64,
    /// The previous event's time, trusted or not.
    last_ms: AtomicI64,
    /// The opening: the times of the partition's first events and their accounts (keyed hashes), and
    /// how many there were so far.
    opening: [AtomicI64; OPENING_EVENTS],
    opening_accounts: [AtomicU64; OPENING_EVENTS],
    opened: AtomicU32,
    /// The accounts of opening events the others outvoted, until taken ([`PartitionTime::take_outvoted`]).
    outvoted: [AtomicU64; OPENING_EVENTS],
    outvoted_len: AtomicU32,
    /// The earliest opening event that agreed with the others ([`UNSET`] during the opening).
    start_ms: AtomicI64,
}

impl Default for PartitionTime {
    fn default() -> Self {
        PartitionTime {
            now_ms: AtomicI64::new(UNSET),
            ahead: AtomicU32::new(0),
            ahead_min_ms: AtomicI64::new(i64::MAX),
            last_ms: AtomicI64::new(UNSET),
            opening: std::array::from_fn(|_| AtomicI64::new(UNSET)),
            opening_accounts: std::array::from_fn(|_| AtomicU64::new(0)),
            opened: AtomicU32::new(0),
            outvoted: std::array::from_fn(|_| AtomicU64::new(0)),
            outvoted_len: AtomicU32::new(0),
            start_ms: AtomicI64::new(UNSET),
        }
    }
}

impl PartitionTime {
    /// The partition's time, once its opening has set it.
    pub fn now(&self) -> Option<i64> {
        Some(self.now_ms.load(Ordering::Relaxed)).filter(|&now| now != UNSET)
    }

    /// When the partition started: the earliest of its opening events that agreed with the others.
    pub fn start(&self) -> Option<i64> {
        Some(self.start_ms.load(Ordering::Relaxed)).filter(|&start| start != UNSET)
    }

    /// Records one of the partition's first [`OPENING_EVENTS`] events; with the last of them, sets the
    /// partition's time and start from those that agree.
    ///
    /// **Why.** The first event alone cannot be trusted to set the time: from a proxy whose clock is
    /// years ahead it would put the partition's learning period, day and views years ahead, and every
    /// correct event after it would be judged as long past, with nothing published until then. From
    /// one years behind, the next correct events would have to confirm a jump. A majority cannot be
    /// wrong that way: the opening events within [`IMPLAUSIBLE_AHEAD_MS`] of their median agree, the
    /// earliest of them is the start and the newest the time. Their spacing does not matter, so a
    /// sparse partition opens as soon as a dense one does, in events. An outvoted event before the last
    /// was processed for its account on a wrong clock: its account is handed to the engine to be
    /// dropped ([`PartitionTime::take_outvoted`]); the last one, if outvoted, is refused.
    fn open(&self, opened: usize, time_ms: i64, account: u64) -> EventTime {
        if let (Some(slot), Some(who)) =
            (self.opening.get(opened), self.opening_accounts.get(opened))
        {
            slot.store(time_ms, Ordering::Relaxed);
            who.store(account, Ordering::Relaxed);
        }
        self.opened.store(opened as u32 + 1, Ordering::Relaxed);
        if opened + 1 < OPENING_EVENTS {
            return EventTime::Unconfirmed;
        }
        let mut times: [i64; OPENING_EVENTS] =
            std::array::from_fn(|i| self.opening[i].load(Ordering::Relaxed));
        times.sort_unstable();
        let median = times[(OPENING_EVENTS - 1) / 2];
        let agrees = |t: i64| t.abs_diff(median) <= IMPLAUSIBLE_AHEAD_MS.unsigned_abs();
        let agreeing = times.iter().copied().filter(|&t| agrees(t));
        let (start, now) =
            agreeing.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        self.start_ms.store(start, Ordering::Relaxed);
        self.now_ms.store(now, Ordering::Relaxed);
        // The last opening event is this one: if outvoted, it is refused and never placed.
        let mut outvoted = 0;
        let earlier = self.opening.iter().zip(&self.opening_accounts);
        for (slot, who) in earlier.take(OPENING_EVENTS - 1) {
            if !agrees(slot.load(Ordering::Relaxed)) {
                self.outvoted[outvoted].store(who.load(Ordering::Relaxed), Ordering::Relaxed);
                outvoted += 1;
            }
        }
        self.outvoted_len.store(outvoted as u32, Ordering::Relaxed);
        if agrees(time_ms) {
            EventTime::Trusted
        } else {
            EventTime::Implausible
        }
    }

    /// The accounts (keyed hashes) whose opening events were outvoted, once, when the opening has just
    /// ended; empty otherwise (one load).
    pub fn take_outvoted(&self) -> Vec<u64> {
        let len = self.outvoted_len.load(Ordering::Relaxed) as usize;
        if len == 0 {
            return Vec::new();
        }
        self.outvoted_len.store(0, Ordering::Relaxed);
        self.outvoted[..len.min(OPENING_EVENTS)]
            .iter()
            .map(|who| who.load(Ordering::Relaxed))
            .collect()
    }

    /// Events in a row so far that ran more than an hour ahead of the partition's time, the last one
    /// included (0 after a trusted event).
    pub fn run(&self) -> u32 {
        self.ahead.load(Ordering::Relaxed)
    }

    /// Moves the partition's time with an event and says whether the event's time is trusted.
    ///
    /// **Why.** The partition's shared state is measured at its time: the peer groups' views once per
    /// quarter hour, the calibrated threshold once per day, the day start. One event whose proxy clock
    /// jumped years ahead would otherwise move that time for everyone: every later measurement would be
    /// the future one, kept until the future arrives, and the whole partition judged with stale views.
    ///
    /// **How.** The partition's first [`OPENING_EVENTS`] events set its time together
    /// ([`PartitionTime::open`]). After them, an event at most [`TRUSTED_STEP_MS`] past the partition's
    /// time is trusted and moves it. One further ahead is not, until [`CORROBORATING_EVENTS`] such
    /// events come in a row; then the time moves to the earliest of them (the partition resumed after
    /// a silence: a night without service accounts, an outage). A trusted event in between ends the run: the odd one out was the clock
    /// error. Unconfirmed events are still processed for their accounts; what they measure is kept
    /// for other unconfirmed events only. One more than [`IMPLAUSIBLE_AHEAD_MS`] ahead of both the partition's
    /// time and the event before it is not placed at all (the engine refuses it: see
    /// [`EventTime::Implausible`]), though it still counts towards a run, so a partition silent for
    /// longer than that loses only its first event after the silence.
    /// Plain loads and stores: one thread processes a partition, in order.
    pub fn observe(&self, time_ms: i64, account: impl FnOnce() -> u64) -> EventTime {
        let last = self.last_ms.load(Ordering::Relaxed);
        self.last_ms.store(time_ms, Ordering::Relaxed);
        let opened = self.opened.load(Ordering::Relaxed) as usize;
        if opened < OPENING_EVENTS {
            return self.open(opened, time_ms, account());
        }
        let now = self.now_ms.load(Ordering::Relaxed);
        if time_ms <= now.saturating_add(TRUSTED_STEP_MS) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition whose opening events came at `times`, and what each was to it.
    fn opened(times: &[i64]) -> (PartitionTime, Vec<EventTime>) {
        let clock = PartitionTime::default();
        let seen = times.iter().map(|&t| clock.observe(t, || 0)).collect();
        (clock, seen)
    }

    /// `OPENING_EVENTS` times a second apart from `from_ms`.
    fn burst(from_ms: i64) -> Vec<i64> {
        (0..OPENING_EVENTS as i64)
            .map(|i| from_ms + i * 1_000)
            .collect()
    }

    #[test]
    fn the_first_events_agree_on_the_partitions_time_and_start() {
        let (clock, seen) = opened(&burst(0));
        assert!(seen[..OPENING_EVENTS - 1]
            .iter()
            .all(|&t| t == EventTime::Unconfirmed));
        assert_eq!(seen.last(), Some(&EventTime::Trusted));
        assert_eq!(clock.start(), Some(0));
        assert_eq!(clock.now(), Some(7_000));
        // A first event years ahead or behind is outvoted; the rest set the time and the start.
        for wrong in [4 * 365 * DAY_MS, -40 * 365 * DAY_MS] {
            let mut times = vec![wrong];
            times.extend(burst(DAY_MS).iter().take(OPENING_EVENTS - 1));
            let (clock, seen) = opened(&times);
            assert_eq!(seen.last(), Some(&EventTime::Trusted));
            assert_eq!(clock.start(), Some(DAY_MS));
            assert_eq!(clock.now(), Some(DAY_MS + 6_000));
            // The broken clock's next event is refused.
            assert_eq!(clock.observe(wrong + 1, || 0), {
                if wrong > 0 {
                    EventTime::Implausible
                } else {
                    EventTime::Trusted
                }
            });
        }
        // The outvoted event's account is handed over once, to start afresh; an outvoted last event
        // is refused instead (it was never placed).
        let clock = PartitionTime::default();
        let ahead = 4 * 365 * DAY_MS;
        assert_eq!(clock.observe(ahead, || 42), EventTime::Unconfirmed);
        for (i, &t) in burst(DAY_MS).iter().take(OPENING_EVENTS - 1).enumerate() {
            clock.observe(t, || i as u64);
        }
        assert_eq!(clock.take_outvoted(), vec![42]);
        assert!(clock.take_outvoted().is_empty());
        let clock = PartitionTime::default();
        for (i, &t) in burst(DAY_MS).iter().take(OPENING_EVENTS - 1).enumerate() {
            clock.observe(t, || i as u64);
        }
        assert_eq!(clock.observe(ahead, || 42), EventTime::Implausible);
        assert!(clock.take_outvoted().is_empty());
        assert_eq!(clock.now(), Some(DAY_MS + 6_000));
        // A sparse partition (an event a week) opens after as many events, from its first.
        let weekly: Vec<i64> = (0..OPENING_EVENTS as i64).map(|w| w * 7 * DAY_MS).collect();
        let (clock, _) = opened(&weekly);
        assert_eq!(clock.start(), Some(0));
        assert_eq!(clock.now(), weekly.last().copied());
    }

    #[test]
    fn one_event_far_ahead_does_not_move_the_partitions_time_and_a_resumed_stream_does() {
        let (clock, _) = opened(&burst(0));
        assert_eq!(clock.observe(10 * 60_000, || 0), EventTime::Trusted);
        // A proxy clock four years ahead: not placed, and the next ordinary event ends its run.
        assert_eq!(
            clock.observe(4 * 365 * DAY_MS, || 0),
            EventTime::Implausible
        );
        assert_eq!(clock.observe(11 * 60_000, || 0), EventTime::Trusted);
        assert_eq!(clock.now(), Some(11 * 60_000));
        // The partition resumes two days later: after a run of events there, its time moves to them.
        let resumed = 2 * DAY_MS;
        let times: Vec<EventTime> = burst(resumed)
            .iter()
            .map(|&t| clock.observe(t, || 0))
            .collect();
        assert!(times[..times.len() - 1]
            .iter()
            .all(|&t| t == EventTime::Unconfirmed));
        assert_eq!(times.last(), Some(&EventTime::Trusted));
        assert_eq!(clock.now(), Some(resumed + 7_000));
        assert_eq!(clock.observe(resumed + 60_000, || 0), EventTime::Trusted);
        // After six weeks of silence the first event cannot be placed; the ones after it, close to it,
        // can, and the run confirms the time.
        let later = resumed + 42 * DAY_MS;
        let times: Vec<EventTime> = burst(later)
            .iter()
            .map(|&t| clock.observe(t, || 0))
            .collect();
        assert_eq!(times[0], EventTime::Implausible);
        assert!(times[1..times.len() - 1]
            .iter()
            .all(|&t| t == EventTime::Unconfirmed));
        assert_eq!(times.last(), Some(&EventTime::Trusted));
        // A partition whose events come a week apart is sparse: never implausible.
        let (sparse, _) = opened(&[0]);
        assert!(
            (1..20).all(|week| sparse.observe(week * 7 * DAY_MS, || 0) != EventTime::Implausible)
        );
    }
}
