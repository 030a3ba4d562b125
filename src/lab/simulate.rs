//! A seeded, labelled simulation of a whole organisation's database activity, for scoring the engine.
//!
//! The organisation: support agents on shifts looking customers up one at a time, analysts querying
//! aggregate tables and exporting reports to known buckets, DBAs doing maintenance, a nightly ETL job and
//! a weekly backup that each read the whole customer table. On top of that background, scenarios are
//! injected at configurable days, each producing [`Label`]s that say who did what when and whether it was
//! an attack (smash-and-grab, low-and-slow, boiling frog, new destination, chunked egress, credential
//! misuse, VIP snooping, honeytoken) or a benign heavy user (team surge, quarter end, new hire, ETL, backup).
//! [`crate::lab::evaluate`] runs the events through the engine and scores alerts against the labels.
//!
//! Determinism: every account's day is drawn from its own ChaCha8 stream seeded by (seed, account, day),
//! and every scenario from its own stream, so the same spec always gives identical events, and adding or
//! removing a scenario leaves every other account's background untouched (clean A/B comparisons).
//! Event ids are `<stream>.<n>`: unique and stable.

use std::collections::BTreeSet;
use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use exfilwatch::event::{ActivityKind, DbActivityEvent};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// 2026-10-01T00:00:00Z, a Thursday.
pub const DEFAULT_START_MS: i64 = 1_790_812_800_000;

/// The nightly ETL service account and where it unloads to.
pub const ETL_ACCOUNT: &str = "svc-etl";
pub const WAREHOUSE_DESTINATION: &str = "s3://corp-warehouse/raw/support/";
/// The weekly backup service account and its vault.
pub const BACKUP_ACCOUNT: &str = "svc-backup";
pub const BACKUP_DESTINATION: &str = "backup-vault.internal:/support";

/// Peer groups, as the proxies tag them.
pub const SUPPORT_GROUP: &str = "support";
pub const ANALYTICS_GROUP: &str = "analytics";
pub const DBA_GROUP: &str = "dba";
pub const SERVICE_GROUP: &str = "service";

const SOURCE: &str = "proxysql-eu1";
/// Customers contacting support often enough to be looked up by anyone.
const HOT_CUSTOMERS: u64 = 20_000;
/// Customers an agent keeps coming back to (their own open cases).
const PORTFOLIO: u64 = 300;
/// Record keys attached to one event at most: beyond this a proxy reports the row count only (and the
/// JSON line stays well under the decoder's default 4 MB limit).
pub const MAX_KEYS_PER_EVENT: i64 = 100_000;

/// Shape of the simulated organisation and the scenarios injected into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSpec {
    pub seed: u64,
    /// Epoch ms of day 0 (a UTC midnight; weekdays are computed from it).
    pub start_ms: i64,
    pub days: u32,
    /// Support agents `agent001..`; accounts named by scenarios are added if missing.
    pub agents: u32,
    /// Analysts `analyst01..`.
    pub analysts: u32,
    /// DBAs `dba01..`.
    pub dbas: u32,
    /// Size of the customer population ids are drawn from.
    pub customers: u64,
    pub nightly_etl: bool,
    pub weekly_backup: bool,
    /// VIP customers on the watchlist (see [`watchlist_keys`]).
    pub vip_customers: u32,
    /// Planted records nobody has a reason to read (see [`honeytoken_keys`]).
    pub honeytoken_keys: Vec<String>,
    pub scenarios: Vec<ScenarioSpec>,
}

impl Default for SimSpec {
    fn default() -> Self {
        SimSpec {
            seed: 20_261_001,
            start_ms: DEFAULT_START_MS,
            days: 30,
            agents: 40,
            analysts: 8,
            dbas: 3,
            customers: 5_000_000,
            nightly_etl: true,
            weekly_backup: true,
            vip_customers: 25,
            honeytoken_keys: vec![
                "cust-honeytoken-0001".into(),
                "cust-honeytoken-0002".into(),
                "cust-honeytoken-0003".into(),
            ],
            scenarios: default_scenarios(),
        }
    }
}

impl SimSpec {
    /// The same organisation with only the scenarios named (e.g. a fast per-scenario test).
    #[cfg(test)]
    pub fn only(&self, names: &[&str]) -> SimSpec {
        let mut spec = self.clone();
        spec.scenarios.retain(|s| names.contains(&s.name()));
        spec
    }

    /// Epoch ms of day `day`'s midnight.
    pub fn midnight(&self, day: u32) -> i64 {
        self.start_ms + i64::from(day) * DAY
    }

    /// Epoch ms just after the last simulated day.
    pub fn end_ms(&self) -> i64 {
        self.midnight(self.days)
    }
}

/// One injected scenario. Days count from 0 (= `start_ms`); hours are UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "snake_case")]
pub enum ScenarioSpec {
    /// Attack: one query returning `rows` customer rows.
    SmashAndGrab {
        account: String,
        day: u32,
        hour: u32,
        rows: u32,
    },
    /// Attack (the incident): on top of normal work, `min_per_day..=max_per_day` extra distinct
    /// customers (with their contacts) in small lookups spread over every shift for `days` days.
    LowAndSlow {
        account: String,
        start_day: u32,
        days: u32,
        min_per_day: u32,
        max_per_day: u32,
    },
    /// Attack: the agent's daily lookups grow geometrically from normal to `multiplier`x over `days`.
    BoilingFrog {
        account: String,
        start_day: u32,
        days: u32,
        multiplier: f64,
    },
    /// Attack: an analyst extracts `rows` customers and exports them to a destination never used before.
    NewDestinationExport {
        account: String,
        day: u32,
        hour: u32,
        rows: u32,
        destination: String,
    },
    /// Attack (T1030/T1029): an analyst ships `factor`x their normal daily egress bytes of customer data
    /// every working day, in `chunks_per_day` scheduled chunks, to their usual destination.
    ChunkedEgress {
        account: String,
        start_day: u32,
        days: u32,
        factor: f64,
        chunks_per_day: u32,
    },
    /// Attack: the agent's credentials read `records` customers at `hour` (a day off by default) from a
    /// client address and application the account never used.
    CredentialMisuse {
        account: String,
        day: u32,
        hour: u32,
        records: u32,
        client_ip: String,
        client_app: String,
    },
    /// Attack: the agent looks up `records` VIP customers from the watchlist, a few rows in all.
    TargetedVip {
        account: String,
        day: u32,
        records: u32,
    },
    /// Attack: a search result page that includes the planted honeytoken `key`.
    Honeytoken {
        account: String,
        day: u32,
        key: String,
    },
    /// Benign: outage day, every support agent working does `factor`x their lookups.
    TeamSurge { day: u32, factor: f64 },
    /// Benign: every analyst exports `min_factor..max_factor`x their normal bytes to known destinations.
    QuarterEnd {
        start_day: u32,
        days: u32,
        min_factor: f64,
        max_factor: f64,
    },
    /// Benign: an agent who starts on `day` with normal volume and no history.
    NewHire { account: String, day: u32 },
}

impl ScenarioSpec {
    /// The scenario name used in labels and reports.
    pub fn name(&self) -> &'static str {
        match self {
            ScenarioSpec::SmashAndGrab { .. } => "smash_and_grab",
            ScenarioSpec::LowAndSlow { .. } => "low_and_slow",
            ScenarioSpec::BoilingFrog { .. } => "boiling_frog",
            ScenarioSpec::NewDestinationExport { .. } => "new_destination_export",
            ScenarioSpec::ChunkedEgress { .. } => "chunked_egress",
            ScenarioSpec::CredentialMisuse { .. } => "credential_misuse",
            ScenarioSpec::TargetedVip { .. } => "targeted_vip",
            ScenarioSpec::Honeytoken { .. } => "honeytoken",
            ScenarioSpec::TeamSurge { .. } => "team_surge",
            ScenarioSpec::QuarterEnd { .. } => "quarter_end",
            ScenarioSpec::NewHire { .. } => "new_hire",
        }
    }

    pub fn malicious(&self) -> bool {
        !matches!(
            self,
            ScenarioSpec::TeamSurge { .. }
                | ScenarioSpec::QuarterEnd { .. }
                | ScenarioSpec::NewHire { .. }
        )
    }

    /// The one account the scenario is about (None for team-wide scenarios).
    pub fn account(&self) -> Option<&str> {
        match self {
            ScenarioSpec::SmashAndGrab { account, .. }
            | ScenarioSpec::LowAndSlow { account, .. }
            | ScenarioSpec::BoilingFrog { account, .. }
            | ScenarioSpec::NewDestinationExport { account, .. }
            | ScenarioSpec::ChunkedEgress { account, .. }
            | ScenarioSpec::CredentialMisuse { account, .. }
            | ScenarioSpec::TargetedVip { account, .. }
            | ScenarioSpec::Honeytoken { account, .. }
            | ScenarioSpec::NewHire { account, .. } => Some(account),
            ScenarioSpec::TeamSurge { .. } | ScenarioSpec::QuarterEnd { .. } => None,
        }
    }

    fn is_analyst_scenario(&self) -> bool {
        matches!(
            self,
            ScenarioSpec::NewDestinationExport { .. } | ScenarioSpec::ChunkedEgress { .. }
        )
    }
}

