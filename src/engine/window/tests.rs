use super::live::LiveBuckets;
use super::*;
use proptest::prelude::*;

/// A group of one window.
fn one<B: Bucket>(bucket_ms: i64, buckets: usize) -> SlidingSums<B> {
    SlidingSums::new(&[(bucket_ms, buckets)])
}

#[test]
fn sums_within_the_window_and_forgets_old_buckets() {
    let mut w_sums = one::<u32>(60_000, 10);
    let mut w = w_sums.get_mut(0).expect("one window"); // 10 minutes of 1-minute buckets
    assert_eq!(w.add(0, 5), Added::InWindow);
    assert_eq!(w.add(30_000, 5), Added::InWindow);
    assert_eq!(w.add(9 * 60_000, 1), Added::InWindow);
    assert_eq!(w.total(), 11);
    w.advance(10 * 60_000); // minute 0 falls out
    assert_eq!(w.total(), 1);
    w.advance(100 * 60_000);
    assert_eq!(w.total(), 0);
}

#[test]
fn late_value_within_kept_buckets_counts_older_is_refused() {
    let mut w_sums = one::<u32>(1_000, 5);
    let mut w = w_sums.get_mut(0).expect("one window");
    w.add(10_000, 1);
    assert_eq!(w.add(6_500, 2), Added::InWindow); // bucket 6 is head-4: still kept
    assert_eq!(w.add(5_999, 3), Added::TooOld); // bucket 5 is head-5: recycled
    assert_eq!(w.total(), 3);
    assert_eq!(w.window_start_ms(), Some(6_000));
}

#[test]
fn negative_event_times_use_floor_buckets() {
    let mut w_sums = one::<u32>(1_000, 2);
    let mut w = w_sums.get_mut(0).expect("one window");
    w.add(-1, 1);
    w.add(0, 1);
    assert_eq!(w.total(), 2);
    w.advance(1_000);
    assert_eq!(w.total(), 1);
}

#[test]
fn a_saturated_bucket_keeps_the_total_exact() {
    let mut w_sums = one::<u32>(1_000, 3);
    let mut w = w_sums.get_mut(0).expect("one window");
    w.add(0, u64::from(u32::MAX) - 1);
    w.add(10, 5); // saturates bucket 0 at u32::MAX
    w.add(1_000, 7);
    assert_eq!(w.total(), u64::from(u32::MAX) + 7);
    w.advance(3_000); // bucket 0 expires: exactly what it held leaves the total
    assert_eq!(w.total(), 7);
    let mut bytes_sums = one::<u64>(1_000, 3);
    let mut bytes = bytes_sums.get_mut(0).expect("one window");
    bytes.add(0, 10 << 32);
    assert_eq!(
        bytes.total(),
        10 << 32,
        "byte windows do not saturate at 4 GiB"
    );
}

#[test]
fn an_emptied_window_restarts_cleanly() {
    let mut w_sums = one::<u32>(1_000, 4);
    let mut w = w_sums.get_mut(0).expect("one window");
    w.add(0, 3);
    w.add(10_000, 0); // everything expired; the ring was cleared
    assert_eq!(w.total(), 0);
    w.add(10_500, 2);
    w.add(11_000, 1);
    w.advance(13_000);
    assert_eq!(w.total(), 3);
    w.advance(14_000);
    assert_eq!(w.total(), 1);
}

#[test]
fn pair_buckets_count_two_lanes_and_saturate_each_exactly() {
    let mut w_sums = one::<Pair>(1_000, 3);
    let mut w = w_sums.get_mut(0).expect("one window");
    w.add(0, [u64::from(u32::MAX) - 1, 1]);
    w.add(10, [5, 1]); // lane 0 saturates at u32::MAX, lane 1 does not
    w.add(1_000, [7, 1]);
    assert_eq!(w.total(), [u64::from(u32::MAX) + 7, 3]);
    w.advance(3_000); // bucket 0 expires: exactly what each lane held leaves its total
    assert_eq!(w.total(), [7, 1]);
    w.remove(1_500, [10, 1]);
    assert_eq!(
        w.total(),
        [0, 0],
        "removal saturates at what the bucket held"
    );
}

#[test]
fn shift_moves_a_value_to_its_newer_bucket() {
    let mut w_sums = one::<u32>(1_000, 3);
    let mut w = w_sums.get_mut(0).expect("one window");
    assert_eq!(w.shift(None, 500, 1), Added::InWindow);
    assert_eq!(w.shift(Some(500), 1_500, 1), Added::InWindow);
    assert_eq!(w.total(), 1, "moved, not added twice");
    w.advance(3_200); // bucket 0 expires: the value was no longer in it
    assert_eq!(w.total(), 1);
    assert_eq!(w.shift(Some(1_500), 1_700, 1), Added::InWindow);
    assert_eq!(w.total(), 1, "same bucket: nothing moves");
    w.advance(10_000);
    // The old read has expired: the value is counted afresh.
    assert_eq!(w.shift(Some(1_700), 10_000, 1), Added::InWindow);
    assert_eq!(w.total(), 1);
    assert_eq!(w.shift(None, 5_000, 1), Added::TooOld);
}

