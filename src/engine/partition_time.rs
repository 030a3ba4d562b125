//! A partition's time: the event time its shared measurements are taken at, which one event with a
//! wrong clock cannot move.
//!
//! **Why.** Everything a partition shares is measured at its time: the peer groups' views once per
//! quarter hour, the calibrated threshold once per day, the day start (`day_clock.rs`), the idle sweep.
//! One event from a proxy whose clock jumped four years ahead made the newest time of its partition
//! 2030: the sweep dropped every account as four years idle, and views and thresholds were the 2030
//! ones until 2030 (docs/detection.md, section 1b).

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

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
    /// Further ahead and not yet confirmed: processed for its account, measuring nothing kept for others.
    Unconfirmed,
    /// Unconfirmed and more than [`IMPLAUSIBLE_AHEAD_MS`] ahead of the partition's time and of the event
    /// before it: a clock error rather than a partition resuming after a silence; placing it would move
    /// its account's watermark and day that far ahead.
    Implausible,
}

/// One partition's time: the newest trusted event time, and the run of events far ahead of it that
/// may yet confirm a new one. Plain loads and stores, no read-modify-write: a partition's events are
/// processed by one thread, in order (the same discipline as the engine's newest event time).
#[derive(Debug)]
pub struct PartitionTime {
    /// The newest trusted event time.
    now_ms: AtomicI64,
    /// Events in a row that ran far ahead of `now_ms`, and the earliest of them.
    ahead: AtomicU32,
    ahead_min_ms: AtomicI64,
    /// The previous event's time, trusted or not.
    last_ms: AtomicI64,
}

impl PartitionTime {
    /// The time of a partition whose first event is at `first_ms`.
    pub fn new(first_ms: i64) -> Self {
        PartitionTime {
            now_ms: AtomicI64::new(first_ms),
            ahead: AtomicU32::new(0),
            ahead_min_ms: AtomicI64::new(i64::MAX),
            last_ms: AtomicI64::new(first_ms),
        }
    }

    /// The partition's time, unless it was forgotten ([`PartitionTime::restart`]) and no event has
    /// set it since.
    pub fn now(&self) -> Option<i64> {
        Some(self.now_ms.load(Ordering::Relaxed)).filter(|&now| now != UNSET)
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
    pub fn restart(&self) {
        self.now_ms.store(UNSET, Ordering::Relaxed);
        self.ahead.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_far_ahead_does_not_move_the_partitions_time_and_a_resumed_stream_does() {
        let clock = PartitionTime::new(0);
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
        let sparse = PartitionTime::new(0);
        assert!((0..20).all(|week| sparse.observe(week * 7 * DAY_MS) != EventTime::Implausible));
        // Revoked, and back weeks later: its first event sets the time again.
        clock.restart();
        assert_eq!(clock.observe(later + 90 * DAY_MS), EventTime::Trusted);
        assert_eq!(clock.now_ms.load(Ordering::Relaxed), later + 90 * DAY_MS);
    }
}
