use super::*;
use crate::lab::simulate::HOUR;
use exfilwatch::alert::Severity;

const T0: i64 = 1_790_812_800_000;

fn label(scenario: &str, account: &str, malicious: bool, start: i64, end: i64) -> Label {
    Label {
        scenario: scenario.into(),
        account: account.into(),
        malicious,
        start_ms: start,
        end_ms: end,
        description: String::new(),
        techniques: Vec::new(),
        watchlist_keys: Vec::new(),
        honeytoken_keys: Vec::new(),
    }
}

fn alert(rule: &str, account: &str, trigger: i64) -> ExfilAlert {
    ExfilAlert {
        alert_id: format!("{rule}-{account}-{trigger}"),
        rule: rule.into(),
        severity: Severity::High,
        risk_score: 80,
        account: account.into(),
        window_start: trigger,
        window_end: trigger,
        trigger_time: trigger,
        emitted_at: 0,
        observed: 1.0,
        threshold: None,
        baseline: None,
        peer_baseline: None,
        unit: "records".into(),
        tables: Vec::new(),
        data_classes: Vec::new(),
        destinations: Vec::new(),
        client_ips: Vec::new(),
        event_count: 1,
        sample_event_ids: Vec::new(),
        mitre_techniques: Vec::new(),
        summary: String::new(),
        rules: vec![rule.into()],
        episode_id: String::new(),
        episode_level: 1,
        risk: None,
        risk_threshold: None,
        peer_rank: None,
        peer_count: None,
        contributions: Vec::new(),
    }
}

fn event(account: &str, time: i64) -> DbActivityEvent {
    DbActivityEvent {
        source: "test".into(),
        ..DbActivityEvent::query(
            format!("{account}-{time}"),
            time,
            account,
            "support.customers",
            1,
        )
    }
}

#[test]
fn detection_windows_and_false_positives_are_by_account_and_time() {
    let events = vec![event("mallory", T0), event("bob", T0 + 9 * DAY + HOUR)];
    let labels = vec![
        label("low_and_slow", "mallory", true, T0 + DAY, T0 + 3 * DAY),
        label("smash_and_grab", "eve", true, T0 + DAY, T0 + DAY),
        label(
            "team_surge",
            "bob",
            false,
            T0 + 2 * DAY,
            T0 + 2 * DAY + 8 * HOUR,
        ),
    ];
    let run = Run {
        events: 2,
        late_events: 0,
        team_sight: TeamSightCounts::default(),
        alerts: vec![
            // Before the attack: a false positive on an attacker's account.
            alert("bulk_read", "mallory", T0 + HOUR),
            // Inside the grace period after the last event: detection.
            alert("distinct_records", "mallory", T0 + 4 * DAY),
            alert("bulk_read", "mallory", T0 + 5 * DAY - 1),
            // Past the grace period.
            alert("bulk_read", "mallory", T0 + 5 * DAY + 1),
            alert("bulk_read", "bob", T0 + 2 * DAY + HOUR),
            alert("egress_volume", "bob", T0 + 9 * DAY),
        ],
    };
    let report = score(&events, &labels, &run);
    assert_eq!(report.days, 10);
    assert_eq!(report.accounts, 2);
    assert_eq!((report.attacks, report.attacks_detected), (2, 1));

    let slow = &report.labels[0];
    assert!(slow.detected);
    assert_eq!(slow.alerts, 2);
    assert_eq!(
        slow.time_to_detect,
        Some(Duration::from_millis(3 * DAY as u64))
    );
    assert_eq!(slow.rules, ["bulk_read", "distinct_records"]);
    assert!(!report.labels[1].detected);
    assert!(
        report.labels[2].detected,
        "benign surge raised a false alarm"
    );

    let fp = &report.false_positives;
    assert_eq!(fp.alerts, 4);
    assert_eq!(fp.accounts, 2);
    assert_eq!(fp.account_days, 4);
    assert!((fp.alerts_per_day - 0.4).abs() < 1e-9);
    assert_eq!(fp.by_rule["bulk_read"].alerts, 3);
    assert_eq!(fp.by_rule["bulk_read"].accounts, 2);
    assert_eq!(fp.by_rule["egress_volume"].accounts, 1);
    assert_eq!(fp.by_rule["bulk_read"].account_days, 3);
    assert!((fp.by_rule["bulk_read"].accounts_per_day - 0.3).abs() < 1e-9);
    assert_eq!(fp.top_accounts[0].account, "bob");
    assert_eq!(fp.top_accounts[0].benign_scenarios, ["team_surge"]);
    assert_eq!(report.alerts_by_rule["bulk_read"], 4);

    let md = report.to_markdown();
    assert!(
        md.contains("| low_and_slow | attack | mallory | detected | 3d 0h | 2 |"),
        "{md}"
    );
    assert!(
        md.contains("| smash_and_grab | attack | eve | **missed** |"),
        "{md}"
    );
    assert!(
        md.contains("| team_surge | benign | bob | **false alarm** |"),
        "{md}"
    );
    let json = serde_json::to_string(&report).expect("serialises");
    let back: Report = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, report);
}

