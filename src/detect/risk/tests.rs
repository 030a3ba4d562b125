use super::calibration::budget_share;
use super::*;

fn level(median: f64, spread: f64, samples: u16) -> Level {
    Level {
        median: log_volume(median) as f32,
        spread: spread as f32,
        samples,
    }
}

fn baseline(median: f64) -> Baseline {
    Baseline {
        reads: Some(level(median, 0.3, 28)),
        queries: Some(level(median / 3.0, 0.3, 28)),
        exports: None,
        largest_rows: median as u32,
    }
}

/// A day of `reads` customers in a third as many statements, nothing exported.
fn reading(reads: f64) -> Today {
    Today {
        reads,
        queries: reads / 3.0,
        exported: 0.0,
        exported_records: 0.0,
    }
}

#[test]
fn a_day_at_the_accounts_normal_scores_nothing_and_a_quadrupled_one_scores_high() {
    let b = baseline(60.0);
    let g = PeerContext::default();
    let normal = assess(
        Today {
            reads: 60.0,
            queries: 20.0,
            exported: 0.0,
            exported_records: 0.0,
        },
        &b,
        &g,
        &[0.0; 5],
    );
    assert!(normal.score < 0.3, "{normal:?}");
    let quad = assess(
        Today {
            reads: 240.0,
            queries: 80.0,
            exported: 0.0,
            exported_records: 0.0,
        },
        &b,
        &g,
        &[0.0; 5],
    );
    assert!(quad.score > 3.0, "{quad:?}");
    assert!(quad.own);
}

#[test]
fn the_groups_rise_is_taken_out_and_a_single_feature_is_capped() {
    let b = baseline(100.0);
    let surge = PeerContext {
        common_mode: Some(2.5f64.ln()),
        ..PeerContext::default()
    };
    let day = Today {
        reads: 250.0,
        queries: 83.0,
        exported: 0.0,
        exported_records: 0.0,
    };
    assert!(assess(day, &b, &surge, &[0.0; 5]).score < 0.3);
    let huge = Today {
        reads: 100_000.0,
        queries: 30_000.0,
        exported: 0.0,
        exported_records: 0.0,
    };
    let score = assess(huge, &b, &PeerContext::default(), &[0.0; 5]).score;
    assert!(score > DAY_CAP && score < 2.0 * DAY_CAP, "{score}");
}

#[test]
fn a_day_of_other_work_between_heavy_days_decays_the_evidence_by_a_day_and_no_more() {
    let b = baseline(100.0);
    let g = PeerContext::default();
    let heavy = Today {
        reads: 400.0,
        queries: 130.0,
        exported: 0.0,
        exported_records: 0.0,
    };
    let mut risk = Risk::default();
    risk.close_day(&assess(heavy, &b, &g, &[0.0; 5]));
    let before = f64::from(risk.accumulated);
    assert!(before > 2.0, "{before}");
    let quiet = assess(Today::default(), &b, &g, &[0.0; 5]);
    assert!(quiet.own && quiet.score == 0.0, "{quiet:?}");
    risk.close_day(&quiet);
    let after = f64::from(risk.accumulated);
    assert!(
        (after - (DECAY * before - ALLOWANCE)).abs() < 1e-3,
        "{before} → {after}"
    );
    // Without a level of its own there is nothing to carry.
    let mut new = Risk {
        accumulated: 3.0,
        burst: 0.0,
    };
    new.close_day(&assess(
        Today::default(),
        &Baseline::default(),
        &g,
        &[0.0; 5],
    ));
    assert_eq!(new.accumulated, 0.0);
}

#[test]
fn evidence_accumulates_over_a_run_and_drains_on_ordinary_days() {
    let b = baseline(100.0);
    let g = PeerContext::default();
    let high = assess(
        Today {
            reads: 190.0,
            queries: 63.0,
            exported: 0.0,
            exported_records: 0.0,
        },
        &b,
        &g,
        &[0.0; 5],
    );
    let ordinary = assess(
        Today {
            reads: 100.0,
            queries: 33.0,
            exported: 0.0,
            exported_records: 0.0,
        },
        &b,
        &g,
        &[0.0; 5],
    );
    let mut risk = Risk::default();
    let mut peak = 0.0f64;
    for _ in 0..5 {
        peak = peak.max(risk.now(&high));
        assert!(risk.close_day(&high));
    }
    assert!(peak > 3.0 * (high.score - ALLOWANCE), "{peak}");
    for _ in 0..10 {
        risk.close_day(&ordinary);
    }
    assert!(risk.accumulated < 0.5);
}

