//! A seeded synthetic workload: a support team looking customers up during their shifts, a nightly ETL
//! job on non-sensitive tables, and one insider paging quietly through the customer table. Used by the
//! demo, the integration tests and the end-to-end benchmark; the same seed always gives the same events.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use exfilwatch::event::{ActivityKind, DbActivityEvent};

/// The insider the demo workload plants.
pub const DEMO_INSIDER: &str = "agent07";

/// Shape of the generated organisation.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    pub seed: u64,
    /// Epoch ms of the first day's midnight (UTC).
    pub start_ms: i64,
    pub days: u32,
    pub agents: u32,
    /// Records the insider pulls per query, every two minutes of their shift (0: no insider).
    pub insider_rows_per_query: i64,
    pub insider: String,
    /// The day the theft starts: the team's ordinary days before it are the detector's history.
    pub insider_from_day: u32,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            seed: 7,
            // 2026-11-02T00:00:00Z
            start_ms: 1_793_577_600_000,
            days: 9,
            agents: 20,
            insider_rows_per_query: 40,
            insider: DEMO_INSIDER.to_string(),
            insider_from_day: 7,
        }
    }
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Generates the workload, sorted by event time.
pub fn generate(spec: &WorkloadSpec) -> Vec<DbActivityEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut events = Vec::new();
    let mut next_id = 0u64;
    let mut id = |prefix: &str| {
        next_id += 1;
        format!("{prefix}-{next_id:08}")
    };
    for day in 0..i64::from(spec.days) {
        let midnight = spec.start_ms + day * DAY;
        for agent in 0..spec.agents {
            let account = format!("agent{:02}", agent + 1);
            let shift_start = midnight + [6, 14, 22][(agent % 3) as usize] * HOUR;
            let ip = format!("10.20.{}.{}", agent / 200, agent % 200 + 10);
            let mut t = shift_start + rng.gen_range(0..10 * MINUTE);
            while t < shift_start + 8 * HOUR {
                // One customer lookup, then that customer's tickets.
                let customer = rng.gen_range(1..2_000_000u64);
                events.push(lookup(
                    &id("q"),
                    t,
                    &account,
                    &ip,
                    "support.customers",
                    1,
                    vec![format!("cust-{customer}")],
                ));
                let tickets = rng.gen_range(1..6);
                events.push(lookup(
                    &id("q"),
                    t + 2_000,
                    &account,
                    &ip,
                    "support.tickets",
                    tickets,
                    Vec::new(),
                ));
                t += rng.gen_range(3 * MINUTE..10 * MINUTE);
            }
            if account == spec.insider
                && spec.insider_rows_per_query > 0
                && day >= i64::from(spec.insider_from_day)
            {
                // The theft: a page of customers every two minutes, all shift long, in customer-id order.
                let mut cursor = 100_000 + day * 20_000;
                let mut t = shift_start + 30 * MINUTE;
                while t < shift_start + 8 * HOUR {
                    let keys = (0..spec.insider_rows_per_query)
                        .map(|k| format!("cust-{}", cursor + k))
                        .collect();
                    cursor += spec.insider_rows_per_query;
                    events.push(lookup(
                        &id("q"),
                        t,
                        &account,
                        &ip,
                        "support.customers",
                        spec.insider_rows_per_query,
                        keys,
                    ));
                    t += 2 * MINUTE;
                }
            }
        }
        // Nightly ETL: huge reads, but of nothing sensitive.
        let mut etl = lookup(
            &id("etl"),
            midnight + 2 * HOUR,
            "svc-etl",
            "10.0.0.5",
            "analytics.orders_daily",
            750_000,
            Vec::new(),
        );
        etl.peer_group = Some("service".into());
        etl.client_app = Some("airflow".into());
        events.push(etl);
    }
    events.sort_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    events
}

fn lookup(
    event_id: &str,
    time_ms: i64,
    account: &str,
    ip: &str,
    table: &str,
    rows: i64,
    record_keys: Vec<String>,
) -> DbActivityEvent {
    DbActivityEvent {
        event_id: event_id.to_string(),
        event_time: time_ms,
        kind: ActivityKind::Query,
        account: account.to_string(),
        db_user: Some("support_app".into()),
        source: "proxysql-eu1".into(),
        client_ip: Some(ip.to_string()),
        client_app: Some("support-console".into()),
        database: Some("support".into()),
        tables: vec![table.to_string()],
        operation: "SELECT".into(),
        query_digest: Some(format!("0x{:016x}", table.len() as u64 * 0x9e37_79b9)),
        rows: Some(rows),
        bytes: Some(rows * 512),
        record_keys: if record_keys.is_empty() {
            None
        } else {
            Some(record_keys)
        },
        destination: None,
        peer_group: Some("support".into()),
        success: true,
    }
}

/// Payloads that must be dead-lettered: broken JSON, a missing account, negative rows.
pub fn poison_payloads() -> Vec<Vec<u8>> {
    vec![
        b"{\"event_id\": \"broken".to_vec(),
        br#"{"event_id":"p-2","event_time":1793577600000,"kind":"QUERY","source":"proxysql-eu1","operation":"SELECT"}"#.to_vec(),
        br#"{"event_id":"p-3","event_time":1793577600000,"kind":"QUERY","account":"x","source":"s","operation":"SELECT","rows":-1}"#.to_vec(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events_sorted_by_time() {
        let spec = WorkloadSpec::default();
        let a = generate(&spec);
        assert_eq!(a, generate(&spec));
        assert!(a.windows(2).all(|w| w[0].event_time <= w[1].event_time));
        let insider_rows: i64 = a
            .iter()
            .filter(|e| e.account == DEMO_INSIDER)
            .filter_map(|e| e.rows)
            .sum();
        assert!(
            insider_rows > 10_000,
            "the insider reads thousands of records: {insider_rows}"
        );
    }
}
