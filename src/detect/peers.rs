//! The peer group right now: what the group's members read today against their own levels, and the
//! distribution a newcomer is judged against.
//!
//! The engine scans a group's members in one input partition (peers are sampled per partition, so the
//! result depends only on that partition's ordered stream and replay equals live) every quarter-hour of
//! event time and builds a [`GroupView`] with [`GroupScan`]. Three numbers do the work:
//! - the **common mode**: the median, over members at work today, of how far their day so far runs
//!   above or below what their own ordinary day would have reached by now (their [`DayShape`]). A whole
//!   team moving together (an outage, a recall, quarter-end, a weekend) moves it, and it is taken out of
//!   every member's score when it is high, so nobody deviates by following the team;
//! - the **common mode of past days**, the same over whole days, which takes the team's movements out
//!   of each member's history before its level is measured ([`crate::detect::baseline`]);
//! - the **pooled level** of the members' recent days, the reference for an account with no history
//!   of its own (a new hire is judged from day one), and the **typical spread** of a member's days, the
//!   prior a short history borrows its spread from.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::features::{Day, History};
use super::stats::{log_volume, quantile_sorted, Level};

/// Members (at work, with a level of their own) needed before the common mode is measured: with
/// three, one insider among them cannot move the median.
pub const MIN_COMMON_MEMBERS: usize = 3;
/// Members with a level before their typical spread is a prior for others.
const MIN_SPREAD_MEMBERS: usize = 3;
/// Members whose whole day is known before a past day's common mode is measured: it adjusts (or
/// leaves out) that day in every member's history, so it needs more than the median of three bursty
/// members.
const MIN_PAST_MEMBERS: usize = 5;
/// Member-days, from at least three members, before the pooled level judges newcomers.
const MIN_POOLED_DAYS: usize = 20;
const MIN_POOLED_MEMBERS: usize = 3;
/// Days of each member's history that make the pooled level.
const POOLED_DAYS: i32 = 14;
/// A member's day counts in today's common mode once it has done a quarter of its ordinary day by now:
/// before that its day so far says little.
const MIN_DONE: f64 = 0.25;
/// Members "at work right now" read within this long before the scan: the common mode is theirs when
/// there are enough of them (a night shift whose outage ran past midnight moves together while the day
/// shift, back to normal, has gone home), else every member active today.
const AT_WORK_MS: i64 = 2 * 3_600_000;

/// How the group looked at one moment, for the members of one partition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupView {
    /// How far the members at work run above (positive) or below their own levels today, in log units.
    pub common_mode: Option<f64>,
    /// The same for exports, over members that exported today and have an export level.
    pub export_mode: Option<f64>,
    /// The members' recent days, group-adjusted (the reference of an account without its own).
    pub pooled: Option<Level>,
    /// How far a typical member's day strays above its own level: the spread of all members' past days
    /// pooled (each less its member's level and the day's group shift), heavy tail included; the median
    /// of the members' own spreads when too few days are pooled. The prior of a short history.
    pub typical_spread: Option<f64>,
    /// The same for their export days.
    pub typical_export_spread: Option<f64>,
    /// Today's exports of the members that exported today (log scale), when three or more did.
    pub exports_today: Option<Level>,
    /// The common mode of each past day (day, log units, members who read that day), newest last; only
    /// days on which three members or more read. Five or more adjust the members' histories
    /// ([`GroupView::shift_on`]); three or four are enough to judge that day as it was judged live
    /// ([`GroupView::judged_shift_on`]).
    pub past: Arc<[(i32, f32, u32)]>,
    /// The common mode of each past day's exports (day, log units) among the members with an export
    /// level that exported that day, when three or more did; newest last.
    pub past_exports: Arc<[(i32, f32)]>,
    /// Today's reads of the members at work today (log scale) and who read them (the member's key),
    /// sorted by reads: ranks and the peers' median for explanations.
    pub reads_today: Arc<[(f32, u64)]>,
    /// Members seen in the scan.
    pub members: usize,
    /// Members with a level of their own.
    pub with_levels: usize,
    /// Members with an export in the last four weeks, today's included: whether exporting is
    /// something this group does at all.
    pub exporters: usize,
}

