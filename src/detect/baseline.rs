//! The account's own normal: robust levels of its closed days, recomputed once a day when a day closes.
//!
//! Each day enters as its log-scale volume less the whole group's common mode that day (see
//! [`crate::detect::peers::GroupView::common_mode`]): a weekend at a quarter strength or a recall day at
//! two and a half times is then an ordinary day of the account's own, and the spread that remains is the
//! account's. Days that raised the account's risk (a run under suspicion) are held out while there are
//! enough other days, so a slow theft cannot teach the baseline that it is normal (the boiling frog); days
//! with a published alert never train it.

use serde::{Deserialize, Serialize};

use super::features::{Day, History, ALERTED, IN_RUN, RAISED};
use super::risk::SUSPECT_RISK;
use super::stats::{log_volume, Level};

/// Active days before the account has a level of its own: three. A short history is an uncertain
/// reference, which the score weighs (its spread borrows from the group's typical member, its median's
/// uncertainty widens it, and the peers may explain a deviation away), but it is the account's own: a
/// change after a few ordinary days is a change, whatever the peers read.
pub const MIN_OWN_DAYS: usize = 3;
/// Days kept in a level (runs held out) below which the level is young: its middle also learns from the
/// held-out days (see [`Baseline::of`]). Two working weeks.
pub const YOUNG_LEVEL_DAYS: usize = 10;
/// A run is held out of the reference only while this many other days remain.
const HOLD_OUT_MIN_DAYS: usize = MIN_OWN_DAYS;
/// A run's days rejoin the reference after two weeks: by then the run was either alerted on (and its
/// days stay out) or it is the account's new normal (a new project, a new role).
const HOLD_OUT_DAYS: i32 = 14;
/// The group's shift below which a day is a low day for the group (half strength or less).
const LOW_DAY_SHIFT: f64 = std::f64::consts::LN_2;
/// Export days before an export level means anything.
const MIN_EXPORT_DAYS: usize = 3;
/// Scored days in a row that raised the risk before they are a run: two can be chance (an investigator
/// with a big case one day in five has two in a row every other month), three are a pattern.
const RUN_DAYS: usize = 3;
/// Days between two scored days that still continue a run (a weekend and a day off).
const RUN_GAP_DAYS: i32 = 4;

/// Marks the trailing run of the closed days: when the newest scored days, [`RUN_DAYS`] or more of
/// them in a row, all raised the risk, and the evidence they accumulated (`accumulated`, after the
/// newest) is that of a day at the bound ([`SUSPECT_RISK`]), each is [`IN_RUN`]. Three ordinary days a
/// little above normal are not a run (a third of ordinary days are half a sigma above): holding them
/// out for two weeks would sink the account's level below its ordinary days. Days with nothing scored
/// (no sensitive read, no export) neither break a run nor count in it.
pub fn mark_run(closed: &mut std::collections::VecDeque<Day>, accumulated: f64) {
    if accumulated < SUSPECT_RISK {
        return;
    }
    let scored = |d: &Day| d.reads > 0 || d.exported > 0.0;
    let mut members = Vec::new();
    let mut later: Option<i32> = None;
    for (index, day) in closed.iter().enumerate().rev() {
        if !scored(day) {
            continue;
        }
        if !day.has(RAISED) || later.is_some_and(|l| l - day.day > RUN_GAP_DAYS) {
            break;
        }
        later = Some(day.day);
        members.push(index);
    }
    if members.len() >= RUN_DAYS {
        for index in members {
            if let Some(day) = closed.get_mut(index) {
                day.flags |= IN_RUN;
            }
        }
    }
}

/// What is normal for the account, from its own history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Reads per day (customers or rows), group-adjusted; `None` before [`MIN_OWN_DAYS`].
    pub reads: Option<Level>,
    /// Sensitive read statements per day, group-adjusted.
    pub queries: Option<Level>,
    /// Bytes exported on the days it exported.
    pub exports: Option<Level>,
    /// The largest number of rows read on a training day: what the account has shown to be normal
    /// (a nightly job that reads the whole table).
    pub largest_rows: u32,
}

