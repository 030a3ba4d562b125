//! Baselines: one account's daily totals over the last four weeks, and the robust statistics that
//! turn them into "normal for this account".
//!
//! Days are UTC calendar days in event time. A day the rules flagged is kept but never trains the
//! baseline, so an insider who grows a little every day cannot teach the detector that theft is normal.
//! Median and MAD (not mean and standard deviation) keep one odd day from moving the baseline.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Closed days kept per account.
pub const HISTORY_DAYS: usize = 28;
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day number (days since the epoch) of an event time.
pub fn day_of(time_ms: i64) -> i32 {
    i32::try_from(time_ms.div_euclid(DAY_MS)).unwrap_or(i32::MAX)
}

/// What one account did on one day.
///
/// Packed to 2-byte alignment: 22 bytes rather than 24 (the one 8-byte field no longer pads the two
/// flags out to 8), so an account's 28 days of history with the day being closed (29 × 22 = 638
/// bytes) fit the allocator's 640-byte size class instead of its 768-byte one. Fields are read by
/// value; x86-64 and ARMv8 load unaligned fields at full speed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[repr(Rust, packed(2))]
pub struct DayTotals {
    pub day: i32,
    /// A rule breached on this day, or the account's whole peer group surged (an outage): it does not
    /// train the baseline.
    pub flagged: bool,
    /// The account's whole peer group surged in exports this day (quarter-end reporting): its exports
    /// were the team's, so the day trains no egress level and weekly egress sums leave it out.
    #[serde(default)]
    pub surged: bool,
    /// Sensitive records read (rows, or record keys where rows are missing); saturating.
    pub records: u32,
    /// Distinct sensitive records read (record-key estimate, plus rows of keyless sources); saturating.
    pub distinct: u32,
    /// Bytes exported.
    pub egress_bytes: u64,
}

/// Daily totals: the open day and up to [`HISTORY_DAYS`] closed days, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyHistory {
    pub closed: VecDeque<DayTotals>,
    pub today: Option<DayTotals>,
    /// First day the account was seen: how long we have known it.
    pub first_day: Option<i32>,
    /// Summary of the training set, refreshed when a day closes (it changes at no other time).
    pub trained: Trained,
}

/// What the unflagged closed days say, kept so rules need not rescan the history per event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    pub days: u32,
    /// Distinct records today at which the days running above normal would breach (see
    /// [`Sustained`]; 0 when the median day reads nothing). A single `f32` beside `days`, where the
    /// struct had padding: every event reads it, so the state keeps no more than this of it.
    pub sustained_bound: f32,
    pub records_max: u64,
    pub distinct_max: u64,
    pub distinct_median: f64,
    pub distinct_mad: f64,
    /// The lowest weekly median of the last four weeks (weeks with at least three unflagged active
    /// days): the level before a slow, steady rise that the overall median has partly absorbed.
    pub distinct_low_median: f64,
    /// The median of the most recent week (same rule), to tell a steady rise from ordinary variation.
    pub distinct_recent_median: f64,
    /// The top of the account's own spread of active days (see [`log_normal_tail`]): 0 until known.
    pub distinct_tail: f64,
    pub records_tail: f64,
    /// The median bytes exported on the days the account exported anything, once it has
    /// [`EGRESS_MEDIAN_MIN_DAYS`] of them (else 0): the level its team's egress surge is measured from.
    pub egress_median: f64,
}

/// Export days an account needs before its median export day is a level.
pub const EGRESS_MEDIAN_MIN_DAYS: usize = 5;

/// Robust log-scale sigmas to the top of an account's normal spread: 3 is the 99.87th percentile of a
/// log-normal, about one day in three years.
const TAIL_SIGMAS: f64 = 3.0;
/// Active days needed before the spread of an account's days is estimated.
const TAIL_MIN_DAYS: usize = 5;
/// Days from which the 95th percentile alone measures the spread: two days above it.
const P95_RELIABLE_DAYS: usize = 40;

