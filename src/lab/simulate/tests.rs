use std::collections::{BTreeMap, HashSet};

use super::*;

/// The default scenarios in a smaller organisation, generated once for the tests that read it.
fn defaults() -> &'static (SimSpec, Simulation) {
    static SIM: std::sync::OnceLock<(SimSpec, Simulation)> = std::sync::OnceLock::new();
    SIM.get_or_init(|| {
        let spec = SimSpec {
            agents: 12,
            analysts: 5,
            ..SimSpec::default()
        };
        let sim = generate(&spec);
        (spec, sim)
    })
}

fn small() -> SimSpec {
    SimSpec {
        days: 21,
        agents: 12,
        analysts: 5,
        dbas: 2,
        ..SimSpec::default()
    }
}

#[test]
fn same_spec_same_simulation_sorted_with_unique_ids() {
    let spec = small();
    let a = generate(&spec);
    assert_eq!(a, generate(&spec));
    assert!(a
        .events
        .windows(2)
        .all(|w| (w[0].event_time, &w[0].event_id) < (w[1].event_time, &w[1].event_id)));
    let ids: HashSet<&str> = a.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), a.events.len());
    assert!(a
        .events
        .iter()
        .all(|e| e.event_time >= spec.start_ms && e.event_time < spec.end_ms()));
    let other = generate(&SimSpec { seed: 1, ..spec });
    assert_ne!(a.events, other.events);
}

#[test]
fn every_default_scenario_is_labelled_inside_the_simulation() {
    let (spec, sim) = defaults();
    for scenario in &spec.scenarios {
        let labels: Vec<&Label> = sim
            .labels
            .iter()
            .filter(|l| l.scenario == scenario.name())
            .collect();
        assert!(!labels.is_empty(), "{} has no label", scenario.name());
        for label in labels {
            assert_eq!(label.malicious, scenario.malicious());
            assert!(label.start_ms <= label.end_ms);
            if label.malicious {
                assert!(
                    label.start_ms >= spec.midnight(7),
                    "{} starts during warm-up",
                    label.scenario
                );
            }
        }
    }
    for service in ["nightly_etl", "weekly_backup"] {
        assert!(sim.labels.iter().any(|l| l.scenario == service));
    }
    // Team-wide benign labels leave out the attackers.
    let surge: Vec<&str> = sim
        .labels
        .iter()
        .filter(|l| l.scenario == "team_surge")
        .map(|l| l.account.as_str())
        .collect();
    assert!(
        surge.len() >= 6 && !surge.contains(&"agent007"),
        "{surge:?}"
    );
    // Accounts named by scenarios exist even past `agents`.
    assert!(sim.events.iter().any(|e| e.account == "agent041"));
    assert!(!sim
        .events
        .iter()
        .any(|e| e.account == "agent041" && e.event_time < spec.midnight(12)));
}