/// Every scenario, after a 7-day warm-up, on accounts whose shifts make them plausible. Day 0 is
/// Thursday 2026-10-01; weekends are days 2-3, 9-10, 16-17, 23-24.
pub fn default_scenarios() -> Vec<ScenarioSpec> {
    vec![
        // Thursday 8th to Wednesday 28th; agent007 works Mon-Fri evenings.
        ScenarioSpec::LowAndSlow {
            account: "agent007".into(),
            start_day: 7,
            days: 21,
            min_per_day: 1_000,
            max_per_day: 1_500,
        },
        // Thursday 8th, ~10x by Thursday 29th; agent003 works Mon-Fri days.
        ScenarioSpec::BoilingFrog {
            account: "agent003".into(),
            start_day: 7,
            days: 21,
            multiplier: 10.0,
        },
        // Tuesday 13th, mid-shift.
        ScenarioSpec::SmashAndGrab {
            account: "agent012".into(),
            day: 12,
            hour: 11,
            rows: 40_000,
        },
        ScenarioSpec::NewHire {
            account: "agent041".into(),
            day: 12,
        },
        // Thursday 15th: outage.
        ScenarioSpec::TeamSurge {
            day: 14,
            factor: 3.0,
        },
        // Friday 16th.
        ScenarioSpec::NewDestinationExport {
            account: "analyst03".into(),
            day: 15,
            hour: 14,
            rows: 400,
            destination: "https://mega.nz/folder/Xq2bT7kR#c2VjcmV0".into(),
        },
        // Saturday 17th, 03:00: agent009 works Mon-Fri days.
        ScenarioSpec::CredentialMisuse {
            account: "agent009".into(),
            day: 16,
            hour: 3,
            records: 300,
            client_ip: "203.0.113.77".into(),
            client_app: "python-requests/2.31.0".into(),
        },
        // Monday 19th to Monday 26th.
        ScenarioSpec::ChunkedEgress {
            account: "analyst05".into(),
            start_day: 18,
            days: 8,
            factor: 5.0,
            chunks_per_day: 5,
        },
        // Wednesday 21st; agent014 works Mon-Fri evenings.
        ScenarioSpec::TargetedVip {
            account: "agent014".into(),
            day: 20,
            records: 8,
        },
        // Friday 23rd.
        ScenarioSpec::Honeytoken {
            account: "agent011".into(),
            day: 22,
            key: "cust-honeytoken-0001".into(),
        },
        // Thursday 29th and Friday 30th: the last two business days of the month.
        ScenarioSpec::QuarterEnd {
            start_day: 28,
            days: 2,
            min_factor: 3.0,
            max_factor: 5.0,
        },
    ]
}

/// Ground truth for one account in one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub scenario: String,
    pub account: String,
    pub malicious: bool,
    /// First event of the scenario (or start of the benign period), epoch ms.
    pub start_ms: i64,
    /// Last event of the scenario (or end of the benign period), epoch ms.
    pub end_ms: i64,
    #[serde(default)]
    pub description: String,
    /// MITRE ATT&CK technique ids the scenario exercises.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub techniques: Vec<String>,
    /// Watchlisted record keys the scenario read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watchlist_keys: Vec<String>,
    /// Honeytoken record keys the scenario read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub honeytoken_keys: Vec<String>,
}

/// Generated events (sorted by event time, then id) and their labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Simulation {
    pub events: Vec<DbActivityEvent>,
    pub labels: Vec<Label>,
}

