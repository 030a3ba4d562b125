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
    assert_eq!(book.destination_news("billing", None, 7, 0), (true, true));
    book.touch_destination("service", None, 7, 3);
    assert_eq!(book.destination_news("billing", None, 7, 0), (true, false));
    assert_eq!(book.destination_news("service", None, 7, 0), (false, false));
    assert_eq!(
        book.destination_news("service", None, 7, 4),
        (true, true),
        "retention"
    );
}

#[test]
fn a_table_no_member_reads_surprises_in_proportion_to_the_groups_habits() {
    let book = GroupBook::new(&[], None);
    for day in 0..20 {
        for member in 0..10 {
            let _ = member;
            book.touch_habit("billing", None, Habit::SensitiveTable, 1, day);
        }
    }
    let news = |group, hash| book.news(group, None, Habit::SensitiveTable, hash, 0);
    assert_eq!(news("billing", 1), None, "the group reads it");
    let surprise = news("billing", 2).expect("new to the group");
    assert!(surprise > 2.5, "{surprise}");
    assert_eq!(news("support", 2), Some(0.0), "a group with no habits yet");
    assert_eq!(
        book.news("billing", None, Habit::ClientApplication, 1, 0),
        Some(0.0),
        "habits of one kind say nothing of another"
    );
}
