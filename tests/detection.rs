//! Detection through the whole engine on small hand-made organisations (no Kafka): one regression test
//! per failure class of issue 15, and the properties the model promises (scale-free, peers right now,
//! a bounded time to catch a sustained excess).
//!
//! Every organisation is seeded: its people read a log-normal number of customers a day around their
//! own level (a 0.3 log spread), on weekdays, in lookups of one to three customers spread over their
//! shift. The default config is used, learning period included: histories run for weeks.

use exfilwatch::alert::ExfilAlert;
use exfilwatch::config::Config;
use exfilwatch::engine::Engine;
use exfilwatch::event::{ActivityKind, DbActivityEvent};
use exfilwatch::io::decode::Decoder;
use exfilwatch::privacy::RecordKeyHasher;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SECRET: &[u8] = b"detection-test-secret-0123456789";
/// 2026-11-02T00:00:00Z, a Monday.
const MONDAY: i64 = 1_793_577_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// One person: name, group, customers on an ordinary day, first hour of the shift.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    group: String,
    level: f64,
    shift: i64,
    /// The sensitive table of its job.
    table: &'static str,
}

fn person(name: &str, group: &str, level: f64) -> Person {
    Person {
        name: name.into(),
        group: group.into(),
        level,
        shift: 8,
        table: "support.customers",
    }
}

/// An organisation fed through one engine, a day at a time: each day's events from everyone are fed in
/// time order, as a proxy ships them.
struct Org {
    engine: Engine,
    decoder: Decoder,
    rng: ChaCha8Rng,
    seed: u64,
    alerts: Vec<ExfilAlert>,
    next_id: u64,
    next_customer: u64,
    /// Sources that give rows only, no record keys.
    keyless: bool,
    /// Sources that count neither rows nor record keys (Teleport, MariaDB's `server_audit`).
    rowless: bool,
    /// Sources that do not name the account's group: each group uses its own client application.
    unnamed: bool,
    /// Events of the day being built, fed by [`Org::flush`].
    pending: Vec<DbActivityEvent>,
}

impl Org {
    fn new(seed: u64) -> Self {
        Org::with_config(seed, &Config::default())
    }

    fn with_config(seed: u64, config: &Config) -> Self {
        let hasher = RecordKeyHasher::new(SECRET).expect("secret");
        Org {
            engine: Engine::new(config, &hasher),
            decoder: Decoder::new(config.input.format, 1 << 20, hasher),
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            alerts: Vec::new(),
            next_id: 0,
            next_customer: 0,
            keyless: false,
            rowless: false,
            unnamed: false,
            pending: Vec::new(),
        }
    }

    fn feed(&mut self, event: DbActivityEvent) {
        self.pending.push(event);
    }

    /// Feeds the events built so far, in time order.
    fn flush(&mut self) {
        let mut events = std::mem::take(&mut self.pending);
        events.sort_by_key(|e| e.event_time);
        for event in events {
            let activity = self.decoder.pseudonymise(event);
            let outcome = self.engine.process(&activity, None, 0);
            self.alerts.extend(outcome.alerts);
        }
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("e{}", self.next_id)
    }

    /// `who` reads `customers` distinct customers from `table` on `day`, in lookups of one to three
    /// spread over an eight-hour shift.
    fn reads(&mut self, who: &Person, day: i64, customers: u64, table: &str) {
        let start = MONDAY + day * DAY + who.shift * HOUR;
        let mut left = customers;
        let mut lookups = Vec::new();
        while left > 0 {
            let take = self.rng.gen_range(1..=3u64).min(left);
            left -= take;
            lookups.push((start + self.rng.gen_range(0..8 * HOUR), take));
        }
        lookups.sort_unstable();
        for (time, take) in lookups {
            let keys: Vec<String> = (0..take)
                .map(|_| {
                    self.next_customer += 1;
                    format!("cust-{}", self.next_customer)
                })
                .collect();
            let id = self.id();
            let event = DbActivityEvent {
                client_ip: Some(format!(
                    "10.1.{}.{}",
                    who.name.len(),
                    who.name.as_bytes()[0]
                )),
                client_app: Some(if self.unnamed {
                    format!("{}-console", who.group)
                } else {
                    "crm-web".into()
                }),
                record_keys: (!self.keyless).then_some(keys),
                peer_group: (!self.unnamed).then(|| who.group.clone()),
                ..DbActivityEvent::query(id, time, &who.name, table, take as i64)
            };
            if self.rowless {
                self.feed(DbActivityEvent {
                    rows: None,
                    record_keys: None,
                    ..event
                });
                continue;
            }
            self.feed(event);
        }
    }