#[test]
fn scenarios_look_like_their_description() {
    let (spec, sim) = defaults();
    let label = |name: &str| {
        sim.labels
            .iter()
            .find(|l| l.scenario == name)
            .unwrap_or_else(|| panic!("{name} labelled"))
    };
    let in_label = |l: &Label| {
        let (account, start, end) = (l.account.clone(), l.start_ms, l.end_ms);
        sim.events
            .iter()
            .filter(move |e| e.account == account && e.event_time >= start && e.event_time <= end)
    };
    let smash = label("smash_and_grab");
    assert!(in_label(smash).any(|e| e.rows == Some(40_000)));

    let misuse = label("credential_misuse");
    assert!(misuse.description.contains("day off"), "{misuse:?}");
    assert_eq!(weekday(misuse.start_ms), 5, "a Saturday");
    assert!(in_label(misuse).all(|e| e.client_app.as_deref() == Some("python-requests/2.31.0")));

    let vip = label("targeted_vip");
    let watchlist = watchlist_keys(spec);
    assert_eq!(vip.watchlist_keys.len(), 8);
    assert!(vip.watchlist_keys.iter().all(|k| watchlist.contains(k)));
    // Nobody else ever reads a VIP or a honeytoken.
    let sensitive: HashSet<&String> = watchlist.iter().chain(&spec.honeytoken_keys).collect();
    for event in &sim.events {
        if event
            .record_keys
            .iter()
            .flatten()
            .any(|k| sensitive.contains(k))
        {
            assert!(
                ["agent014", "agent011"].contains(&event.account.as_str()),
                "{}",
                event.event_id
            );
        }
    }
    assert_eq!(
        label("honeytoken").honeytoken_keys,
        ["cust-honeytoken-0001"]
    );

    let new_dest = label("new_destination_export");
    let destinations: HashSet<&str> = sim
        .events
        .iter()
        .filter(|e| e.account == new_dest.account && e.event_time < new_dest.start_ms)
        .filter_map(|e| e.destination.as_deref())
        .collect();
    assert!(!destinations.is_empty() && !destinations.iter().any(|d| d.contains("mega")));
    assert!(in_label(new_dest).any(|e| e
        .destination
        .as_deref()
        .is_some_and(|d| d.starts_with("https://mega.nz/"))));

    // Low-and-slow: ~1,000-1,500 extra distinct customers per working day.
    let slow = label("low_and_slow");
    let mut per_day: BTreeMap<i64, HashSet<&String>> = BTreeMap::new();
    for e in sim
        .events
        .iter()
        .filter(|e| e.event_id.contains("low_and_slow"))
    {
        per_day
            .entry(e.event_time.div_euclid(DAY))
            .or_default()
            .extend(e.record_keys.iter().flatten());
    }
    assert!(per_day.len() >= 10, "{}", per_day.len());
    assert!(per_day.values().all(|k| (1_000..=1_500).contains(&k.len())));
    assert!(slow.end_ms - slow.start_ms > 14 * DAY);

    // Chunked egress: about 5x the analyst's usual export bytes per day, to a known destination.
    let bytes_per_day = |ids: &str| {
        let days: HashSet<i64> = sim
            .events
            .iter()
            .filter(|e| e.account == "analyst05" && e.event_id.contains(ids))
            .map(|e| e.event_time.div_euclid(DAY))
            .collect();
        let total: i64 = sim
            .events
            .iter()
            .filter(|e| e.account == "analyst05" && e.event_id.contains(ids))
            .filter(|e| e.destination.is_some())
            .filter_map(|e| e.bytes)
            .sum();
        total as f64 / days.len().max(1) as f64
    };
    let ratio = bytes_per_day("chunked_egress") / bytes_per_day("bg.");
    assert!((3.0..8.0).contains(&ratio), "chunked egress {ratio:.1}x");
}

#[test]
fn adding_a_scenario_leaves_other_accounts_untouched() {
    let base = SimSpec {
        days: 14,
        agents: 10,
        analysts: 3,
        scenarios: Vec::new(),
        ..SimSpec::default()
    };
    let with = SimSpec {
        scenarios: vec![ScenarioSpec::SmashAndGrab {
            account: "agent002".into(),
            day: 10,
            hour: 9,
            rows: 5_000,
        }],
        ..base.clone()
    };
    let (a, b) = (generate(&base), generate(&with));
    let others = |s: &Simulation| -> Vec<DbActivityEvent> {
        s.events
            .iter()
            .filter(|e| e.account != "agent002")
            .cloned()
            .collect()
    };
    assert_eq!(others(&a), others(&b));
    assert_eq!(b.events.len(), a.events.len() + 1);
    assert_eq!(b.labels.len(), a.labels.len() + 1);
}

#[test]
fn labels_and_specs_round_trip_through_json() {
    let spec = small();
    let json = serde_json::to_string(&spec).expect("spec serialises");
    let back: SimSpec = serde_json::from_str(&json).expect("spec parses");
    assert_eq!(back, spec);
    let partial: SimSpec =
        serde_json::from_str(r#"{"days": 3, "scenarios": []}"#).expect("defaults fill in");
    assert_eq!((partial.days, partial.agents), (3, 40));

    let sim = generate(&SimSpec {
        days: 16,
        ..small()
    });
    let mut out = Vec::new();
    sim.write_labels_json(&mut out).expect("writes");
    let labels: Vec<Label> = serde_json::from_slice(&out).expect("parses");
    assert_eq!(labels, sim.labels);
}

#[test]
fn weekday_and_shift_helpers() {
    assert_eq!(weekday(DEFAULT_START_MS), 3, "2026-10-01 is a Thursday");
    assert_eq!(weekday(DEFAULT_START_MS + 3 * DAY), 6);
    assert_eq!(number_suffix("agent041"), Some(41));
    assert_eq!(number_suffix("svc-etl"), None);
    let mut rng = rng_for(1, "t");
    for _ in 0..1_000 {
        let t = time_in_shift(&mut rng, (0, 8 * HOUR));
        assert!((5 * MINUTE..8 * HOUR - 5 * MINUTE).contains(&t));
        assert!(!(4 * HOUR..4 * HOUR + 30 * MINUTE).contains(&t));
    }
    let agent = Agent::new(1, "agent009", 0);
    assert_eq!(agent.shift, Shift::Day);
    assert!(!agent.workdays[5] && !agent.workdays[6]);
    assert!(Agent::new(1, "agent005", 0).workdays[6]);
}