impl GroupView {
    /// The group's common mode on a past day, when five members or more measured it: what adjusts
    /// every member's history.
    pub fn shift_on(&self, day: i32) -> Option<f64> {
        self.past_shift(day, MIN_PAST_MEMBERS)
    }

    /// The group's common mode on a past day as a day is judged: from five members or more as
    /// [`GroupView::shift_on`], else from three or four (the least the common mode right now is
    /// measured from), so that a small team's whole day is judged at its close as it was during it.
    pub fn judged_shift_on(&self, day: i32) -> Option<f64> {
        self.past_shift(day, MIN_COMMON_MEMBERS)
    }

    fn past_shift(&self, day: i32, min_members: usize) -> Option<f64> {
        let i = self.past.binary_search_by_key(&day, |&(d, _, _)| d).ok()?;
        self.past
            .get(i)
            .filter(|&&(_, _, members)| members as usize >= min_members)
            .map(|&(_, shift, _)| f64::from(shift))
    }

    /// The group's common mode in exports on a past day, when it was measured.
    pub fn export_shift_on(&self, day: i32) -> Option<f64> {
        on_day(&self.past_exports, day)
    }

    /// Where `reads` by the member `key` ranks among today's members, itself included: (members
    /// reading more, members compared).
    pub fn rank(&self, key: u64, reads: f64) -> (usize, usize) {
        let value = log_volume(reads) as f32;
        let others = self.reads_today.iter().filter(|&&(_, k)| k != key);
        let mut compared = 1;
        let mut above = 0;
        for &(v, _) in others {
            compared += 1;
            above += usize::from(v > value);
        }
        (above, compared)
    }

    /// The median reads today of the members at work other than `key`, when any is.
    pub fn median_today(&self, key: u64) -> Option<f64> {
        let values: Vec<f64> = self
            .reads_today
            .iter()
            .filter(|&&(_, k)| k != key)
            .map(|&(v, _)| f64::from(v))
            .collect();
        (!values.is_empty()).then(|| quantile_sorted(&values, 0.5).exp_m1())
    }

    /// How much of the group the account is judged with right now.
    pub fn sight(&self) -> TeamSight {
        if self.with_levels == 0 {
            TeamSight::NoLevels
        } else if self.common_mode.is_some() {
            TeamSight::Measured
        } else if self.pooled.is_some() {
            TeamSight::LatestDays
        } else {
            TeamSight::Unseen
        }
    }
}

/// What one member contributes to a scan.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// A keyed hash of the member's name (it is left out of its own peers' median).
    pub key: u64,
    pub history: &'a History,
    pub baseline: &'a Baseline,
    /// Share of the member's ordinary day done by the scan's moment (see [`super::features::DayShape`]).
    pub done_by_now: f64,
    /// The member's newest event time.
    pub last_event_ms: i64,
}

/// Builds a [`GroupView`] from the members of one group and partition.
#[derive(Debug)]
pub struct GroupScan {
    now_ms: i64,
    today: i32,
    /// Whether to measure past days' common modes (once a day: they change little after).
    with_past: bool,
    ratios: Vec<f64>,
    /// The ratios of members at work right now.
    ratios_now: Vec<f64>,
    export_ratios: Vec<f64>,
    exports_today: Vec<f64>,
    pooled: Vec<f64>,
    pooled_members: usize,
    spreads: Vec<f64>,
    export_spreads: Vec<f64>,
    reads_today: Vec<(f32, u64)>,
    /// (day, member's deviation from its level) for past days.
    past: Vec<(i32, f64)>,
    /// (day, member's export deviation from its export level) for past days.
    past_exports: Vec<(i32, f64)>,
    /// Every member's past days less its level and the group's shift that day, pooled: how far a
    /// typical member's day strays from its own normal.
    deviations: Vec<f64>,
    members: usize,
    with_levels: usize,
    exporters: usize,
}

