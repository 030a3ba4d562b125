//! Each detection rule, through the whole engine, on small hand-made histories (no Kafka).

use exfilwatch::alert::{ExfilAlert, Severity};
use exfilwatch::config::Config;
use exfilwatch::io::decode::Decoder;
use exfilwatch::engine::Engine;
use exfilwatch::event::{ActivityKind, DbActivityEvent};
use exfilwatch::peers::TeamSight;
use exfilwatch::privacy::RecordKeyHasher;

const SECRET: &[u8] = b"rules-test-secret-0123456789";
/// 2026-11-02T00:00:00Z, a Monday.
const MONDAY: i64 = 1_793_577_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

struct Harness {
    engine: Engine,
    decoder: Decoder,
    alerts: Vec<ExfilAlert>,
    next_id: u64,
    /// How much of its group the last event was judged with.
    last_sight: Option<TeamSight>,
}

impl Harness {
    fn new(config: &Config) -> Self {
        let hasher = RecordKeyHasher::new(SECRET).expect("secret");
        Harness {
            engine: Engine::new(config, &hasher),
            decoder: Decoder::new(config.input.format, 1 << 20, hasher),
            alerts: Vec::new(),
            next_id: 0,
            last_sight: None,
        }
    }

    fn feed(&mut self, event: DbActivityEvent) -> Vec<ExfilAlert> {
        let activity = self.decoder.pseudonymise(event);
        let outcome = self.engine.process(&activity, None, 0);
        self.last_sight = outcome.team_sight;
        self.alerts.extend(outcome.alerts.iter().cloned());
        outcome.alerts
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("e{}", self.next_id)
    }

    /// A lookup of `keys` customers by `account` at `time`.
    fn lookup(
        &mut self,
        account: &str,
        group: &str,
        time: i64,
        keys: Vec<String>,
    ) -> Vec<ExfilAlert> {
        let rows = keys.len() as i64;
        let event = DbActivityEvent {
            client_ip: Some("10.1.1.1".into()),
            client_app: Some("support-console".into()),
            database: Some("support".into()),
            bytes: Some(rows * 400),
            record_keys: Some(keys),
            peer_group: Some(group.into()),
            ..DbActivityEvent::query(self.id(), time, account, "support.customers", rows)
        };
        self.feed(event)
    }

    fn rules_fired(&self, account: &str) -> Vec<String> {
        let mut rules: Vec<String> = self
            .alerts
            .iter()
            .filter(|a| a.account == account)
            .map(|a| a.rule.clone())
            .collect();
        rules.sort();
        rules.dedup();
        rules
    }
}

fn keys(prefix: &str, from: u64, count: u64) -> Vec<String> {
    (from..from + count)
        .map(|i| format!("{prefix}-{i}"))
        .collect()
}

/// `days` working days of `per_day` distinct customers in lookups of 5, 09:00–17:00.
fn normal_days(
    h: &mut Harness,
    account: &str,
    group: &str,
    first_day: i64,
    days: i64,
    per_day: u64,
    seed: u64,
) {
    for day in first_day..first_day + days {
        let lookups = per_day / 5;
        for i in 0..lookups {
            let time =
                MONDAY + day * DAY + 9 * HOUR + (i as i64 * 8 * HOUR) / lookups.max(1) as i64;
            let start = seed * 10_000_000 + day as u64 * 10_000 + i * 5;
            h.lookup(account, group, time, keys("cust", start, 5));
        }
    }
}

#[test]
fn baseline_deviation_fires_when_an_account_reads_far_more_customers_than_it_used_to() {
    let mut h = Harness::new(&Config::default());
    normal_days(&mut h, "alice", "solo", 0, 10, 100, 1);
    assert!(
        h.alerts.is_empty(),
        "ten normal days are quiet: {:?}",
        h.rules_fired("alice")
    );
    // Day 10: 800 distinct customers, well under the absolute thresholds, 8x her normal.
    normal_days(&mut h, "alice", "solo", 10, 1, 800, 1);
    let fired = h.rules_fired("alice");
    assert_eq!(fired, vec!["baseline_deviation".to_string()], "{fired:?}");
    let alert = h
        .alerts
        .iter()
        .find(|a| a.rule == "baseline_deviation")
        .expect("alert");
    assert_eq!(alert.baseline, Some(100.0));
    assert_eq!(alert.unit, "distinct records");
    assert!(
        alert.summary.contains("own baseline 100"),
        "{}",
        alert.summary
    );
}

