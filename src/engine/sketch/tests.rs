use super::*;
use crate::engine::window::live::LiveBuckets;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

const HOUR: i64 = 3_600_000;

fn relative_error(estimate: u64, truth: u64) -> f64 {
    (estimate as f64 - truth as f64).abs() / truth as f64
}

#[test]
fn counts_small_sets_exactly_ignoring_duplicates() {
    let mut d = SlidingDistinct::new(60_000, 10, 14);
    for i in 0..100u64 {
        for _ in 0..3 {
            assert_eq!(d.insert(1_000 + i as i64, i), Added::InWindow);
        }
    }
    assert!(d.is_exact());
    assert_eq!(d.estimate(), 100);
    assert_eq!(d.upper_bound(), 100);
}

#[test]
fn out_of_order_reads_within_live_buckets_count_once_and_keep_the_newest_bucket() {
    let mut d = SlidingDistinct::new(1_000, 5, 14);
    d.insert(10_000, 1); // head bucket 10, live 6..=10
    assert_eq!(d.insert(6_500, 2), Added::InWindow); // late but live
    assert_eq!(d.insert(9_000, 2), Added::InWindow); // same record, newer bucket
    assert_eq!(d.insert(7_000, 1), Added::InWindow); // same record, older bucket: no change
    assert_eq!(d.estimate(), 2);
    d.advance(13_999); // live 9..=13: record 2 survives through its bucket-9 read
    assert_eq!(d.estimate(), 2);
    d.advance(14_000); // live 10..=14
    assert_eq!(d.estimate(), 1);
}

#[test]
fn forgets_records_as_the_window_slides() {
    let mut d = SlidingDistinct::new(60_000, 10, 14);
    for minute in 0..10i64 {
        for k in 0..10u64 {
            d.insert(minute * 60_000, minute as u64 * 100 + k);
        }
    }
    assert_eq!(d.estimate(), 100);
    d.advance(10 * 60_000); // minute 0 falls out
    assert_eq!(d.estimate(), 90);
    assert_eq!(d.window_start_ms(), Some(60_000));
    d.advance(15 * 60_000 + 59_999);
    assert_eq!(d.estimate(), 40);
    d.advance(1_000 * 60_000);
    assert_eq!(d.estimate(), 0);
    assert_eq!(d.heap_bytes(), 0);
}

#[test]
fn too_old_reads_are_refused_and_not_counted() {
    let mut d = SlidingDistinct::new(1_000, 5, 14);
    d.insert(10_000, 1);
    assert_eq!(d.insert(5_999, 2), Added::TooOld); // bucket 5 = head - 5: gone
    assert_eq!(d.insert(6_000, 3), Added::InWindow);
    assert_eq!(d.estimate(), 2);
    d.advance(5_000); // never moves back
    assert_eq!(d.window_start_ms(), Some(6_000));
}

#[test]
fn too_old_reads_are_refused_in_the_hll_phase_too() {
    let mut d = SlidingDistinct::new(1_000, 5, 10);
    for i in 0..1_000u64 {
        d.insert(10_000, i);
    }
    assert!(!d.is_exact());
    let before = d.estimate();
    for i in 0..1_000u64 {
        assert_eq!(d.insert(5_999, 1_000_000 + i), Added::TooOld);
    }
    assert_eq!(d.estimate(), before);
}

#[test]
fn negative_event_times_use_floor_buckets() {
    let mut d = SlidingDistinct::new(1_000, 2, 14);
    d.insert(-1, 1);
    d.insert(0, 2);
    assert_eq!(d.estimate(), 2);
    d.advance(1_000);
    assert_eq!(d.estimate(), 1);
}

#[test]
fn precision_and_bucket_count_are_clamped() {
    let low = SlidingDistinct::new(1_000, 1, 3);
    assert_eq!((low.precision, low.buckets), (MIN_PRECISION, 1));
    let high = SlidingDistinct::new(1_000, 5_000, 30);
    assert_eq!((high.precision, high.buckets), (MAX_PRECISION, MAX_BUCKETS));
}

#[test]
fn switches_to_the_sketch_past_the_exact_limit_and_back_when_the_window_empties() {
    let mut d = SlidingDistinct::new(HOUR, 24, 14);
    for i in 0..2_048u64 {
        d.insert(0, i);
    }
    assert!(d.is_exact());
    assert_eq!(d.estimate(), 2_048);
    d.insert(0, 2_048);
    assert!(!d.is_exact());
    assert_eq!(d.upper_bound(), 2_049); // seeded from the exact count
    assert!(relative_error(d.estimate(), 2_049) < 0.02);
    d.advance(23 * HOUR); // bucket 0 still live
    assert!(!d.is_exact());
    d.advance(24 * HOUR); // bucket 0 expires: nothing live
    assert!(d.is_exact());
    assert_eq!(d.estimate(), 0);
    d.insert(24 * HOUR, 7);
    assert_eq!(d.estimate(), 1);
}

