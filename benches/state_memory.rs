//! Memory per tracked account: builds N accounts with realistic history through the real engine and
//! reports the engine's own state estimate and the process's resident memory growth.
//!
//! Run: `cargo bench --bench state_memory` (N = 200,000; override with EXFILWATCH_BENCH_ACCOUNTS; record
//! keys per event with EXFILWATCH_BENCH_KEYS, default 2).

use exfilwatch::config::Config;
use exfilwatch::engine::Engine;
use exfilwatch::event::{ActivityKind, DbActivityEvent};
use exfilwatch::io::decode::Decoder;
use exfilwatch::privacy::RecordKeyHasher;

const T0: i64 = 1_793_577_600_000;
const DAY: i64 = 86_400_000;
/// Customer rows each event reads.
const ROWS_PER_EVENT: i64 = 2;

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn event(account: usize, day: i64, i: u64, keys_per_event: u64) -> DbActivityEvent {
    DbActivityEvent {
        event_id: format!("e{account}-{day}-{i}"),
        event_time: T0 + day * DAY + 9 * 3_600_000 + i as i64 * 600_000,
        kind: ActivityKind::Query,
        account: format!("user{account:07}"),
        db_user: None,
        source: "proxy".into(),
        client_ip: Some(format!(
            "10.{}.{}.{}",
            account % 200,
            (account / 200) % 200,
            account % 7
        )),
        client_app: Some("support-console".into()),
        database: Some("support".into()),
        tables: vec!["support.customers".into()],
        operation: "SELECT".into(),
        query_digest: None,
        rows: Some(ROWS_PER_EVENT),
        bytes: Some(ROWS_PER_EVENT * 400),
        record_keys: (keys_per_event > 0).then(|| {
            (0..keys_per_event)
                .map(|k| {
                    format!(
                        "cust-{}",
                        (account as u64 * 7_919 + day as u64 * 131 + i * 17 + k) % 5_000_000
                    )
                })
                .collect()
        }),
        destination: None,
        peer_group: Some(format!("team{}", account % 50)),
        success: true,
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it, as a smoke
    // test of the code path only.
    let measuring = std::env::args().any(|a| a == "--bench");
    let accounts: usize = std::env::var("EXFILWATCH_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 200_000 } else { 200 });
    let days = if measuring { 10i64 } else { 2 };
    let events_per_day = 4u64;
    // EXFILWATCH_BENCH_KEYS=0: sources that send no record keys, so no distinct-record table or sketch
    // is built, and the resident growth is the rest of the state alone.
    let keys_per_event: u64 = std::env::var("EXFILWATCH_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let hasher = RecordKeyHasher::new(b"memory-bench-secret-0123").expect("secret");
    let config = Config::default();
    let engine = Engine::new(&config, &hasher);
    let decoder = Decoder::new(config.input.format, 1 << 20, hasher);
    let before = rss_bytes();
    for day in 0..days {
        for account in 0..accounts {
            for i in 0..events_per_day {
                let activity = decoder.pseudonymise(event(account, day, i, keys_per_event));
                engine.process(&activity, None, 0);
            }
        }
    }
    let after = rss_bytes();
    let estimate = engine.accounts().approx_bytes();
    let sketches = engine.accounts().sketch_bytes();
    // Then everyone goes quiet for 9 days while one account keeps the stream's clock moving: the hourly
    // sweeps compact every idle account to its baseline.
    let mut compacted = 0;
    for hour in 0..9 * 24 {
        let mut clock = event(accounts, days, 0, 0);
        clock.event_time = T0 + days * DAY + hour * 3_600_000;
        clock.tables = vec!["ref.countries".into()];
        compacted += engine
            .process(&decoder.pseudonymise(clock), None, 0)
            .compacted;
    }
    let idle_estimate = engine.accounts().approx_bytes();
    println!(
        "state_memory: {accounts} accounts, {days} days x {events_per_day} events x {keys_per_event} record keys each"
    );
    println!(
        "state_memory: engine estimate {:.0} bytes/account, of which distinct-record sketches {:.0}; resident growth {:.0} bytes/account ({:.1} MiB total)",
        estimate as f64 / accounts as f64,
        sketches as f64 / accounts as f64,
        after.saturating_sub(before) as f64 / accounts as f64,
        after.saturating_sub(before) as f64 / (1024.0 * 1024.0)
    );
    println!(
        "state_memory: after 9 idle days, {compacted} accounts compacted to {:.0} bytes/account (engine estimate)",
        idle_estimate as f64 / accounts as f64
    );
}

/// The product's allocator (see `src/main.rs`), so the figures are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