    /// An ordinary working day of `who`: its level times a log-normal day-to-day factor (0.3).
    ///
    /// Each person-day draws from its own stream (of the organisation's seed, the person and the day),
    /// so two runs that differ on one day are the same on every other.
    fn ordinary_day(&mut self, who: &Person, day: i64, factor: f64) {
        let day_seed = who.name.bytes().fold(
            self.seed ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3),
        );
        let organisation_stream =
            std::mem::replace(&mut self.rng, ChaCha8Rng::seed_from_u64(day_seed));
        self.ordinary_day_drawn(who, day, factor);
        self.rng = organisation_stream;
    }

    fn ordinary_day_drawn(&mut self, who: &Person, day: i64, factor: f64) {
        let noise: f64 = {
            // Box–Muller from the organisation's stream.
            let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
            let v: f64 = self.rng.gen_range(0.0..1.0);
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let customers = (who.level * factor * (0.3 * noise).exp()).round().max(1.0) as u64;
        self.reads(who, day, customers, who.table);
    }

    /// `days` weekdays of everyone's ordinary work from `first`, `factor(person, day)` times their level.
    fn weeks(
        &mut self,
        people: &[Person],
        first: i64,
        days: i64,
        factor: impl Fn(&Person, i64) -> f64,
    ) {
        for day in first..first + days {
            if day % 7 >= 5 {
                continue;
            }
            for who in people {
                let f = factor(who, day);
                if f > 0.0 {
                    self.ordinary_day(who, day, f);
                }
            }
            self.flush();
        }
    }

    fn export(&mut self, who: &Person, day: i64, hour: i64, rows: i64, destination: &str) {
        let id = self.id();
        let event = DbActivityEvent {
            kind: ActivityKind::Export,
            operation: "COPY".into(),
            bytes: Some(rows * 300),
            destination: Some(destination.into()),
            client_app: Some("psql".into()),
            peer_group: Some(who.group.clone()),
            ..DbActivityEvent::query(
                id,
                MONDAY + day * DAY + hour * HOUR,
                &who.name,
                "billing.customers",
                rows,
            )
        };
        self.feed(event);
    }

    fn alerted(&mut self) -> Vec<String> {
        self.flush();
        let mut names: Vec<String> = self.alerts.iter().map(|a| a.account.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The first alert on `who` at or after `day`, as days since that day's midnight.
    fn caught_after(&mut self, who: &str, day: i64) -> Option<f64> {
        self.flush();
        let from = MONDAY + day * DAY;
        self.alerts
            .iter()
            .filter(|a| a.account == who && a.trigger_time >= from)
            .map(|a| (a.trigger_time - from) as f64 / DAY as f64)
            .reduce(f64::min)
    }

    fn summaries(&mut self) -> Vec<String> {
        self.flush();
        self.alerts.iter().map(|a| a.summary.clone()).collect()
    }
}

/// A support team of `n`: levels spread log-normally around 150 customers a day (30 to 600).
fn team(n: usize, group: &str, seed: u64) -> Vec<Person> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let level = (150.0 * (0.6 * (rng.gen_range(-1.5f64..1.5))).exp()).clamp(30.0, 600.0);
            Person {
                shift: if i % 2 == 0 { 7 } else { 13 },
                ..person(&format!("{group}-{i:02}"), group, level)
            }
        })
        .collect()
}

const WEEKS: i64 = 28;

