//! The daily calibrated threshold of a partition and its groups (see `docs/detection.md`, section 7).

use super::*;

/// The thresholds in force in one partition on one day: its groups large enough to calibrate their
/// own, and the whole partition's for the rest.
#[derive(Debug, Clone)]
pub(super) struct PartitionThresholds {
    day: i32,
    partition: Threshold,
    groups: Vec<(String, Threshold)>,
    coverage: CalibrationCoverage,
}

/// How the accounts behind a calibration were judged: with their own group as the population, with the
/// whole partition (their group has too few accounts in the partition), or by the Gaussian default (the
/// partition has too few). Counted per account, not per read: a small group split thin under a large
/// one shows here, where a share of reads would drown it (see README, Partitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CalibrationCoverage {
    pub own_group: usize,
    pub partition: usize,
    pub uncalibrated: usize,
}

impl CalibrationCoverage {
    fn add(self, other: CalibrationCoverage) -> CalibrationCoverage {
        CalibrationCoverage {
            own_group: self.own_group + other.own_group,
            partition: self.partition + other.partition,
            uncalibrated: self.uncalibrated + other.uncalibrated,
        }
    }
}

impl PartitionThresholds {
    fn of(&self, group: &str) -> Threshold {
        self.groups
            .iter()
            .find(|(name, _)| name == group)
            .map_or(self.partition, |(_, t)| *t)
    }
}

impl GroupBook {
    /// How the accounts of every partition were judged at their latest calibration.
    pub fn calibration_coverage(&self) -> CalibrationCoverage {
        self.thresholds
            .iter()
            .fold(CalibrationCoverage::default(), |sum, entry| {
                sum.add(entry.value().coverage)
            })
    }

    /// The threshold in force for `group` in `partition` on `day`, calibrated once per day (for every
    /// group of the partition at once) from the four-week maxima of the daily risks of its accounts
    /// (days with a breach left out) against the Gaussian `reference` for the budget (see
    /// [`calibrated_threshold`]). A group with enough accounts is its own population (support agents are
    /// not judged by the accidents of DBAs); a smaller one is judged with the whole partition's; the
    /// Gaussian threshold until there are enough accounts even there. Kept for the day; for events whose
    /// time is not trusted (`keep` false), kept apart, for other such events only. Must not be called
    /// while holding an account entry of `store`.
    pub fn threshold(
        &self,
        store: &AccountStore,
        group: &str,
        partition: Option<PartitionRef>,
        (day, keep): (i32, bool),
        reference: &GaussianReference,
    ) -> Threshold {
        if let Some(known) = self.thresholds.get(&partition).filter(|t| t.day >= day) {
            return known.of(group);
        }
        if !keep {
            if let Some(known) = self
                .unconfirmed_thresholds
                .get(&partition)
                .filter(|t| t.day == day)
            {
                return known.of(group);
            }
        }
        let since = day - HISTORY_DAYS as i32;
        // (group, four-week maximum, scored days) of every account with enough scored days.
        let mut accounts: Vec<(String, f64, f64)> = Vec::new();
        store.for_each(|state| {
            if state.partition != partition {
                return;
            }
            let mut days = 0usize;
            let mut largest = f64::NEG_INFINITY;
            for d in state.history.all() {
                if d.day >= since && d.day < day && !d.has(ALERTED) {
                    if let Some(risk) = d.risk() {
                        days += 1;
                        largest = largest.max(risk);
                    }
                }
            }
            if days >= MIN_CALIBRATION_DAYS {
                let group = state.peer_group.clone().unwrap_or_default();
                accounts.push((group, largest, days as f64));
            }
        });
        let calibrate = |members: &[&(String, f64, f64)]| {
            let mut spans: Vec<f64> = members.iter().map(|m| m.2).collect();
            spans.sort_by(f64::total_cmp);
            let typical_days = crate::detect::stats::quantile_sorted(&spans, 0.5);
            let mut maxima: Vec<f64> = members.iter().map(|m| m.1).collect();
            match calibrated_threshold(&mut maxima, typical_days, reference) {
                Some(value) => Threshold {
                    day,
                    value,
                    samples: members.len(),
                },
                None => Threshold {
                    day,
                    value: reference.threshold(CALIBRATION_DAYS),
                    samples: 0,
                },
            }
        };
        let everyone: Vec<&(String, f64, f64)> = accounts.iter().collect();
        let mut thresholds = PartitionThresholds {
            day,
            partition: calibrate(&everyone),
            groups: Vec::new(),
            coverage: CalibrationCoverage::default(),
        };
        let mut names: Vec<&str> = accounts.iter().map(|a| a.0.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let members: Vec<&(String, f64, f64)> =
                accounts.iter().filter(|a| a.0 == name).collect();
            if members.len() >= MIN_CALIBRATION_ACCOUNTS {
                thresholds
                    .groups
                    .push((name.to_string(), calibrate(&members)));
                thresholds.coverage.own_group += members.len();
            }
        }
        let rest = accounts.len() - thresholds.coverage.own_group;
        if thresholds.partition.samples > 0 {
            thresholds.coverage.partition = rest;
        } else {
            thresholds.coverage.uncalibrated = rest;
        }
        let threshold = thresholds.of(group);
        if keep {
            self.thresholds.insert(partition, thresholds);
        } else {
            self.unconfirmed_thresholds.insert(partition, thresholds);
        }
        threshold
    }
}
