//! Scenario tests: the labelled simulation (`crate::lab::simulate`) through the offline engine, scored
//! per scenario (`crate::lab::evaluate`). No Kafka.
//!
//! The tests share one run of the full default simulation (30 days, 40 agents, ~310k events: a few
//! seconds in a debug build). Scoring is by account and time (see `crate::lab::evaluate`), so where an
//! account also has ordinary alerts a test compares runs with and without the scenario instead.
//!
//! `cargo test --release --bin exfilwatch -- --ignored --nocapture report_default_simulation` prints
//! the Markdown report for the full default simulation.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::lab::evaluate::{self, LabelResult, Report, Run, ScenarioSummary};
use crate::lab::simulate::{self, SimSpec, Simulation, BACKUP_ACCOUNT, ETL_ACCOUNT};
use exfilwatch::config::Config;
use exfilwatch::engine::Engine;
use exfilwatch::io::decode::Decoder;
use exfilwatch::privacy::RecordKeyHasher;

const SECRET: &[u8] = b"scenario-tests-record-key-secret";

/// The organisation the shared run uses.
fn test_spec() -> SimSpec {
    SimSpec::default()
}

/// The engine configuration under test.
fn config(spec: &SimSpec) -> Config {
    let mut config = Config::default();
    config.rules.watchlist.keys = simulate::watchlist_keys(spec);
    config.rules.watchlist.honeytoken_keys = simulate::honeytoken_keys(spec);
    config
}

struct Scored {
    sim: Simulation,
    run: Run,
    report: Report,
}

fn score(spec: &SimSpec, config: &Config) -> Scored {
    let started = Instant::now();
    let sim = simulate::generate(spec);
    let generated = started.elapsed();
    let hasher = RecordKeyHasher::new(SECRET).expect("secret is long enough");
    let engine = Engine::new(config, &hasher);
    let decoder = Decoder::new(config.input.format, config.input.max_event_bytes, hasher);
    let run = evaluate::run(&engine, &decoder, &sim.events, None);
    let report = evaluate::score(&sim.events, &sim.labels, &run);
    eprintln!(
        "{} events, {} labels: generated in {:.1?}, scored in {:.1?}",
        sim.events.len(),
        sim.labels.len(),
        generated,
        started.elapsed() - generated
    );
    Scored { sim, run, report }
}

fn shared() -> &'static Scored {
    static SHARED: OnceLock<Scored> = OnceLock::new();
    SHARED.get_or_init(|| {
        let spec = test_spec();
        score(&spec, &config(&spec))
    })
}

fn scenario<'a>(report: &'a Report, name: &str) -> &'a ScenarioSummary {
    report
        .scenarios
        .iter()
        .find(|s| s.scenario == name)
        .unwrap_or_else(|| panic!("scenario {name} missing from the report"))
}

fn labels<'a>(report: &'a Report, name: &str) -> Vec<&'a LabelResult> {
    report
        .labels
        .iter()
        .filter(|l| l.scenario == name)
        .collect()
}

/// Detected, and no later than `within` after the scenario started.
fn assert_detected_within(name: &str, within: Duration) {
    let report = &shared().report;
    let summary = scenario(report, name);
    assert!(summary.malicious);
    assert!(
        summary.detected > 0,
        "{name} was not detected:\n{}",
        report.to_markdown()
    );
    let ttd = summary.time_to_detect.expect("detected has a time");
    assert!(
        ttd <= within,
        "{name} detected after {}, want at most {}",
        evaluate::short_duration(ttd),
        evaluate::short_duration(within)
    );
}

/// Support agents with false-positive alerts.
fn false_positive_agents(report: &Report) -> Vec<&str> {
    report
        .false_positives
        .top_accounts
        .iter()
        .map(|a| a.account.as_str())
        .filter(|a| a.starts_with("agent"))
        .collect()
}