/// Six colleagues in "analytics" who each read 800 distinct customers every day for `days` days.
fn busy_analysts(h: &mut Harness, days: i64) {
    for (seed, colleague) in ["ann", "ben", "cat", "dan", "eve", "fay"]
        .iter()
        .enumerate()
    {
        normal_days(h, colleague, "analytics", 0, days, 800, seed as u64 + 10);
    }
}

#[test]
fn a_day_ordinary_for_the_peer_group_is_no_baseline_deviation() {
    let mut h = Harness::new(&Config::default());
    busy_analysts(&mut h, 10);
    // A colleague whose own days are quiet.
    normal_days(&mut h, "quinn", "analytics", 0, 10, 100, 1);
    assert!(h.alerts.is_empty(), "{:?}", h.rules_fired("quinn"));
    // 7x Quinn's own normal, but no more than any colleague reads every day: not actionable.
    normal_days(&mut h, "quinn", "analytics", 10, 1, 700, 2);
    assert!(h.alerts.is_empty(), "{:?}", h.rules_fired("quinn"));
    // Well past both Quinn's history and the busiest colleague's day: it is.
    normal_days(&mut h, "quinn", "analytics", 11, 1, 2_000, 3);
    assert_eq!(
        h.rules_fired("quinn"),
        vec!["baseline_deviation".to_string()]
    );
    let alert = &h.alerts[0];
    assert!(
        alert.threshold.is_some_and(|t| t > 800.0),
        "the threshold is at least the peers' busy day: {alert:?}"
    );
}

#[test]
fn extracts_on_consecutive_days_are_judged_a_day_at_a_time() {
    let mut h = Harness::new(&Config::default());
    busy_analysts(&mut h, 16);
    // Rita pulls one extract a day for two weeks: 100-200 customers at noon, and big ones of about 900
    // on Monday evenings and Tuesday mornings (her hours of the week, so nothing below is an odd hour).
    let mut next = 0;
    let mut extract = |h: &mut Harness, time: i64, size: u64| {
        let alerts = h.lookup("rita", "analytics", time, keys("rita-cust", next, size));
        next += size;
        alerts
    };
    for day in 0..14 {
        let (hour, size) = match day % 7 {
            0 => (21, 900 - day as u64),
            1 => (7, 900 - day as u64),
            _ => (12, 100 + (day as u64 * 37) % 100),
        };
        extract(&mut h, MONDAY + day * DAY + hour * HOUR, size);
    }
    assert!(h.alerts.is_empty(), "{:?}", h.rules_fired("rita"));
    // Then the same pair again, late on day 14 and early on day 15: each an ordinary day of hers,
    // though a sliding 24-hour window would hold both (1,760, about twice her largest day).
    extract(&mut h, MONDAY + 14 * DAY + 21 * HOUR, 880);
    extract(&mut h, MONDAY + 15 * DAY + 7 * HOUR, 880);
    assert!(h.alerts.is_empty(), "{:?}", h.rules_fired("rita"));
    // A day far beyond her own and her colleagues' days still alerts.
    extract(&mut h, MONDAY + 16 * DAY + 12 * HOUR, 4_000);
    assert!(
        h.rules_fired("rita")
            .contains(&"baseline_deviation".to_string()),
        "{:?}",
        h.rules_fired("rita")
    );
    let alert = h.alerts.iter().find(|a| a.rule == "baseline_deviation");
    assert!(
        alert.is_some_and(|a| a.summary.contains("today since 00:00 UTC")),
        "{alert:?}"
    );
}

#[test]
fn peer_deviation_catches_an_outlier_but_not_a_team_surge() {
    let mut h = Harness::new(&Config::default());
    for agent in 0..25u64 {
        normal_days(
            &mut h,
            &format!("agent{agent}"),
            "support",
            0,
            3,
            80 + agent * 2,
            agent,
        );
    }
    // Day 3: the whole team triples (an outage day) ...
    for agent in 0..25u64 {
        normal_days(
            &mut h,
            &format!("agent{agent}"),
            "support",
            3,
            1,
            3 * (80 + agent * 2),
            agent,
        );
    }
    let peer_alerts = h
        .alerts
        .iter()
        .filter(|a| a.rule == "peer_deviation")
        .count();
    assert_eq!(peer_alerts, 0, "a team surging together is not an outlier");
    // ... day 4: a new hire with no history reads 1,000 distinct customers on day one.
    normal_days(&mut h, "newhire", "support", 4, 1, 1_000, 99);
    assert_eq!(h.rules_fired("newhire"), vec!["peer_deviation".to_string()]);
    let alert = h
        .alerts
        .iter()
        .find(|a| a.account == "newhire")
        .expect("alert");
    assert!(
        alert.peer_baseline.is_some_and(|p| p > 50.0 && p < 300.0),
        "{:?}",
        alert.peer_baseline
    );
}