/// Where an account's (or a group's) days stop being ordinary when their sizes are heavy-tailed: an
/// analyst's occasional extracts vary several-fold, a support agent's days much less. Volumes like these
/// multiply rather than add, so the spread is measured on a log scale, and only on the upper side: the
/// log-distance from the median to an upper quantile of the positive days gives σ, and the tail is
/// median × e^(3σ). Quiet or short days (the low side) do not widen it. Two quantiles are read, the 75th
/// (0.674σ above the median of a log-normal) and the 95th (1.645σ), and while there are fewer than 40
/// days the wider σ is kept: from a few weeks of days the 95th percentile is about the largest day seen,
/// which underestimates the spread (from 20 days of a σ = 0.6 log-normal it gives σ under 0.45 a third
/// of the time, median 0.51; the wider of the two, a fifth of the time, median 0.60). From 40 days on
/// the 95th percentile alone is kept: it is then well measured, and the upper quartile of a group
/// mixing people of different levels would overstate how far one person's days spread. 0 with fewer
/// than five positive days.
pub fn log_normal_tail(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut positive: Vec<f64> = values.into_iter().filter(|&v| v > 0.0).collect();
    if positive.len() < TAIL_MIN_DAYS {
        return 0.0;
    }
    positive.sort_by(f64::total_cmp);
    let median = quantile_sorted(&positive, 0.5);
    let from_p95 = (quantile_sorted(&positive, 0.95) / median).ln() / 1.645;
    let sigma = if positive.len() < P95_RELIABLE_DAYS {
        let from_quartile = (quantile_sorted(&positive, 0.75) / median).ln() / 0.6745;
        from_quartile.max(from_p95)
    } else {
        from_p95
    };
    median * (TAIL_SIGMAS * sigma).exp()
}

/// The least log-scale spread assumed of a person's days: from a week or two of days the measured one
/// can be near zero, and nobody's workload repeats to within 25% every day.
pub const MIN_LOG_SIGMA: f64 = 0.25;
/// Days more than this many σ above the median add to the sustained excess (Page's CUSUM allowance):
/// e^(1.5σ), 1.45× the median at the least σ.
pub const EXCESS_ALLOWANCE: f64 = 1.5;

/// How far an account's most recent days ran above its normal, accumulated: Page's CUSUM,
/// `S = max(0, S + z - allowance)` over the unflagged active days in order, with
/// `z = ln((x+1)/(median+1)) / σ`. A single busy day adds little and ordinary days drain it by the
/// allowance, so it stays near 0 for a normal account whatever its level; a shift that persists day
/// after day (an insider reading 2-3× their normal every shift) adds `z - allowance` per day. It is the
/// statistic of the sequential test for a sustained shift: two moderately high days together say what
/// one very high day says alone.
///
/// The median and σ it measures against leave out the trailing run of high days (each above
/// `median × e^(allowance·σ)`): those are the days under suspicion, and while they are not flagged they
/// would otherwise teach the reference the shift it is testing for (one theft day in a week of history
/// moves the median 8% and doubles a small sample's MAD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sustained {
    /// The median day before the current run of high days.
    pub median: f64,
    /// Robust log-scale spread of those days: 1.4826 × the MAD of their logarithms, never below
    /// [`MIN_LOG_SIGMA`].
    pub log_sigma: f64,
    /// The largest CUSUM reached before the current run: runs of busy days the account has already
    /// shown to be its normal (an analyst's Monday and Tuesday extracts every week).
    pub usual: f64,
    /// The CUSUM after the last closed day, in units of `log_sigma`.
    pub excess: f64,
    /// Days in the current run: the most recent unflagged active days, each well above the median.
    pub run_days: u32,
    /// Distinct records today at which the excess would pass [`SUSTAINED_LIMIT`] (or the largest
    /// excess the account has already shown, plus the allowance): `None` without a median day.
    /// Computed here, once a day, rather than on every event.
    pub bound: Option<f64>,
}

/// Sustained excess (in σ) at which days running above normal breach: Page's decision interval h = 4.
/// With the allowance k = 1.5 a steady log-normal account stays well below it (the largest excess in
/// four weeks of 150 simulated accounts is 2.8), and two days at 2.5× the median pass it.
pub const SUSTAINED_LIMIT: f64 = 4.0;

