//! The engine's clocks end to end: events years or days ahead of their partition, late events, and a
//! partition resuming after a silence (see `partition_time.rs` and `held.rs`).

use super::*;

/// Opens the partition with reads of `accounts` in turn at `T0` (see `PartitionTime::observe`: its
/// first events set its time together).
fn open_partition(e: &Engine, accounts: &[&str]) {
    let opening = super::partition_time::CORROBORATING_EVENTS as usize;
    for (i, account) in accounts.iter().cycle().take(opening).enumerate() {
        e.process(
            &read(&format!("e{i}"), account, T0, 1, "support.customers"),
            None,
            0,
        );
    }
}

#[test]
fn one_event_with_a_clock_years_ahead_does_not_make_its_partition_idle() {
    let e = engine();
    open_partition(&e, &["a", "b", "c"]);
    let years = 4 * 365 * 86_400_000;
    e.process(
        &read("skewed", "a", T0 + years, 1, "support.customers"),
        None,
        0,
    );
    let out = e.process(
        &read(
            "next",
            "b",
            T0 + IDLE_SWEEP_PERIOD_MS,
            1,
            "support.customers",
        ),
        None,
        0,
    );
    assert_eq!(out.evicted, 0);
    assert_eq!(e.accounts().len(), 3, "nobody's history dropped");
}

#[test]
fn an_event_years_ahead_of_its_partition_is_refused_and_does_not_blind_its_account() {
    let e = engine();
    open_partition(&e, &["a", "b", "c"]);
    let skewed = e.process(
        &read(
            "skewed",
            "a",
            T0 + 4 * 365 * 86_400_000,
            1,
            "support.customers",
        ),
        None,
        0,
    );
    assert!(skewed.implausible_time);
    let next = e.process(
        &read("next", "a", T0 + 60_000, 1, "support.customers"),
        None,
        0,
    );
    assert!(!next.late && !next.implausible_time, "{next:?}");
    // Two days ahead is a partition resuming after a weekend, not an implausible time: placed.
    let monday = e.process(
        &read("monday", "b", T0 + 2 * 86_400_000, 1, "support.customers"),
        None,
        0,
    );
    assert!(!monday.implausible_time);
}

#[test]
fn a_partition_whose_first_event_is_years_ahead_learns_and_alerts_on_time() {
    // A proxy whose clock runs four years ahead sends the first event the partition sees (after a
    // restart, one in as many as its share of the traffic). Taken alone, it would have set the
    // partition's learning period four years ahead, and nothing would have been published until then.
    let mut config = config();
    config.detection.learning_period = std::time::Duration::from_secs(86_400);
    let e = Engine::new(&config, &hasher());
    let years = 4 * 365 * 86_400_000;
    send(&e, "broken", "proxy-b", T0 + years, 1);
    for i in 0..10 {
        let out = send(&e, &format!("r{i}"), "reader", T0 + i * 60_000, 1);
        assert!(!out.late && !out.implausible_time, "{out:?}");
    }
    let next = send(&e, "broken-2", "proxy-b", T0 + years + 60_000, 1);
    assert!(
        next.implausible_time,
        "the broken clock's next event is refused"
    );
    // The account whose first event came from the broken clock starts afresh: not blind until then.
    let fixed = send(&e, "fixed", "proxy-b", T0 + 20 * 60_000, 1);
    assert!(!fixed.late && !fixed.implausible_time, "{fixed:?}");
    let dump = send(&e, "dump", "thief", T0 + 2 * 86_400_000, 50_000);
    assert!(
        dump.alerts.iter().any(|a| a.rule == "bulk_read"),
        "{:?}",
        dump.findings
    );
}

#[test]
fn a_sparse_partition_is_neither_refused_nor_kept_learning() {
    // A source that sends a few events a week: every event runs more than an hour past the partition's
    // time, none is a clock error, and the learning period ends.
    let mut config = config();
    config.detection.learning_period = std::time::Duration::from_secs(86_400);
    let e = Engine::new(&config, &hasher());
    let week = 7 * 86_400_000;
    for i in 0..10 {
        let out = e.process(
            &read(&format!("w{i}"), "a", T0 + i * week, 1, "support.customers"),
            None,
            0,
        );
        assert!(!out.implausible_time && !out.late, "week {i}: {out:?}");
    }
    let dump = e.process(
        &read("dump", "b", T0 + 10 * week, 50_000, "support.customers"),
        None,
        0,
    );
    assert!(!dump.implausible_time);
    assert!(
        dump.alerts.iter().any(|a| a.rule == "bulk_read"),
        "{:?}",
        dump.findings
    );
}

