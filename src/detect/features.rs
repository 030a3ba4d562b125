//! What is measured per account: one [`Day`] of totals per day (the partition's day, which begins at its
//! quiet hour: [`crate::engine::day_clock`]), the open day being
//! counted, and the shape of an ordinary day (when in the day the account works), which lets a day
//! in progress be compared with a whole one.
//!
//! Reads and exports are separate measures: a report export never lifts the read level. Reads count
//! distinct customers where the source gives record keys and rows where it does not (most proxies):
//! the two are never mixed within one account's history, since a source either sends keys or not.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Closed days kept per account: four weeks, every weekday four times.
pub const HISTORY_DAYS: usize = 28;

/// The day number (days since the epoch) of a time; the engine passes event times less the partition's
/// day start.
pub fn day_of(time_ms: i64) -> i32 {
    i32::try_from(time_ms.div_euclid(DAY_MS)).unwrap_or(i32::MAX)
}

/// What one account did on one day. 28 bytes: an account keeps 29 of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub day: i32,
    /// Distinct customers read (keyed sources), or sensitive rows read (keyless sources).
    pub reads: u32,
    /// Sensitive rows read (record keys where the source counts no rows).
    pub rows: u32,
    /// Sensitive read statements.
    pub queries: u32,
    /// Bytes exported, whatever the tables (rows where the source counts no bytes): the volume that left.
    pub exported: f32,
    /// The day's highest accumulated risk, in hundredths (calibration samples); `i16::MIN` when the
    /// account had no reference of its own that day.
    pub risk_centi: i16,
    /// How far the whole peer group read above (or below) its members' own levels that day, in
    /// thousandths of a log unit (see [`crate::detect::peers::GroupView::common_mode`]).
    pub group_milli: i16,
    /// Sensitive records exported, as `1000 · ln(1 + records)` (see [`Day::exported_records`]): what
    /// left, in the unit of reads.
    pub exported_records_milli: u16,
    pub flags: u8,
}

/// An alert was published for the account on this day: its days never train the account's level.
pub const ALERTED: u8 = 1;
/// The day raised the account's accumulated risk.
pub const RAISED: u8 = 2;
/// The day is part of a run of days that raised the risk (see
/// [`crate::detect::baseline::mark_run`]): it is held out of the account's level for a while. An
/// isolated busy day is not a run (an investigator's big days are its normal and must train its level).
pub const IN_RUN: u8 = 4;

impl Day {
    pub fn new(day: i32) -> Self {
        Day {
            day,
            risk_centi: i16::MIN,
            ..Day::default()
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The day's highest risk, when it was scored against the account's own level.
    pub fn risk(&self) -> Option<f64> {
        (self.risk_centi != i16::MIN).then(|| f64::from(self.risk_centi) / 100.0)
    }

    pub fn set_risk(&mut self, risk: f64) {
        let centi = (risk * 100.0).round().clamp(-32_000.0, 32_000.0) as i16;
        self.risk_centi = match self.risk() {
            Some(old) if old * 100.0 >= f64::from(centi) => self.risk_centi,
            _ => centi,
        };
    }

    /// The group's common mode that day, in log units.
    pub fn group_shift(&self) -> f64 {
        f64::from(self.group_milli) / 1000.0
    }

    pub fn set_group_shift(&mut self, shift: f64) {
        self.group_milli = (shift * 1000.0).round().clamp(-32_000.0, 32_000.0) as i16;
    }

    /// Sensitive records exported that day: exact below 1,000, to three significant figures above
    /// (the encoding keeps 0.05 %).
    pub fn exported_records(&self) -> f64 {
        let records = (f64::from(self.exported_records_milli) / 1000.0).exp_m1();
        if records < 999.5 {
            return records.round();
        }
        let unit = 10f64.powi(records.log10().floor() as i32 - 2);
        (records / unit).round() * unit
    }

    pub fn add_exported_records(&mut self, records: u64) {
        let total = self.exported_records() + records as f64;
        self.exported_records_milli = (total.ln_1p() * 1000.0)
            .round()
            .clamp(0.0, f64::from(u16::MAX)) as u16;
    }

    /// Whether any of `days` within four weeks before `today` (today's included) had an export.
    pub fn exported_within<'a>(mut days: impl Iterator<Item = &'a Day>, today: i32) -> bool {
        days.any(|d| d.exported > 0.0 && today - d.day <= HISTORY_DAYS as i32)
    }
}

/// The open day and up to [`HISTORY_DAYS`] closed days, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub closed: VecDeque<Day>,
    pub today: Option<Day>,
    /// First day the account was seen.
    pub first_day: Option<i32>,
}

impl History {
    /// Moves to `day`: returns the previous open day if it closed (a later day began).
    pub fn roll_to(&mut self, day: i32) -> Option<Day> {
        self.first_day.get_or_insert(day);
        match self.today {
            Some(open) if open.day < day => {
                if self.closed.len() == HISTORY_DAYS {
                    self.closed.pop_front();
                } else if self.closed.capacity() == 0 {
                    // Exactly the history's size, once: doubling would reserve 32 days.
                    self.closed.reserve_exact(HISTORY_DAYS);
                }
                self.closed.push_back(open);
                self.today = Some(Day::new(day));
                Some(open)
            }
            Some(_) => None,
            None => {
                self.today = Some(Day::new(day));
                None
            }
        }
    }

    pub fn today_mut(&mut self) -> Option<&mut Day> {
        self.today.as_mut()
    }