#[test]
fn a_gaussian_population_gets_the_gaussian_threshold_and_a_heavier_one_more() {
    let reference = GaussianReference::new(0.1);
    // The Gaussian population's own maxima: its upper quartile is the reference's.
    let gaussian = GaussianReference::at(&reference.upper_quartile, 28.0);
    let mut like: Vec<f64> = (0..100)
        .map(|i| gaussian + (f64::from(i) - 75.0) * 0.02)
        .collect();
    let h = calibrated_threshold(&mut like, 28.0, &reference).expect("enough");
    assert!((h - reference.threshold(28.0)).abs() < 0.05, "{h}");
    let mut heavier: Vec<f64> = like.iter().map(|v| v + 1.0).collect();
    let raised = calibrated_threshold(&mut heavier, 28.0, &reference).expect("enough");
    assert!((raised - h - 1.0).abs() < 0.05, "{raised} vs {h}");
    // A tenth of the accounts running far away (attackers) does not move it.
    let mut contaminated = like.clone();
    contaminated.extend(std::iter::repeat_n(14.0, 10));
    let with_attackers = calibrated_threshold(&mut contaminated, 28.0, &reference).expect("enough");
    assert!((with_attackers - h).abs() < 0.3, "{with_attackers} vs {h}");
    assert!(calibrated_threshold(&mut [1.0; 5], 28.0, &reference).is_none());
}

#[test]
fn the_gaussian_threshold_is_deterministic_and_follows_the_budget_and_the_days() {
    let strict = GaussianReference::new(0.1);
    assert_eq!(strict, GaussianReference::new(0.1));
    let loose = GaussianReference::new(1.0);
    assert!(strict.threshold(28.0) > loose.threshold(28.0));
    assert!(
        (4.5..6.5).contains(&strict.threshold(28.0)),
        "{}",
        strict.threshold(28.0)
    );
    assert!(strict.threshold(7.0) <= strict.threshold(28.0));
}

#[test]
fn a_day_alone_counts_in_full_against_a_mature_level_but_carries_only_its_bound() {
    // Six times a 0.3-spread normal: 5.5 sigma once counting noise is added, 4.9 once bounded.
    let six_times = Today {
        reads: 600.0,
        queries: 200.0,
        exported: 0.0,
        exported_records: 0.0,
    };
    let g = PeerContext::default();
    let day = assess(six_times, &baseline(100.0), &g, &[0.0; 5]);
    assert!(day.alone > 5.0, "{day:?}");
    assert!(day.score < day.alone, "{day:?}");
    let mut risk = Risk::default();
    assert!((risk.now(&day) - day.alone).abs() < 1e-9);
    risk.close_day(&day);
    assert!((f64::from(risk.accumulated) - (day.score - ALLOWANCE)).abs() < 1e-5);
    // A young level (a week of days) does not judge a day alone: only the accumulation counts.
    let mut young = baseline(100.0);
    young.reads = Some(level(100.0, 0.3, 7));
    young.queries = Some(level(33.0, 0.3, 7));
    let day = assess(six_times, &young, &g, &[0.0; 5]);
    assert_eq!(day.alone, 0.0);
    assert!((Risk::default().now(&day) - (day.score - ALLOWANCE)).abs() < 1e-9);
}

#[test]
fn a_whole_days_exports_where_the_group_never_exports_are_judged_by_the_accounts_reads() {
    let b = baseline(100.0);
    let shipped = |records: f64| Today {
        reads: 100.0,
        queries: 33.0,
        exported: records * 300.0,
        exported_records: records,
    };
    let exports_vs_reads = |a: &Assessment| {
        a.parts
            .iter()
            .find(|p| p.feature == Feature::ExportsVsReads)
            .map(|p| p.score)
    };
    // During the day the peers may still join (a team's first report run): nothing yet.
    let now = assess(shipped(50_000.0), &b, &PeerContext::default(), &[0.0; 5]);
    assert_eq!(exports_vs_reads(&now), None);
    // The whole day, exporting foreign to the group: fifty thousand against a hundred a day.
    let whole_day = PeerContext {
        exports_foreign_to_group: true,
        ..PeerContext::default()
    };
    let theft = assess(shipped(50_000.0), &b, &whole_day, &[0.0; 5]);
    assert!(
        exports_vs_reads(&theft).is_some_and(|z| z > 8.0),
        "{theft:?}"
    );
    assert!(theft.own && theft.alone > 8.0, "{theft:?}");
    // Forty records (a ticket list) are a day's work.
    let list = assess(shipped(40.0), &b, &whole_day, &[0.0; 5]);
    assert!(exports_vs_reads(&list).is_some_and(|z| z < 0.5), "{list:?}");
    // A group that exports is the reference instead (its members' own levels, or today's peers).
    let exporting_group = PeerContext {
        exports_foreign_to_group: false,
        ..whole_day
    };
    let run = assess(shipped(50_000.0), &b, &exporting_group, &[0.0; 5]);
    assert_eq!(exports_vs_reads(&run), None);
}