impl GroupScan {
    /// A scan at `now_ms` (UTC) on the partition's day `today` (see
    /// [`crate::engine::day_clock`]).
    pub fn new(now_ms: i64, today: i32, with_past: bool) -> Self {
        GroupScan {
            now_ms,
            today,
            with_past,
            ratios: Vec::new(),
            ratios_now: Vec::new(),
            export_ratios: Vec::new(),
            exports_today: Vec::new(),
            pooled: Vec::new(),
            pooled_members: 0,
            spreads: Vec::new(),
            export_spreads: Vec::new(),
            reads_today: Vec::new(),
            past: Vec::new(),
            past_exports: Vec::new(),
            deviations: Vec::new(),
            members: 0,
            with_levels: 0,
            exporters: 0,
        }
    }

    pub fn add(&mut self, member: Member<'_>) {
        self.members += 1;
        let history = member.history;
        let today = history.today.filter(|d| d.day == self.today);
        let level = member.baseline.reads;
        if let Some(day) = today.filter(|d| d.reads > 0) {
            self.reads_today
                .push((log_volume(f64::from(day.reads)) as f32, member.key));
        }
        if let Some(level) = level {
            self.with_levels += 1;
            self.spreads.push(f64::from(level.spread));
            let usual = f64::from(level.median).exp_m1().max(0.0);
            if let Some(day) = today.filter(|d| d.reads > 0) {
                if member.done_by_now >= MIN_DONE {
                    let expected = usual * member.done_by_now;
                    let ratio = log_volume(f64::from(day.reads)) - log_volume(expected);
                    self.ratios.push(ratio);
                    if member.last_event_ms >= self.now_ms - AT_WORK_MS {
                        self.ratios_now.push(ratio);
                    }
                }
            }
            if self.with_past {
                for day in history.all().filter(|d| d.day < self.today && d.reads > 0) {
                    if self.today - day.day <= super::features::HISTORY_DAYS as i32 {
                        let deviation = log_volume(f64::from(day.reads)) - f64::from(level.median);
                        self.past.push((day.day, deviation));
                        self.deviations.push(deviation - day.group_shift());
                    }
                }
            }
        }
        if let Some(exports) = member.baseline.exports {
            self.export_spreads.push(f64::from(exports.spread));
            if self.with_past {
                for day in history
                    .all()
                    .filter(|d| d.day < self.today && d.exported > 0.0)
                {
                    if self.today - day.day <= super::features::HISTORY_DAYS as i32 {
                        let deviation =
                            log_volume(f64::from(day.exported)) - f64::from(exports.median);
                        self.past_exports.push((day.day, deviation));
                    }
                }
            }
        }
        if let Some(day) = today.filter(|d| d.exported > 0.0) {
            let value = log_volume(f64::from(day.exported));
            self.exports_today.push(value);
            if let Some(exports) = member.baseline.exports {
                self.export_ratios.push(value - f64::from(exports.median));
            }
        }
        self.exporters += usize::from(Day::exported_within(history.all(), self.today));
        let before = self.pooled.len();
        for day in history.all() {
            if day.reads > 0 && day.day < self.today && self.today - day.day <= POOLED_DAYS {
                self.pooled
                    .push(log_volume(f64::from(day.reads)) - day.group_shift());
            }
        }
        self.pooled_members += usize::from(self.pooled.len() > before);
    }

