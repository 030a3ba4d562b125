use super::*;

#[test]
fn groups_come_from_the_event_then_patterns_then_the_organisation() {
    let book = GroupBook::new(
        &[PeerGroupConfig {
            name: "fraud".into(),
            accounts: vec!["fraud-*".into()],
        }],
        None,
    );
    let group = |account, named| book.group_of(account, named, None, || None);
    assert_eq!(group("fraud-03", None), GroupName::Named("fraud"));
    assert_eq!(
        group("fraud-03", Some("support")),
        GroupName::Named("support")
    );
    assert_eq!(group("sup-01", None), GroupName::Organisation);
    assert_eq!(&*GroupName::Organisation, ORGANISATION);
}

#[test]
fn an_unnamed_account_joins_its_learned_signature_once_it_has_five_members() {
    let book = GroupBook::new(&[], None);
    let signature: Arc<str> = Arc::from("support.customers via fraud-console");
    let group = || book.group_of("inv-1", None, None, || Some(Arc::clone(&signature)));
    for _ in 0..4 {
        book.join_learned(None, &signature);
    }
    assert_eq!(group(), GroupName::Organisation, "four are not a group yet");
    book.join_learned(None, &signature);
    assert_eq!(group(), GroupName::Learned(Arc::clone(&signature)));
    assert!(!group().is_named());
    // A named group always wins over a learned one.
    let named = book.group_of("inv-1", Some("fraud"), None, || {
        Some(Arc::clone(&signature))
    });
    assert_eq!(named, GroupName::Named("fraud"));
    assert!(named.is_named());
}

#[test]
fn a_destination_the_organisation_uses_is_not_new_to_it_even_for_another_group() {
    let book = GroupBook::new(&[], None);
    let news = |group, account, since| {
        let news = book
            .usage()
            .destination_news(group, None, (7, account), since);
        (news.new_to_group, news.new_to_organisation, news.private)
    };
    assert_eq!(news("billing", 1, 0), (true, true, true));
    book.usage()
        .touch_destination("service", None, (7, 1), (3, 0));
    assert_eq!(news("billing", 2, 0), (true, false, false));
    assert_eq!(news("service", 2, 0), (false, false, false));
    // Only account 1 used it: still its private channel.
    assert_eq!(news("billing", 1, 0), (true, false, true));
    assert_eq!(news("service", 2, 4), (true, true, true), "retention");
    // A second account makes it the organisation's, until the retention forgets the first.
    book.usage()
        .touch_destination("service", None, (7, 2), (5, 0));
    assert_eq!(news("service", 1, 0), (false, false, false));
    book.usage()
        .touch_destination("service", None, (7, 1), (40, 10));
    assert_eq!(news("service", 1, 10), (false, false, true));
}

#[test]
fn a_table_no_member_reads_surprises_in_proportion_to_the_groups_habits() {
    let book = GroupBook::new(&[], None);
    for day in 0..20 {
        for member in 0..10 {
            let _ = member;
            book.usage()
                .touch_habit("billing", None, Habit::SensitiveTable, 1, day);
        }
    }
    let news = |group, hash| {
        book.usage()
            .news(group, None, Habit::SensitiveTable, hash, 0)
    };
    assert_eq!(news("billing", 1), None, "the group reads it");
    let surprise = news("billing", 2).expect("new to the group");
    assert!(surprise > 2.5, "{surprise}");
    assert_eq!(news("support", 2), Some(0.0), "a group with no habits yet");
    assert_eq!(
        book.usage()
            .news("billing", None, Habit::ClientApplication, 1, 0),
        Some(0.0),
        "habits of one kind say nothing of another"
    );
}

#[test]
fn the_hours_a_group_works_are_kept_per_partition_for_the_retention_and_forgotten_on_revoke() {
    let book = GroupBook::new(&[], None);
    let first = Some(PartitionRef {
        topic: 0,
        partition: 0,
    });
    let second = Some(PartitionRef {
        topic: 0,
        partition: 1,
    });
    // A Saturday 10:00 turn of the weekend rota on day 100.
    let saturday_ten = 5 * 24 + 10;
    book.usage().touch_hour("support", first, saturday_ten, 100);
    let works =
        |group, partition, slot, since| book.usage().works_hour(group, partition, slot, since);
    assert!(works("support", first, saturday_ten, 71), "within 30 days");
    assert!(
        !works("support", first, saturday_ten, 101),
        "past the retention"
    );
    assert!(
        !works("support", first, saturday_ten + 1, 71),
        "another hour"
    );
    assert!(!works("billing", first, saturday_ten, 71), "another group");
    assert!(
        !works("support", second, saturday_ten, 71),
        "another partition"
    );
    // A later touch moves the day on; an earlier one (events out of order) does not move it back.
    book.usage().touch_hour("support", first, saturday_ten, 107);
    book.usage().touch_hour("support", first, saturday_ten, 103);
    assert!(works("support", first, saturday_ten, 107));
    book.usage().forget(&[PartitionRef {
        topic: 0,
        partition: 0,
    }]);
    assert!(
        !works("support", first, saturday_ten, 0),
        "forgotten with its partition"
    );
}

#[test]
fn events_their_partition_cannot_place_in_time_share_their_own_measurements() {
    let book = GroupBook::new(&[], None);
    let store = AccountStore::new(1_000);
    let reference = GaussianReference::new(0.1);
    let t0: i64 = 1_790_812_800_000 + 20 * 3_600_000;
    let day = i32::try_from(t0.div_euclid(DAY_MS)).expect("day");
    let group_hash = 7;
    let context = |time_ms, trusted, day| {
        book.context(
            &store,
            "support",
            group_hash,
            None,
            (time_ms, trusted),
            (day, 0),
            &reference,
        )
    };
    let now = context(t0, true, day);
    // Six hours ahead and on the next day (a proxy logging local time as UTC): measured at its time.
    let ahead = t0 + 6 * 3_600_000;
    let skewed = context(ahead, false, day + 1);
    assert!(!Arc::ptr_eq(&now.view, &skewed.view));
    assert_eq!(skewed.threshold.day, day + 1);
    // The next such event in the same quarter hour shares that measurement (no scan of the store per
    // event) ...
    let again = context(ahead + 60_000, false, day + 1);
    assert!(Arc::ptr_eq(&skewed.view, &again.view));
    assert_eq!(again.threshold, skewed.threshold);
    // ... and trusted events never see it.
    let trusted = context(t0 + 60_000, true, day);
    assert!(Arc::ptr_eq(&now.view, &trusted.view));
    assert_eq!(trusted.threshold.day, day);
}