/// A support team of 14 and a 60-a-day reader, four quiet weeks, then a week with the reader at 4×,
/// on `org`'s kind of source: the reader is caught within four days, alone. Returns its first alert.
fn light_reader_quadruples(mut org: Org, team_seed: u64) -> ExfilAlert {
    let mut people = team(14, "support", team_seed);
    people.push(person("light", "support", 60.0));
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    assert!(org.summaries().is_empty(), "{:#?}", org.summaries());
    org.weeks(
        &people,
        WEEKS,
        7,
        |p, _| if p.name == "light" { 4.0 } else { 1.0 },
    );
    let caught = org.caught_after("light", WEEKS).expect("caught");
    assert!(caught <= 4.0, "caught after {caught:.1} days");
    assert_eq!(
        org.alerted(),
        vec!["light".to_string()],
        "{:#?}",
        org.summaries()
    );
    org.alerts[0].clone()
}

#[test]
fn a_light_reader_who_quadruples_is_caught_within_four_days_though_far_below_any_floor() {
    // Issue 15: absolute floors (min_records 300/400) hid a 60-a-day reader reading 240.
    let alert = light_reader_quadruples(Org::new(11), 1);
    assert!(alert.summary.contains("customers"), "{}", alert.summary);
}

#[test]
fn one_event_with_a_clock_years_ahead_changes_nobody_elses_alerts() {
    // A proxy whose clock jumped four years ahead for one event: it must not freeze the partition's
    // peer views and thresholds at that time, nor make every later event of the team late for them.
    let mut people = team(14, "support", 1);
    people.push(person("light", "support", 60.0));
    let mut org = Org::new(11);
    org.weeks(&people, 0, 14, |_, _| 1.0);
    let id = org.id();
    let skewed = &people[0];
    org.feed(DbActivityEvent {
        peer_group: Some(skewed.group.clone()),
        ..DbActivityEvent::query(
            id,
            MONDAY + 14 * DAY + 4 * 365 * DAY,
            &skewed.name,
            skewed.table,
            2,
        )
    });
    org.flush();
    // A recall day at two and a half times for the whole team, after it: the group's, nobody's own.
    org.weeks(
        &people,
        14,
        WEEKS - 14,
        |_, day| if day == 21 { 2.5 } else { 1.0 },
    );
    assert!(org.summaries().is_empty(), "{:#?}", org.summaries());
    org.weeks(
        &people,
        WEEKS,
        7,
        |p, _| if p.name == "light" { 4.0 } else { 1.0 },
    );
    let caught = org.caught_after("light", WEEKS).expect("caught");
    assert!(caught <= 4.0, "caught after {caught:.1} days");
    assert_eq!(
        org.alerted(),
        vec!["light".to_string()],
        "{:#?}",
        org.summaries()
    );
}

#[test]
fn sources_without_rows_or_keys_are_judged_from_their_statements() {
    // Teleport's query events, MariaDB's server_audit and pgaudit without log_rows count neither rows
    // nor record keys: before statements counted as the volume, nothing here was ever scored.
    let mut org = Org::new(13);
    org.rowless = true;
    let alert = light_reader_quadruples(org, 3);
    assert!(
        alert.summary.contains("sensitive statements"),
        "{}",
        alert.summary
    );
}

#[test]
fn a_chunked_export_to_a_new_external_destination_is_one_transfer_even_without_row_counts() {
    // Five chunks of 6 MB to a share nobody uses, from a source that counts bytes but no rows: each
    // chunk is under the 10 MiB floor, their sum is not.
    let people = team(8, "billing", 4);
    let mut org = Org::new(14);
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    assert!(org.alerted().is_empty(), "{:#?}", org.summaries());
    let who = &people[3];
    for chunk in 0..5 {
        let id = org.id();
        let event = DbActivityEvent {
            kind: ActivityKind::Export,
            operation: "COPY".into(),
            rows: None,
            record_keys: None,
            bytes: Some(6_000_000),
            destination: Some("https://share.example-cloud.net/u/7731".into()),
            client_app: Some("psql".into()),
            peer_group: Some(who.group.clone()),
            ..DbActivityEvent::query(
                id,
                MONDAY + WEEKS * DAY + 11 * HOUR + chunk * 25 * 60_000,
                &who.name,
                "billing.customers",
                1,
            )
        };
        org.feed(event);
    }
    let summaries = org.summaries();
    let alert = org
        .alerts
        .iter()
        .find(|a| a.rule == "new_destination")
        .unwrap_or_else(|| panic!("no new_destination alert: {summaries:#?}"));
    assert_eq!(alert.account, who.name);
    // At the second chunk: 12 MB.
    assert_eq!(alert.observed, 12_000_000.0, "{}", alert.summary);
}