#[test]
fn exporting_is_foreign_to_a_group_where_few_of_enough_members_export() {
    let group = |members: usize, exporters: usize| GroupView {
        members,
        exporters,
        ..GroupView::default()
    };
    let foreign = |view: GroupView, exported: bool| {
        PeerContext::on_day(&view, 0, exported).exports_foreign_to_group
    };
    // Support: twelve members, only the account itself exported.
    assert!(foreign(group(12, 1), true));
    assert!(
        foreign(group(12, 3), true),
        "two others are not the group's habit"
    );
    // Billing's report run: the others export too.
    assert!(!foreign(group(12, 4), true));
    // Half of a small group exporting is the group's habit; a group of three cannot tell.
    assert!(!foreign(group(5, 2), false));
    assert!(!foreign(group(3, 0), false));
    // Right now (not a whole day) the peers may still join: never foreign.
    assert!(!PeerContext::now(&group(12, 0)).exports_foreign_to_group);
}

#[test]
fn a_short_run_of_strong_days_passes_sooner_than_the_slow_run_where_the_team_is_measured() {
    // Three times a 0.3-spread normal: about 3.4 sigma a day.
    let three_times = reading(300.0);
    let measured = PeerContext {
        common_mode: Some(0.0),
        ..PeerContext::default()
    };
    let day = assess(three_times, &baseline(100.0), &measured, &[0.0; 5]);
    assert!(day.mature && day.score > 3.0 && day.alone < 4.0, "{day:?}");
    let mut risk = Risk::default();
    risk.close_day(&day);
    let second_day = risk.now(&day);
    let short = BURST_SCALE * (DECAY * (day.score - BURST_ALLOWANCE) + day.score - BURST_ALLOWANCE);
    let slow = DECAY * (day.score - ALLOWANCE) + day.score - ALLOWANCE;
    assert!((second_day - short).abs() < 1e-4, "{second_day} vs {short}");
    assert!(short > slow + 1.0, "{short} vs {slow}");
    assert!((risk.carried() - BURST_SCALE * (day.score - BURST_ALLOWANCE)).abs() < 1e-4);
    // Where the group's movement was not measured (a thin partition: a surge of the whole team
    // would look the same), or the level is young, only the slow run counts.
    for (baseline, group) in [
        (baseline(100.0), PeerContext::default()),
        (
            Baseline {
                reads: Some(level(100.0, 0.3, 7)),
                queries: Some(level(33.0, 0.3, 7)),
                ..baseline(100.0)
            },
            measured,
        ),
    ] {
        let day = assess(three_times, &baseline, &group, &[0.0; 5]);
        assert!(!day.mature, "{day:?}");
        let mut risk = Risk::default();
        risk.close_day(&day);
        let slow = DECAY * (day.score - ALLOWANCE) + day.score - ALLOWANCE;
        assert!((risk.now(&day) - slow).abs() < 1e-4);
        assert_eq!(risk.burst, 0.0);
    }
    // Ordinary days drain the short run within days.
    let ordinary = assess(reading(100.0), &baseline(100.0), &measured, &[0.0; 5]);
    for _ in 0..3 {
        risk.close_day(&ordinary);
    }
    assert_eq!(risk.burst, 0.0);
}

/// `BURST_SCALE` is the ratio of the two statistics' thresholds when each alone gets half the budget,
/// measured on Gaussian accounts over four weeks.
#[test]
fn burst_scale_splits_the_budget() {
    use rand::{Rng, SeedableRng};
    let accounts = 20_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut slow_maxima, mut short_maxima) = (Vec::new(), Vec::new());
    for _ in 0..accounts {
        let (mut slow, mut short, mut slow_max, mut short_max) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for _ in 0..CALIBRATION_DAYS as usize {
            let u: f64 = rng.gen_range(f64::EPSILON..1.0);
            let v: f64 = rng.gen_range(0.0..1.0);
            let score = bounded((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos());
            slow = DECAY * slow + score - ALLOWANCE;
            short = DECAY * short + score - BURST_ALLOWANCE;
            slow_max = slow_max.max(slow);
            short_max = short_max.max(short);
            slow = slow.max(0.0);
            short = short.max(0.0);
        }
        slow_maxima.push(slow_max);
        short_maxima.push(short_max);
    }
    slow_maxima.sort_by(f64::total_cmp);
    short_maxima.sort_by(f64::total_cmp);
    let half = budget_share(0.1, CALIBRATION_DAYS) / 2.0;
    let ratio =
        quantile_sorted(&slow_maxima, 1.0 - half) / quantile_sorted(&short_maxima, 1.0 - half);
    assert!((ratio / BURST_SCALE - 1.0).abs() < 0.1, "{ratio}");
}