    /// Days since the account was first seen.
    pub fn days_known(&self, day: i32) -> u32 {
        self.first_day
            .map_or(0, |first| u32::try_from(day - first).unwrap_or(0))
    }

    /// Closed days and the open one, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &Day> {
        self.closed.iter().chain(self.today.iter())
    }

    /// Starts over: the account's role changed (another peer group), so its past describes another job.
    pub fn forget(&mut self, day: i32) {
        self.closed.clear();
        self.today = Some(Day::new(day));
        self.first_day = Some(day);
    }

    pub fn heap_bytes(&self) -> usize {
        self.closed.capacity() * std::mem::size_of::<Day>()
    }
}

/// When in the day the account reads: the share of its reads in each UTC hour, learned from its
/// closed days (an exponential average over about two weeks), in 1/65535ths. With it a day in progress
/// can be compared with a whole day: by 11:00 an agent on the early shift has done half its day, one on
/// the late shift nothing. Time zones and shifts need nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayShape {
    shares: [u16; 24],
    /// Sensitive reads in each hour of the open day, saturating.
    today: [u16; 24],
    /// Days learned, up to the averaging horizon.
    days: u8,
}

impl Default for DayShape {
    fn default() -> Self {
        DayShape {
            shares: [u16::MAX / 24; 24],
            today: [0; 24],
            days: 0,
        }
    }
}

/// Days the day shape averages over.
const SHAPE_HORIZON: u8 = 14;

impl DayShape {
    pub fn record(&mut self, time_ms: i64, reads: u64) {
        let hour = hour_of_day(time_ms);
        if let Some(slot) = self.today.get_mut(hour) {
            *slot = slot.saturating_add(u16::try_from(reads).unwrap_or(u16::MAX));
        }
    }

    /// Folds the open day's hours into the shape and clears them (the day closed).
    pub fn close_day(&mut self) {
        let total: f64 = self.today.iter().map(|&v| f64::from(v)).sum();
        if total > 0.0 {
            self.days = self.days.saturating_add(1).min(SHAPE_HORIZON);
            let weight = 1.0 / f64::from(self.days);
            for (share, &count) in self.shares.iter_mut().zip(&self.today) {
                let old = f64::from(*share) / f64::from(u16::MAX);
                let new = (1.0 - weight) * old + weight * f64::from(count) / total;
                *share = (new * f64::from(u16::MAX)).round() as u16;
            }
        }
        self.today = [0; 24];
    }

    /// The share of an ordinary day's reads done by `time_ms` in its day (0 to 1; times on the day's
    /// own clock).
    pub fn done_by(&self, time_ms: i64) -> f64 {
        let into_day = time_ms.rem_euclid(DAY_MS);
        let hour = (into_day / HOUR_MS) as usize;
        let fraction = (into_day % HOUR_MS) as f64 / HOUR_MS as f64;
        let total: f64 = self.shares.iter().map(|&s| f64::from(s)).sum();
        if total <= 0.0 {
            return 1.0;
        }
        let before: f64 = self.shares[..hour].iter().map(|&s| f64::from(s)).sum();
        let current = self.shares.get(hour).map_or(0.0, |&s| f64::from(s));
        ((before + fraction * current) / total).clamp(0.0, 1.0)
    }

    /// Whether the shape has been learned from at least one day.
    pub fn learned(&self) -> bool {
        self.days > 0
    }
}

fn hour_of_day(time_ms: i64) -> usize {
    (time_ms.rem_euclid(DAY_MS) / HOUR_MS) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_closes_when_a_later_one_begins() {
        let mut history = History::default();
        assert!(history.roll_to(10).is_none());
        history.today_mut().expect("open").reads = 5;
        assert!(history.roll_to(10).is_none());
        let closed = history.roll_to(12).expect("closed");
        assert_eq!((closed.day, closed.reads), (10, 5));
        assert_eq!(history.today.map(|d| d.day), Some(12));
        assert_eq!(history.days_known(12), 2);
        for day in 13..60 {
            history.roll_to(day);
        }
        assert_eq!(history.closed.len(), HISTORY_DAYS);
    }

    #[test]
    fn the_day_shape_says_how_much_of_a_shift_is_done() {
        let mut shape = DayShape::default();
        // Early shift, 07:00-15:00, evenly.
        for _ in 0..5 {
            for hour in 7..15 {
                shape.record(hour * HOUR_MS + 60_000, 10);
            }
            shape.close_day();
        }
        assert!(shape.done_by(7 * HOUR_MS) < 0.05);
        assert!((shape.done_by(11 * HOUR_MS) - 0.5).abs() < 0.05);
        assert!(shape.done_by(16 * HOUR_MS) > 0.95);
    }

    #[test]
    fn risk_and_group_shift_round_trip_in_small_fixed_point() {
        let mut day = Day::new(3);
        assert_eq!(day.risk(), None);
        day.set_risk(2.345);
        day.set_risk(1.0);
        assert_eq!(day.risk(), Some(2.35));
        day.set_group_shift(-1.2345);
        assert!((day.group_shift() + 1.2345).abs() < 1e-3);
        for _ in 0..3 {
            day.add_exported_records(40);
        }
        assert_eq!(day.exported_records(), 120.0);
        day.add_exported_records(19_880);
        assert_eq!(day.exported_records(), 20_000.0);
        day.add_exported_records(4_000_000_000);
        assert!((day.exported_records() / 4e9 - 1.0).abs() < 5e-4);
        assert_eq!(std::mem::size_of::<Day>(), 28);
    }
}