#[test]
fn sources_without_record_keys_are_judged_from_rows_and_queries_alone() {
    let mut org = Org::new(12);
    org.keyless = true;
    let alert = light_reader_quadruples(org, 2);
    assert!(
        alert.summary.contains("sensitive rows"),
        "{}",
        alert.summary
    );
}

#[test]
fn heavy_but_normal_readers_raise_nothing_in_ordinary_weeks_nor_on_the_teams_outage_day() {
    // Issue 15: readers of 1,500-1,800 customers a day crossed the fixed 24h/3,000 and 7d/8,000
    // ceilings in an ordinary week, and on the team's outage day.
    let mut people = team(10, "support", 3);
    for (i, level) in [1_500.0, 1_650.0, 1_800.0].into_iter().enumerate() {
        people.push(person(&format!("heavy-{i}"), "support", level));
    }
    let outage = WEEKS + 2;
    let mut org = Org::new(13);
    org.weeks(
        &people,
        0,
        WEEKS + 7,
        |_, day| if day == outage { 2.5 } else { 1.0 },
    );
    assert!(org.summaries().is_empty(), "{:#?}", org.summaries());
}

#[test]
fn without_named_groups_a_team_moving_together_is_its_learned_groups_common_mode() {
    // Issue 15, item 8: where neither the source nor the configuration names groups, peers are learned
    // from behaviour (main sensitive table and client application). A billing team at 3x for its
    // three-day month-end close is then nobody's deviation, though the larger support team stays at its normal.
    let support = team(24, "support", 5);
    let billing: Vec<Person> = team(6, "billing", 6)
        .into_iter()
        .map(|p| Person {
            table: "billing.customers",
            ..p
        })
        .collect();
    let people: Vec<Person> = support.iter().chain(&billing).cloned().collect();
    let close = [WEEKS + 2, WEEKS + 3, WEEKS + 4];
    let mut org = Org::new(21);
    org.unnamed = true;
    org.weeks(&people, 0, WEEKS + 7, |who, day| {
        if who.table == "billing.customers" && close.contains(&day) {
            3.0
        } else {
            1.0
        }
    });
    assert!(org.summaries().is_empty(), "{:#?}", org.summaries());
    // And a learned group still sees one of its members alone at 3x, within three working days (a 3x
    // day of a 0.3-spread reader can draw as low as 1.8x).
    let mut org = Org::new(21);
    org.unnamed = true;
    let insider = billing[2].name.clone();
    org.weeks(&people, 0, WEEKS + 7, |who, day| {
        if who.name == insider && day > WEEKS {
            3.0
        } else {
            1.0
        }
    });
    let caught = org.caught_after(&insider, WEEKS + 1).expect("caught");
    assert!(caught < 3.0, "after {caught:.1} days");
    assert_eq!(org.alerted(), vec![insider]);
}

#[test]
fn a_departing_employee_reading_three_times_across_every_table_is_caught_the_first_day() {
    // Issue 15: three days at 3x across every sensitive table were caught only when the data was
    // mailed out, 88 hours later.
    departing_employee_is_caught_in_the_first_shift(team(12, "billing", 4));
}

#[test]
fn in_another_time_zone_a_shift_across_utc_midnight_is_one_day() {
    // Days begin at the organisation's quiet hour, learned from its first 24 hours: a team on
    // 21:00-05:00 UTC (a morning shift in Tokyo) has its shift in one day, so the leaver's first shift
    // is one day at 3x across every table. With UTC days it was a third of one day and two thirds of
    // the next: the alert came only after midnight, from reads alone (the new table was no longer new
    // on the second UTC day), and the breadth that shows what the leaver did was missing from it.
    let people: Vec<Person> = team(12, "billing", 4)
        .into_iter()
        .map(|p| Person { shift: 21, ..p })
        .collect();
    departing_employee_is_caught_in_the_first_shift(people);
}

