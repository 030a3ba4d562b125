//! A fixed run of the engine, for counting instructions and cache misses per event under callgrind
//! (wall-clock figures come from `hot_path`, which this shares its workload with): 200,000 warm-up
//! events over 100,000 accounts, then `EXFILWATCH_PROFILE_EVENTS` more (default 50,000) through
//! `Engine::process_all` as replay drives it.
//!
//! `scripts/profile-engine` runs it under callgrind, counting only `measured_events`
//! (`--toggle-collect`), and prints the counts per measured event.

use std::hint::black_box;

use exfilwatch::config::Config;
use exfilwatch::engine::Engine;
use exfilwatch::event::Activity;

mod common;
use common::{decoder, event, ACCOUNTS};

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it, as a smoke
    // test of the code path only.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (accounts_warm, default_events) = if measuring {
        (2 * ACCOUNTS, 50_000)
    } else {
        (2_000, 500)
    };
    let measured: usize = std::env::var("EXFILWATCH_PROFILE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_events);
    let d = decoder();
    let activities: Vec<_> = (0..accounts_warm + measured)
        .map(|i| d.pseudonymise(event(i)))
        .collect();
    let engine = Engine::new(&Config::default(), d.hasher());
    for a in &activities[..accounts_warm] {
        black_box(engine.process(a, None, 0));
    }
    measured_events(&engine, &activities[accounts_warm..]);
    println!("engine_profile: {accounts_warm} warm-up events, {measured} measured");
}

/// The measured part, never inlined so that callgrind can count it alone
/// (`--toggle-collect='engine_profile::measured_events'`).
#[inline(never)]
fn measured_events(engine: &Engine, activities: &[Activity]) {
    let _ = engine.process_all(
        activities,
        |a| Some(a),
        |batch, a| {
            black_box(batch.process(a, None, 0));
            Ok::<(), ()>(())
        },
    );
}

/// The product's allocator (see `src/main.rs`), so the figures are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
