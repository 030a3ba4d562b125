//! Calibration: the threshold that a population of Gaussian accounts under this very accumulation
//! exceeds at the false-alarm budget ([`GaussianReference`]), raised by how far the real population's
//! four-week maxima run above the Gaussian ones ([`calibrated_threshold`]).

use smallvec::SmallVec;

use super::{
    bounded, quantile_sorted, Assessment, Risk, CALIBRATION_DAYS, GAUSSIAN_ACCOUNTS,
    MIN_CALIBRATION_ACCOUNTS, MIN_THRESHOLD, YOUNG_LEVEL_DAYS,
};

/// What a population of accounts whose days are Gaussian around their own levels does under this
/// accumulation: for every number of scored days up to four weeks, the upper quartile of the accounts'
/// largest risks, and the risk their largest exceeds at the budget. From a deterministic simulation of
/// [`GAUSSIAN_ACCOUNTS`] such accounts (a fixed seed: the same config gives the same thresholds).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianReference {
    /// Index `d`: after `d` scored days.
    pub(super) upper_quartile: Vec<f64>,
    threshold: Vec<f64>,
}

impl GaussianReference {
    pub fn new(budget_per_1000: f64) -> Self {
        use rand::{Rng, SeedableRng};
        let days = CALIBRATION_DAYS as usize;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6578_6669_6c77_6174);
        // maxima[d][account]: the account's largest risk over its first d + 1 days.
        let mut maxima = vec![Vec::with_capacity(GAUSSIAN_ACCOUNTS); days];
        for _ in 0..GAUSSIAN_ACCOUNTS {
            let mut risk = Risk::default();
            let mut largest = f64::NEG_INFINITY;
            for (index, by_day) in maxima.iter_mut().enumerate() {
                // As for a real account: only a level of ten days or more judges a day alone or
                // counts it in the short run.
                let mature = index >= YOUNG_LEVEL_DAYS;
                // Box–Muller: one standard normal from two uniforms.
                let u: f64 = rng.gen_range(f64::EPSILON..1.0);
                let v: f64 = rng.gen_range(0.0..1.0);
                let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                let day = Assessment {
                    score: bounded(z),
                    own: true,
                    alone: if mature { z.max(0.0) } else { 0.0 },
                    mature,
                    parts: SmallVec::new(),
                };
                largest = largest.max(risk.now(&day));
                risk.close_day(&day);
                by_day.push(largest);
            }
        }
        let mut upper_quartile = vec![0.0];
        let mut threshold = vec![MIN_THRESHOLD];
        for (index, mut by_day) in maxima.into_iter().enumerate() {
            by_day.sort_by(f64::total_cmp);
            let p = budget_share(budget_per_1000, (index + 1) as f64);
            upper_quartile.push(quantile_sorted(&by_day, 0.75));
            threshold.push(quantile_sorted(&by_day, 1.0 - p).max(MIN_THRESHOLD));
        }
        GaussianReference {
            upper_quartile,
            threshold,
        }
    }

    pub(super) fn at(values: &[f64], days: f64) -> f64 {
        let index = (days.round() as usize).clamp(1, values.len().saturating_sub(1).max(1));
        values.get(index).copied().unwrap_or(MIN_THRESHOLD)
    }

    /// The Gaussian population's threshold after `days` scored days (the threshold in force before a
    /// population can calibrate its own).
    pub fn threshold(&self, days: f64) -> f64 {
        Self::at(&self.threshold, days)
    }
}

/// The share of accounts the budget allows to alert over `days` days.
pub(super) fn budget_share(budget_per_1000: f64, days: f64) -> f64 {
    (budget_per_1000 * days.clamp(1.0, CALIBRATION_DAYS) / 1000.0)
        .clamp(1.0 / GAUSSIAN_ACCOUNTS as f64, 0.5)
}

/// The threshold for a population from its accounts' largest daily risks over the last four weeks (days
/// with a breach left out), `days` being the typical number of scored days behind one maximum.
///
/// A population of well-measured accounts behaves like the Gaussian one ([`GaussianReference`]): its
/// threshold is the Gaussian threshold. One whose accounts run higher (heavier tails than Gaussian:
/// odd busy days, bursty jobs, short histories) is raised by how far the upper quartile of its maxima
/// runs above the Gaussian upper quartile: a shift measured where there are data, not a tail
/// extrapolated from them, and one that attackers cannot move unless they are a quarter of the accounts
/// (contamination: their runs would set any high quantile of everyone's scores). Never below the
/// Gaussian threshold. `None` below [`MIN_CALIBRATION_ACCOUNTS`].
pub fn calibrated_threshold(
    maxima: &mut [f64],
    days: f64,
    reference: &GaussianReference,
) -> Option<f64> {
    if maxima.len() < MIN_CALIBRATION_ACCOUNTS {
        return None;
    }
    maxima.sort_by(f64::total_cmp);
    let excess =
        quantile_sorted(maxima, 0.75) - GaussianReference::at(&reference.upper_quartile, days);
    Some(reference.threshold(days) + excess.max(0.0))
}
