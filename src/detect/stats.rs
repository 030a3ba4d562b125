//! The statistics the detection rests on, as plain functions: the normal distribution, quantiles, and
//! robust levels and spreads of log-scale volumes. No state, no clock.

/// The standard normal upper tail, P(Z > z) (Abramowitz–Stegun 7.1.26 through `erfc`, error < 1.5e-7).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 {
        value
    } else {
        2.0 - value
    }
}

/// The z whose upper tail is `p`: Φ⁻¹(1 − p) (Acklam's rational approximation, relative error < 1.2e-9).
/// `p` is clamped to (1e-300, 1); a tail of 1 or more gives −∞'s stand-in, −40.
pub fn z_of_tail(p: f64) -> f64 {
    if p.is_nan() || p <= 0.0 {
        return 40.0;
    }
    if p >= 1.0 {
        return -40.0;
    }
    -normal_quantile(p)
}

/// Φ⁻¹(p) for p in (0, 1).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Linear-interpolated quantile `q` of sorted values (0 when empty).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let low = position.floor() as usize;
            let high = (low + 1).min(n - 1);
            let fraction = position - low as f64;
            sorted[low] * (1.0 - fraction) + sorted[high] * fraction
        }
    }
}

/// A volume on the log scale: `ln(1 + x)`. Volumes multiply rather than add across people and days, so
/// every comparison is made here, where one spread serves every scale.
pub fn log_volume(x: f64) -> f64 {
    x.max(0.0).ln_1p()
}

/// The least spread assumed of anyone's days, in log units: nobody's workload repeats to within 20%
/// day after day, and a perfectly regular account (a scheduled job) must not make a 10% rise look like
/// a twenty-sigma event.
pub const MIN_SPREAD: f64 = 0.2;

/// Spikes beyond `median + SPIKE_SIGMAS × core spread` that make a heavy tail the account's normal
/// once they are at least [`HEAVY_TAIL_SHARE`] of its days (and [`MIN_SPIKES`] of them).
const SPIKE_SIGMAS: f64 = 3.0;
/// A pattern of spikes, not an accident: one day in ten, and two of them.
const HEAVY_TAIL_SHARE: f64 = 0.1;
const MIN_SPIKES: usize = 2;

/// Where a set of log-scale values sits and how far its upper side spreads.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Level {
    /// Median of the values.
    pub median: f32,
    /// Spread of the upper side, in log units, at least [`MIN_SPREAD`].
    pub spread: f32,
    /// How many values it was measured from.
    pub samples: u16,
}

impl Level {
    /// The level of `values` (log scale). The spread is measured on the upper side only, since quiet
    /// days, weekends and half days (the low side) say nothing about how high an ordinary day goes:
    /// 1.4826 × the median distance above the median (the upper half's MAD). When spikes far above
    /// that core are a pattern (an investigator's big days, one in five), they are the account's
    /// normal: the spread then reaches the 90th percentile. `None` for no values.
    pub fn of(values: &mut [f64]) -> Option<Level> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let median = quantile_sorted(values, 0.5);
        let mut above: Vec<f64> = values
            .iter()
            .filter(|&&v| v >= median)
            .map(|v| v - median)
            .collect();
        above.sort_by(f64::total_cmp);
        let core = (1.4826 * quantile_sorted(&above, 0.5)).max(MIN_SPREAD);
        let spikes = values
            .iter()
            .filter(|&&v| v > median + SPIKE_SIGMAS * core)
            .count();
        let heavy = spikes >= MIN_SPIKES && spikes as f64 >= HEAVY_TAIL_SHARE * values.len() as f64;
        let spread = if heavy {
            core.max((quantile_sorted(values, 0.9) - median) / 1.2816)
        } else {
            core
        };
        Some(Level {
            median: median as f32,
            spread: spread as f32,
            samples: u16::try_from(values.len()).unwrap_or(u16::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail_and_quantile_invert_each_other() {
        for z in [-3.0, -1.0, 0.0, 0.5, 1.645, 2.326, 3.0, 4.5] {
            let back = z_of_tail(normal_sf(z));
            assert!((back - z).abs() < 1e-5, "{z} -> {back}");
        }
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-6);
        assert_eq!(z_of_tail(0.0), 40.0);
        assert_eq!(z_of_tail(1.0), -40.0);
    }

    #[test]
    fn the_spread_ignores_quiet_days_and_a_single_spike() {
        // Twenty working days around 100 (±20%), eight weekend days at a quarter, one odd day at 3x.
        let mut values: Vec<f64> = (0..20)
            .map(|i| log_volume(100.0 * (1.0 + 0.2 * ((i % 5) as f64 - 2.0) / 2.0)))
            .chain((0..8).map(|_| log_volume(25.0)))
            .chain([log_volume(300.0)])
            .collect();
        let level = Level::of(&mut values).expect("values");
        assert!(level.spread < 0.3, "{level:?}");
    }

    #[test]
    fn spikes_that_are_a_pattern_widen_the_spread() {
        // An investigator: 90 a day, one day in five an investigation of 2,000.
        let mut values: Vec<f64> = (0..25)
            .map(|i| log_volume(if i % 5 == 0 { 2_000.0 } else { 90.0 + i as f64 }))
            .collect();
        let level = Level::of(&mut values).expect("values");
        assert!(level.spread > 1.5, "{level:?}");
    }
}