#[test]
fn team_wide_labels_are_summarised_in_one_row() {
    let labels: Vec<Label> = (0..5)
        .map(|i| label("team_surge", &format!("a{i}"), false, T0, T0 + HOUR))
        .collect();
    let run = Run {
        alerts: vec![alert("bulk_read", "a3", T0 + 1)],
        ..Run::default()
    };
    let report = score(&[event("a0", T0)], &labels, &run);
    assert_eq!(report.scenarios.len(), 1);
    assert_eq!(report.scenarios[0].detected, 1);
    assert!(report
        .to_markdown()
        .contains("| team_surge | benign | 5 accounts | **false alarm** 1/5 |"));
}

#[test]
fn short_durations() {
    assert_eq!(short_duration(Duration::from_secs(0)), "0s");
    assert_eq!(short_duration(Duration::from_secs(250)), "4m 10s");
    assert_eq!(short_duration(Duration::from_secs(2 * 3600 + 300)), "2h 5m");
    assert_eq!(
        short_duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
        "3d 4h"
    );
}

#[test]
fn load_simulation_round_trips_and_names_bad_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events_path = dir.path().join("events.jsonl");
    let labels_path = dir.path().join("labels.json");
    let sim = Simulation {
        events: vec![event("a", T0), event("b", T0 + 1)],
        labels: vec![label("honeytoken", "a", true, T0, T0)],
    };
    let mut events_file = std::fs::File::create(&events_path).expect("create");
    sim.write_events_jsonl(&mut events_file).expect("write");
    std::fs::write(&labels_path, serde_json::to_vec(&sim.labels).expect("json")).expect("write");
    let loaded = load_simulation(&events_path, &labels_path).expect("loads");
    assert_eq!(loaded, sim);

    // Labels as JSON lines work too.
    let line = serde_json::to_string(&sim.labels[0]).expect("json");
    std::fs::write(&labels_path, format!("{line}\n\n{line}\n")).expect("write");
    assert_eq!(
        load_simulation(&events_path, &labels_path)
            .expect("loads")
            .labels
            .len(),
        2
    );

    let good = serde_json::to_string(&sim.events[0]).expect("json");
    std::fs::write(&events_path, format!("{good}\n\n{{\"event_id\": \"x\"}}\n")).expect("write");
    let err = load_simulation(&events_path, &labels_path).expect_err("bad line");
    assert!(matches!(err, EvaluateError::Event { line: 3, .. }), "{err}");

    let negative = good.replace("\"rows\":1", "\"rows\":-1");
    std::fs::write(&events_path, format!("{negative}\n")).expect("write");
    let err = load_simulation(&events_path, &labels_path).expect_err("negative rows");
    assert!(err.to_string().contains("negative"), "{err}");

    std::fs::write(&events_path, format!("{good}\n")).expect("write");
    std::fs::write(&labels_path, "[{\"scenario\": 1}]").expect("write");
    let err = load_simulation(&events_path, &labels_path).expect_err("bad labels");
    assert!(matches!(err, EvaluateError::Labels { .. }), "{err}");

    let missing = dir.path().join("missing.jsonl");
    let err = load_simulation(&missing, &labels_path).expect_err("missing file");
    assert!(matches!(err, EvaluateError::Io { .. }), "{err}");
}