/// Three shifts at 3x across every sensitive table, from the start of day `WEEKS`: caught before the
/// first shift ends, and nobody else alerts.
fn departing_employee_is_caught_in_the_first_shift(people: Vec<Person>) {
    let leaver = people[5].clone();
    let mut org = Org::new(14);
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    for day in WEEKS..WEEKS + 3 {
        for who in &people {
            if who.name == leaver.name {
                let customers = (who.level * 3.0) as u64;
                org.reads(who, day, customers, "billing.customers");
                org.reads(who, day, customers / 2, "crm.customer_contacts");
            } else {
                org.ordinary_day(who, day, 1.0);
            }
        }
        org.flush();
    }
    let caught = org
        .caught_after(&leaver.name, WEEKS)
        .expect("caught before any export");
    let shift_ends = (leaver.shift + 8) as f64 / 24.0;
    assert!(
        caught < shift_ends,
        "caught after {caught:.2} days, the first shift ends after {shift_ends:.2}"
    );
    assert_eq!(
        org.alerted(),
        vec![leaver.name.clone()],
        "{:#?}",
        org.summaries()
    );
    let alert = &org.alerts[0];
    assert!(
        alert.contributions.iter().any(|c| c.feature == "new_table"),
        "breadth counts: {:?}",
        alert.contributions
    );
}

#[test]
fn a_slow_reader_of_250_extra_customers_a_day_is_caught_within_a_week() {
    // Issue 15 (the kept-back workload): 250 extra a day, missed on every seed.
    let mut people = team(14, "support", 5);
    people.push(person("slow", "support", 300.0));
    let mut org = Org::new(15);
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    org.weeks(&people, WEEKS, 14, |p, _| {
        if p.name == "slow" {
            1.0 + 250.0 / 300.0
        } else {
            1.0
        }
    });
    let caught = org.caught_after("slow", WEEKS).expect("caught");
    assert!(caught <= 7.0, "caught after {caught:.1} days");
    assert_eq!(
        org.alerted(),
        vec!["slow".to_string()],
        "{:#?}",
        org.summaries()
    );
}

#[test]
fn a_teams_report_run_to_the_company_warehouse_raises_nothing() {
    // Issue 15: the fortnightly billing run paged every billing clerk through five rules.
    let people = team(12, "billing", 6);
    let sync = person("svc-sync", "service", 0.0);
    let mut org = Org::new(16);
    for day in 0..WEEKS + 14 {
        // The company warehouse is the organisation's: a service exports to it every night.
        org.export(&sync, day, 1, 300_000, "s3://corp-warehouse/sync/");
    }
    org.flush();
    org.weeks(&people, 0, WEEKS + 14, |_, _| 1.0);
    for run in [WEEKS - 3, WEEKS + 11] {
        for who in &people {
            let rows = org.rng.gen_range(3_000..25_000);
            org.export(who, run, 15, rows, "s3://corp-warehouse/reports/");
        }
        org.flush();
    }
    assert!(org.summaries().is_empty(), "{:#?}", org.summaries());
}

#[test]
fn a_dump_is_one_alert_for_the_episode_listing_every_rule_that_saw_it() {
    // Issue 15: one 24,000-row read raised five alerts at once.
    let people = team(12, "support", 7);
    let mut org = Org::new(17);
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    let thief = people[3].clone();
    org.reads(&thief, WEEKS, 24_000, "support.customers");
    org.flush();
    org.weeks(&people, WEEKS + 1, 2, |_, _| 1.0);
    assert_eq!(org.alerted(), vec![thief.name.clone()]);
    // The risk opens the episode as the reads pile up; the table-dump ceiling joins it later that
    // day: an escalation of the same episode, listing both, not a second incident.
    let on_thief: Vec<&ExfilAlert> = org
        .alerts
        .iter()
        .filter(|a| a.account == thief.name)
        .collect();
    let episodes: std::collections::BTreeSet<&str> =
        on_thief.iter().map(|a| a.episode_id.as_str()).collect();
    assert_eq!(episodes.len(), 1, "{on_thief:#?}");
    assert!(on_thief.len() <= 3, "{on_thief:#?}");
    assert_eq!(on_thief[0].episode_level, 1);
    let last = on_thief.last().expect("alerted");
    assert!(
        last.rules.contains(&"bulk_read".to_string()),
        "{:?}",
        last.rules
    );
    assert!(
        last.rules.contains(&"account_risk".to_string()),
        "{:?}",
        last.rules
    );
}