/// No alert on any account of a benign scenario during its period.
fn assert_quiet(name: &str) {
    let report = &shared().report;
    let noisy: Vec<String> = labels(report, name)
        .iter()
        .filter(|l| l.detected)
        .map(|l| format!("{} ({})", l.account, l.rules.join(", ")))
        .collect();
    assert!(
        noisy.is_empty(),
        "{name}: false alarms on {noisy:?}\n{}",
        report.to_markdown()
    );
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

// ---- what the current engine (bulk_read) does -------------------------------------------------------

#[test]
fn every_default_scenario_is_in_the_report() {
    let report = &shared().report;
    for scenario in &test_spec().scenarios {
        let summary = self::scenario(report, scenario.name());
        assert_eq!(summary.malicious, scenario.malicious());
    }
    assert!(report.attacks >= 8);
    assert_eq!(
        report.late_events, 0,
        "the simulation is in event-time order"
    );
}

#[test]
fn smash_and_grab_is_detected_within_minutes() {
    assert_detected_within("smash_and_grab", 5 * MINUTE);
    let report = &shared().report;
    assert!(scenario(report, "smash_and_grab")
        .rules
        .contains(&"bulk_read".to_string()));
}

#[test]
fn support_agents_ordinary_work_raises_no_alert() {
    let Scored { sim, report, .. } = shared();
    let attackers: Vec<&str> = sim
        .labels
        .iter()
        .filter(|l| l.malicious)
        .map(|l| l.account.as_str())
        .collect();
    // Attackers' own false positives (outside their attack) count too.
    let agents = false_positive_agents(report);
    assert!(
        agents.is_empty(),
        "false positives on support agents {agents:?} (attackers: {attackers:?})\n{}",
        report.to_markdown()
    );
}

#[test]
fn team_surge_raises_no_alert() {
    assert_quiet("team_surge");
    assert!(labels(&shared().report, "team_surge").len() >= 10);
}

#[test]
fn new_hire_raises_no_alert() {
    assert_quiet("new_hire");
}

/// Analysts have ordinary alerts of their own (an extract plus its export can pass the 10-minute
/// threshold), so compare the analysts' alerts with and without the scenario: identical background.
#[test]
fn quarter_end_adds_no_alert() {
    let with = SimSpec {
        agents: 0,
        dbas: 0,
        nightly_etl: false,
        weekly_backup: false,
        ..test_spec().only(&["quarter_end"])
    };
    let without = SimSpec {
        scenarios: Vec::new(),
        ..with.clone()
    };
    let (a, b) = (
        score(&with, &config(&with)),
        score(&without, &config(&without)),
    );
    assert!(labels(&a.report, "quarter_end").len() >= 6);
    let ids =
        |s: &Scored| -> Vec<String> { s.run.alerts.iter().map(|a| a.alert_id.clone()).collect() };
    let summaries = |s: &Scored| -> Vec<String> {
        s.run
            .alerts
            .iter()
            .map(|a| format!("{} {}", a.trigger_time, a.summary))
            .collect()
    };
    assert_eq!(
        ids(&a),
        ids(&b),
        "quarter-end reporting changed the alerts: {:#?}",
        summaries(&a)
    );
}

/// These scenarios stay below the fixed bulk_read thresholds on purpose, so they exercise the other
/// rules. A bulk_read alert on the same account for ordinary work may fall in the window; what must
/// not happen is one whose evidence includes the scenario's own events (ids `sc<n>.<scenario>.…`).
#[test]
fn quiet_attacks_stay_under_the_bulk_read_thresholds() {
    let Scored { run, report, .. } = shared();
    for name in [
        "low_and_slow",
        "boiling_frog",
        "new_destination_export",
        "chunked_egress",
        "credential_misuse",
        "targeted_vip",
        "honeytoken",
    ] {
        let marker = format!(".{name}.");
        let caused: Vec<&str> = run
            .alerts
            .iter()
            .filter(|a| a.rule == "bulk_read")
            .filter(|a| a.sample_event_ids.iter().any(|id| id.contains(&marker)))
            .map(|a| a.summary.as_str())
            .collect();
        assert!(
            caused.is_empty(),
            "{name} trips bulk_read: {caused:?}\n{}",
            report.to_markdown()
        );
    }
}

/// The nightly ETL job reads two million customer rows from its first night: first seen while the
/// deployment learns (`detection.learning_period`), it is learned, not alerted on; judged from the
/// first event it pages (a table dump), unless declared in `alerts.suppress_accounts`. The weekly
/// backup exports to an internal vault: an export is no read, and an internal destination no breach.
#[test]
fn service_accounts_are_learned_during_the_learning_period_or_declared() {
    let spec = SimSpec {
        agents: 0,
        analysts: 0,
        dbas: 0,
        scenarios: Vec::new(),
        ..SimSpec::default()
    };
    let mut config = config(&spec);
    let learned = score(&spec, &config);
    assert!(learned.run.alerts.is_empty(), "{:#?}", learned.run.alerts);
    config.detection.learning_period = Duration::ZERO;
    let judged_at_once = score(&spec, &config);
    assert!(
        judged_at_once
            .run
            .alerts
            .iter()
            .any(|a| a.account == ETL_ACCOUNT && a.rule == "bulk_read"),
        "{ETL_ACCOUNT} reads millions of customer rows on a detector that never learned it"
    );
    assert!(!judged_at_once
        .run
        .alerts
        .iter()
        .any(|a| a.account == BACKUP_ACCOUNT));
    config.alerts.suppress_accounts = vec![ETL_ACCOUNT.into(), BACKUP_ACCOUNT.into()];
    let declared = score(&spec, &config);
    assert!(declared.run.alerts.is_empty());
    for name in ["nightly_etl", "weekly_backup"] {
        assert_eq!(scenario(&declared.report, name).detected, 0);
    }
}

// ---- attacks below the absolute rules: the accumulated risk's business ---------------------------------

/// The incident: each lookup normal, ~1,000-1,500 extra distinct customers a shift. Within two days,
/// though the insider starts a week into its history (its spread still mostly its team's pooled one).
/// Measured on the default simulation: 4d 2h while days were UTC days, 1d 3h since they begin at the
/// organisation's quiet hour (05:00 here, where the night shift is thinnest).
#[test]
fn low_and_slow_is_detected_within_two_days() {
    assert_detected_within("low_and_slow", 2 * DAY);
}

#[test]
fn a_heavy_users_low_and_slow_is_detected_within_two_days() {
    // Seed 21's agent007 reads about 600 distinct customers on an ordinary day, 1.7 times the
    // team's median: its 1,000-1,500 extra a day make 2.7-3 times its own median. Caught by the run
    // of such days, over twelve partitions as well, where it shares its sample with a single colleague.
    let spec = SimSpec {
        seed: 21,
        ..test_spec().only(&["low_and_slow"])
    };
    let config = config(&spec);
    let Scored { sim, report, .. } = score(&spec, &config);
    let partitioned = {
        let hasher = RecordKeyHasher::new(SECRET).expect("secret is long enough");
        let engine = Engine::new(&config, &hasher);
        let decoder = Decoder::new(config.input.format, config.input.max_event_bytes, hasher);
        let partitioning = Some((
            exfilwatch::io::partitioner::Partitioner::ConsistentRandom,
            12,
        ));
        let run = evaluate::run(&engine, &decoder, &sim.events, partitioning);
        evaluate::score(&sim.events, &sim.labels, &run)
    };
    for report in [&report, &partitioned] {
        let summary = scenario(report, "low_and_slow");
        let ttd = summary.time_to_detect;
        assert!(
            ttd.is_some_and(|t| t <= 2 * DAY),
            "detected after {:?}\n{}",
            ttd.map(evaluate::short_duration),
            report.to_markdown()
        );
        let agents = false_positive_agents(report);
        assert!(agents.is_empty(), "{agents:?}\n{}", report.to_markdown());
    }
}

#[test]
fn boiling_frog_is_detected_before_it_reaches_ten_times_normal() {
    let report = &shared().report;
    let label = labels(report, "boiling_frog")[0];
    let growth = Duration::from_millis((label.end_ms - label.start_ms) as u64);
    // Caught in the first two thirds of the growth (peers never drift; the own baseline does).
    assert_detected_within("boiling_frog", growth * 2 / 3);
}

#[test]
fn new_destination_export_is_detected_within_minutes() {
    assert_detected_within("new_destination_export", 10 * MINUTE);
}

#[test]
fn chunked_egress_is_detected_within_two_days() {
    assert_detected_within("chunked_egress", 2 * DAY);
}

#[test]
fn credential_misuse_is_detected_within_an_hour() {
    assert_detected_within("credential_misuse", HOUR);
}

#[test]
fn targeted_vip_is_detected_within_an_hour() {
    assert_detected_within("targeted_vip", HOUR);
}

#[test]
fn honeytoken_is_detected_at_once() {
    assert_detected_within("honeytoken", MINUTE);
}

#[test]
fn undeclared_service_accounts_are_quiet_after_a_week() {
    let report = &shared().report;
    for name in ["nightly_etl", "weekly_backup"] {
        let label = labels(report, name)[0];
        let learned = label.start_ms + 7 * 86_400_000;
        let late: Vec<i64> = shared()
            .run
            .alerts
            .iter()
            .filter(|a| a.account == label.account && a.trigger_time >= learned)
            .map(|a| a.trigger_time)
            .collect();
        assert!(
            late.is_empty(),
            "{name}: {} alerts after the first week",
            late.len()
        );
    }
}

#[test]
fn analysts_routine_work_raises_no_alert() {
    let Scored { run, sim, report } = shared();
    let routine: Vec<String> = run
        .alerts
        .iter()
        .filter(|a| a.account.starts_with("analyst"))
        .filter(|a| {
            !sim.labels.iter().any(|l| {
                l.malicious
                    && l.account == a.account
                    && (l.start_ms..=l.end_ms + evaluate::DETECTION_GRACE_MS)
                        .contains(&a.trigger_time)
            })
        })
        .map(|a| a.summary.clone())
        .collect();
    assert!(routine.is_empty(), "{routine:#?}\n{}", report.to_markdown());
}

/// A guard for the rules being added: noise must stay low while detection grows (0.07 measured).
#[test]
fn false_positive_accounts_stay_below_one_every_ten_days() {
    let report = &shared().report;
    let fp = &report.false_positives;
    assert!(
        fp.accounts_per_day <= 0.1,
        "{:.2} false-positive accounts/day\n{}",
        fp.accounts_per_day,
        report.to_markdown()
    );
}

#[test]
#[ignore = "report: run with --release -- --ignored --nocapture report_default_simulation"]
fn report_default_simulation() {
    let spec = SimSpec::default();
    let scored = score(&spec, &config(&spec));
    println!("{}", scored.report.to_markdown());
    if let Ok(path) = std::env::var("EXFILWATCH_REPORT_JSON") {
        let json = serde_json::to_string_pretty(&scored.report).expect("report serialises");
        std::fs::write(&path, json).expect("report written");
    }
}

/// The live service samples peers per input partition (see `exfilwatch::detect::peers`): with twelve
/// partitions the 40 support agents are three or four per sample, too few to measure a common mode. Every
/// attack must still be caught, the low-and-slow insider within a day or two. A team moving together
/// that nobody in the partition can see moving is what such a layout costs (README, "Limits"):
/// the bound below records it rather than hides it.
#[test]
fn sampled_per_partition_as_the_live_service_does_attacks_are_caught_and_quiet_days_stay_quiet() {
    let spec = test_spec();
    let config = config(&spec);
    let sim = &shared().sim;
    let hasher = RecordKeyHasher::new(SECRET).expect("secret is long enough");
    let engine = Engine::new(&config, &hasher);
    let decoder = Decoder::new(config.input.format, config.input.max_event_bytes, hasher);
    let partitioning = Some((
        exfilwatch::io::partitioner::Partitioner::ConsistentRandom,
        12,
    ));
    let run = evaluate::run(&engine, &decoder, &sim.events, partitioning);
    let report = evaluate::score(&sim.events, &sim.labels, &run);
    assert_eq!(
        report.attacks_detected,
        report.attacks,
        "{}",
        report.to_markdown()
    );
    let slow = scenario(&report, "low_and_slow");
    assert!(
        slow.time_to_detect.is_some_and(|t| t <= 2 * DAY),
        "{}",
        report.to_markdown()
    );
    assert!(
        report.false_positives.accounts_per_day <= 0.5,
        "{}",
        report.to_markdown()
    );
}