/// One working day (09:00–17:00) of a team, in time order across its members: agent `i` reads
/// `per_day(i)` distinct customers in lookups of 5.
fn team_day(h: &mut Harness, team: u64, day: i64, per_day: impl Fn(u64) -> u64) {
    let mut lookups: Vec<(i64, u64, u64)> = Vec::new();
    for agent in 0..team {
        let count = per_day(agent) / 5;
        for i in 0..count {
            let time = MONDAY + day * DAY + 9 * HOUR + (i as i64 * 8 * HOUR) / count.max(1) as i64;
            lookups.push((time, agent, i));
        }
    }
    lookups.sort_unstable();
    for (time, agent, i) in lookups {
        let start = agent * 10_000_000 + day as u64 * 10_000 + i * 5;
        h.lookup(
            &format!("agent{agent}"),
            "support",
            time,
            keys("cust", start, 5),
        );
    }
}

/// A day of `agent` whose usual day is `usual`: within ±25% of it, in a fixed pseudo-random pattern
/// per agent and day.
fn noisy(usual: u64, agent: u64, day: i64) -> u64 {
    let wobble = (agent * 7 + day as u64 * 13) % 11; // 0..=10
    usual * (75 + wobble * 5) / 100
}

/// Days 0-9 of a team of twelve whose agent `i` usually reads `usual(i)`, each day noisy: quiet.
fn ten_noisy_days(h: &mut Harness, usual: impl Fn(u64) -> u64) {
    for day in 0..10 {
        team_day(h, 12, day, |agent| noisy(usual(agent), agent, day));
    }
    assert!(h.alerts.is_empty(), "ten ordinary days: {:?}", h.alerts);
}

#[test]
fn a_team_surging_together_is_quiet_and_does_not_hide_a_lone_surge_later() {
    let mut h = Harness::new(&Config::default());
    let usual = |agent: u64| 100 + agent * 5;
    for day in 0..10 {
        team_day(&mut h, 12, day, usual);
    }
    assert!(h.alerts.is_empty(), "ten ordinary days: {:?}", h.alerts);
    // Day 10, an outage: everyone reads 3.5 times their usual day, above the baseline multiple (3).
    team_day(&mut h, 12, 10, |agent| usual(agent) * 7 / 2);
    assert!(
        h.alerts.is_empty(),
        "a team surging together is not a deviation: {:?}",
        h.alerts
            .iter()
            .map(|a| (&a.account, &a.rule, &a.summary))
            .collect::<Vec<_>>()
    );
    // Day 11: back to normal, except agent5, who alone reads as much as on the outage day. The outage
    // trained nobody's "largest normal day", and peers' statistics are not lifted by it.
    team_day(&mut h, 12, 11, |agent| {
        if agent == 5 {
            usual(agent) * 7 / 2
        } else {
            usual(agent)
        }
    });
    assert_eq!(
        h.rules_fired("agent5"),
        vec!["baseline_deviation".to_string()],
        "{:?}",
        h.alerts
    );
    let others: Vec<_> = h.alerts.iter().filter(|a| a.account != "agent5").collect();
    assert!(others.is_empty(), "{others:?}");
}

#[test]
fn without_a_visible_team_the_baseline_keeps_a_margin_for_a_surge_it_cannot_see() {
    // Two colleagues alone in their sample (too few to measure a surge or trust peer statistics).
    let mut h = Harness::new(&Config::default());
    let usual = |agent: u64| 100 + agent * 20;
    for day in 0..10 {
        team_day(&mut h, 2, day, usual);
    }
    // Day 10: both read 3.5 times their usual day (an outage nobody can see from here): under
    // `multiple_without_peers` (4), quiet.
    team_day(&mut h, 2, 10, |agent| usual(agent) * 7 / 2);
    assert!(h.alerts.is_empty(), "{:?}", h.alerts);
    // Day 11: agent1 alone reads six times its usual day: caught by its own baseline, with no peer
    // statistics lifting its threshold (its own unflagged days would be half of them).
    team_day(&mut h, 2, 11, |agent| {
        if agent == 1 {
            usual(agent) * 6
        } else {
            usual(agent)
        }
    });
    assert_eq!(
        h.rules_fired("agent1"),
        vec!["baseline_deviation".to_string()]
    );
    let alert = h
        .alerts
        .iter()
        .find(|a| a.account == "agent1")
        .expect("alert");
    assert_eq!(alert.peer_baseline, None, "{alert:?}");
}

