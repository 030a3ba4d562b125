//! The per-event hot path: decode, window update, and the whole engine (windows + rules + episodes)
//! with 100,000 active accounts. Run: `cargo bench --bench hot_path`.

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use exfilwatch::config::Config;
use exfilwatch::engine::window::SlidingSums;
use exfilwatch::engine::Engine;
use exfilwatch::event::Activity;
use exfilwatch::io::decode;

mod common;
use common::{decoder, event, ACCOUNTS, T0};

fn bench_decode(c: &mut Criterion) {
    let d = decoder();
    let json = serde_json::to_vec(&event(1)).expect("json");
    let mut framed = vec![0u8, 0, 0, 0, 1];
    framed.extend(decode::encode_avro_datum(&event(1)).expect("avro"));
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("json", |b| {
        b.iter(|| d.decode(black_box(&json)).expect("decodes"))
    });
    group.bench_function("confluent_avro", |b| {
        b.iter(|| d.decode(black_box(&framed)).expect("decodes"))
    });
    group.finish();
}

fn bench_window(c: &mut Criterion) {
    let mut group = c.benchmark_group("window");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sliding_sum_add", |b| {
        let mut sums = SlidingSums::<u32>::new(&[(3_600_000, 24)]);
        let mut t = T0;
        b.iter(|| {
            t += 1_000;
            black_box(sums.get_mut(0).map(|mut w| w.add(t, 3)));
        })
    });
    group.finish();
}

/// The whole engine over 100,000 accounts, one event at a time; with `prefetch`, through
/// [`Engine::process_all`] as replay drives it.
///
/// With `named` off the events carry no `peer_group` and no pattern names one, as from most real
/// proxies: every account's group is its learned role (see `engine::learned`), the path that pays
/// an extra look-up of the account's signature.
///
/// With `skewed` on, the accounts behind one proxy in ten (every tenth account, not the first) arrive with that
/// proxy's clock two hours ahead (local time logged as UTC): their events are never trusted by the
/// partition's time (see `engine::partition_time`), the path that must not measure the group again.
fn engine_loop(c: &mut Criterion, name: &str, prefetch: bool, named: bool, skewed: bool) {
    let d = decoder();
    let activities: Vec<Activity> = (0..ACCOUNTS * 2)
        .map(|i| {
            let mut e = event(i);
            if !named {
                e.peer_group = None;
            }
            if skewed && (i % ACCOUNTS) % 10 == 5 {
                e.event_time += 2 * 3_600_000;
            }
            d.pseudonymise(e)
        })
        .collect();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        let engine = Engine::new(&Config::default(), d.hasher());
        // Warm: every account exists before measuring.
        for a in &activities[..ACCOUNTS] {
            engine.process(a, None, 0);
        }
        // The events are replayed in a loop, each pass shifted past the previous one in event time, so
        // every measured event is fresh (never late) and no clone is timed.
        let mut events = activities.clone();
        let span = events.len() as i64 * 10;
        let mut next = 0usize;
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut remaining = iters as usize;
            while remaining > 0 {
                if next == events.len() {
                    events.iter_mut().for_each(|a| a.event_time_ms += span);
                    next = 0;
                }
                let n = remaining.min(events.len() - next);
                let start = Instant::now();
                if prefetch {
                    // As replay drives it: the engine prefetches the state of the events coming up.
                    let _ = engine.process_all(
                        &events[next..next + n],
                        |a| Some(a),
                        |batch, a| {
                            black_box(batch.process(a, None, 0));
                            Ok::<(), ()>(())
                        },
                    );
                } else {
                    for a in &events[next..next + n] {
                        black_box(engine.process(a, None, 0));
                    }
                }
                elapsed += start.elapsed();
                next += n;
                remaining -= n;
            }
            elapsed
        })
    });
    group.finish();
}

fn bench_engine(c: &mut Criterion) {
    engine_loop(c, "process_100k_accounts", true, true, false);
    engine_loop(c, "process_100k_accounts_no_prefetch", false, true, false);
    engine_loop(c, "process_100k_accounts_unnamed", true, false, false);
    engine_loop(c, "process_100k_accounts_skewed_proxy", true, true, true);
}

criterion_group!(benches, bench_decode, bench_window, bench_engine);
criterion_main!(benches);

/// The product's allocator (see `src/main.rs`), so the figures are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
