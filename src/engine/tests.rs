//! The engine end to end on hand-made events.

use super::*;
use crate::event::ActivityKind;

mod clock;

fn hasher() -> RecordKeyHasher {
    RecordKeyHasher::new(b"engine-test-secret-0123").expect("secret")
}

/// The default config, judging from the first event (these tests are about mechanics, not the
/// learning period of a new deployment).
fn config() -> Config {
    let mut config = Config::default();
    config.detection.learning_period = std::time::Duration::ZERO;
    config
}

fn engine() -> Engine {
    Engine::new(&config(), &hasher())
}

fn read(id: &str, account: &str, time_ms: i64, rows: u64, table: &str) -> Activity {
    Activity {
        event_id: id.into(),
        event_time_ms: time_ms,
        kind: ActivityKind::Query,
        account: account.into(),
        db_user: None,
        source: "test".into(),
        client_ip: Some("10.0.0.7".into()),
        client_app: None,
        database: None,
        tables: vec![table.into()],
        operation: "SELECT".into(),
        query_digest: None,
        rows: Some(rows),
        bytes: None,
        record_key_hashes: None,
        destination: None,
        peer_group: None,
        success: true,
    }
}

const T0: i64 = 1_700_000_000_000;

#[test]
fn smash_and_grab_fires_once_with_evidence() {
    let e = engine();
    let out = e.process(
        &read("e1", "mallory", T0, 50_000, "support.customers"),
        None,
        0,
    );
    assert_eq!(out.alerts.len(), 1);
    let a = &out.alerts[0];
    assert_eq!(a.rule, "bulk_read");
    assert_eq!(a.account, "mallory");
    assert_eq!(a.observed, 50_000.0);
    assert_eq!(a.tables, vec!["support.customers".to_string()]);
    assert_eq!(a.data_classes, vec!["customer_pii".to_string()]);
    assert_eq!(a.client_ips, vec!["10.0.0.7".to_string()]);
    assert_eq!(a.sample_event_ids, vec!["e1".to_string()]);
    assert_eq!(a.trigger_time, T0);
    assert!(a.summary.contains("mallory"));
    // The same burst again inside the episode is a duplicate, not a second alert.
    let again = e.process(
        &read("e2", "mallory", T0 + 1_000, 10, "support.customers"),
        None,
        0,
    );
    assert!(again.alerts.is_empty());
    assert_eq!(again.findings, vec![("bulk_read", FindingFate::Duplicate)]);
}

#[test]
fn non_sensitive_tables_never_count() {
    let e = engine();
    let out = e.process(&read("e1", "etl", T0, 10_000_000, "ref.countries"), None, 0);
    assert!(out.alerts.is_empty() && out.findings.is_empty());
}

#[test]
fn many_small_reads_add_up_in_the_day_window() {
    let e = engine();
    let mut alerts = Vec::new();
    // 80 rows every 5 minutes: 960 rows/hour, never near the 10m or 1h thresholds, 23k within a day.
    for i in 0..1_000 {
        let out = e.process(
            &read(
                &format!("e{i}"),
                "slow",
                T0 + i * 300_000,
                80,
                "support.customers",
            ),
            None,
            0,
        );
        alerts.extend(out.alerts);
    }
    assert_eq!(alerts.len(), 1, "one alert for the episode");
    assert!(alerts[0].summary.contains("24h"), "{}", alerts[0].summary);
}

#[test]
fn late_events_are_counted_not_windowed() {
    // Two late reads of 3,000 rows in a minute: 6,000 in ten minutes if they were windowed.
    let e = engine();
    e.process(&read("e1", "a", T0, 1, "support.customers"), None, 0);
    for (id, at) in [("e0", T0 - 3_600_000), ("e00", T0 - 3_540_000)] {
        let out = e.process(&read(id, "a", at, 3_000, "support.customers"), None, 0);
        assert!(out.late);
        assert!(out.alerts.is_empty(), "{out:?}");
    }
}

#[test]
fn suppressed_accounts_and_observe_mode_publish_nothing() {
    let mut config = config();
    config.alerts.suppress_accounts = vec!["backup".into()];
    let e = Engine::new(&config, &hasher());
    let out = e.process(
        &read("e1", "backup", T0, 1_000_000, "support.customers"),
        None,
        0,
    );
    assert!(out.alerts.is_empty());
    assert_eq!(out.findings, vec![("bulk_read", FindingFate::Suppressed)]);

    config.rules.bulk_read.mode = RuleMode::Observe;
    let e = Engine::new(&config, &hasher());
    let out = e.process(
        &read("e1", "x", T0, 1_000_000, "support.customers"),
        None,
        0,
    );
    assert!(out.alerts.is_empty());
    assert_eq!(out.findings, vec![("bulk_read", FindingFate::Observed)]);
}