#[test]
fn a_boiling_frog_is_caught_before_its_own_history_absorbs_the_rise() {
    let mut h = Harness::new(&Config::default());
    let usual = |agent: u64| 100 + agent * 5;
    ten_noisy_days(&mut h, usual);
    // From day 10 agent0 grows 12% a day: each day only a little above the one before, so its own
    // largest day and its spread rise with it.
    let mut caught_on = None;
    for day in 10..30 {
        let growth = 1.12f64.powi((day - 9) as i32);
        team_day(&mut h, 12, day, |agent| {
            let today = noisy(usual(agent), agent, day);
            if agent == 0 {
                (today as f64 * growth) as u64
            } else {
                today
            }
        });
        if caught_on.is_none() && !h.rules_fired("agent0").is_empty() {
            caught_on = Some(day);
        }
    }
    // Caught the day it first reads three times its starting level (the baseline multiple; 1.12^10 on
    // day 19), not once its grown history lets a later day stand out.
    let day = caught_on.expect("the boiling frog is caught");
    assert!(
        day <= 19,
        "caught only on day {day}: {:?}",
        h.rules_fired("agent0")
    );
    let others: Vec<_> = h.alerts.iter().filter(|a| a.account != "agent0").collect();
    assert!(others.is_empty(), "{others:?}");
}

#[test]
fn a_heavy_user_reading_a_steady_extra_thousand_a_day_is_caught_on_the_second_day() {
    let mut h = Harness::new(&Config::default());
    // A team whose members read 100 to 650 customers a day.
    let usual = |agent: u64| 100 + agent * 50;
    ten_noisy_days(&mut h, usual);
    // From day 10 the heaviest reader, agent11 (about 650 a day), adds 1,100 customers to every shift,
    // as in the incident: 2.7 times its usual day, under the baseline multiple (3).
    let stealing = |day: i64| stealing_day(11, usual, day);
    team_day(&mut h, 12, 10, stealing(10));
    assert!(
        h.alerts.is_empty(),
        "one day under the multiple is no alert on its own: {:?}",
        h.alerts
    );
    // The second such day in a row is.
    team_day(&mut h, 12, 11, stealing(11));
    assert_eq!(h.last_sight, Some(TeamSight::Measured));
    let alert = caught_by_the_run(&h, "agent11");
    assert!(alert.observed >= 1_200.0, "{alert:?}");
    // The threshold is below three times its baseline.
    assert!(
        alert.threshold.is_some_and(|t| t < 3.0 * 650.0),
        "{alert:?}"
    );
    let others: Vec<_> = h.alerts.iter().filter(|a| a.account != "agent11").collect();
    assert!(others.is_empty(), "{others:?}");
}

/// A day on which `thief`, whose usual day is 650 customers, reads 1,100 more, as in the incident, and
/// everyone else has a noisy usual day.
fn stealing_day(thief: u64, usual: impl Fn(u64) -> u64, day: i64) -> impl Fn(u64) -> u64 {
    move |agent| {
        if agent == thief {
            650 + 1_100
        } else {
            noisy(usual(agent), agent, day)
        }
    }
}

/// `account`'s one alert: `baseline_deviation`, whose threshold a run of high days lowered (and which
/// says so).
fn caught_by_the_run<'h>(h: &'h Harness, account: &str) -> &'h ExfilAlert {
    assert_eq!(
        h.rules_fired(account),
        vec!["baseline_deviation".to_string()],
        "{:?}",
        h.alerts
    );
    let alert = h
        .alerts
        .iter()
        .find(|a| a.account == account)
        .expect("alert");
    assert!(
        alert
            .summary
            .contains("after reading well above its normal on its previous working day"),
        "{}",
        alert.summary
    );
    alert
}

/// Days 0-9 of `agent0` and `agent1` alone in their sample (too few to measure today's surge or to
/// trust peer statistics), usually reading 400 and 650 customers a day, each day noisy: quiet.
fn ten_noisy_days_of_two(h: &mut Harness) -> fn(u64) -> u64 {
    let usual = |agent: u64| 400 + agent * 250;
    for day in 0..10 {
        team_day(h, 2, day, |agent| noisy(usual(agent), agent, day));
    }
    assert!(h.alerts.is_empty(), "ten ordinary days: {:?}", h.alerts);
    usual
}

#[test]
fn a_heavy_user_with_one_ordinary_colleague_in_its_partition_is_caught_on_the_second_day() {
    let mut h = Harness::new(&Config::default());
    let usual = ten_noisy_days_of_two(&mut h);
    // From day 10 agent1 adds 1,100 customers to every shift (2.7 times its usual day), while its one
    // colleague has ordinary days: the first such day is under the margin kept for a surge nobody
    // can measure (`multiple_without_peers`), the second is a run its colleague did not share.
    let stealing = |day: i64| stealing_day(1, usual, day);
    team_day(&mut h, 2, 10, stealing(10));
    assert!(h.alerts.is_empty(), "{:?}", h.alerts);
    team_day(&mut h, 2, 11, stealing(11));
    assert_eq!(h.last_sight, Some(TeamSight::LatestDays));
    caught_by_the_run(&h, "agent1");
    assert_eq!(h.rules_fired("agent0"), Vec::<String>::new());
}