impl Simulation {
    /// Events as JSON lines, the canonical input format (`exfilwatch replay` reads it).
    pub fn write_events_jsonl<W: Write>(&self, mut out: W) -> io::Result<()> {
        for event in &self.events {
            serde_json::to_writer(&mut out, event).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Labels as one pretty JSON array (what [`crate::lab::evaluate::load_simulation`] reads).
    pub fn write_labels_json<W: Write>(&self, mut out: W) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut out, &self.labels).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

/// The VIP customers' record keys: put them on the watchlist. Outside the ordinary id range, so only
/// the `targeted_vip` scenario reads them.
pub fn watchlist_keys(spec: &SimSpec) -> Vec<String> {
    (0..u64::from(spec.vip_customers))
        .map(|i| {
            let id = spec.customers + 1 + i * 1_000 + fnv1a(spec.seed, &format!("vip/{i}")) % 1_000;
            format!("cust-{id}")
        })
        .collect()
}

/// The planted honeytoken record keys.
#[cfg(test)]
pub fn honeytoken_keys(spec: &SimSpec) -> Vec<String> {
    spec.honeytoken_keys.clone()
}

/// Generates the simulation. Deterministic in `spec`.
pub fn generate(spec: &SimSpec) -> Simulation {
    let mut sim = Generator::new(spec);
    sim.background();
    for (index, scenario) in spec.scenarios.iter().enumerate() {
        sim.inject(index, scenario);
    }
    sim.service_labels();
    let Generator {
        mut events, labels, ..
    } = sim;
    events.sort_unstable_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    Simulation { events, labels }
}

// ---------------------------------------------------------------------------------------------------
// Randomness helpers.

/// FNV-1a over the seed and a key: stable across platforms and Rust versions (unlike `DefaultHasher`).
fn fnv1a(seed: u64, key: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.to_le_bytes().iter().chain(key.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn rng_for(seed: u64, key: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(fnv1a(seed, key))
}

/// Standard normal (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Lognormal with the given median and log-space sigma.
fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

fn round_count(x: f64) -> usize {
    if x.is_finite() && x > 0.0 {
        x.round() as usize
    } else {
        0
    }
}

/// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
fn weekday(ms: i64) -> usize {
    (ms.div_euclid(DAY) + 3).rem_euclid(7) as usize
}

fn number_suffix(account: &str) -> Option<u64> {
    let digits: String = account
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

// ---------------------------------------------------------------------------------------------------
// Query templates: what each kind of statement reads, its digest, and bytes per row.

#[derive(Debug, Clone, Copy)]
struct Template {
    name: &'static str,
    kind: ActivityKind,
    operation: &'static str,
    tables: &'static [&'static str],
    row_bytes: i64,
}

const fn query(name: &'static str, tables: &'static [&'static str], row_bytes: i64) -> Template {
    Template {
        name,
        kind: ActivityKind::Query,
        operation: "SELECT",
        tables,
        row_bytes,
    }
}

const CUSTOMER_BY_ID: Template = query("customer_by_id", &["support.customers"], 620);
const CUSTOMER_SEARCH: Template = query("customer_search", &["support.customers"], 620);
const CUSTOMERS_BY_REGION: Template = query("customers_by_region", &["support.customers"], 620);
const TICKETS_BY_CUSTOMER: Template = query("tickets_by_customer", &["support.tickets"], 1_400);
const CONTACTS_BY_CUSTOMER: Template =
    query("contacts_by_customer", &["support.customer_contacts"], 180);
const TICKET_COMMENTS: Template = query("ticket_comments", &["support.ticket_comments"], 900);
const ANALYST_EXTRACT: Template = query(
    "analyst_extract",
    &["support.customers", "support.tickets"],
    900,
);
const ANALYST_EXPORT: Template = Template {
    name: "analyst_export",
    kind: ActivityKind::Export,
    operation: "EXPORT_CSV",
    tables: &["support.customers", "support.tickets"],
    row_bytes: 900,
};
const ANALYST_COPY_OUT: Template = Template {
    name: "analyst_copy_out",
    kind: ActivityKind::Export,
    operation: "COPY_TO",
    tables: &["support.customers", "support.customer_contacts"],
    row_bytes: 800,
};
const ANALYTICS_TABLES: &[&str] = &[
    "analytics.orders_daily",
    "analytics.revenue_by_region",
    "analytics.ticket_volume_weekly",
    "analytics.churn_cohorts",
    "analytics.nps_scores",
    "analytics.agent_productivity",
];
const ANALYTICS_QUERY: Template = query("analytics_query", &["analytics.orders_daily"], 150);
const DBA_STATS: Template = query("dba_stats", &["pg_catalog.pg_stat_user_tables"], 300);
const DBA_LOCKS: Template = query("dba_locks", &["pg_catalog.pg_locks"], 200);
const DBA_COUNT: Template = query("dba_count", &["support.customers"], 8);
const DBA_FIX_READ: Template = query("dba_fix_read", &["support.customers"], 620);
const DBA_ANALYZE: Template = Template {
    name: "dba_analyze",
    kind: ActivityKind::Query,
    operation: "ANALYZE",
    tables: &["support.customers"],
    row_bytes: 0,
};
const ETL_COPY_CUSTOMERS: Template = Template {
    name: "etl_copy_customers",
    kind: ActivityKind::Query,
    operation: "COPY",
    tables: &["support.customers"],
    row_bytes: 600,
};
const ETL_COPY_TICKETS: Template = Template {
    name: "etl_copy_tickets",
    kind: ActivityKind::Query,
    operation: "COPY",
    tables: &["support.tickets"],
    row_bytes: 1_400,
};
const ETL_UNLOAD: Template = Template {
    name: "etl_unload",
    kind: ActivityKind::Export,
    operation: "UNLOAD",
    tables: &["support.customers", "support.tickets"],
    row_bytes: 300,
};
const BACKUP_DUMP: Template = Template {
    name: "backup_dump",
    kind: ActivityKind::Export,
    operation: "DUMP",
    tables: &[
        "support.customers",
        "support.tickets",
        "support.customer_contacts",
        "support.ticket_comments",
    ],
    row_bytes: 1_500,
};

/// Who runs a statement and from where.
#[derive(Debug, Clone, Copy)]
struct Actor<'a> {
    account: &'a str,
    db_user: &'a str,
    ip: &'a str,
    app: &'a str,
    peer_group: &'a str,
}

/// Event ids of one stream: `<prefix>.<n>`.
struct Ids {
    prefix: String,
    next: u32,
}

impl Ids {
    fn new(prefix: String) -> Self {
        Ids { prefix, next: 0 }
    }
    fn next(&mut self) -> String {
        self.next += 1;
        format!("{}.{:05}", self.prefix, self.next)
    }
}

/// One statement. `rows` also sets bytes (rows × the template's row size); record keys are optional.
fn statement(
    ids: &mut Ids,
    time_ms: i64,
    actor: &Actor<'_>,
    template: &Template,
    rows: Option<i64>,
    record_keys: Option<Vec<String>>,
) -> DbActivityEvent {
    let database = if template
        .tables
        .first()
        .is_some_and(|t| t.starts_with("analytics."))
    {
        "analytics"
    } else {
        "support"
    };
    DbActivityEvent {
        event_id: ids.next(),
        event_time: time_ms,
        kind: template.kind,
        account: actor.account.to_string(),
        db_user: Some(actor.db_user.to_string()),
        source: SOURCE.to_string(),
        client_ip: Some(actor.ip.to_string()),
        client_app: Some(actor.app.to_string()),
        database: Some(database.to_string()),
        tables: template.tables.iter().map(|t| t.to_string()).collect(),
        operation: template.operation.to_string(),
        query_digest: Some(format!("0x{:016x}", fnv1a(0, template.name))),
        rows,
        bytes: rows.map(|r| r.saturating_mul(template.row_bytes)),
        record_keys,
        destination: None,
        peer_group: Some(actor.peer_group.to_string()),
        success: true,
    }
}

fn customer_key(id: u64) -> String {
    format!("cust-{id}")
}

// ---------------------------------------------------------------------------------------------------
// The organisation.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    Day,
    Evening,
    Night,
}

impl Shift {
    fn start_hour(self) -> i64 {
        match self {
            Shift::Day => 7,
            Shift::Evening => 15,
            Shift::Night => 23,
        }
    }
}

#[derive(Debug, Clone)]
struct Agent {
    account: String,
    shift: Shift,
    /// Monday = 0.
    workdays: [bool; 7],
    lookups_per_day: f64,
    ip: String,
    first_day: u32,
}

impl Agent {
    /// Schedules follow the account number, so scenarios can pick a plausible victim: numbers 1-5 of
    /// every 8 work days, 6-7 evenings, 8 nights; every 5th works Wednesday to Sunday, the rest Mon-Fri.
    fn new(seed: u64, account: &str, first_day: u32) -> Agent {
        let index = number_suffix(account)
            .map(|n| n.saturating_sub(1))
            .unwrap_or_else(|| 1_000 + fnv1a(seed, account) % 1_000);
        let shift = match index % 8 {
            0..=4 => Shift::Day,
            5 | 6 => Shift::Evening,
            _ => Shift::Night,
        };
        let workdays = if index % 5 == 4 {
            [false, false, true, true, true, true, true]
        } else {
            [true, true, true, true, true, false, false]
        };
        let mut rng = rng_for(seed, &format!("profile/{account}"));
        Agent {
            account: account.to_string(),
            shift,
            workdays,
            lookups_per_day: lognormal(&mut rng, 85.0, 0.35).clamp(40.0, 150.0),
            ip: format!("10.20.{}.{}", index / 200, index % 200 + 10),
            first_day,
        }
    }

    fn actor(&self) -> Actor<'_> {
        Actor {
            account: &self.account,
            db_user: "support_app",
            ip: &self.ip,
            app: "support-console",
            peer_group: SUPPORT_GROUP,
        }
    }
}

#[derive(Debug, Clone)]
struct Analyst {
    account: String,
    ip: String,
    app: &'static str,
    /// Median bytes of one ordinary export.
    export_bytes: f64,
    queries_per_day: f64,
    /// Primary (own prefix) and shared report destinations: the only ones ever used.
    destinations: [String; 2],
}

impl Analyst {
    fn new(seed: u64, account: &str) -> Analyst {
        let index = number_suffix(account)
            .map(|n| n.saturating_sub(1))
            .unwrap_or_else(|| 100 + fnv1a(seed, account) % 100);
        let mut rng = rng_for(seed, &format!("profile/{account}"));
        Analyst {
            account: account.to_string(),
            ip: format!("10.40.0.{}", index % 200 + 10),
            app: ["tableau", "jupyter", "dbeaver"][(index % 3) as usize],
            export_bytes: lognormal(&mut rng, 3.0e6, 0.5),
            queries_per_day: lognormal(&mut rng, 30.0, 0.3).clamp(10.0, 60.0),
            destinations: [
                format!("s3://corp-analytics/{account}/"),
                "s3://corp-analytics/shared/reports/".to_string(),
            ],
        }
    }

    fn actor(&self) -> Actor<'_> {
        Actor {
            account: &self.account,
            db_user: "analytics_ro",
            ip: &self.ip,
            app: self.app,
            peer_group: ANALYTICS_GROUP,
        }
    }

    /// Expected ordinary export bytes per working day (two exports on average).
    fn daily_egress(&self) -> f64 {
        2.0 * self.export_bytes
    }
}

/// A label before its time range is known.
struct Draft {
    scenario: &'static str,
    account: String,
    malicious: bool,
    description: String,
    techniques: &'static [&'static str],
    /// Explicit period (benign periods); otherwise first to last event.
    window: Option<(i64, i64)>,
    watchlist_keys: Vec<String>,
    honeytoken_keys: Vec<String>,
}

impl Draft {
    fn new(scenario: &ScenarioSpec, account: &str, description: String) -> Draft {
        Draft {
            scenario: scenario.name(),
            account: account.to_string(),
            malicious: scenario.malicious(),
            description,
            techniques: &[],
            window: None,
            watchlist_keys: Vec::new(),
            honeytoken_keys: Vec::new(),
        }
    }
}