/// Days before the current run needed to measure against them; with fewer, every day is the reference.
const SUSTAINED_MIN_REFERENCE_DAYS: usize = 3;

impl Sustained {
    /// The statistic over `days`, oldest first. All zero when the median day reads nothing (an account
    /// with occasional extracts has no level to run above).
    pub fn of(days: &[u64]) -> Sustained {
        let Some(all) = Robust::of(days).filter(|r| r.median > 0.0) else {
            return Sustained::default();
        };
        let all_sigma = log_sigma(days);
        // ln(x + 1) of every day, read twice below.
        let logs: Vec<f64> = days.iter().map(|&x| (x as f64 + 1.0).ln()).collect();
        let high = (all.median + 1.0).ln() + EXCESS_ALLOWANCE * all_sigma;
        let run = logs.iter().rev().take_while(|&&l| l > high).count();
        let before = &days[..days.len() - run];
        // With no run (the usual case) the reference is every day, already measured.
        let reference = (run > 0 && before.len() >= SUSTAINED_MIN_REFERENCE_DAYS)
            .then(|| Robust::of(before))
            .flatten()
            .filter(|r| r.median > 0.0);
        let (median, sigma) = match reference {
            Some(r) => (r.median, log_sigma(before)),
            None => (all.median, all_sigma),
        };
        let level = (median + 1.0).ln();
        let mut excess = 0.0f64;
        let mut usual = 0.0f64;
        for (index, &l) in logs.iter().enumerate() {
            let z = (l - level) / sigma;
            excess = (excess + z - EXCESS_ALLOWANCE).max(0.0);
            if index < before.len() {
                usual = usual.max(excess);
            }
        }
        // Never below a run the account has already made without flagging (its own weekly pattern),
        // and never so low that a day within the allowance could breach.
        let limit = SUSTAINED_LIMIT.max(usual + EXCESS_ALLOWANCE);
        let headroom = (limit + EXCESS_ALLOWANCE - excess).max(EXCESS_ALLOWANCE);
        Sustained {
            median,
            log_sigma: sigma,
            usual,
            excess,
            run_days: u32::try_from(run).unwrap_or(u32::MAX),
            bound: Some((median + 1.0) * (sigma * headroom).exp() - 1.0),
        }
    }
}

impl Trained {
    /// Whether the last week runs 1.5x above the quietest recent week: a steady rise, judged against
    /// where it started rather than against a spread it has already widened. A quietest week of zero
    /// (an account whose sensitive reads are occasional) is no starting level to rise from.
    pub fn rising(&self) -> bool {
        self.distinct_low_median > 0.0
            && self.distinct_recent_median >= 1.5 * self.distinct_low_median
    }
}

impl DailyHistory {
    /// Makes `day` the open day, closing the previous one. Returns the day just closed. Events of an
    /// earlier day (late ones) keep counting in the open day: totals are approximate at day edges.
    pub fn roll_to(&mut self, day: i32) -> Option<DayTotals> {
        self.first_day.get_or_insert(day);
        match &self.today {
            Some(open) if open.day >= day => None,
            _ => {
                let fresh = DayTotals {
                    day,
                    ..DayTotals::default()
                };
                let closed = self.today.replace(fresh)?;
                if self.closed.capacity() == 0 {
                    self.closed.reserve_exact(HISTORY_DAYS + 1);
                }
                self.closed.push_back(closed);
                while self.closed.len() > HISTORY_DAYS {
                    self.closed.pop_front();
                }
                self.retrain();
                Some(closed)
            }
        }
    }