#[test]
fn two_colleagues_running_high_together_day_after_day_are_no_run() {
    let mut h = Harness::new(&Config::default());
    let usual = ten_noisy_days_of_two(&mut h);
    // Days 10-12: both read 2.7 times their usual day (a long outage, seen from a partition too thin
    // to measure it): what a run of one person's high days would be, but shared.
    for day in 10..13 {
        team_day(&mut h, 2, day, |agent| usual(agent) * 27 / 10);
    }
    assert!(h.alerts.is_empty(), "{:?}", h.alerts);
    assert_eq!(h.last_sight, Some(TeamSight::Unseen));
}

#[test]
fn an_outage_that_runs_past_midnight_on_a_night_shift_is_no_deviation_the_next_day() {
    // A partition holding five day-shift agents (09:00-17:00) and one night-shift agent
    // (23:00-07:00), too few at work at night to measure the group's surge. On day 10 every shift
    // reads 3.5 times its usual (an outage): the night shift that starts on day 10 ends at 07:00 on
    // day 11, so the night agent's day 11 holds seven outage hours, 3.2 times its usual day, while
    // the day shift it is measured with on day 11 is back to normal.
    let mut h = Harness::new(&Config::default());
    let shifts: [(&str, i64, u64); 6] = [
        ("agent0", 9, 400),
        ("agent1", 9, 450),
        ("agent2", 9, 500),
        ("agent3", 9, 550),
        ("agent4", 9, 600),
        ("night0", 23, 480),
    ];
    let mut lookups: Vec<(i64, usize, u64)> = Vec::new();
    for shift_day in 0..12 {
        for (index, &(_, start_hour, usual)) in shifts.iter().enumerate() {
            let per_day = if shift_day == 10 {
                usual * 7 / 2
            } else {
                noisy(usual, index as u64, shift_day)
            };
            let count = per_day / 5;
            let start = MONDAY + shift_day * DAY + start_hour * HOUR;
            for i in 0..count {
                let time = start + (i as i64 * 8 * HOUR) / count.max(1) as i64;
                lookups.push((time, index, shift_day as u64 * 10_000 + i * 5));
            }
        }
    }
    lookups.sort_unstable();
    for (time, index, first_key) in lookups {
        let key_base = index as u64 * 10_000_000 + first_key;
        h.lookup(shifts[index].0, "support", time, keys("cust", key_base, 5));
    }
    assert!(
        h.alerts.is_empty(),
        "{:?}",
        h.alerts
            .iter()
            .map(|a| (&a.account, &a.rule, a.observed, a.threshold))
            .collect::<Vec<_>>()
    );
}

#[test]
fn busy_days_that_do_not_follow_each_other_do_not_add_up() {
    let mut h = Harness::new(&Config::default());
    let usual = |agent: u64| 100 + agent * 50;
    ten_noisy_days(&mut h, usual);
    // agent11 has a busy day (2.7 times its usual) every third day, ordinary days between: each busy
    // day is drained by the ordinary ones after it.
    for day in 10..22 {
        let busy = (day - 10) % 3 == 0;
        team_day(&mut h, 12, day, |agent| {
            if agent == 11 && busy {
                650 + 1_100
            } else {
                noisy(usual(agent), agent, day)
            }
        });
    }
    assert!(h.alerts.is_empty(), "{:?}", h.alerts);
}

/// An extract of `distinct` customers by `account` on `day`, in lookups of 50 spread over 09:00–15:00.
fn extract(h: &mut Harness, account: &str, day: i64, distinct: u64, seed: u64) -> Vec<ExfilAlert> {
    let lookups = distinct.div_ceil(50);
    let mut alerts = Vec::new();
    for i in 0..lookups {
        let time = MONDAY + day * DAY + 9 * HOUR + (i as i64 * 6 * HOUR) / lookups as i64;
        let start = seed * 10_000_000 + day as u64 * 10_000 + i * 50;
        let count = 50.min(distinct - i * 50);
        alerts.extend(h.lookup(account, "lone-analysts", time, keys("cust", start, count)));
    }
    alerts
}