#[test]
fn upper_bound_is_last_estimate_plus_inserts_since() {
    let mut d = SlidingDistinct::new(HOUR, 24, 14);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..20_000 {
        d.insert(0, rng.gen());
    }
    let estimate = d.estimate();
    assert_eq!(d.upper_bound(), estimate);
    for _ in 0..500 {
        d.insert(1, rng.gen());
    }
    assert_eq!(d.upper_bound(), estimate + 500);
    let next = d.estimate();
    assert!(
        next <= estimate + 500 + estimate / 50,
        "{next} vs {estimate}"
    );
    assert_eq!(d.upper_bound(), next);
}

#[test]
fn estimate_is_within_two_percent_above_ten_thousand_distinct() {
    for seed in 1..=5u64 {
        for n in [10_000u64, 50_000, 200_000] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d = SlidingDistinct::new(HOUR, 24, 14);
            for i in 0..n {
                // Spread over the day, a little out of order.
                let time = (i as i64 * 24 * HOUR / n as i64 - rng.gen_range(0..HOUR)).max(0);
                assert_eq!(d.insert(time, rng.gen()), Added::InWindow);
            }
            let estimate = d.estimate();
            let error = relative_error(estimate, n);
            assert!(error < 0.02, "seed {seed} n {n}: {estimate} ({error:.4})");
        }
    }
}

#[test]
fn duplicates_do_not_inflate_the_estimate() {
    let n = 50_000;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let hashes: Vec<u64> = (0..n).map(|_| rng.gen()).collect();
    let mut once = SlidingDistinct::new(HOUR, 24, 14);
    let mut thrice = SlidingDistinct::new(HOUR, 24, 14);
    for (i, &h) in hashes.iter().enumerate() {
        once.insert(i as i64, h);
    }
    for round in 0..3 {
        for (i, &h) in hashes.iter().enumerate() {
            thrice.insert(round * HOUR + i as i64, h);
        }
    }
    let (a, b) = (once.estimate(), thrice.estimate());
    assert_eq!(
        a, b,
        "a re-read record must not change any register maximum"
    );
    assert!(relative_error(b, n) < 0.02, "{b}");
}

#[test]
fn day_two_estimate_forgets_day_one_once_it_expires() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut d = SlidingDistinct::new(HOUR, 24, 14);
    let day = 24 * HOUR;
    let mut day_two = Vec::new();
    for (start, n) in [(0, 50_000i64), (day, 20_000)] {
        for i in 0..n {
            let time = start + i * day / n;
            let time = time - rng.gen_range(0..60_000).min(time - start); // a little out of order
            assert_eq!(d.insert(time, rng.gen()), Added::InWindow);
            if start == day {
                day_two.push(time);
            }
        }
    }
    d.advance(2 * day - 1); // buckets 24..=47: day two only
    assert_eq!(d.window_start_ms(), Some(day));
    let estimate = d.estimate();
    assert!(relative_error(estimate, 20_000) < 0.02, "{estimate}");
    d.advance(2 * day + 12 * HOUR - 1); // buckets 36..=59: the second half of day two
    let half = d.estimate();
    let live = day_two.iter().filter(|&&t| t >= day + 12 * HOUR).count() as u64;
    assert!(relative_error(half, live) < 0.02, "{half} vs {live}");
}

#[test]
fn memory_is_bounded_in_both_phases() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut big = SlidingDistinct::new(HOUR, 24, 14);
    for i in 0..200_000i64 {
        big.insert(i * 400, rng.gen());
    }
    assert!(!big.is_exact());
    // 2^14 registers × 8 entries × 2 bytes, whatever the rate.
    assert_eq!(big.heap_bytes(), 256 * 1024);
    assert!(big.heap_bytes() < 300 * 1024);

    let mut small = SlidingDistinct::new(HOUR, 24, 14);
    for i in 0..100u64 {
        small.insert(0, i);
    }
    assert!(small.heap_bytes() < 8 * 1024, "{}", small.heap_bytes());

    // Just below the switch the exact map still costs less than the sketch would.
    let mut edge = SlidingDistinct::new(HOUR, 24, 14);
    for i in 0..2_048u64 {
        edge.insert(0, i);
    }
    assert!(edge.is_exact());
    assert!(edge.heap_bytes() < 128 * 1024, "{}", edge.heap_bytes());
}

#[test]
fn stamps_survive_many_rebases_over_a_long_run() {
    // 1,024 one-second buckets, sliding for 3,000 s: the 10-bit stamps are rebased every bucket step.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut d = SlidingDistinct::new(1_000, 1_024, 12);
    let mut truth: Vec<(i64, u64)> = Vec::new();
    for second in 0..3_000i64 {
        for _ in 0..5 {
            let h: u64 = rng.gen();
            d.insert(second * 1_000, h);
            truth.push((second, h));
        }
    }
    let live = truth.iter().filter(|(s, _)| *s > 2_999 - 1_024).count() as u64;
    let estimate = d.estimate();
    assert!(
        relative_error(estimate, live) < 0.06,
        "{estimate} vs {live}"
    );
}