#[test]
fn same_events_give_the_same_alerts_apart_from_emitted_at() {
    let events: Vec<Activity> = (0..200)
        .map(|i| {
            read(
                &format!("e{i}"),
                if i % 2 == 0 { "a" } else { "b" },
                T0 + i * 10_000,
                150,
                "support.customers",
            )
        })
        .collect();
    let run = |emitted| {
        let e = engine();
        let mut alerts = Vec::new();
        for ev in &events {
            alerts.extend(e.process(ev, None, emitted).alerts);
        }
        alerts
    };
    let mut first = run(1);
    let second = run(2);
    assert!(!first.is_empty());
    for alert in &mut first {
        alert.emitted_at = 2;
    }
    assert_eq!(first, second);
}

#[test]
fn reload_changes_thresholds_and_keeps_window_state() {
    let e = engine();
    e.process(&read("e1", "a", T0, 900, "support.customers"), None, 0);
    let mut config = config();
    config.rules.bulk_read.windows[0].rows = 950;
    e.reload(&config, &hasher())
        .expect("same window shapes reload");
    // 900 recorded before the reload + 60 now = 960: over the new 950, under the old 1,000.
    let out = e.process(
        &read("e2", "a", T0 + 1_000, 60, "support.customers"),
        None,
        0,
    );
    assert_eq!(
        out.alerts.len(),
        1,
        "state survived the reload and the new threshold applies"
    );
    assert_eq!(out.alerts[0].threshold, Some(950.0));

    config.rules.bulk_read.windows[0].buckets = 5;
    assert!(matches!(
        e.reload(&config, &hasher()),
        Err(ReloadError::WindowsChanged)
    ));
}

#[test]
fn a_reload_waits_for_the_batch_in_flight_and_applies_after_it() {
    use std::sync::atomic::AtomicBool;
    let e = engine();
    let mut lowered = config();
    lowered.rules.bulk_read.windows[0].rows = 950;
    let batch = [
        read("e1", "a", T0, 900, "support.customers"),
        read("e2", "a", T0 + 1_000, 60, "support.customers"),
    ];
    let reloaded = AtomicBool::new(false);
    let mut alerts = Vec::new();
    std::thread::scope(|scope| {
        e.process_all(
            &batch,
            |event| Some(event),
            |held, event| {
                if event.event_id == "e1" {
                    scope.spawn(|| {
                        e.reload(&lowered, &hasher()).expect("same shapes");
                        reloaded.store(true, Ordering::SeqCst);
                    });
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    assert!(!reloaded.load(Ordering::SeqCst), "the reload waits");
                }
                alerts.extend(held.process(event, None, 0).alerts);
                Ok::<(), ()>(())
            },
        )
        .expect("no error");
    });
    // 960 is under the old 1,000, which held for the whole batch; the new 950 applies after it.
    assert!(alerts.is_empty());
    assert!(reloaded.load(Ordering::SeqCst));
    let out = e.process(
        &read("e3", "a", T0 + 2_000, 1, "support.customers"),
        None,
        0,
    );
    assert_eq!(out.alerts.len(), 1);
    assert_eq!(out.alerts[0].threshold, Some(950.0));
}

#[test]
fn idle_accounts_are_swept_as_the_stream_clock_moves_on() {
    let config = config();
    let idle = millis(config.state.idle_timeout);
    let e = engine();
    e.process(&read("e1", "gone", T0, 1, "support.customers"), None, 0);
    // The stream resumes after a silence as long as the timeout: its time moves once a run of events
    // confirms it (see `PartitionTime::observe`).
    let run = i64::from(super::partition_time::CORROBORATING_EVENTS);
    for i in 0..run {
        e.process(
            &read(
                &format!("e2-{i}"),
                "stays",
                T0 + idle - (run - 1) + i,
                1,
                "support.customers",
            ),
            None,
            0,
        );
    }
    assert_eq!(e.accounts().len(), 2, "idle exactly the timeout: kept");
    // An hour of stream time later the sweep runs: "gone" is now idle longer than the timeout.
    let out = e.process(
        &read(
            "e3",
            "stays",
            T0 + idle + IDLE_SWEEP_PERIOD_MS,
            1,
            "support.customers",
        ),
        None,
        0,
    );
    assert_eq!(out.evicted, 1);
    assert!(e.accounts().snapshot("gone").is_none());
    assert!(e.accounts().snapshot("stays").is_some());
}

/// One sensitive read of `rows` by `account` at `time_ms`, outside any partition.
fn send(e: &Engine, id: &str, account: &str, time_ms: i64, rows: u64) -> Outcome {
    e.process(
        &read(id, account, time_ms, rows, "support.customers"),
        None,
        0,
    )
}

