use super::*;

/// Guards [`AccountStore::slot_lines`]' reading of hashbrown's layout: if an upgrade moved the slots,
/// prefetching would silently stop helping.
#[test]
fn the_slot_prefetch_covers_where_most_accounts_are_found() {
    let store = AccountStore::new(1_000_000);
    let names: Vec<String> = (0..20_000).map(|i| format!("user{i:06}")).collect();
    for name in &names {
        store.with_account(name, || AccountState::new(&layout(), None), |_| ());
    }
    let map = store.slot_map();
    let line_of = |address: *const u8| address as usize / crate::engine::prefetch::LINE;
    let covered = names
        .iter()
        .filter(|name| {
            let lines = store.slot_lines(&map, name).expect("a shard");
            let hash = store.accounts.hash_usize(&name.as_str());
            let shard = &store.accounts.shards()[store.accounts.determine_shard(hash)];
            let table = shard.read();
            let found = table
                .find(hash as u64, |(key, _)| key.as_str() == name.as_str())
                .expect("present");
            let entry = found.as_ptr().cast::<u8>().cast_const();
            lines[1..]
                .iter()
                .any(|&line| line_of(line) == line_of(entry))
        })
        .count();
    assert!(
        covered * 10 >= names.len() * 8,
        "{covered} of {} accounts' slots prefetched",
        names.len()
    );
}

fn layout() -> StateLayout {
    StateLayout {
        read: vec![(60_000, 10)],
        distinct: vec![(3_600_000, 24)],
        precision: 14,
    }
}

fn fresh(time: i64) -> AccountState {
    let mut state = AccountState::new(&layout(), None);
    state.newest_event_ms = time;
    state
}

#[test]
fn cap_evicts_least_recently_active_account() {
    let store = AccountStore::new(3);
    for (name, time) in [("a", 10), ("b", 30), ("c", 20)] {
        store.with_account(name, || fresh(time), |_| ());
    }
    let (_, evicted) = store.with_account("d", || fresh(40), |_| ());
    assert_eq!(evicted, 1);
    assert!(store.snapshot("a").is_none(), "oldest account is evicted");
    assert!(store.snapshot("b").is_some() && store.snapshot("d").is_some());
    assert_eq!(store.len(), 3);
}

#[test]
fn revoked_partition_accounts_are_dropped() {
    let store = AccountStore::new(10);
    let p0 = PartitionRef {
        topic: 0,
        partition: 0,
    };
    let p1 = PartitionRef {
        topic: 0,
        partition: 1,
    };
    store.with_account("a", || AccountState::new(&layout(), Some(p0)), |_| ());
    store.with_account("b", || AccountState::new(&layout(), Some(p1)), |_| ());
    assert_eq!(store.drop_partitions(&[p0]), 1);
    assert!(store.snapshot("b").is_some());
}

#[test]
fn tally_keeps_recent_names_and_orders_by_records() {
    let mut tally = Vec::new();
    for i in 0..TALLY_CAPACITY as i64 {
        Evidence::bump(&mut tally, i as u64, &format!("t{i}"), 1, i);
    }
    Evidence::bump(&mut tally, 3, "t3", 100, 50);
    Evidence::bump(&mut tally, 99, "new", 5, 60); // replaces t0, the stalest
    let names = Evidence::names_since(&tally, 0);
    assert_eq!(names.len(), TALLY_CAPACITY);
    assert_eq!(names[0], "t3");
    assert_eq!(names[1], "new");
    assert!(!names.contains(&"t0".to_string()));
    assert_eq!(Evidence::names_since(&tally, 55), vec!["new".to_string()]);
}

#[test]
fn recent_events_share_one_buffer_and_survive_serialization() {
    let mut recent = RecentEvents::default();
    for i in 0..(RECENT_EVENTS + 3) {
        recent.push(i as i64, &format!("é{i}-ü"));
    }
    assert_eq!(recent.len(), RECENT_EVENTS);
    let newest: Vec<(i64, String)> = recent
        .newest_first()
        .map(|(t, id)| (t, id.to_string()))
        .collect();
    assert_eq!(newest[0], (12, "é12-ü".to_string()));
    assert_eq!(newest[RECENT_EVENTS - 1], (3, "é3-ü".to_string()));
    let json = serde_json::to_string(&recent).expect("serializes");
    let back: RecentEvents = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, recent);
    // Damaged lengths never panic: the ring starts afresh.
    let mut damaged: RecentEvents = serde_json::from_str(
        r#"{"entries":[[1,1],[2,1],[3,1],[4,1],[5,1],[6,1],[7,1],[8,1],[9,1],[10,1]],"ids":"é"}"#,
    )
    .expect("deserializes");
    damaged.push(11, "x");
    assert!(damaged.len() <= RECENT_EVENTS);
}

#[test]
fn recent_events_are_bounded_newest_first() {
    let mut evidence = Evidence::default();
    for i in 0..25 {
        evidence.record_event(i, &format!("e{i}"));
    }
    let ids = evidence.event_ids_since(0);
    assert_eq!(ids.len(), RECENT_EVENTS);
    assert_eq!(ids[0], "e24");
    assert_eq!(evidence.event_ids_since(20).len(), 5);
}