struct Generator<'a> {
    spec: &'a SimSpec,
    agents: Vec<Agent>,
    analysts: Vec<Analyst>,
    dbas: Vec<String>,
    /// Accounts with an attack scenario: not also labelled benign, so scoring stays unambiguous.
    attackers: BTreeSet<String>,
    events: Vec<DbActivityEvent>,
    labels: Vec<Label>,
}

impl<'a> Generator<'a> {
    fn new(spec: &'a SimSpec) -> Self {
        let mut agents: Vec<Agent> = (1..=spec.agents)
            .map(|i| Agent::new(spec.seed, &format!("agent{i:03}"), 0))
            .collect();
        let mut analysts: Vec<Analyst> = (1..=spec.analysts)
            .map(|i| Analyst::new(spec.seed, &format!("analyst{i:02}")))
            .collect();
        for scenario in &spec.scenarios {
            let Some(account) = scenario.account() else {
                continue;
            };
            if scenario.is_analyst_scenario() {
                if !analysts.iter().any(|a| a.account == account) {
                    analysts.push(Analyst::new(spec.seed, account));
                }
            } else if let ScenarioSpec::NewHire { day, .. } = scenario {
                match agents.iter_mut().find(|a| a.account == account) {
                    Some(agent) => agent.first_day = *day,
                    None => agents.push(Agent::new(spec.seed, account, *day)),
                }
            } else if !agents.iter().any(|a| a.account == account) {
                agents.push(Agent::new(spec.seed, account, 0));
            }
        }
        let attackers = spec
            .scenarios
            .iter()
            .filter(|s| s.malicious())
            .filter_map(|s| s.account().map(str::to_string))
            .collect();
        Generator {
            spec,
            agents,
            analysts,
            dbas: (1..=spec.dbas).map(|i| format!("dba{i:02}")).collect(),
            attackers,
            events: Vec::new(),
            labels: Vec::new(),
        }
    }