#[test]
fn compacting_an_idle_account_changes_no_alert() {
    const DAY: i64 = 86_400_000;
    let keyed = |id: String, account: &str, time: i64, keys: std::ops::Range<u64>| Activity {
        // Spread over all 64 bits, as keyed hashes are (records are told apart by the high half).
        record_key_hashes: Some(
            keys.clone()
                .map(|k| k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .collect(),
        ),
        peer_group: Some(format!("{account}-team")),
        ..read(
            &id,
            account,
            time,
            keys.end - keys.start,
            "support.customers",
        )
    };
    // Ten working days of routine reads, a month off, then a large pull.
    let mut history = Vec::new();
    for day in 0..10 {
        for i in 0..20u64 {
            let start = (day as u64 * 20 + i) * 5;
            history.push(keyed(
                format!("h{day}-{i}"),
                "x",
                T0 + day * DAY + i as i64 * 600_000,
                start..start + 5,
            ));
        }
    }
    let back = T0 + 40 * DAY;
    let pull: Vec<Activity> = (0..50u64)
        .map(|i| {
            keyed(
                format!("p{i}"),
                "x",
                back + i as i64 * 60_000,
                10_000 + i * 60..10_000 + (i + 1) * 60,
            )
        })
        .collect();
    let run = |idle_clock_ticks: bool| {
        let e = engine();
        for a in &history {
            e.process(a, None, 0);
        }
        let mut compacted = 0;
        if idle_clock_ticks {
            // Another account keeps the stream's clock moving while x is away: the sweeps compact x.
            for hour in 0..24 * 29 {
                let out = e.process(
                    &read(
                        &format!("y{hour}"),
                        "y",
                        T0 + 10 * DAY + hour * 3_600_000,
                        1,
                        "ref.countries",
                    ),
                    None,
                    0,
                );
                compacted += out.compacted;
            }
            let x = e.accounts().snapshot("x").expect("still tracked");
            assert!(x.compacted && x.read_windows.is_empty());
        }
        let alerts: Vec<crate::alert::ExfilAlert> = pull
            .iter()
            .flat_map(|a| e.process(a, None, 0).alerts)
            .collect();
        (alerts, compacted)
    };
    let (reference, none) = run(false);
    let (compacted_run, compactions) = run(true);
    assert_eq!(none, 0);
    assert_eq!(compactions, 1, "x (and only x) was compacted");
    assert!(!reference.is_empty(), "the pull alerts");
    assert_eq!(reference, compacted_run);
}

#[test]
fn failed_queries_do_not_count() {
    let e = engine();
    let mut ev = read("e1", "a", T0, 50_000, "support.customers");
    ev.success = false;
    assert!(e.process(&ev, None, 0).alerts.is_empty());
}

#[test]
fn a_partition_that_comes_back_learns_again_like_a_new_one() {
    // A nightly job reads 300,000 rows: its own history lifts the table-dump ceiling. When its partition
    // is revoked its accounts go with it; when the partition comes back to this instance, the job is
    // unknown again, and only a new learning period keeps its next run from paging, as on an instance
    // that never owned the partition.
    let mut config = config();
    config.detection.learning_period = std::time::Duration::from_secs(7 * 86_400);
    let e = Engine::new(&config, &hasher());
    let p = Some(PartitionRef {
        topic: 0,
        partition: 3,
    });
    let day = 86_400_000;
    let night = |e: &Engine, n: i64| {
        // The job, and the people whose reads keep the partition's time moving.
        for i in 0..10 {
            e.process(
                &read(
                    &format!("p{n}-{i}"),
                    &format!("agent{i}"),
                    T0 + n * day + i,
                    20,
                    "support.customers",
                ),
                p,
                0,
            );
        }
        e.process(
            &read(
                &format!("job{n}"),
                "svc-sync",
                T0 + n * day + 60_000,
                300_000,
                "support.customers",
            ),
            p,
            0,
        )
    };
    for n in 0..10 {
        let out = night(&e, n);
        assert!(out.alerts.is_empty(), "night {n}: {:?}", out.findings);
    }
    let Some(p) = p else { return };
    e.drop_partitions(&[p]);
    let back = night(&e, 11);
    assert!(back.alerts.is_empty(), "{:?}", back.findings);
}

#[test]
fn a_breach_held_back_by_the_learning_period_does_not_keep_its_day_out_of_the_level() {
    // Published breaches keep their day out of the account's level; one the learning period holds back
    // is no alert, and the day is needed to learn, whether it breached during the day or at its close.
    let mut config = config();
    config.detection.learning_period = std::time::Duration::from_secs(60 * 86_400);
    let e = Engine::new(&config, &hasher());
    let day = 86_400_000;
    let mut id = 0;
    let mut day_of_reads = |d: i64, rows: u64| {
        for hour in [9, 11, 14] {
            id += 1;
            send(
                &e,
                &format!("l{id}"),
                "steady",
                T0 + d * day + hour * 3_600_000,
                rows / 3,
            );
        }
    };
    for d in 0..14 {
        day_of_reads(d, 300);
    }
    day_of_reads(14, 6_000);
    day_of_reads(15, 300);
    let flags = e
        .accounts()
        .with_account(
            "steady",
            || unreachable!("known"),
            |state| {
                state
                    .history
                    .closed
                    .iter()
                    .map(|d| (d.day, d.flags))
                    .collect::<Vec<_>>()
            },
        )
        .0;
    let (_, big_day) = flags[flags.len() - 1];
    assert_eq!(big_day & RAISED, RAISED, "{flags:?}");
    assert_eq!(big_day & ALERTED, 0, "{flags:?}");
}
