//! How surprising a new value is for this account: a client address, a client application, an export
//! destination, a sensitive table, an hour of the week.
//!
//! The Good–Turing estimate of the chance that the next observation is new is the share of
//! observations whose value was seen exactly once: `p_new ≈ (singles + 1) / (observations + 1)`, the
//! `+1` a prior so that a short history is never certain. Observations are counted once per value and
//! day, so a busy day weighs no more than a quiet one. A first-seen value from an account that shows a
//! new one every few days (a VPN pool, an on-call engineer's odd hours) is barely surprising; from one
//! that has used the same two for a month it is. The surprise is `Φ⁻¹(1 − p_new)`, a z-score like every
//! other piece of evidence, and 0 when a new value is as likely as not (a new account).

use serde::{Deserialize, Serialize};

use super::stats::z_of_tail;

/// A value the account has used, by keyed hash (state never keeps the names), with the last day it
/// was used and on how many days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenValue {
    pub hash: u64,
    pub last_day: i32,
    pub days: u16,
}

/// The values of one attribute an account has used, and the counts behind Good–Turing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    values: Vec<SeenValue>,
    /// (value, day) observations.
    observations: u32,
    /// Values seen on exactly one day.
    singles: u16,
}

impl Seen {
    /// Whether `hash` was used since `since_day`.
    pub fn known(&self, hash: u64, since_day: i32) -> bool {
        self.values
            .iter()
            .any(|v| v.hash == hash && v.last_day >= since_day)
    }

    /// How surprising a value not seen before is, as a z-score (0 when not surprising at all).
    pub fn surprise(&self) -> f64 {
        surprise(self.singles.into(), self.observations)
    }

    /// Records a use on `day`; when `capacity` values are kept the least recently used gives way.
    /// Returns whether it was a new observation (the value's first use that day).
    pub fn touch(&mut self, hash: u64, day: i32, capacity: usize) -> bool {
        if let Some(value) = self.values.iter_mut().find(|v| v.hash == hash) {
            if value.last_day < day {
                if value.days == 1 {
                    self.singles = self.singles.saturating_sub(1);
                }
                value.days = value.days.saturating_add(1);
                value.last_day = day;
                self.observations = self.observations.saturating_add(1);
                return true;
            }
            return false;
        }
        let fresh = SeenValue {
            hash,
            last_day: day,
            days: 1,
        };
        if self.values.len() < capacity {
            if self.values.len() == self.values.capacity() {
                // Most lists hold one or two values: grow one at a time.
                self.values.reserve_exact(1);
            }
            self.values.push(fresh);
        } else if let Some(oldest) = self.values.iter_mut().min_by_key(|v| v.last_day) {
            if oldest.days == 1 {
                self.singles = self.singles.saturating_sub(1);
            }
            self.observations = self.observations.saturating_sub(u32::from(oldest.days));
            *oldest = fresh;
        } else {
            return false;
        }
        self.singles = self.singles.saturating_add(1);
        self.observations = self.observations.saturating_add(1);
        true
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
    }

    pub fn heap_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<SeenValue>()
    }
}

fn surprise(singles: u32, observations: u32) -> f64 {
    let p_new = (f64::from(singles) + 1.0) / (f64::from(observations) + 1.0);
    z_of_tail(p_new).max(0.0)
}

/// Hours of the week: Monday 00:00 UTC is hour 0.
pub const HOURS_PER_WEEK: usize = 168;

/// When the account works: on how many days it was active in each hour of the week (saturating), and
/// the counts behind Good–Turing, so that an hour is judged like any other value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hours {
    active_days: Vec<u8>,
    /// The last hour (hours since the epoch) counted: an hour counts once per day.
    last_hour: i64,
    observations: u32,
    singles: u16,
}

impl Default for Hours {
    fn default() -> Self {
        Hours {
            active_days: vec![0; HOURS_PER_WEEK],
            last_hour: i64::MIN,
            observations: 0,
            singles: 0,
        }
    }
}

impl Hours {
    /// Hour of the week of an event time; the epoch (1970-01-01) was a Thursday.
    pub fn hour_of_week(time_ms: i64) -> usize {
        let hours = time_ms.div_euclid(3_600_000);
        ((hours + 3 * 24).rem_euclid(HOURS_PER_WEEK as i64)) as usize
    }

    /// Whether the account was active at this hour of the week, or the hour either side.
    pub fn usual(&self, time_ms: i64) -> bool {
        let slot = Self::hour_of_week(time_ms);
        [HOURS_PER_WEEK - 1, 0, 1].iter().any(|d| {
            self.active_days
                .get((slot + d) % HOURS_PER_WEEK)
                .is_some_and(|&c| c > 0)
        })
    }

    /// How surprising an hour the account never works is (see [`Seen::surprise`]).
    pub fn surprise(&self) -> f64 {
        surprise(self.singles.into(), self.observations)
    }

    /// Counts the event's hour; returns whether it was the hour's first event (an hour counts once).
    pub fn record(&mut self, time_ms: i64) -> bool {
        let hour = time_ms.div_euclid(3_600_000);
        if hour == self.last_hour {
            return false;
        }
        self.last_hour = hour;
        let slot = Self::hour_of_week(time_ms);
        if let Some(count) = self.active_days.get_mut(slot) {
            match *count {
                0 => self.singles = self.singles.saturating_add(1),
                1 => self.singles = self.singles.saturating_sub(1),
                _ => {}
            }
            *count = count.saturating_add(1);
            self.observations = self.observations.saturating_add(1);
        }
        true
    }

    pub fn heap_bytes(&self) -> usize {
        self.active_days.capacity()
    }

    pub fn prefetch_slice(&self) -> &[u8] {
        &self.active_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_value_surprises_in_proportion_to_how_settled_the_account_is() {
        let mut settled = Seen::default();
        let mut roaming = Seen::default();
        for day in 0..30 {
            settled.touch(1, day, 16);
            roaming.touch(100 + day as u64 % 7 + (day as u64 / 7) * 7, day, 16);
        }
        assert!(settled.surprise() > 1.8, "{}", settled.surprise());
        assert!(roaming.surprise() < settled.surprise());
        assert_eq!(
            Seen::default().surprise(),
            0.0,
            "nothing is surprising at first"
        );
    }

    #[test]
    fn the_same_value_counts_once_a_day_and_evicted_values_leave_the_counts() {
        let mut seen = Seen::default();
        seen.touch(1, 0, 2);
        seen.touch(1, 0, 2);
        assert_eq!((seen.observations, seen.singles), (1, 1));
        seen.touch(1, 1, 2);
        assert_eq!((seen.observations, seen.singles), (2, 0));
        seen.touch(2, 2, 2);
        seen.touch(3, 3, 2); // evicts value 1 (least recent), used on two days
        assert_eq!((seen.observations, seen.singles), (2, 2));
        assert!(!seen.known(1, 0) && seen.known(3, 3));
    }

    #[test]
    fn hours_know_their_neighbours() {
        let monday_9am = 1_793_577_600_000 + 9 * 3_600_000; // 2026-11-02 is a Monday
        assert_eq!(Hours::hour_of_week(monday_9am), 9);
        let mut hours = Hours::default();
        hours.record(monday_9am);
        hours.record(monday_9am + 60_000);
        assert_eq!(hours.observations, 1);
        assert!(hours.usual(monday_9am + 3_600_000));
        assert!(!hours.usual(monday_9am + 6 * 3_600_000));
    }
}