    fn agent(&self, account: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.account == account)
    }

    fn analyst(&self, account: &str) -> Option<&Analyst> {
        self.analysts.iter().find(|a| a.account == account)
    }

    fn in_range(&self, time_ms: i64) -> bool {
        time_ms >= self.spec.start_ms && time_ms < self.spec.end_ms()
    }

    fn push_all(&mut self, events: Vec<DbActivityEvent>) {
        let (start, end) = (self.spec.start_ms, self.spec.end_ms());
        self.events.extend(
            events
                .into_iter()
                .filter(|e| e.event_time >= start && e.event_time < end),
        );
    }

    /// Adds a scenario's events and its label (dropped when nothing of it falls inside the simulation).
    fn finish(&mut self, draft: Draft, events: Vec<DbActivityEvent>) {
        let kept: Vec<DbActivityEvent> = events
            .into_iter()
            .filter(|e| self.in_range(e.event_time))
            .collect();
        let window = match draft.window {
            Some((start, end)) => {
                let start = start.max(self.spec.start_ms);
                let end = end.min(self.spec.end_ms() - 1);
                (start <= end).then_some((start, end))
            }
            None => {
                let first = kept.iter().map(|e| e.event_time).min();
                let last = kept.iter().map(|e| e.event_time).max();
                first.zip(last)
            }
        };
        self.events.extend(kept);
        let Some((start_ms, end_ms)) = window else {
            return;
        };
        if !draft.malicious && self.attackers.contains(&draft.account) {
            return;
        }
        self.labels.push(Label {
            scenario: draft.scenario.to_string(),
            account: draft.account,
            malicious: draft.malicious,
            start_ms,
            end_ms,
            description: draft.description,
            techniques: draft.techniques.iter().map(|t| t.to_string()).collect(),
            watchlist_keys: draft.watchlist_keys,
            honeytoken_keys: draft.honeytoken_keys,
        });
    }

    // ---- schedules -------------------------------------------------------------------------------

    fn agent_works(&self, agent: &Agent, day: u32) -> bool {
        if day < agent.first_day || !agent.workdays[weekday(self.spec.midnight(day))] {
            return false;
        }
        // About 3% sick days and leave.
        fnv1a(self.spec.seed, &format!("absent/{}/{day}", agent.account)) % 1_000 >= 30
    }

    fn office_works(&self, account: &str, day: u32) -> bool {
        weekday(self.spec.midnight(day)) < 5
            && fnv1a(self.spec.seed, &format!("absent/{account}/{day}")) % 1_000 >= 30
    }

    /// The agent's 8-hour shift on `day` (night shifts run past midnight).
    fn shift(&self, agent: &Agent, day: u32) -> (i64, i64) {
        let jitter = (fnv1a(self.spec.seed, &format!("shift/{}/{day}", agent.account))
            % (15 * MINUTE) as u64) as i64;
        let start = self.spec.midnight(day) + agent.shift.start_hour() * HOUR + jitter - 5 * MINUTE;
        (start, start + 8 * HOUR)
    }

    /// Office hours around 09:00-17:30.
    fn office_hours(&self, account: &str, day: u32) -> (i64, i64) {
        let jitter =
            (fnv1a(self.spec.seed, &format!("office/{account}/{day}")) % HOUR as u64) as i64;
        let start = self.spec.midnight(day) + 9 * HOUR - 30 * MINUTE + jitter;
        (start, start + 8 * HOUR + 30 * MINUTE)
    }

    fn customer(&self, rng: &mut ChaCha8Rng) -> u64 {
        rng.gen_range(1..=self.spec.customers.max(1))
    }

    /// An agent's next customer: a fifth are their own follow-ups, a few the frequent callers.
    fn agent_customer(&self, rng: &mut ChaCha8Rng, account: &str) -> u64 {
        let customers = self.spec.customers.max(1);
        let roll: f64 = rng.gen();
        if roll < 0.20 {
            let slot = rng.gen_range(0..PORTFOLIO);
            1 + fnv1a(slot, account) % customers
        } else if roll < 0.25 {
            rng.gen_range(1..=HOT_CUSTOMERS.min(customers))
        } else {
            rng.gen_range(1..=customers)
        }
    }

    // ---- background ------------------------------------------------------------------------------

    fn background(&mut self) {
        for day in 0..self.spec.days {
            let mut events = Vec::new();
            for agent in &self.agents {
                if !self.agent_works(agent, day) {
                    continue;
                }
                let mut rng = rng_for(self.spec.seed, &format!("bg/{}/{day}", agent.account));
                let mut ids = Ids::new(format!("bg.{}.d{day:03}", agent.account));
                let count = round_count(agent.lookups_per_day * lognormal(&mut rng, 1.0, 0.15));
                self.lookups(agent, day, count, &mut rng, &mut ids, &mut events);
            }
            for analyst in &self.analysts {
                if self.office_works(&analyst.account, day) {
                    self.analyst_day(analyst, day, &mut events);
                }
            }
            for dba in &self.dbas {
                if self.office_works(dba, day) {
                    self.dba_day(dba, day, &mut events);
                }
            }
            if self.spec.nightly_etl {
                self.etl_night(day, &mut events);
            }
            if self.spec.weekly_backup && weekday(self.spec.midnight(day)) == 6 {
                self.backup(day, &mut events);
            }
            self.push_all(events);
        }
    }

    /// `count` customer lookups spread over the agent's shift on `day`.
    fn lookups(
        &self,
        agent: &Agent,
        day: u32,
        count: usize,
        rng: &mut ChaCha8Rng,
        ids: &mut Ids,
        out: &mut Vec<DbActivityEvent>,
    ) {
        let shift = self.shift(agent, day);
        let actor = agent.actor();
        for _ in 0..count {
            let time = time_in_shift(rng, shift);
            let customer = self.agent_customer(rng, &agent.account);
            self.lookup(rng, ids, &actor, time, customer_key(customer), out);
        }
    }

    /// One support lookup: sometimes a search first, the customer, their tickets, maybe contacts and
    /// ticket comments.
    fn lookup(
        &self,
        rng: &mut ChaCha8Rng,
        ids: &mut Ids,
        actor: &Actor<'_>,
        time: i64,
        key: String,
        out: &mut Vec<DbActivityEvent>,
    ) {
        if rng.gen_bool(0.12) {
            let hits = rng.gen_range(2..=12);
            let mut keys = vec![key.clone()];
            keys.extend((1..hits).map(|_| customer_key(self.customer(rng))));
            let at = time - rng.gen_range(5_000..40_000);
            out.push(statement(
                ids,
                at,
                actor,
                &CUSTOMER_SEARCH,
                Some(hits),
                Some(keys),
            ));
        }
        out.push(statement(
            ids,
            time,
            actor,
            &CUSTOMER_BY_ID,
            Some(1),
            Some(vec![key.clone()]),
        ));
        let tickets = [1, 1, 1, 2, 2, 3, 4, 6][rng.gen_range(0..8)];
        let at = time + rng.gen_range(2_000..20_000);
        out.push(statement(
            ids,
            at,
            actor,
            &TICKETS_BY_CUSTOMER,
            Some(tickets),
            None,
        ));
        if rng.gen_bool(0.4) {
            let at = time + rng.gen_range(3_000..30_000);
            let rows = rng.gen_range(1..=3);
            out.push(statement(
                ids,
                at,
                actor,
                &CONTACTS_BY_CUSTOMER,
                Some(rows),
                Some(vec![key]),
            ));
        }
        if rng.gen_bool(0.5) {
            let at = time + rng.gen_range(5_000..60_000);
            let rows = rng.gen_range(2..=20);
            out.push(statement(
                ids,
                at,
                actor,
                &TICKET_COMMENTS,
                Some(rows),
                None,
            ));
        }
    }

    fn analyst_day(&self, analyst: &Analyst, day: u32, out: &mut Vec<DbActivityEvent>) {
        let mut rng = rng_for(self.spec.seed, &format!("bg/{}/{day}", analyst.account));
        let mut ids = Ids::new(format!("bg.{}.d{day:03}", analyst.account));
        let hours = self.office_hours(&analyst.account, day);
        let actor = analyst.actor();
        // Aggregate queries: large result sets, nothing personal.
        let queries = round_count(analyst.queries_per_day * lognormal(&mut rng, 1.0, 0.2));
        for _ in 0..queries {
            let time = rng.gen_range(hours.0..hours.1);
            let rows = lognormal(&mut rng, 300.0, 1.2)
                .clamp(1.0, 200_000.0)
                .round() as i64;
            let mut event = statement(&mut ids, time, &actor, &ANALYTICS_QUERY, Some(rows), None);
            event.tables = vec![ANALYTICS_TABLES[rng.gen_range(0..ANALYTICS_TABLES.len())].into()];
            out.push(event);
        }
        // Now and then a moderate extract of customers (a campaign list, a survey sample).
        if rng.gen_bool(0.3) {
            let time = rng.gen_range(hours.0..hours.1);
            let rows = lognormal(&mut rng, 400.0, 0.6)
                .clamp(100.0, 2_000.0)
                .round() as i64;
            let keys = (0..rows)
                .map(|_| customer_key(self.customer(&mut rng)))
                .collect();
            out.push(statement(
                &mut ids,
                time,
                &actor,
                &ANALYST_EXTRACT,
                Some(rows),
                Some(keys),
            ));
            if rng.gen_bool(0.5) {
                let at = time + rng.gen_range(3 * MINUTE..15 * MINUTE);
                let mut export = statement(&mut ids, at, &actor, &ANALYST_EXPORT, Some(rows), None);
                export.destination = Some(analyst.destinations[0].clone());
                out.push(export);
            }
        }
        // Report exports to the analyst's known destinations.
        for _ in 0..rng.gen_range(1..=3) {
            let time = rng.gen_range(hours.0..hours.1);
            let bytes = lognormal(&mut rng, analyst.export_bytes, 0.5);
            out.push(self.report_export(&mut rng, &mut ids, analyst, time, bytes));
        }
    }

    fn report_export(
        &self,
        rng: &mut ChaCha8Rng,
        ids: &mut Ids,
        analyst: &Analyst,
        time: i64,
        bytes: f64,
    ) -> DbActivityEvent {
        let table = ANALYTICS_TABLES[rng.gen_range(0..ANALYTICS_TABLES.len())];
        let mut export = statement(ids, time, &analyst.actor(), &ANALYST_EXPORT, None, None);
        export.tables = vec![table.to_string()];
        export.database = Some("analytics".into());
        export.bytes = Some(bytes.round() as i64);
        export.rows = Some((bytes / 150.0).round().max(1.0) as i64);
        let primary = rng.gen_bool(0.7);
        export.destination = Some(analyst.destinations[usize::from(!primary)].clone());
        export
    }

    fn dba_day(&self, account: &str, day: u32, out: &mut Vec<DbActivityEvent>) {
        let mut rng = rng_for(self.spec.seed, &format!("bg/{account}/{day}"));
        let mut ids = Ids::new(format!("bg.{account}.d{day:03}"));
        let index = number_suffix(account).unwrap_or(1);
        let ip = format!("10.30.0.{}", index % 200 + 10);
        let actor = Actor {
            account,
            db_user: "dba_admin",
            ip: &ip,
            app: "psql",
            peer_group: DBA_GROUP,
        };
        let start = self.spec.midnight(day) + 10 * HOUR;
        for _ in 0..rng.gen_range(4..=12) {
            let time = start + rng.gen_range(0..8 * HOUR);
            let event = match rng.gen_range(0..4) {
                0 => statement(
                    &mut ids,
                    time,
                    &actor,
                    &DBA_STATS,
                    Some(rng.gen_range(20..200)),
                    None,
                ),
                1 => statement(
                    &mut ids,
                    time,
                    &actor,
                    &DBA_LOCKS,
                    Some(rng.gen_range(0..50)),
                    None,
                ),
                2 => statement(&mut ids, time, &actor, &DBA_ANALYZE, None, None),
                _ => statement(&mut ids, time, &actor, &DBA_COUNT, Some(1), None),
            };
            out.push(event);
        }
        // About once a week, a data fix that reads a few hundred customers.
        if rng.gen_bool(0.2) {
            let time = start + rng.gen_range(0..8 * HOUR);
            let rows = rng.gen_range(5..=300);
            let keys = (0..rows)
                .map(|_| customer_key(self.customer(&mut rng)))
                .collect();
            out.push(statement(
                &mut ids,
                time,
                &actor,
                &DBA_FIX_READ,
                Some(rows),
                Some(keys),
            ));
        }
    }

    /// 02:00 daily: copy all customers and recent tickets, unload them to the warehouse.
    fn etl_night(&self, day: u32, out: &mut Vec<DbActivityEvent>) {
        let mut rng = rng_for(self.spec.seed, &format!("bg/{ETL_ACCOUNT}/{day}"));
        let mut ids = Ids::new(format!("bg.{ETL_ACCOUNT}.d{day:03}"));
        let actor = Actor {
            account: ETL_ACCOUNT,
            db_user: "etl_reader",
            ip: "10.0.0.5",
            app: "airflow",
            peer_group: SERVICE_GROUP,
        };
        let start = self.spec.midnight(day) + 2 * HOUR + rng.gen_range(0..5 * MINUTE);
        let customers = 2_000_000 + i64::from(day) * 700 + rng.gen_range(0..500);
        let tickets = rng.gen_range(250_000..350_000);
        out.push(statement(
            &mut ids,
            start,
            &actor,
            &ETL_COPY_CUSTOMERS,
            Some(customers),
            None,
        ));
        let copied = start + rng.gen_range(3 * MINUTE..6 * MINUTE);
        out.push(statement(
            &mut ids,
            copied,
            &actor,
            &ETL_COPY_TICKETS,
            Some(tickets),
            None,
        ));
        let unloaded = copied + rng.gen_range(10 * MINUTE..20 * MINUTE);
        let mut unload = statement(
            &mut ids,
            unloaded,
            &actor,
            &ETL_UNLOAD,
            Some(customers + tickets),
            None,
        );
        unload.destination = Some(WAREHOUSE_DESTINATION.into());
        out.push(unload);
    }

    /// Sunday 03:00: a full dump of the support database (~50 GB) to the backup vault.
    fn backup(&self, day: u32, out: &mut Vec<DbActivityEvent>) {
        let mut rng = rng_for(self.spec.seed, &format!("bg/{BACKUP_ACCOUNT}/{day}"));
        let mut ids = Ids::new(format!("bg.{BACKUP_ACCOUNT}.d{day:03}"));
        let actor = Actor {
            account: BACKUP_ACCOUNT,
            db_user: "backup",
            ip: "10.0.0.9",
            app: "pg_dump",
            peer_group: SERVICE_GROUP,
        };
        let time = self.spec.midnight(day) + 3 * HOUR + rng.gen_range(0..3 * MINUTE);
        let rows = 33_000_000 + rng.gen_range(0..500_000);
        let mut dump = statement(&mut ids, time, &actor, &BACKUP_DUMP, Some(rows), None);
        dump.bytes = Some((50.0e9 * rng.gen_range(0.97..1.03)) as i64);
        dump.destination = Some(BACKUP_DESTINATION.into());
        out.push(dump);
    }

    fn service_labels(&mut self) {
        let (start, end) = (self.spec.start_ms, self.spec.end_ms());
        let services = [
            (
                self.spec.nightly_etl,
                "nightly_etl",
                ETL_ACCOUNT,
                "copies ~2M customers and recent tickets at 02:00 daily, unloads to the warehouse",
            ),
            (
                self.spec.weekly_backup,
                "weekly_backup",
                BACKUP_ACCOUNT,
                "dumps the support database (~50 GB) to the backup vault on Sundays at 03:00",
            ),
        ];
        for (enabled, scenario, account, description) in services {
            if enabled && self.events.iter().any(|e| e.account == account) {
                self.labels.push(Label {
                    scenario: scenario.into(),
                    account: account.into(),
                    malicious: false,
                    start_ms: start,
                    end_ms: end - 1,
                    description: description.into(),
                    techniques: Vec::new(),
                    watchlist_keys: Vec::new(),
                    honeytoken_keys: Vec::new(),
                });
            }
        }
    }

    // ---- scenarios -------------------------------------------------------------------------------

    fn inject(&mut self, index: usize, scenario: &ScenarioSpec) {
        let stream = |account: &str| format!("sc{index:02}.{}.{account}", scenario.name());
        let seed = self.spec.seed;
        // Each scenario account draws from its own random stream and numbers its own event ids.
        let streams = |account: &str| (rng_for(seed, &stream(account)), Ids::new(stream(account)));
        match scenario {
            ScenarioSpec::SmashAndGrab {
                account,
                day,
                hour,
                rows,
            } => {
                let Some(agent) = self.agent(account) else {
                    return;
                };
                let (mut rng, mut ids) = streams(account);
                let time = self.spec.midnight(*day)
                    + i64::from(*hour) * HOUR
                    + rng.gen_range(0..50 * MINUTE);
                let rows = i64::from(*rows);
                let first = rng.gen_range(1..=(self.spec.customers as i64 - rows).max(1));
                let keys = (rows <= MAX_KEYS_PER_EVENT).then(|| {
                    (first..first + rows)
                        .map(|id| customer_key(id as u64))
                        .collect()
                });
                let event = statement(
                    &mut ids,
                    time,
                    &agent.actor(),
                    &CUSTOMERS_BY_REGION,
                    Some(rows),
                    keys,
                );
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!("one query returns {rows} customer rows"),
                );
                draft.techniques = &["T1213.006", "T1078"];
                self.finish(draft, vec![event]);
            }
            ScenarioSpec::LowAndSlow {
                account,
                start_day,
                days,
                min_per_day,
                max_per_day,
            } => {
                let Some(agent) = self.agent(account) else {
                    return;
                };
                let (mut rng, mut ids) = streams(account);
                let actor = agent.actor();
                let customers = self.spec.customers.max(1);
                // Walks through the customer base in id order (a region, a product line), skipping a
                // few: every record distinct, each query a screenful.
                let mut cursor = rng.gen_range(1..=customers);
                let mut events = Vec::new();
                for day in *start_day..start_day.saturating_add(*days) {
                    if !self.agent_works(agent, day) {
                        continue;
                    }
                    let shift = self.shift(agent, day);
                    let target = rng.gen_range(*min_per_day..=(*max_per_day).max(*min_per_day));
                    let mut taken = 0;
                    while taken < target {
                        let n = rng.gen_range(1..=5).min(target - taken);
                        taken += n;
                        let keys: Vec<String> = (0..n)
                            .map(|_| {
                                cursor = (cursor + rng.gen_range(1..=20)) % customers + 1;
                                customer_key(cursor)
                            })
                            .collect();
                        let time = time_in_shift(&mut rng, shift);
                        let rows = Some(i64::from(n));
                        events.push(statement(
                            &mut ids,
                            time,
                            &actor,
                            &CUSTOMER_SEARCH,
                            rows,
                            Some(keys.clone()),
                        ));
                        let at = time + rng.gen_range(2_000..10_000);
                        events.push(statement(
                            &mut ids,
                            at,
                            &actor,
                            &CONTACTS_BY_CUSTOMER,
                            rows,
                            Some(keys),
                        ));
                    }
                }
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!(
                        "{min_per_day}-{max_per_day} extra distinct customers (with contacts) per shift in \
                         lookups of 1-5, for {days} days from day {start_day}"
                    ),
                );
                draft.techniques = &["T1213.006", "T1078", "T1119", "T1030"];
                self.finish(draft, events);
            }
            ScenarioSpec::BoilingFrog {
                account,
                start_day,
                days,
                multiplier,
            } => {
                let Some(agent) = self.agent(account) else {
                    return;
                };
                let mut rng = rng_for(seed, &stream(account));
                let mut events = Vec::new();
                for day in *start_day..=start_day.saturating_add(*days) {
                    if !self.agent_works(agent, day) {
                        continue;
                    }
                    let progress = if *days == 0 {
                        1.0
                    } else {
                        f64::from(day - start_day) / f64::from(*days)
                    };
                    let factor = multiplier.max(1.0).powf(progress);
                    let extra = round_count(agent.lookups_per_day * (factor - 1.0));
                    let mut ids = Ids::new(format!("{}.d{day:03}", stream(account)));
                    self.lookups(agent, day, extra, &mut rng, &mut ids, &mut events);
                }
                let growth = if *days == 0 {
                    0.0
                } else {
                    (multiplier.max(1.0).powf(1.0 / f64::from(*days)) - 1.0) * 100.0
                };
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!(
                        "daily lookups grow {growth:.0}%/day from normal to {multiplier}x over {days} days \
                         from day {start_day}"
                    ),
                );
                draft.techniques = &["T1213.006", "T1078"];
                self.finish(draft, events);
            }
            ScenarioSpec::NewDestinationExport {
                account,
                day,
                hour,
                rows,
                destination,
            } => {
                let Some(analyst) = self.analyst(account) else {
                    return;
                };
                let (mut rng, mut ids) = streams(account);
                let actor = analyst.actor();
                let time = self.spec.midnight(*day)
                    + i64::from(*hour) * HOUR
                    + rng.gen_range(0..40 * MINUTE);
                let rows = i64::from(*rows);
                let keys = (0..rows.min(MAX_KEYS_PER_EVENT))
                    .map(|_| customer_key(self.customer(&mut rng)))
                    .collect();
                let extract = statement(
                    &mut ids,
                    time,
                    &actor,
                    &ANALYST_EXTRACT,
                    Some(rows),
                    Some(keys),
                );
                let at = time + rng.gen_range(2 * MINUTE..8 * MINUTE);
                let mut export = statement(&mut ids, at, &actor, &ANALYST_EXPORT, Some(rows), None);
                export.destination = Some(destination.clone());
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!("exports {rows} customers to never-used {destination}"),
                );
                draft.techniques = &["T1213.006", "T1567.002"];
                self.finish(draft, vec![extract, export]);
            }
            ScenarioSpec::ChunkedEgress {
                account,
                start_day,
                days,
                factor,
                chunks_per_day,
            } => {
                let Some(analyst) = self.analyst(account) else {
                    return;
                };
                let (mut rng, mut ids) = streams(account);
                let actor = analyst.actor();
                let chunks = (*chunks_per_day).max(1);
                let mut events = Vec::new();
                for day in *start_day..start_day.saturating_add(*days) {
                    if !self.office_works(&analyst.account, day) {
                        continue;
                    }
                    let (open, close) = self.office_hours(&analyst.account, day);
                    let total = factor * analyst.daily_egress();
                    let step = (close - open - HOUR) / i64::from(chunks);
                    for chunk in 0..chunks {
                        // Scheduled: evenly spaced, a few minutes of jitter.
                        let time = open
                            + 30 * MINUTE
                            + i64::from(chunk) * step
                            + rng.gen_range(0..5 * MINUTE);
                        let mut export =
                            statement(&mut ids, time, &actor, &ANALYST_COPY_OUT, None, None);
                        // The export tool reports bytes only (no row count, no keys).
                        let bytes = total / f64::from(chunks) * rng.gen_range(0.8..1.2);
                        export.bytes = Some(bytes.round() as i64);
                        export.destination = Some(analyst.destinations[0].clone());
                        events.push(export);
                    }
                }
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!(
                        "{factor}x normal daily egress of customer data in {chunks} scheduled chunks a \
                         day to the usual destination, {days} days from day {start_day}"
                    ),
                );
                draft.techniques = &["T1030", "T1029"];
                self.finish(draft, events);
            }
            ScenarioSpec::CredentialMisuse {
                account,
                day,
                hour,
                records,
                client_ip,
                client_app,
            } => {
                let Some(agent) = self.agent(account) else {
                    return;
                };
                let day_off = !self.agent_works(agent, *day);
                let (mut rng, mut ids) = streams(account);
                let actor = Actor {
                    ip: client_ip,
                    app: client_app,
                    ..agent.actor()
                };
                let mut time = self.spec.midnight(*day)
                    + i64::from(*hour) * HOUR
                    + rng.gen_range(0..15 * MINUTE);
                let mut events = Vec::new();
                let mut left = *records;
                while left > 0 {
                    let n = left.min(10);
                    left -= n;
                    let keys: Vec<String> = (0..n)
                        .map(|_| customer_key(self.customer(&mut rng)))
                        .collect();
                    let rows = Some(i64::from(n));
                    events.push(statement(
                        &mut ids,
                        time,
                        &actor,
                        &CUSTOMER_SEARCH,
                        rows,
                        Some(keys.clone()),
                    ));
                    events.push(statement(
                        &mut ids,
                        time + rng.gen_range(500..3_000),
                        &actor,
                        &CONTACTS_BY_CUSTOMER,
                        rows,
                        Some(keys),
                    ));
                    time += rng.gen_range(20_000..90_000);
                }
                let when = if day_off {
                    "on a day off"
                } else {
                    "on a working day"
                };
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!(
                        "{records} customers read at {hour:02}:00 {when} from never-seen {client_ip} \
                         with {client_app}"
                    ),
                );
                draft.techniques = &["T1078", "T1213.006", "T1119"];
                self.finish(draft, events);
            }
            ScenarioSpec::TargetedVip {
                account,
                day,
                records,
            } => {
                let Some(agent) = self.agent(account) else {
                    return;
                };
                let (mut rng, mut ids) = streams(account);
                let mut vips = watchlist_keys(self.spec);
                // Partial shuffle: the first `records` are the targets.
                let targets = (*records as usize).min(vips.len());
                for i in 0..targets {
                    let j = rng.gen_range(i..vips.len());
                    vips.swap(i, j);
                }
                vips.truncate(targets);
                let actor = agent.actor();
                let shift = self.shift(agent, *day);
                let mut time = time_in_shift(&mut rng, (shift.0, shift.1 - 2 * HOUR));
                let mut events = Vec::new();
                for key in &vips {
                    self.lookup(&mut rng, &mut ids, &actor, time, key.clone(), &mut events);
                    time += rng.gen_range(3 * MINUTE..15 * MINUTE);
                }
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!("looks up {targets} watchlisted VIP customers"),
                );
                draft.techniques = &["T1213.006", "T1078"];
                draft.watchlist_keys = vips;
                self.finish(draft, events);
            }
            ScenarioSpec::Honeytoken { account, day, key } => {
                let Some(agent) = self.agent(account) else {
                    return;
                };
                let (mut rng, mut ids) = streams(account);
                let time = time_in_shift(&mut rng, self.shift(agent, *day));
                // A result page of 25 that includes the planted record.
                let first = rng.gen_range(1..=self.spec.customers.max(25) - 24);
                let mut keys: Vec<String> = (first..first + 24).map(customer_key).collect();
                keys.insert(rng.gen_range(0..=keys.len()), key.clone());
                let event = statement(
                    &mut ids,
                    time,
                    &agent.actor(),
                    &CUSTOMER_SEARCH,
                    Some(25),
                    Some(keys),
                );
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!("a 25-row customer search returns honeytoken {key}"),
                );
                draft.techniques = &["T1213.006"];
                draft.honeytoken_keys = vec![key.clone()];
                self.finish(draft, vec![event]);
            }
            ScenarioSpec::TeamSurge { day, factor } => {
                for agent in &self.agents.clone() {
                    if !self.agent_works(agent, *day) {
                        continue;
                    }
                    let (mut rng, mut ids) = streams(&agent.account);
                    let extra = round_count(agent.lookups_per_day * (factor - 1.0));
                    let mut events = Vec::new();
                    self.lookups(agent, *day, extra, &mut rng, &mut ids, &mut events);
                    let mut draft = Draft::new(
                        scenario,
                        &agent.account,
                        format!("outage day: the whole support team does {factor}x lookups"),
                    );
                    draft.window = Some(self.shift(agent, *day));
                    self.finish(draft, events);
                }
            }
            ScenarioSpec::QuarterEnd {
                start_day,
                days,
                min_factor,
                max_factor,
            } => {
                for analyst in &self.analysts.clone() {
                    let (mut rng, mut ids) = streams(&analyst.account);
                    let factor = if max_factor > min_factor {
                        rng.gen_range(*min_factor..*max_factor)
                    } else {
                        *min_factor
                    };
                    let mut events = Vec::new();
                    for day in *start_day..start_day.saturating_add(*days) {
                        if !self.office_works(&analyst.account, day) {
                            continue;
                        }
                        let hours = self.office_hours(&analyst.account, day);
                        let extra = (factor - 1.0).max(0.0) * analyst.daily_egress();
                        let exports = rng.gen_range(2..=6);
                        for _ in 0..exports {
                            let time = rng.gen_range(hours.0..hours.1);
                            let bytes = extra / f64::from(exports) * rng.gen_range(0.7..1.3);
                            events
                                .push(self.report_export(&mut rng, &mut ids, analyst, time, bytes));
                        }
                    }
                    let draft = Draft::new(
                        scenario,
                        &analyst.account,
                        format!(
                            "period-end reporting: {factor:.1}x normal export bytes to known destinations"
                        ),
                    );
                    self.finish(draft, events);
                }
            }
            ScenarioSpec::NewHire { account, day } => {
                let mut draft = Draft::new(
                    scenario,
                    account,
                    format!("starts on day {day} with normal volume and no history; first week"),
                );
                let start = self.spec.midnight(*day);
                draft.window = Some((start, start + 7 * DAY - 1));
                self.finish(draft, Vec::new());
            }
        }
    }
}