#[test]
fn round_trips_through_serde() {
    let mut d = SlidingDistinct::new(HOUR, 24, 10);
    for i in 0..50u64 {
        d.insert(i as i64 * 1_000, i);
    }
    let json = serde_json::to_string(&d).expect("serialize");
    let back: SlidingDistinct = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, d);
    for i in 0..5_000u64 {
        d.insert(HOUR + i as i64, i);
    }
    assert!(!d.is_exact());
    let json = serde_json::to_string(&d).expect("serialize");
    let mut back: SlidingDistinct = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, d);
    assert_eq!(back.estimate(), d.estimate());
}

/// Brute force: the max rho per register over accepted reads whose bucket is live.
fn brute_register_max(events: &[(i64, u64)], oldest: i64, precision: u8) -> Vec<u8> {
    let mut max = vec![0u8; 1 << precision];
    for &(_, hash) in events.iter().filter(|(b, _)| *b >= oldest) {
        let (register, rho) = register_and_rho(mix(hash), precision);
        max[register] = max[register].max(rho);
    }
    max
}

proptest! {
    /// Exact phase: the count always equals a brute-force distinct count over the live buckets.
    #[test]
    fn exact_phase_matches_brute_force_over_live_buckets(
        bucket_ms in 1i64..5_000,
        bucket_count in 1usize..40,
        events in proptest::collection::vec((0i64..400_000, 0u64..300), 1..300),
    ) {
        let mut d = SlidingDistinct::new(bucket_ms, bucket_count, 14);
        let mut accepted: Vec<(i64, u64)> = Vec::new();
        let mut live = LiveBuckets::new(bucket_ms, bucket_count);
        for (time, hash) in events {
            let outcome = d.insert(time, hash);
            let expect_kept = live.see(time);
            prop_assert_eq!(outcome == Added::InWindow, expect_kept);
            if expect_kept {
                accepted.push((time, hash));
            }
            let brute: HashSet<u64> = accepted
                .iter()
                .filter(|(t, _)| live.live(*t))
                .map(|(_, h)| *h)
                .collect();
            prop_assert!(d.is_exact());
            prop_assert_eq!(d.upper_bound(), brute.len() as u64);
            prop_assert_eq!(d.estimate(), brute.len() as u64);
        }
    }

    /// HLL phase: every register's live maximum equals the brute-force maximum over live reads
    /// (with at most 8 buckets no register list can overflow, so the sketch loses nothing).
    #[test]
    fn sketch_registers_match_brute_force_max_over_live_buckets(
        bucket_count in 1usize..=8,
        events in proptest::collection::vec((0i64..3_000, 0u64..5_000), 1..400),
        checks in proptest::collection::vec(0i64..3_000, 1..5),
    ) {
        let precision = 10;
        let mut d = SlidingDistinct::new(100, bucket_count, precision);
        let mut accepted: Vec<(i64, u64)> = Vec::new();
        for i in 0..200u64 {
            d.insert(0, u64::MAX - i); // force the sketch phase
            accepted.push((0, u64::MAX - i));
        }
        prop_assert!(!d.is_exact());
        let mut events = events;
        events.sort_by_key(|(t, _)| *t / 7); // mostly ordered, some disorder within a bucket
        let mut checks = checks;
        checks.sort_unstable();
        let mut next_check = checks.into_iter().peekable();
        for (time, hash) in events {
            while next_check.peek().is_some_and(|&c| c <= time) {
                d.advance(next_check.next().expect("peeked"));
            }
            if d.insert(time, hash) == Added::InWindow {
                accepted.push((time.div_euclid(100), hash));
            }
            let head = d.head.expect("head");
            let oldest = head - bucket_count as i64 + 1;
            let brute = brute_register_max(&accepted, oldest, precision);
            if let Phase::Hll(hll) = &d.phase {
                let lo = (oldest - hll.base) as u16;
                let got: Vec<u8> = hll
                    .slots
                    .chunks_exact(SLOTS)
                    .map(|r| SlidingHll::register_max(r, lo))
                    .collect();
                prop_assert_eq!(got, brute);
            } else {
                // Emptied and back to exact: only legal if the read just made is the only live one.
                let live: HashSet<u64> =
                    accepted.iter().filter(|(b, _)| *b >= oldest).map(|(_, h)| *h).collect();
                prop_assert!(live.len() <= 1);
                prop_assert_eq!(d.estimate(), live.len() as u64);
                break;
            }
        }
    }

    /// Each register list is the set of undominated reads, so arrival order does not matter (as long
    /// as no list overflows, impossible with 8 buckets).
    #[test]
    fn sketch_estimate_is_independent_of_insert_order(
        seed in 0u64..1_000,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let reads: Vec<(i64, u64)> = (0..3_000).map(|_| (rng.gen_range(0..8_000), rng.gen())).collect();
        let mut forward = SlidingDistinct::new(1_000, 8, 10);
        let mut shuffled = SlidingDistinct::new(1_000, 8, 10);
        forward.advance(7_999);
        shuffled.advance(7_999);
        let mut sorted = reads.clone();
        sorted.sort_unstable();
        for &(t, h) in &sorted {
            forward.insert(t, h);
        }
        for &(t, h) in &reads {
            shuffled.insert(t, h);
        }
        prop_assert_eq!(forward.estimate(), shuffled.estimate());
    }
}