#[test]
fn an_occasional_extract_is_judged_by_the_spread_of_the_accounts_own_extracts() {
    let mut h = Harness::new(&Config::default());
    // Four weeks, every day at work, an extract on one day in three (300–900 customers): the median
    // day reads nothing sensitive. No peers are in sight to say what an analyst's extract looks like.
    let sizes = [600, 300, 900, 450, 750, 500, 850, 350, 650];
    for day in 0..27 {
        let size = if day % 3 == 0 {
            sizes[(day / 3) as usize]
        } else {
            0
        };
        if size > 0 {
            extract(&mut h, "analyst", day, size, 1);
        } else {
            // A day of analytics queries on non-sensitive tables keeps the day in the history.
            let event = DbActivityEvent {
                client_ip: Some("10.1.1.9".into()),
                client_app: Some("jupyter".into()),
                ..DbActivityEvent::query(
                    h.id(),
                    MONDAY + day * DAY + 10 * HOUR,
                    "analyst",
                    "analytics.orders_daily",
                    200,
                )
            };
            h.feed(event);
        }
    }
    assert!(h.alerts.is_empty(), "four ordinary weeks: {:?}", h.alerts);
    // Day 27: 1,000 customers, a little above the largest extract so far but within the spread of
    // its extract days: no alert.
    let alerts = extract(&mut h, "analyst", 27, 1_000, 1);
    assert!(alerts.is_empty(), "an ordinary extract: {alerts:?}");
    // Day 30: 2,400, far past that spread (still under the absolute ceilings): baseline_deviation.
    let alerts = extract(&mut h, "analyst", 30, 2_400, 2);
    let rules: Vec<_> = alerts.iter().map(|a| a.rule.as_str()).collect();
    assert!(rules.contains(&"baseline_deviation"), "{rules:?}");
    assert!(!rules.contains(&"distinct_records"), "{rules:?}");
}

#[test]
fn a_new_hire_with_normal_volume_and_no_history_is_quiet() {
    let mut h = Harness::new(&Config::default());
    for agent in 0..25u64 {
        normal_days(
            &mut h,
            &format!("agent{agent}"),
            "support",
            0,
            5,
            100,
            agent,
        );
    }
    normal_days(&mut h, "newhire", "support", 5, 3, 110, 77);
    assert!(
        h.rules_fired("newhire").is_empty(),
        "{:?}",
        h.rules_fired("newhire")
    );
}

#[test]
fn learned_nightly_job_stops_alerting_after_warm_up() {
    let mut h = Harness::new(&Config::default());
    let mut nights_with_alerts = Vec::new();
    for night in 0..14 {
        let event = DbActivityEvent {
            client_ip: Some("10.0.0.5".into()),
            client_app: Some("airflow".into()),
            operation: "COPY".into(),
            peer_group: Some("service".into()),
            ..DbActivityEvent::query(
                format!("etl{night}"),
                MONDAY + night * DAY + 2 * HOUR,
                "svc-etl",
                "support.customers",
                2_000_000,
            )
        };
        if !h.feed(event).is_empty() {
            nights_with_alerts.push(night);
        }
    }
    assert!(
        nights_with_alerts.contains(&0),
        "unknown at first: a 2M-row copy is alerted"
    );
    assert!(
        nights_with_alerts.iter().all(|&n| n < 8),
        "learned after the warm-up: {nights_with_alerts:?}"
    );
}

fn export(
    h: &mut Harness,
    account: &str,
    time: i64,
    destination: &str,
    bytes: i64,
    rows: i64,
) -> Vec<ExfilAlert> {
    let event = DbActivityEvent {
        kind: ActivityKind::Export,
        client_ip: Some("10.2.2.2".into()),
        client_app: Some("dbeaver".into()),
        database: Some("support".into()),
        operation: "EXPORT_CSV".into(),
        bytes: Some(bytes),
        destination: Some(destination.into()),
        peer_group: Some("analytics".into()),
        ..DbActivityEvent::query(h.id(), time, account, "support.customers", rows)
    };
    h.feed(event)
}