/// A time inside an 8-hour shift, avoiding its first and last 5 minutes and a 30-minute lunch break
/// half-way (`(start, end)` may also be shorter, then only the edges are avoided).
fn time_in_shift(rng: &mut ChaCha8Rng, (start, end): (i64, i64)) -> i64 {
    let open = start + 5 * MINUTE;
    let close = (end - 5 * MINUTE).max(open + 1);
    let lunch = start + 4 * HOUR;
    if close <= lunch + 30 * MINUTE {
        return rng.gen_range(open..close);
    }
    let before = lunch - open;
    let after = close - (lunch + 30 * MINUTE);
    let pick = rng.gen_range(0..before + after);
    if pick < before {
        open + pick
    } else {
        lunch + 30 * MINUTE + (pick - before)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    /// The default scenarios in a smaller organisation, generated once for the tests that read it.
    fn defaults() -> &'static (SimSpec, Simulation) {
        static SIM: std::sync::OnceLock<(SimSpec, Simulation)> = std::sync::OnceLock::new();
        SIM.get_or_init(|| {
            let spec = SimSpec {
                agents: 12,
                analysts: 5,
                ..SimSpec::default()
            };
            let sim = generate(&spec);
            (spec, sim)
        })
    }

    fn small() -> SimSpec {
        SimSpec {
            days: 21,
            agents: 12,
            analysts: 5,
            dbas: 2,
            ..SimSpec::default()
        }
    }

    #[test]
    fn same_spec_same_simulation_sorted_with_unique_ids() {
        let spec = small();
        let a = generate(&spec);
        assert_eq!(a, generate(&spec));
        assert!(a
            .events
            .windows(2)
            .all(|w| (w[0].event_time, &w[0].event_id) < (w[1].event_time, &w[1].event_id)));
        let ids: HashSet<&str> = a.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids.len(), a.events.len());
        assert!(a
            .events
            .iter()
            .all(|e| e.event_time >= spec.start_ms && e.event_time < spec.end_ms()));
        let other = generate(&SimSpec { seed: 1, ..spec });
        assert_ne!(a.events, other.events);
    }

    #[test]
    fn every_default_scenario_is_labelled_inside_the_simulation() {
        let (spec, sim) = defaults();
        for scenario in &spec.scenarios {
            let labels: Vec<&Label> = sim
                .labels
                .iter()
                .filter(|l| l.scenario == scenario.name())
                .collect();
            assert!(!labels.is_empty(), "{} has no label", scenario.name());
            for label in labels {
                assert_eq!(label.malicious, scenario.malicious());
                assert!(label.start_ms <= label.end_ms);
                if label.malicious {
                    assert!(
                        label.start_ms >= spec.midnight(7),
                        "{} starts during warm-up",
                        label.scenario
                    );
                }
            }
        }
        for service in ["nightly_etl", "weekly_backup"] {
            assert!(sim.labels.iter().any(|l| l.scenario == service));
        }
        // Team-wide benign labels leave out the attackers.
        let surge: Vec<&str> = sim
            .labels
            .iter()
            .filter(|l| l.scenario == "team_surge")
            .map(|l| l.account.as_str())
            .collect();
        assert!(
            surge.len() >= 6 && !surge.contains(&"agent007"),
            "{surge:?}"
        );
        // Accounts named by scenarios exist even past `agents`.
        assert!(sim.events.iter().any(|e| e.account == "agent041"));
        assert!(!sim
            .events
            .iter()
            .any(|e| e.account == "agent041" && e.event_time < spec.midnight(12)));
    }

    #[test]
    fn scenarios_look_like_their_description() {
        let (spec, sim) = defaults();
        let label = |name: &str| {
            sim.labels
                .iter()
                .find(|l| l.scenario == name)
                .unwrap_or_else(|| panic!("{name} labelled"))
        };
        let in_label = |l: &Label| {
            let (account, start, end) = (l.account.clone(), l.start_ms, l.end_ms);
            sim.events.iter().filter(move |e| {
                e.account == account && e.event_time >= start && e.event_time <= end
            })
        };
        let smash = label("smash_and_grab");
        assert!(in_label(smash).any(|e| e.rows == Some(40_000)));

        let misuse = label("credential_misuse");
        assert!(misuse.description.contains("day off"), "{misuse:?}");
        assert_eq!(weekday(misuse.start_ms), 5, "a Saturday");
        assert!(in_label(misuse).all(|e| e.client_app.as_deref() == Some("python-requests/2.31.0")));

        let vip = label("targeted_vip");
        let watchlist = watchlist_keys(spec);
        assert_eq!(vip.watchlist_keys.len(), 8);
        assert!(vip.watchlist_keys.iter().all(|k| watchlist.contains(k)));
        // Nobody else ever reads a VIP or a honeytoken.
        let sensitive: HashSet<&String> = watchlist.iter().chain(&spec.honeytoken_keys).collect();
        for event in &sim.events {
            if event
                .record_keys
                .iter()
                .flatten()
                .any(|k| sensitive.contains(k))
            {
                assert!(
                    ["agent014", "agent011"].contains(&event.account.as_str()),
                    "{}",
                    event.event_id
                );
            }
        }
        assert_eq!(
            label("honeytoken").honeytoken_keys,
            ["cust-honeytoken-0001"]
        );

        let new_dest = label("new_destination_export");
        let destinations: HashSet<&str> = sim
            .events
            .iter()
            .filter(|e| e.account == new_dest.account && e.event_time < new_dest.start_ms)
            .filter_map(|e| e.destination.as_deref())
            .collect();
        assert!(!destinations.is_empty() && !destinations.iter().any(|d| d.contains("mega")));
        assert!(in_label(new_dest).any(|e| e
            .destination
            .as_deref()
            .is_some_and(|d| d.starts_with("https://mega.nz/"))));

        // Low-and-slow: ~1,000-1,500 extra distinct customers per working day.
        let slow = label("low_and_slow");
        let mut per_day: BTreeMap<i64, HashSet<&String>> = BTreeMap::new();
        for e in sim
            .events
            .iter()
            .filter(|e| e.event_id.contains("low_and_slow"))
        {
            per_day
                .entry(e.event_time.div_euclid(DAY))
                .or_default()
                .extend(e.record_keys.iter().flatten());
        }
        assert!(per_day.len() >= 10, "{}", per_day.len());
        assert!(per_day.values().all(|k| (1_000..=1_500).contains(&k.len())));
        assert!(slow.end_ms - slow.start_ms > 14 * DAY);

        // Chunked egress: about 5x the analyst's usual export bytes per day, to a known destination.
        let bytes_per_day = |ids: &str| {
            let days: HashSet<i64> = sim
                .events
                .iter()
                .filter(|e| e.account == "analyst05" && e.event_id.contains(ids))
                .map(|e| e.event_time.div_euclid(DAY))
                .collect();
            let total: i64 = sim
                .events
                .iter()
                .filter(|e| e.account == "analyst05" && e.event_id.contains(ids))
                .filter(|e| e.destination.is_some())
                .filter_map(|e| e.bytes)
                .sum();
            total as f64 / days.len().max(1) as f64
        };
        let ratio = bytes_per_day("chunked_egress") / bytes_per_day("bg.");
        assert!((3.0..8.0).contains(&ratio), "chunked egress {ratio:.1}x");
    }

    #[test]
    fn adding_a_scenario_leaves_other_accounts_untouched() {
        let base = SimSpec {
            days: 14,
            agents: 10,
            analysts: 3,
            scenarios: Vec::new(),
            ..SimSpec::default()
        };
        let with = SimSpec {
            scenarios: vec![ScenarioSpec::SmashAndGrab {
                account: "agent002".into(),
                day: 10,
                hour: 9,
                rows: 5_000,
            }],
            ..base.clone()
        };
        let (a, b) = (generate(&base), generate(&with));
        let others = |s: &Simulation| -> Vec<DbActivityEvent> {
            s.events
                .iter()
                .filter(|e| e.account != "agent002")
                .cloned()
                .collect()
        };
        assert_eq!(others(&a), others(&b));
        assert_eq!(b.events.len(), a.events.len() + 1);
        assert_eq!(b.labels.len(), a.labels.len() + 1);
    }

    #[test]
    fn labels_and_specs_round_trip_through_json() {
        let spec = small();
        let json = serde_json::to_string(&spec).expect("spec serialises");
        let back: SimSpec = serde_json::from_str(&json).expect("spec parses");
        assert_eq!(back, spec);
        let partial: SimSpec =
            serde_json::from_str(r#"{"days": 3, "scenarios": []}"#).expect("defaults fill in");
        assert_eq!((partial.days, partial.agents), (3, 40));

        let sim = generate(&SimSpec {
            days: 16,
            ..small()
        });
        let mut out = Vec::new();
        sim.write_labels_json(&mut out).expect("writes");
        let labels: Vec<Label> = serde_json::from_slice(&out).expect("parses");
        assert_eq!(labels, sim.labels);
    }

    #[test]
    fn weekday_and_shift_helpers() {
        assert_eq!(weekday(DEFAULT_START_MS), 3, "2026-10-01 is a Thursday");
        assert_eq!(weekday(DEFAULT_START_MS + 3 * DAY), 6);
        assert_eq!(number_suffix("agent041"), Some(41));
        assert_eq!(number_suffix("svc-etl"), None);
        let mut rng = rng_for(1, "t");
        for _ in 0..1_000 {
            let t = time_in_shift(&mut rng, (0, 8 * HOUR));
            assert!((5 * MINUTE..8 * HOUR - 5 * MINUTE).contains(&t));
            assert!(!(4 * HOUR..4 * HOUR + 30 * MINUTE).contains(&t));
        }
        let agent = Agent::new(1, "agent009", 0);
        assert_eq!(agent.shift, Shift::Day);
        assert!(!agent.workdays[5] && !agent.workdays[6]);
        assert!(Agent::new(1, "agent005", 0).workdays[6]);
    }
}