    /// The view; `kept` is the previous view, whose past common modes are kept when this scan did not
    /// measure them.
    pub fn finish(mut self, kept: Option<&GroupView>) -> GroupView {
        let past_exports: Arc<[(i32, f32)]> = if self.with_past {
            // Export levels are learned from the days as they were, so the shifts need no anchor.
            self.past_exports
                .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            self.past_exports
                .chunk_by(|a, b| a.0 == b.0)
                .filter(|same_day| same_day.len() >= MIN_COMMON_MEMBERS)
                .map(|same_day| {
                    let values: Vec<f64> = same_day.iter().map(|&(_, v)| v).collect();
                    (same_day[0].0, quantile_sorted(&values, 0.5) as f32)
                })
                .collect()
        } else {
            kept.map_or_else(|| Arc::from(Vec::new()), |k| Arc::clone(&k.past_exports))
        };
        // The typical member's spread from all members' days pooled, not the median of their own
        // spreads: a pattern of rare big days (an investigator's one day in five) shows in the pool long
        // before any one member has days enough to show it.
        let typical_spread = if self.with_past {
            (self.spreads.len() >= MIN_SPREAD_MEMBERS && self.deviations.len() >= MIN_POOLED_DAYS)
                .then(|| {
                    // Deviations are from each member's own median: the pool is centred at 0 by
                    // construction, and only its upper side speaks of how high a day goes (a quarter-
                    // strength weekend must not move the centre). Mirrored, the pool's level is that.
                    let mut mirrored: Vec<f64> = self
                        .deviations
                        .iter()
                        .filter(|&&v| v >= 0.0)
                        .flat_map(|&v| [v, -v])
                        .collect();
                    Level::of(&mut mirrored)
                })
                .flatten()
                .map(|level| f64::from(level.spread))
                .or_else(|| median_of(&mut self.spreads, MIN_SPREAD_MEMBERS))
        } else {
            kept.and_then(|k| k.typical_spread)
                .or_else(|| median_of(&mut self.spreads, MIN_SPREAD_MEMBERS))
        };
        let past: Arc<[(i32, f32, u32)]> = if self.with_past {
            self.past
                .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let mut shifts = Vec::new();
            for same_day in self.past.chunk_by(|a, b| a.0 == b.0) {
                if same_day.len() >= MIN_COMMON_MEMBERS {
                    let values: Vec<f64> = same_day.iter().map(|&(_, v)| v).collect();
                    shifts.push((same_day[0].0, quantile_sorted(&values, 0.5), values.len()));
                }
            }
            // Only the days' differences are measured: members' levels are learned from days less their
            // shifts, so a constant in every shift would feed itself. The typical day is the anchor: the
            // median shift is 0, over the days of five members or more (those that adjust levels), or
            // over the days of three or four for a team too small to have any.
            let adjusting = |&&(_, _, members): &&(i32, f64, usize)| members >= MIN_PAST_MEMBERS;
            let any_adjusting = shifts.iter().any(|s| adjusting(&s));
            let mut all: Vec<f64> = shifts
                .iter()
                .filter(|s| !any_adjusting || adjusting(s))
                .map(|&(_, v, _)| v)
                .collect();
            all.sort_by(f64::total_cmp);
            let anchor = quantile_sorted(&all, 0.5);
            shifts
                .into_iter()
                .map(|(day, v, members)| {
                    (
                        day,
                        beyond_noise(v - anchor, members, typical_spread) as f32,
                        u32::try_from(members).unwrap_or(u32::MAX),
                    )
                })
                .collect()
        } else {
            kept.map_or_else(|| Arc::from(Vec::new()), |k| Arc::clone(&k.past))
        };

        self.reads_today.sort_by(|a, b| a.0.total_cmp(&b.0));
        let common_mode = median_of(&mut self.ratios_now, MIN_COMMON_MEMBERS)
            .map(|mode| beyond_noise(mode, self.ratios_now.len(), typical_spread))
            .or_else(|| {
                median_of(&mut self.ratios, MIN_COMMON_MEMBERS)
                    .map(|mode| beyond_noise(mode, self.ratios.len(), typical_spread))
            });
        GroupView {
            common_mode,
            export_mode: median_of(&mut self.export_ratios, MIN_COMMON_MEMBERS),
            pooled: (self.pooled.len() >= MIN_POOLED_DAYS
                && self.pooled_members >= MIN_POOLED_MEMBERS)
                .then(|| Level::of(&mut self.pooled))
                .flatten(),
            typical_spread,
            typical_export_spread: median_of(&mut self.export_spreads, MIN_SPREAD_MEMBERS),
            exports_today: (self.exports_today.len() >= MIN_COMMON_MEMBERS)
                .then(|| Level::of(&mut self.exports_today))
                .flatten(),
            past,
            past_exports,
            reads_today: self.reads_today.into(),
            members: self.members,
            with_levels: self.with_levels,
            exporters: self.exporters,
        }
    }
}