    /// Recomputes [`Trained`] from the closed days.
    pub fn retrain(&mut self) {
        let distinct = self.training(|d| u64::from(d.distinct));
        let robust = Robust::of(&distinct);
        let mut low: Option<f64> = None;
        let mut recent: Option<f64> = None;
        if let Some(last) = self.closed.back().map(|d| d.day) {
            for week in 0..4 {
                let (from, to) = (last - 7 * (week + 1), last - 7 * week);
                let values: Vec<u64> = self
                    .closed
                    .iter()
                    .filter(|d| !d.flagged && d.day > from && d.day <= to)
                    .map(|d| u64::from(d.distinct))
                    .collect();
                if values.len() >= 3 {
                    if let Some(r) = Robust::of(&values) {
                        low = Some(low.map_or(r.median, |l: f64| l.min(r.median)));
                        if week == 0 {
                            recent = Some(r.median);
                        }
                    }
                }
            }
        }
        let records = self.training(|d| u64::from(d.records));
        let median = robust.map_or(0.0, |r| r.median);
        let export_days: Vec<u64> = self
            .egress_training()
            .into_iter()
            .filter(|&bytes| bytes > 0)
            .collect();
        let egress_median = if export_days.len() >= EGRESS_MEDIAN_MIN_DAYS {
            Robust::of(&export_days).map_or(0.0, |r| r.median)
        } else {
            0.0
        };
        self.trained = Trained {
            distinct_tail: log_normal_tail(distinct.iter().map(|&v| v as f64)),
            // Oldest first, as the days came: `training` keeps the history's order.
            sustained_bound: Sustained::of(&distinct).bound.map_or(0.0, |b| b as f32),
            records_tail: log_normal_tail(records.iter().map(|&v| v as f64)),
            distinct_low_median: low.unwrap_or_else(|| robust.map_or(0.0, |r| r.median)),
            distinct_recent_median: recent.unwrap_or_else(|| robust.map_or(0.0, |r| r.median)),
            days: distinct.len() as u32,
            records_max: records.iter().copied().max().unwrap_or(0),
            distinct_max: distinct.iter().copied().max().unwrap_or(0),
            distinct_median: median,
            egress_median,
            distinct_mad: robust.map_or(0.0, |r| r.mad),
        };
    }

    /// The open day (call [`DailyHistory::roll_to`] first).
    pub fn today_mut(&mut self) -> Option<&mut DayTotals> {
        self.today.as_mut()
    }

    /// Days since the account was first seen.
    pub fn days_known(&self, day: i32) -> u32 {
        self.first_day
            .map_or(0, |first| u32::try_from(day - first).unwrap_or(0))
    }

    /// Bytes exported on the closed days that train the egress level: unflagged, and not a day the
    /// team surged (quarter end).
    pub fn egress_training(&self) -> Vec<u64> {
        self.closed
            .iter()
            .filter(|d| !d.flagged && !d.surged)
            .map(|d| d.egress_bytes)
            .collect()
    }

    /// Values of the closed, unflagged days within the history: the training set.
    pub fn training(&self, value: impl Fn(&DayTotals) -> u64) -> Vec<u64> {
        self.closed
            .iter()
            .filter(|d| !d.flagged)
            .map(value)
            .collect()
    }

    /// Sums over every run of 7 consecutive calendar days ending at a closed day, counting days without
    /// activity as zero and skipping runs that touch a flagged or surged day (weekly jobs stay normal).
    pub fn weekly_sums(&self, value: impl Fn(&DayTotals) -> u64) -> Vec<u64> {
        let mut sums = Vec::new();
        let Some(last) = self.closed.back().map(|d| d.day) else {
            return sums;
        };
        let first = self.closed.front().map_or(last, |d| d.day);
        let mut end = first + 6;
        while end <= last {
            let mut sum = 0u64;
            let mut clean = true;
            for d in self
                .closed
                .iter()
                .filter(|d| d.day > end - 7 && d.day <= end)
            {
                clean &= !d.flagged && !d.surged;
                sum = sum.saturating_add(value(d));
            }
            if clean {
                sums.push(sum);
            }
            end += 1;
        }
        sums
    }

    /// Heap bytes, for the state-size metric.
    pub fn heap_bytes(&self) -> usize {
        self.closed.capacity() * std::mem::size_of::<DayTotals>()
    }
}

/// Robust σ of the logarithms of the positive `days` (1.4826 × MAD), floored at [`MIN_LOG_SIGMA`].
fn log_sigma(days: &[u64]) -> f64 {
    let logs: Vec<f64> = days
        .iter()
        .filter(|&&x| x > 0)
        .map(|&x| (x as f64).ln())
        .collect();
    Robust::of_values(logs).map_or(MIN_LOG_SIGMA, |r| r.sigma().max(MIN_LOG_SIGMA))
}