impl Baseline {
    /// The baseline after the closed days of `history`, as of `today`.
    pub fn of(history: &History, today: i32) -> Baseline {
        let usable = |d: &&Day| !d.has(ALERTED);
        // The newest raised days are pending until a day that did not raise the risk follows them: an
        // isolated busy day then rejoins the reference, the start of a run never enters it.
        let pending_from = history
            .closed
            .iter()
            .rev()
            .filter(|d| d.reads > 0 || d.exported > 0.0)
            .take_while(|d| d.has(RAISED))
            .last()
            .map_or(i32::MAX, |d| d.day);
        // A day the whole group worked at less than half strength (a weekend, a holiday) is no sample
        // of a working day: adjusting it up by the group's shift would lean on the group's ratio, not
        // the account's, and a quarter of such days would pull its level down.
        let group_low = |d: &Day| d.group_shift() < -LOW_DAY_SHIFT;
        let held_out = |d: &Day| {
            (d.has(IN_RUN) && today - d.day <= HOLD_OUT_DAYS)
                || d.day >= pending_from
                || group_low(d)
        };
        let days_with_reads = |keep: &dyn Fn(&Day) -> bool| -> Vec<&Day> {
            history
                .closed
                .iter()
                .filter(usable)
                .filter(|d| d.reads > 0 && keep(d))
                .collect()
        };
        // Hold-outs give way, widest first, where they would leave too few days to learn from.
        let mut training = days_with_reads(&|d| !held_out(d));
        if training.len() < HOLD_OUT_MIN_DAYS {
            training = days_with_reads(&|d| !group_low(d));
        }
        if training.len() < HOLD_OUT_MIN_DAYS {
            training = days_with_reads(&|_| true);
        }
        let mut baseline = Baseline {
            largest_rows: training.iter().map(|d| d.rows).max().unwrap_or(0),
            ..Baseline::default()
        };
        if training.len() >= MIN_OWN_DAYS {
            let adjusted = |value: u32, d: &Day| log_volume(f64::from(value)) - d.group_shift();
            let level = |days: &[&Day], value: &dyn Fn(&Day) -> u32| {
                let mut values: Vec<f64> = days.iter().map(|d| adjusted(value(d), d)).collect();
                Level::of(&mut values)
            };
            baseline.reads = level(&training, &|d| d.reads);
            baseline.queries = level(&training, &|d| d.queries);
            // A young level is itself uncertain: an account whose first few days were low by chance
            // raises the risk on its ordinary days, and holding those out would keep the level low for
            // good. While the days kept are fewer than two working weeks, the level's middle learns from
            // the held-out days too (a median moves by how many days lie above it, not how far, so a
            // theft far above normal stays far above it), and its spread from the days kept (the held-out
            // days would widen it by the very excess under suspicion).
            if training.len() < YOUNG_LEVEL_DAYS {
                let usable_days = days_with_reads(&|d| !group_low(d));
                if usable_days.len() > training.len() {
                    let middle_of_all = |kept: Option<Level>, all: Option<Level>| match (kept, all)
                    {
                        (Some(kept), Some(all)) => Some(Level {
                            median: all.median,
                            spread: kept.spread,
                            samples: all.samples,
                        }),
                        (kept, _) => kept,
                    };
                    baseline.reads =
                        middle_of_all(baseline.reads, level(&usable_days, &|d| d.reads));
                    baseline.queries =
                        middle_of_all(baseline.queries, level(&usable_days, &|d| d.queries));
                }
            }
        }
        let mut exports: Vec<f64> = history
            .closed
            .iter()
            .filter(usable)
            .filter(|d| d.exported > 0.0 && !held_out(d))
            .map(|d| log_volume(f64::from(d.exported)))
            .collect();
        if exports.len() >= MIN_EXPORT_DAYS {
            baseline.exports = Level::of(&mut exports);
        }
        baseline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(reads: &[u32]) -> History {
        let mut history = History::default();
        for (i, &r) in reads.iter().enumerate() {
            history.roll_to(i as i32);
            let today = history.today_mut().expect("open");
            today.reads = r;
            today.queries = r / 3;
            today.rows = r;
        }
        history.roll_to(reads.len() as i32);
        history
    }

    #[test]
    fn a_few_days_make_a_level() {
        assert!(Baseline::of(&history(&[100; 2]), 2).reads.is_none());
        let baseline = Baseline::of(&history(&[100, 120, 90, 110, 100, 95, 105]), 7);
        let level = baseline.reads.expect("a week");
        assert!((f64::from(level.median) - log_volume(100.0)).abs() < 0.01);
        assert_eq!(baseline.largest_rows, 120);
    }

    #[test]
    fn a_run_is_held_out_while_two_weeks_of_other_days_remain() {
        let mut days = vec![100u32; 20];
        days.extend([300, 320, 310]);
        let mut h = history(&days);
        for d in h.closed.iter_mut().skip(20) {
            d.flags |= IN_RUN;
        }
        let held = Baseline::of(&h, 23).reads.expect("level");
        assert!((f64::from(held.median) - log_volume(100.0)).abs() < 0.01);
        // Two weeks later the run's days are the account's normal again.
        let rejoined = Baseline::of(&h, 40).reads.expect("level");
        assert_eq!((held.samples, rejoined.samples), (20, 23));
    }

    #[test]
    fn three_raised_days_in_a_row_are_a_run_and_two_are_chance() {
        let mut h = history(&[100, 300, 300, 100, 300, 0, 300, 300]);
        for d in h.closed.iter_mut().filter(|d| d.reads == 300) {
            d.flags |= RAISED;
        }
        let mut two = h.closed.clone();
        two.truncate(3);
        mark_run(&mut two, 9.0);
        assert!(
            two.iter().all(|d| !d.has(IN_RUN)),
            "two raised days are chance"
        );
        let mut weak = h.closed.clone();
        mark_run(&mut weak, 1.0);
        assert!(
            weak.iter().all(|d| !d.has(IN_RUN)),
            "days a little above normal are no run"
        );
        mark_run(&mut h.closed, 9.0);
        let runs: Vec<i32> = h
            .closed
            .iter()
            .filter(|d| d.has(IN_RUN))
            .map(|d| d.day)
            .collect();
        assert_eq!(
            runs,
            vec![4, 6, 7],
            "a day with nothing read does not break the run"
        );
    }

    #[test]
    fn a_day_the_group_worked_at_a_fraction_is_no_sample_and_a_busy_one_is_adjusted() {
        let mut h = history(&[100, 110, 90, 25, 25, 250, 100, 105, 95, 100]);
        for d in h.closed.iter_mut() {
            match d.reads {
                25 => d.set_group_shift((0.25f64).ln()),
                250 => d.set_group_shift((2.5f64).ln()),
                _ => {}
            }
        }
        let level = Baseline::of(&h, 10).reads.expect("level");
        assert_eq!(level.samples, 8, "the weekend is left out");
        assert!(
            (f64::from(level.median) - log_volume(100.0)).abs() < 0.05,
            "{level:?}"
        );
        assert!(level.spread < 0.25, "{level:?}");
    }
}