#[test]
fn a_late_event_is_judged_on_what_it_shows_alone() {
    // A late event (behind its account's newest by more than the allowed lateness: a proxy that shipped
    // its buffer late, or an account whose clock one event moved days ahead) enters no window, day or
    // level. It used to be dropped whole, honeytoken reads included.
    let mut config = config();
    config.rules.watchlist.honeytoken_keys = vec!["bait-1".into()];
    config.rules.watchlist.keys = vec!["vip-1".into(), "vip-2".into()];
    let e = Engine::new(&config, &hasher());
    let keyed = |id: &str, account: &str, time: i64, keys: &[&str]| {
        let mut event = read(id, account, time, 1, "support.customers");
        event.record_key_hashes = Some(keys.iter().map(|k| hasher().hash(k)).collect());
        event
    };
    send(&e, "a1", "a", T0, 1);
    let out = e.process(&keyed("a0", "a", T0 - 20 * 60_000, &["bait-1"]), None, 0);
    assert!(out.late);
    assert_eq!(out.alerts.len(), 1, "{out:?}");
    assert_eq!(out.alerts[0].rule, "watchlist");
    assert_eq!(out.alerts[0].trigger_time, T0 - 20 * 60_000);
    // One event three days ahead makes the account's next hours late; its honeytoken read still counts.
    send(&e, "b1", "b", T0, 1);
    send(&e, "b2", "b", T0 + 3 * 86_400_000, 1);
    let out = e.process(&keyed("b3", "b", T0 + 60_000, &["bait-1"]), None, 0);
    assert!(out.late && out.alerts.len() == 1, "{out:?}");
    // Watched records: one read in time, the second late; together they are two in 24 hours.
    e.process(&keyed("c1", "c", T0, &["vip-1"]), None, 0);
    send(&e, "c2", "c", T0 + 3_600_000, 1);
    let out = e.process(&keyed("c0", "c", T0 - 3_600_000, &["vip-2"]), None, 0);
    assert!(out.late);
    assert_eq!(out.alerts.len(), 1, "{out:?}");
    assert!(
        out.alerts[0].summary.contains("2 watched"),
        "{}",
        out.alerts[0].summary
    );
    // A late ordinary read publishes nothing; a late dump in one statement is a dump.
    let out = send(&e, "c3", "c", T0 - 3_600_000, 100);
    assert!(out.late && out.alerts.is_empty(), "{out:?}");
    let out = send(&e, "d1", "d", T0, 1);
    assert!(out.alerts.is_empty());
    let out = send(&e, "d0", "d", T0 - 3_600_000, 50_000);
    assert!(out.late);
    assert_eq!(out.alerts.len(), 1, "{out:?}");
    assert_eq!(out.alerts[0].rule, "bulk_read");
    // A late export of 5,000 customer records to a share nobody in the organisation used.
    send(&e, "x1", "x", T0, 1);
    let export = Activity {
        kind: ActivityKind::Export,
        operation: "COPY".into(),
        destination: Some("https://share.example-cloud.net/u/1".into()),
        ..read("x0", "x", T0 - 3_600_000, 5_000, "support.customers")
    };
    let out = e.process(&export, None, 0);
    assert!(out.late);
    assert_eq!(out.alerts.len(), 1, "{out:?}");
    assert_eq!(out.alerts[0].rule, "new_destination");
}

#[test]
fn one_event_days_ahead_is_judged_alone_and_blinds_nobody() {
    // A broken clock stamps one event of an account three days ahead, in a partition whose time the
    // other events keep. Placed, it moved the account's watermark, windows and day three days ahead:
    // the account's next three days were late, and a dump in ten statements went unseen.
    let mut config = config();
    config.rules.watchlist.honeytoken_keys = vec!["bait-1".into()];
    let e = Engine::new(&config, &hasher());
    busy_partition(&e);
    send(&e, "a1", "a", T0 + 30_000, 1);
    let mut glitch = read("a2", "a", T0 + 3 * 86_400_000, 1, "support.customers");
    glitch.record_key_hashes = Some(vec![hasher().hash("bait-1")]);
    let out = e.process(&glitch, None, 0);
    assert!(out.ahead && !out.late, "{out:?}");
    assert_eq!(out.alerts.len(), 1, "judged alone: the honeytoken counts");
    // The account's next events are on time, and ten statements of 600 rows in ten minutes are a dump.
    let mut alerts = Vec::new();
    for i in 0..10 {
        let out = send(&e, &format!("d{i}"), "a", T0 + 60_000 + i * 30_000, 600);
        assert!(!out.late && !out.ahead, "{out:?}");
        alerts.extend(out.alerts);
    }
    assert!(alerts.iter().any(|a| a.rule == "bulk_read"), "{alerts:?}");
    // Less than a day ahead (a proxy logging local time as UTC) still moves the account's clock.
    let out = send(&e, "b1", "b", T0 + 14 * 3_600_000, 1);
    assert!(!out.ahead, "{out:?}");
}

#[test]
fn a_partition_resuming_after_a_weekend_loses_nothing_of_its_first_event() {
    // The first event after two silent days is held (a clock error looks the same), and processed as
    // soon as the next event shows the partition resuming: two chunks of 6 MB to a new share are one
    // transfer of 12 MB, over the 10 MiB floor.
    let e = engine();
    busy_partition(&e);
    let monday = T0 + 2 * 86_400_000 + 3_600_000;
    let chunk = |id: &str, at: i64| Activity {
        kind: ActivityKind::Export,
        operation: "COPY".into(),
        rows: None,
        bytes: Some(6_000_000),
        destination: Some("https://share.example-cloud.net/u/1".into()),
        ..read(id, "a", at, 1, "support.customers")
    };
    let first = e.process(&chunk("c1", monday), None, 0);
    assert!(first.ahead && first.alerts.is_empty(), "{first:?}");
    let second = e.process(&chunk("c2", monday + 25 * 60_000), None, 0);
    assert!(!second.ahead, "{second:?}");
    assert_eq!(second.alerts.len(), 1, "{second:?}");
    assert_eq!(second.alerts[0].rule, "new_destination");
    assert_eq!(second.alerts[0].observed, 12_000_000.0);
}

/// Twenty accounts' reads a second apart from `T0`: a partition whose time is `T0`.
fn busy_partition(e: &Engine) {
    for i in 0..20 {
        send(
            e,
            &format!("o{i}"),
            &format!("other-{i}"),
            T0 + i * 1_000,
            1,
        );
    }
}