proptest! {
    /// `shift` is `remove` then `add` for values moved from where they were added (records whose
    /// newest read moves on, read in any order).
    #[test]
    fn shift_equals_remove_then_add(
        bucket_ms in 1i64..5_000,
        bucket_count in 1usize..30,
        reads in proptest::collection::vec((0usize..8, -100_000i64..300_000), 1..200),
    ) {
        let mut fast_sums = one::<u32>(bucket_ms, bucket_count);
    let mut fast = fast_sums.get_mut(0).expect("one window");
        let mut slow_sums = one::<u32>(bucket_ms, bucket_count);
    let mut slow = slow_sums.get_mut(0).expect("one window");
        let mut newest: [Option<i64>; 8] = [None; 8];
        for (record, time) in reads {
            let from = newest[record];
            let to = from.map_or(time, |f| f.max(time));
            let shifted = fast.shift(from, to, 1);
            if let Some(from) = from.filter(|&f| slow.is_live(f)) {
                slow.remove(from, 1);
            }
            let added = slow.add(to, 1);
            prop_assert_eq!(shifted, added);
            prop_assert_eq!(fast.total(), slow.total());
            if added == Added::InWindow {
                newest[record] = Some(to);
            }
        }
    }

    /// The incremental total always equals a brute-force sum over the live buckets.
    #[test]
    fn total_matches_brute_force(
        bucket_ms in 1i64..5_000,
        bucket_count in 1usize..40,
        events in proptest::collection::vec((-200_000i64..400_000, 0u64..1_000), 1..300),
    ) {
        let mut w_sums = one::<u32>(bucket_ms, bucket_count);
        let mut w = w_sums.get_mut(0).expect("one window");
        let mut accepted: Vec<(i64, u64)> = Vec::new();
        let mut live = LiveBuckets::new(bucket_ms, bucket_count);
        for (time, value) in events {
            let outcome = w.add(time, value);
            let expect_kept = live.see(time);
            prop_assert_eq!(outcome == Added::InWindow, expect_kept);
            if expect_kept {
                accepted.push((time, value));
            }
            let brute: u64 = accepted
                .iter()
                .filter(|(t, _)| live.live(*t))
                .map(|(_, v)| v)
                .sum();
            prop_assert_eq!(w.total(), brute);
        }
    }

    /// Error bound: the window holds every value from the last `L - w` and none older than `L`.
    #[test]
    fn window_covers_between_length_minus_one_bucket_and_length(
        bucket_ms in 1i64..5_000,
        bucket_count in 1usize..40,
        times in proptest::collection::vec(0i64..400_000, 1..200),
    ) {
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let mut w_sums = one::<u32>(bucket_ms, bucket_count);
        let mut w = w_sums.get_mut(0).expect("one window");
        for &t in &sorted {
            w.add(t, 1);
        }
        let now = *sorted.last().expect("non-empty");
        let length = bucket_ms * bucket_count as i64;
        let must = sorted.iter().filter(|&&t| t > now - (length - bucket_ms)).count() as u64;
        let may = sorted.iter().filter(|&&t| t > now - length).count() as u64;
        prop_assert!(w.total() >= must && w.total() <= may, "total {} not in [{}, {}]", w.total(), must, may);
    }
}

#[test]
fn windows_of_a_group_share_one_exactly_sized_allocation_and_stay_apart() {
    let mut sums = SlidingSums::<u32>::new(&[(1_000, 3), (10_000, 7)]);
    assert_eq!(
        sums.heap_bytes(),
        2 * std::mem::size_of::<Ring<u64>>() + 10 * 4
    );
    for (i, mut w) in sums.iter_mut().enumerate() {
        w.add(5_000, 1 + i as u64);
    }
    sums.get_mut(0).expect("first").advance(20_000);
    assert_eq!(sums.get(0).map(Ring::total), Some(0));
    assert_eq!(sums.get(1).map(Ring::total), Some(2));
    assert_eq!(sums.iter().map(Ring::buckets).collect::<Vec<_>>(), [3, 7]);
}

#[test]
fn saved_windows_round_trip_and_a_corrupt_layout_is_refused() {
    let mut sums = SlidingSums::<Pair>::new(&[(1_000, 3), (60_000, 2)]);
    sums.get_mut(1).expect("second").add(90_000, [4, 1]);
    let json = serde_json::to_string(&sums).expect("serializes");
    let back: SlidingSums<Pair> = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, sums);
    let overlapping = json.replacen("\"start\":3", "\"start\":2", 1);
    assert_ne!(overlapping, json);
    let error = serde_json::from_str::<SlidingSums<Pair>>(&overlapping).expect_err("refused");
    assert!(error.to_string().contains("window 1"), "{error}");
    let mut short: serde_json::Value = serde_json::from_str(&json).expect("json");
    short["buckets"]
        .as_array_mut()
        .expect("buckets")
        .pop()
        .expect("a bucket");
    let error = serde_json::from_value::<SlidingSums<Pair>>(short).expect_err("refused");
    assert!(error.to_string().contains("window 2"), "{error}");
}