/// The value of `day` in a list of (day, value) sorted by day.
fn on_day(by_day: &[(i32, f32)], day: i32) -> Option<f64> {
    by_day
        .binary_search_by_key(&day, |&(d, _)| d)
        .ok()
        .and_then(|i| by_day.get(i))
        .map(|&(_, value)| f64::from(value))
}

/// A group's common mode less its own measurement noise (soft-thresholded at two standard errors of a
/// median of `members` days that stray by `spread`): a team of eight measures its common mode to within
/// about a seventh of a log unit, so smaller shifts are chance, not the team moving. Taken as a shift,
/// chance would move every member's level by it, and a run of chance shifts in a team's first weeks
/// would leave all its levels low (or high) for a month. Real moves (a weekend at a quarter, a recall
/// day at 2.5×) stand far out of the noise and are taken out all but that margin.
fn beyond_noise(mode: f64, members: usize, spread: Option<f64>) -> f64 {
    let Some(spread) = spread.filter(|s| s.is_finite() && *s > 0.0) else {
        return mode;
    };
    // The standard error of a median is √(π/2) that of a mean.
    let margin = 2.0 * 1.2533 * spread / (members.max(1) as f64).sqrt();
    mode.signum() * (mode.abs() - margin).max(0.0)
}

fn median_of(values: &mut [f64], min: usize) -> Option<f64> {
    if values.len() < min {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(quantile_sorted(values, 0.5))
}

/// How much of its group a sensitive read was judged with (a bounded metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TeamSight {
    /// The group's common mode was measured right now.
    Measured = 0,
    /// Nobody in the group is far enough into their day: only the group's recent days were in sight.
    LatestDays = 1,
    /// No group in sight at all (an account alone in its partition).
    Unseen = 2,
    /// Nobody in the group has a level of their own yet (the first week).
    NoLevels = 3,
}

impl TeamSight {
    pub const ALL: [TeamSight; 4] = [
        TeamSight::Measured,
        TeamSight::LatestDays,
        TeamSight::Unseen,
        TeamSight::NoLevels,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TeamSight::Measured => "measured",
            TeamSight::LatestDays => "latest_days",
            TeamSight::Unseen => "unseen",
            TeamSight::NoLevels => "no_levels",
        }
    }
}

/// Sensitive reads by [`TeamSight`], for replay's and evaluate's summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamSightCounts {
    pub measured: u64,
    pub latest_days: u64,
    pub unseen: u64,
    pub no_levels: u64,
}

impl TeamSightCounts {
    pub fn count(&mut self, sight: TeamSight) {
        match sight {
            TeamSight::Measured => self.measured += 1,
            TeamSight::LatestDays => self.latest_days += 1,
            TeamSight::Unseen => self.unseen += 1,
            TeamSight::NoLevels => self.no_levels += 1,
        }
    }

    /// Shares in percent: (measured, latest days, unseen, no levels).
    pub fn percentages(&self) -> (f64, f64, f64, f64) {
        let total = (self.measured + self.latest_days + self.unseen + self.no_levels).max(1) as f64;
        let pct = |n: u64| 100.0 * n as f64 / total;
        (
            pct(self.measured),
            pct(self.latest_days),
            pct(self.unseen),
            pct(self.no_levels),
        )
    }
}

#[cfg(test)]
mod tests;