/// Median and median absolute deviation of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Robust {
    pub median: f64,
    pub mad: f64,
}

impl Robust {
    /// Robust statistics of `values`, `None` for an empty sample.
    pub fn of(values: &[u64]) -> Option<Robust> {
        Robust::of_values(values.iter().map(|&v| v as f64).collect())
    }

    /// Robust statistics of real `values` (consumed: they are sorted in place), `None` when empty.
    pub fn of_values(mut sorted: Vec<f64>) -> Option<Robust> {
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let median = quantile_sorted(&sorted, 0.5);
        let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        let mad = quantile_sorted(&deviations, 0.5);
        Some(Robust { median, mad })
    }

    /// The robust standard deviation: 1.4826 × MAD estimates σ for normal data.
    pub fn sigma(&self) -> f64 {
        1.4826 * self.mad
    }
}

/// Linear-interpolated quantile of a sorted, non-empty sample.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    if sorted.len() == 1 {
        return sorted[0];
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let weight = position - lower as f64;
    sorted[lower] * (1.0 - weight) + sorted[upper] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_normal_tail_follows_the_upper_spread_only() {
        use rand::SeedableRng;
        // A log-normal sample, median 400, sigma 0.6: the tail is about 400 x e^1.8 = 2,420.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let sample: Vec<f64> = (0..4_000)
            .map(|_| 400.0 * (0.6 * standard_normal(&mut rng)).exp())
            .collect();
        let tail = log_normal_tail(sample.iter().copied());
        assert!((tail - 2_420.0).abs() < 0.1 * 2_420.0, "{tail}");
        // Quiet days below the median (short shifts, zero days) do not widen it.
        let mut with_quiet_days = sample.clone();
        with_quiet_days.extend(sample.iter().map(|v| v / 50.0).take(1_000));
        with_quiet_days.extend(std::iter::repeat_n(0.0, 5_000));
        let quiet = log_normal_tail(with_quiet_days.iter().copied());
        assert!(quiet <= tail * 1.05, "{quiet} vs {tail}");
        assert_eq!(
            log_normal_tail([10.0, 20.0, 0.0, 30.0]),
            0.0,
            "too few days"
        );
    }

    #[test]
    fn log_normal_tail_from_a_few_weeks_is_not_biased_low() {
        use rand::SeedableRng;
        // 2,000 accounts of 20 active days each, median 400, sigma 0.6: the true tail is 2,420.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut tails: Vec<f64> = (0..2_000)
            .map(|_| {
                let days: Vec<f64> = (0..20)
                    .map(|_| 400.0 * (0.6 * standard_normal(&mut rng)).exp())
                    .collect();
                log_normal_tail(days)
            })
            .collect();
        tails.sort_by(f64::total_cmp);
        let median = quantile_sorted(&tails, 0.5);
        assert!(
            (median - 2_420.0).abs() < 0.2 * 2_420.0,
            "median tail {median}"
        );
        let far_below = tails.iter().filter(|&&t| t < 0.6 * 2_420.0).count();
        assert!(
            far_below < 2_000 / 5,
            "{far_below} of 2,000 tails under 60% of the truth"
        );
    }

    /// A standard normal draw (Box-Muller), to keep the test free of another dependency.
    fn standard_normal(rng: &mut impl rand::Rng) -> f64 {
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    #[test]
    fn a_steady_account_accumulates_no_excess_whatever_its_level() {
        use rand::SeedableRng;
        // Four weeks of log-normal days (σ = 0.25, the least spread assumed), at three levels and
        // fifty seeds: the excess stays below the rule's limit of 4 (the largest seen is 2.8).
        for seed in 0..50 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            for level in [40.0, 600.0, 20_000.0] {
                let days: Vec<u64> = (0..28)
                    .map(|_| (level * (0.25 * standard_normal(&mut rng)).exp()) as u64)
                    .collect();
                let s = Sustained::of(&days);
                assert!(
                    s.excess < 3.0 && s.usual < 3.0,
                    "seed {seed}, level {level}: {s:?}"
                );
            }
        }
    }

    #[test]
    fn the_reference_leaves_out_the_run_under_suspicion() {
        let normal = [600, 560, 640, 610, 580, 620, 600];
        let mut days: Vec<u64> = normal.to_vec();
        let before = Sustained::of(&days);
        assert_eq!(before.excess, 0.0);
        // Two days of 1,700 (2.8x): measured against the week before them, not a median they lifted.
        days.extend([1_700, 1_700]);
        let s = Sustained::of(&days);
        assert_eq!(s.median, 600.0);
        assert_eq!(s.log_sigma, MIN_LOG_SIGMA);
        let z = (1_701.0f64 / 601.0).ln() / MIN_LOG_SIGMA;
        assert!(
            (s.excess - 2.0 * (z - EXCESS_ALLOWANCE)).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(s.usual, 0.0, "the run itself is not the account's usual");
        assert_eq!(s.run_days, 2);
        // An ordinary day after them drains the excess by about the allowance, and the run, which
        // trained the baseline unflagged, becomes what the account has shown it does.
        days.push(600);
        let after = Sustained::of(&days);
        assert!(
            (after.excess - (s.excess - EXCESS_ALLOWANCE)).abs() < 0.5,
            "{after:?}"
        );
        assert!(after.usual > after.excess, "{after:?}");
    }

    #[test]
    fn an_account_whose_median_day_reads_nothing_has_no_excess() {
        assert_eq!(
            Sustained::of(&[0, 0, 0, 900, 0, 0, 1_000]),
            Sustained::default()
        );
        assert_eq!(Sustained::of(&[]), Sustained::default());
    }

    #[test]
    fn rolling_closes_days_and_keeps_four_weeks() {
        let mut h = DailyHistory::default();
        for day in 0..40 {
            h.roll_to(day);
            if let Some(t) = h.today_mut() {
                t.records += day as u32;
            }
        }
        assert_eq!(h.closed.len(), HISTORY_DAYS);
        assert_eq!(h.closed.back().map(|d| d.day), Some(38));
        assert_eq!(h.today.as_ref().map(|d| d.day), Some(39));
        assert_eq!(h.days_known(39), 39);
        assert!(h.roll_to(39).is_none(), "same day does not close");
        assert!(
            h.roll_to(12).is_none(),
            "a late day keeps counting in the open day"
        );
    }

    #[test]
    fn a_day_is_22_bytes_and_a_full_history_fits_640() {
        assert_eq!(std::mem::size_of::<DayTotals>(), 22);
        assert!((HISTORY_DAYS + 1) * std::mem::size_of::<DayTotals>() <= 640);
    }

    #[test]
    fn flagged_days_never_train() {
        let mut h = DailyHistory::default();
        for day in 0..10 {
            h.roll_to(day);
            let t = h.today_mut().expect("open day");
            t.distinct = if day == 4 { 10_000 } else { 100 };
            t.flagged = day == 4;
        }
        h.roll_to(10);
        let training = h.training(|d| u64::from(d.distinct));
        assert_eq!(training.len(), 9);
        assert!(training.iter().all(|&v| v == 100));
    }

    #[test]
    fn robust_statistics_ignore_one_outlier() {
        let r = Robust::of(&[10, 11, 9, 10, 12, 10, 1_000]).expect("non-empty");
        assert_eq!(r.median, 10.0);
        assert_eq!(r.mad, 1.0);
        assert!(Robust::of(&[]).is_none());
    }

    #[test]
    fn weekly_sums_count_idle_days_as_zero() {
        let mut h = DailyHistory::default();
        // A weekly job: 50 units every 7th day, nothing in between.
        for day in (0..28).step_by(7) {
            h.roll_to(day);
            if let Some(t) = h.today_mut() {
                t.egress_bytes = 50;
            }
        }
        h.roll_to(28);
        let sums = h.weekly_sums(|d| d.egress_bytes);
        assert!(!sums.is_empty());
        assert!(sums.iter().all(|&s| s == 50), "{sums:?}");
    }

    #[test]
    fn quantiles_interpolate() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_sorted(&s, 0.5), 3.0);
        assert_eq!(quantile_sorted(&s, 0.95), 4.8);
    }
}
