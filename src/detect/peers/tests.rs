use super::*;
use crate::detect::features::{DayShape, DAY_MS};

/// A member with ten ordinary days at `level` and `today_reads` so far on day 10 at 23:00.
fn member(level: u32, today_reads: u32) -> (History, Baseline) {
    let mut history = History::default();
    for day in 0..10 {
        history.roll_to(day);
        history.today_mut().expect("open").reads = level;
    }
    history.roll_to(10);
    history.today_mut().expect("open").reads = today_reads;
    let baseline = Baseline::of(&history, 10);
    (history, baseline)
}

fn view(members: &[(History, Baseline)]) -> GroupView {
    let now = 10 * DAY_MS + 23 * 3_600_000;
    let mut scan = GroupScan::new(now, 10, true);
    for (key, (history, baseline)) in members.iter().enumerate() {
        scan.add(Member {
            key: key as u64,
            history,
            baseline,
            done_by_now: DayShape::default().done_by(now),
            last_event_ms: now,
        });
    }
    scan.finish(None)
}

#[test]
fn a_team_moving_together_moves_the_common_mode_and_one_member_does_not() {
    let surge: Vec<_> = [100, 200, 400, 800, 1600]
        .iter()
        .map(|&l| member(l, l * 3))
        .collect();
    // Five members measure it to within their noise margin (two standard errors of a median of
    // five at the least spread, 0.22): the mode is the surge less that.
    let mode = view(&surge).common_mode.expect("measured");
    let margin = 2.0 * 1.2533 * crate::detect::stats::MIN_SPREAD / 5f64.sqrt();
    assert!((mode - (3f64.ln() - margin)).abs() < 0.06, "{mode}");
    let mut one = vec![member(100, 900)];
    one.extend([200, 400, 800].iter().map(|&l| member(l, l)));
    let mode = view(&one).common_mode.expect("measured");
    assert!(mode.abs() < 0.15, "{mode}");
    assert!(view(&one[..2]).common_mode.is_none(), "two are too few");
}

#[test]
fn a_common_mode_within_its_measurement_noise_is_no_shift() {
    assert_eq!(beyond_noise(0.1, 8, Some(0.3)), 0.0);
    assert_eq!(beyond_noise(-0.2, 8, Some(0.3)), 0.0);
    // A weekend at a quarter and a recall day at 2.5x stand far out of it.
    let margin = 2.0 * 1.2533 * 0.3 / 8f64.sqrt();
    assert!((beyond_noise(-1.386, 8, Some(0.3)) + 1.386 - margin).abs() < 1e-9);
    assert!((beyond_noise(0.916, 8, Some(0.3)) - 0.916 + margin).abs() < 1e-9);
    // More members measure it better.
    assert!(beyond_noise(0.2, 64, Some(0.3)) > 0.0);
    assert_eq!(
        beyond_noise(0.2, 8, None),
        0.2,
        "no spread known: as measured"
    );
}

#[test]
fn investigators_big_days_widen_the_typical_spread_before_any_one_of_them_shows_a_pattern() {
    // Eight investigators, a week each at 80-100 but one big day (2,000) each, as one day in five
    // is: no member has the two big days that make a heavy tail of its own, the pool has eight.
    let members: Vec<_> = (0..8)
        .map(|m| {
            let mut history = History::default();
            for day in 0..6 {
                history.roll_to(day);
                let ordinary = 80 + (day as u32 * 7 + m as u32 * 3) % 20;
                history.today_mut().expect("open").reads =
                    if day == m % 6 { 2_000 } else { ordinary };
            }
            history.roll_to(6);
            history.today_mut().expect("open").reads = 90;
            let baseline = Baseline::of(&history, 6);
            (history, baseline)
        })
        .collect();
    let own = members[0].1.reads.expect("a level").spread;
    assert!(own < 0.3, "one big day is an accident to its member: {own}");
    let typical = view(&members).typical_spread.expect("pooled");
    assert!(typical > 1.5, "a pattern to the group: {typical}");
    // A calm group's pool is as calm as its members.
    let calm: Vec<_> = [100, 110, 120, 130, 140]
        .iter()
        .map(|&l| member(l, l))
        .collect();
    let typical = view(&calm).typical_spread.expect("pooled");
    assert!(typical < 0.3, "{typical}");
}

#[test]
fn a_newcomer_has_the_pooled_level_and_ranks_among_todays_readers() {
    let members: Vec<_> = [100, 110, 120, 130, 140]
        .iter()
        .map(|&l| member(l, l))
        .collect();
    let v = view(&members);
    let pooled = v.pooled.expect("fifty member-days");
    assert!((f64::from(pooled.median) - log_volume(120.0)).abs() < 0.1);
    assert_eq!(v.rank(99, 125.0), (2, 6));
    assert_eq!(
        v.rank(4, 135.0),
        (0, 5),
        "the member itself is not above itself"
    );
    assert_eq!(v.median_today(4).map(f64::round), Some(115.0));
    assert_eq!(v.sight(), TeamSight::Measured);
    assert!(v.shift_on(5).is_some_and(|shift| shift.abs() < 1e-3));
    let four = view(&members[..4]);
    assert!(four.shift_on(5).is_none(), "a past day needs five members");
}

#[test]
fn a_small_teams_past_day_is_judged_with_its_movement_but_adjusts_no_history() {
    // Four members, ten days; on day 6 three of them read three times their level and the fourth
    // does not work.
    let members: Vec<_> = (0..4u32)
        .map(|m| {
            let mut history = History::default();
            let level = 100 + 20 * m;
            for day in 0..10 {
                if day == 6 && m == 3 {
                    continue;
                }
                history.roll_to(day);
                history.today_mut().expect("open").reads = if day == 6 { 3 * level } else { level };
            }
            history.roll_to(10);
            history.today_mut().expect("open").reads = level;
            let baseline = Baseline::of(&history, 10);
            (history, baseline)
        })
        .collect();
    let v = view(&members);
    assert!(
        v.shift_on(6).is_none() && v.shift_on(5).is_none(),
        "too few to adjust by"
    );
    let surge = v.judged_shift_on(6).expect("three read");
    assert!(
        surge > 0.5,
        "the team's rise, less its noise margin: {surge}"
    );
    assert!(v.judged_shift_on(5).is_some_and(|shift| shift.abs() < 1e-3));
    assert!(
        view(&members[..2]).judged_shift_on(5).is_none(),
        "two are too few"
    );
}
