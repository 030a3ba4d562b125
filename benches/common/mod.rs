//! The workload shared by the engine benchmarks: one support agent's lookup per event, each event a
//! different account of 100,000, each reading one customer record.

use exfilwatch::config::InputFormat;
use exfilwatch::event::{ActivityKind, DbActivityEvent};
use exfilwatch::io::decode::Decoder;
use exfilwatch::privacy::RecordKeyHasher;

pub const T0: i64 = 1_793_577_600_000;
pub const ACCOUNTS: usize = 100_000;

pub fn event(i: usize) -> DbActivityEvent {
    DbActivityEvent {
        event_id: format!("evt-{i:010}"),
        event_time: T0 + i as i64 * 10,
        kind: ActivityKind::Query,
        account: format!("user{:06}", i % ACCOUNTS),
        db_user: Some("support_app".into()),
        source: "proxysql-eu1".into(),
        client_ip: Some("10.20.0.17".into()),
        client_app: Some("support-console".into()),
        database: Some("support".into()),
        tables: vec!["support.customers".into()],
        operation: "SELECT".into(),
        query_digest: Some("0x5f1c2a7e9b3d4c10".into()),
        rows: Some(1),
        bytes: Some(512),
        record_keys: Some(vec![format!("cust-{}", i * 7 % 2_000_000)]),
        destination: None,
        peer_group: Some("support".into()),
        success: true,
    }
}

pub fn decoder() -> Decoder {
    Decoder::new(
        InputFormat::Auto,
        1 << 20,
        RecordKeyHasher::new(b"bench-secret-0123456789").expect("secret"),
    )
}