#[test]
fn a_new_account_is_judged_against_its_peers_from_its_first_day() {
    let people = team(14, "support", 8);
    let mut org = Org::new(18);
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    let hire = person("new-hire", "support", 150.0);
    let grabber = person("new-grabber", "support", 150.0);
    let mut everyone = people.clone();
    everyone.push(hire.clone());
    org.weeks(&everyone, WEEKS, 5, |_, _| 1.0);
    org.reads(&grabber, WEEKS + 5, 20_000 / 3, "support.customers");
    org.reads(&grabber, WEEKS + 5, 20_000 / 3, "support.customers");
    org.flush();
    assert!(org
        .caught_after("new-grabber", WEEKS + 5)
        .is_some_and(|d| d < 1.0));
    assert_eq!(
        org.alerted(),
        vec!["new-grabber".to_string()],
        "{:#?}",
        org.summaries()
    );
}

/// The organisation of the properties: a team of ten and `attacker`, who reads `excess` times its own
/// level from day `WEEKS` for a week; every volume times `scale`, and the whole team (attacker aside)
/// times `team_factor` on day `WEEKS + 2`.
fn property_org(seed: u64, scale: f64, team_factor: f64, excess: f64) -> Org {
    property_org_from(seed, 0.0, scale, team_factor, excess)
}

/// [`property_org`] with every level at least `least` before scaling.
fn property_org_from(seed: u64, least: f64, scale: f64, team_factor: f64, excess: f64) -> Org {
    let mut people = team(10, "support", seed);
    for who in &mut people {
        who.level = who.level.max(least) * scale;
    }
    people[0].name = "attacker".into();
    let mut org = Org::new(seed);
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    org.weeks(&people, WEEKS, 7, |p, day| {
        let team = if day == WEEKS + 2 { team_factor } else { 1.0 };
        if p.name == "attacker" {
            excess
        } else {
            team
        }
    });
    org
}

/// The accounts alerted, each with its highest risk over the threshold it met (watchlist and rule
/// alerts carry no risk: 1).
fn alerted_by_margin(org: &mut Org) -> std::collections::BTreeMap<String, f64> {
    org.flush();
    let mut margins = std::collections::BTreeMap::new();
    for alert in &org.alerts {
        let margin = match (alert.risk, alert.risk_threshold) {
            (Some(risk), Some(threshold)) if threshold > 0.0 => risk / threshold,
            _ => 1.0,
        };
        let best = margins.entry(alert.account.clone()).or_insert(margin);
        *best = f64::max(*best, margin);
    }
    margins
}

/// What `of` alerts on and `reference` does not, leaving out accounts that passed the threshold by less
/// than `slack` (a day's counting noise or a re-estimated level can move a score by that much).
fn alerted_beyond(
    of: &std::collections::BTreeMap<String, f64>,
    reference: &std::collections::BTreeMap<String, f64>,
    slack: f64,
) -> Vec<String> {
    of.iter()
        .filter(|(account, margin)| !reference.contains_key(*account) && **margin > 1.0 + slack)
        .map(|(account, _)| account.clone())
        .collect()
}