#[test]
fn export_to_a_new_external_destination_alerts_once_and_known_ones_do_not() {
    let mut config = Config::default();
    config.rules.new_destination.allow = vec!["s3://corp-warehouse/*".into()];
    let mut h = Harness::new(&config);
    for day in 0..10 {
        export(
            &mut h,
            "ana",
            MONDAY + day * DAY + 10 * HOUR,
            "sftp://files.internal/reports",
            50_000_000,
            500,
        );
    }
    assert!(
        h.rules_fired("ana").is_empty(),
        "an internal destination used from day one is normal: {:?}",
        h.rules_fired("ana")
    );
    let before = h.alerts.len();
    let first = export(
        &mut h,
        "ana",
        MONDAY + 10 * DAY + 11 * HOUR,
        "s3://corp-warehouse/x",
        50_000_000,
        500,
    );
    assert!(
        first.iter().all(|a| a.rule != "new_destination"),
        "allowlisted destination"
    );
    let alerts = export(
        &mut h,
        "ana",
        MONDAY + 10 * DAY + 12 * HOUR,
        "https://mega.nz/upload",
        60_000_000,
        600,
    );
    let alert = alerts
        .iter()
        .find(|a| a.rule == "new_destination")
        .expect("new external destination alerts");
    assert!(
        alert.severity >= Severity::High,
        "external: {:?}",
        alert.severity
    );
    assert_eq!(alert.unit, "records");
    let again = export(
        &mut h,
        "ana",
        MONDAY + 10 * DAY + 13 * HOUR,
        "https://mega.nz/upload",
        60_000_000,
        600,
    );
    assert!(
        again.iter().all(|a| a.rule != "new_destination"),
        "no longer new"
    );
    assert!(h.alerts.len() > before);
}

#[test]
fn steady_drip_of_moderate_exports_trips_the_weekly_egress_check() {
    let mut config = Config::default();
    config.rules.new_destination.allow = vec!["s3://corp-analytics/*".into()];
    let mut h = Harness::new(&config);
    for day in 0..21 {
        export(
            &mut h,
            "bob",
            MONDAY + day * DAY + 10 * HOUR,
            "s3://corp-analytics/bob",
            400_000_000,
            10,
        );
    }
    assert!(
        h.rules_fired("bob").is_empty(),
        "{:?}",
        h.rules_fired("bob")
    );
    for day in 21..28 {
        export(
            &mut h,
            "bob",
            MONDAY + day * DAY + 10 * HOUR,
            "s3://corp-analytics/bob",
            2_000_000_000,
            10,
        );
    }
    let egress: Vec<&ExfilAlert> = h
        .alerts
        .iter()
        .filter(|a| a.rule == "egress_volume")
        .collect();
    assert!(
        !egress.is_empty(),
        "five times the usual volume every day is flagged"
    );
    assert_eq!(egress[0].unit, "bytes");
}

/// One day of six analysts in "analytics", in time order: each reads 50 customers at 09:00, then makes
/// four exports to its own allowed bucket at 10:00, 12:00, 14:00 and 16:00 that add up to `units(i)`
/// times 100 MB (analyst `i`).
fn analysts_day(h: &mut Harness, day: i64, units: impl Fn(usize) -> i64) -> Vec<ExfilAlert> {
    const ANALYSTS: [&str; 6] = ["ann", "ben", "cat", "dan", "eve", "fay"];
    let mut alerts = Vec::new();
    for (i, name) in ANALYSTS.iter().enumerate() {
        let time = MONDAY + day * DAY + 9 * HOUR + i as i64 * 60_000;
        let start = i as u64 * 1_000_000 + day as u64 * 1_000;
        alerts.extend(h.lookup(name, "analytics", time, keys("cust", start, 50)));
    }
    for round in 0..4 {
        for (i, name) in ANALYSTS.iter().enumerate() {
            let time = MONDAY + day * DAY + (10 + 2 * round) * HOUR + i as i64 * 60_000;
            let destination = format!("s3://corp-analytics/{name}");
            alerts.extend(export(
                h,
                name,
                time,
                &destination,
                units(i) * 25_000_000,
                10,
            ));
        }
    }
    alerts
}

#[test]
fn quarter_end_exports_of_the_whole_team_stay_quiet_and_a_lone_drip_does_not() {
    let mut config = Config::default();
    config.rules.new_destination.allow = vec!["s3://corp-analytics/*".into()];
    let mut h = Harness::new(&config);
    for day in 0..21 {
        analysts_day(&mut h, day, |_| 4);
    }
    assert!(h.alerts.is_empty(), "three ordinary weeks: {:?}", h.alerts);
    // Days 21 and 22, quarter end: every analyst exports eight times its usual day, above six times
    // its largest day (the day check) and, over the two days, three times its usual week.
    for day in 21..23 {
        analysts_day(&mut h, day, |_| 32);
    }
    assert!(
        h.alerts.is_empty(),
        "the team's quarter end is nobody's exfiltration: {:?}",
        h.alerts.iter().map(|a| &a.summary).collect::<Vec<_>>()
    );
    // From day 25, fay alone ships five times her usual day, every day (a chunked transfer).
    let mut caught_on = None;
    for day in 23..31 {
        let alerts = analysts_day(&mut h, day, |i| if i == 5 && day >= 25 { 20 } else { 4 });
        if caught_on.is_none() && alerts.iter().any(|a| a.rule == "egress_volume") {
            caught_on = Some(day);
        }
    }
    let others: Vec<_> = h.alerts.iter().filter(|a| a.account != "fay").collect();
    assert!(others.is_empty(), "{others:?}");
    let day = caught_on.expect("the lone drip is caught");
    assert!(day <= 29, "caught only on day {day}");
}