proptest! {
    // The organisations are random and the model statistical: a rare organisation whose team happens to
    // run high through an attacker's week explains part of it away. The sample of organisations is fixed
    // so that a red run means the code changed; PROPTEST_RNG_SEED and PROPTEST_CASES draw others (forty
    // cases of each property were run at design time: one excess of x2.5 met such a week).
    #![proptest_config(ProptestConfig {
        cases: 6,
        rng_seed: proptest::test_runner::RngSeed::Fixed(15),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Scale-free: multiplying every account's volume by one factor alerts on the same accounts. Exactly
    /// so where days are large enough for their counting noise to be negligible beside the day-to-day
    /// spread (a day of n is uncertain by 1/√n on the log scale, which the score counts: five rows
    /// against a normal of one is no five-sigma day); from 300 a day it moves a score by a few percent,
    /// so an account that passes the threshold by less than 5% in one run may stay under it in the other.
    #[test]
    fn scaling_every_volume_by_one_factor_alerts_on_the_same_accounts(
        seed in 20u64..1_000,
        scale in 1.0f64..8.0,
    ) {
        let reference = alerted_by_margin(&mut property_org_from(seed, 300.0, 1.0, 1.0, 5.0));
        let scaled = alerted_by_margin(&mut property_org_from(seed, 300.0, scale, 1.0, 5.0));
        prop_assert!(reference.contains_key("attacker") && scaled.contains_key("attacker"), "{reference:?} {scaled:?}");
        prop_assert_eq!(alerted_beyond(&scaled, &reference, 0.05), Vec::<String>::new());
        prop_assert_eq!(alerted_beyond(&reference, &scaled, 0.05), Vec::<String>::new());
    }

    /// Peers right now: a whole group multiplied together (an outage, a recall) raises nothing that the
    /// same organisation without that day does not raise.
    #[test]
    fn a_whole_group_multiplied_together_raises_nothing(
        seed in 20u64..1_000,
        factor in 1.5f64..4.0,
    ) {
        let reference = alerted_by_margin(&mut property_org(seed, 1.0, 1.0, 1.0));
        let surge = alerted_by_margin(&mut property_org(seed, 1.0, factor, 1.0));
        prop_assert_eq!(alerted_beyond(&surge, &reference, 0.05), Vec::<String>::new());
    }
    /// A sustained excess of `x` times an account's own level is caught within the bound the
    /// accumulation gives: each day adds its z-score less the allowance, z = ln(x) / s with s the
    /// account's spread (at most 0.45 here: a 0.3 day-to-day spread, widened by the counting noise and a
    /// four-week history), and the threshold (at most 6.5) is passed after ceil(6.5 / (z − 0.5)) days,
    /// plus one for the day the reference learns nothing from.
    #[test]
    fn a_sustained_excess_over_its_own_level_is_caught_within_the_accumulations_bound(
        seed in 20u64..1_000,
        excess in 2.5f64..8.0,
    ) {
        let mut org = property_org(seed, 1.0, 1.0, excess);
        let z = excess.ln() / 0.45;
        let bound = (6.5 / (z - exfilwatch::detect::risk::ALLOWANCE)).ceil() + 1.0;
        let caught = org.caught_after("attacker", WEEKS);
        prop_assert!(caught.is_some_and(|d| d <= bound), "x{excess:.1}: caught after {caught:?}, bound {bound} days");
    }
}

/// Ordinary organisations (a support team of 14 and a billing team of 8, five weeks, 30 seeds) page
/// few innocent people. Measured: 4 accounts over 16,500 account-days (0.24 per 1,000, against the
/// configured budget of 0.1: small teams measure their common mode and young levels noisily). The bound
/// guards that rate against regressions without being met by luck of one seed.
#[test]
fn ordinary_organisations_page_few_innocent_people() {
    const SEEDS: u64 = 30;
    let mut paged = Vec::new();
    for seed in 0..SEEDS {
        let people: Vec<Person> = team(14, "support", 100 + seed)
            .into_iter()
            .chain(team(8, "billing", 200 + seed))
            .collect();
        let mut org = Org::new(300 + seed);
        org.weeks(&people, 0, WEEKS + 7, |_, _| 1.0);
        paged.extend(
            org.alerted()
                .into_iter()
                .map(|a| format!("seed {seed}: {a}")),
        );
    }
    let account_days = SEEDS * 22 * 25;
    // At most 6 accounts (0.36 per 1,000 account-days).
    assert!(
        paged.len() <= 6,
        "{} accounts paged over {account_days} account-days: {paged:#?}",
        paged.len()
    );
}