#[test]
fn weekly_backup_is_its_own_normal() {
    let mut h = Harness::new(&Config::default());
    for week in 0..6 {
        export(
            &mut h,
            "svc-backup",
            MONDAY + (week * 7 + 6) * DAY + 3 * HOUR,
            "backup-vault.internal:/support",
            50_000_000_000,
            0,
        );
    }
    let late_alerts: Vec<&ExfilAlert> = h
        .alerts
        .iter()
        .filter(|a| a.trigger_time > MONDAY + 21 * DAY)
        .collect();
    assert!(late_alerts.is_empty(), "{late_alerts:?}");
}

#[test]
fn credential_misuse_new_client_at_an_odd_hour_alerts() {
    let mut h = Harness::new(&Config::default());
    normal_days(&mut h, "carol", "solo", 0, 10, 60, 3);
    assert!(h.alerts.is_empty());
    let event = DbActivityEvent {
        client_ip: Some("185.220.101.7".into()),
        client_app: Some("python-requests".into()),
        record_keys: Some(keys("cust", 900_000, 20)),
        peer_group: Some("solo".into()),
        ..DbActivityEvent::query(
            "night",
            MONDAY + 12 * DAY + 3 * HOUR,
            "carol",
            "support.customers",
            20,
        )
    };
    let alerts = h.feed(event);
    let alert = alerts
        .iter()
        .find(|a| a.rule == "unusual_access")
        .expect("unusual access alert");
    assert_eq!(alert.mitre_techniques[0], "T1078");
    assert_eq!(alert.client_ips, vec!["185.220.101.7".to_string()]);
}

#[test]
fn honeytoken_read_is_critical_at_once_and_watchlist_respects_business_reason() {
    let mut config = Config::default();
    config.rules.watchlist.keys = vec!["vip-1".into(), "vip-2".into(), "vip-3".into()];
    config.rules.watchlist.honeytoken_keys = vec!["cust-honeytoken-0001".into()];
    config.rules.watchlist.allowed_peer_groups = vec!["vip-desk".into()];
    let mut h = Harness::new(&config);
    let alerts = h.lookup(
        "dave",
        "support",
        MONDAY + 10 * HOUR,
        vec!["cust-honeytoken-0001".into()],
    );
    let alert = alerts
        .iter()
        .find(|a| a.rule == "watchlist")
        .expect("honeytoken alert");
    assert_eq!(alert.severity, Severity::Critical);

    h.lookup(
        "erin",
        "vip-desk",
        MONDAY + 10 * HOUR,
        vec!["vip-1".into(), "vip-2".into()],
    );
    assert!(
        h.rules_fired("erin").is_empty(),
        "the VIP desk may read VIPs"
    );
    assert!(
        h.lookup("frank", "support", MONDAY + 11 * HOUR, vec!["vip-1".into()])
            .is_empty(),
        "one VIP is below the threshold"
    );
    let alerts = h.lookup(
        "frank",
        "support",
        MONDAY + 12 * HOUR,
        vec!["vip-3".into(), "cust-5".into()],
    );
    let alert = alerts
        .iter()
        .find(|a| a.rule == "watchlist")
        .expect("two VIPs by a support agent");
    assert_eq!(alert.observed, 2.0);
    assert!(
        !alert.summary.contains("vip-"),
        "no raw record keys in alerts: {}",
        alert.summary
    );
}

#[test]
fn distinct_records_counts_customers_not_rows() {
    let mut h = Harness::new(&Config::default());
    // 3,000 rows in an hour, but the same 20 customers over and over: no distinct alert.
    for i in 0..150 {
        h.lookup(
            "gina",
            "solo",
            MONDAY + 9 * HOUR + i * 20_000,
            keys("cust", 0, 20),
        );
    }
    assert!(!h
        .rules_fired("gina")
        .contains(&"distinct_records".to_string()));
    // 3,000 different customers within the hour: over the 1h distinct threshold (2,500).
    for i in 0..100u64 {
        h.lookup(
            "hank",
            "solo",
            MONDAY + 9 * HOUR + i as i64 * 30_000,
            keys("cust", 1_000 + i * 30, 30),
        );
    }
    assert!(
        h.rules_fired("hank")
            .contains(&"distinct_records".to_string()),
        "{:?}",
        h.rules_fired("hank")
    );
}
