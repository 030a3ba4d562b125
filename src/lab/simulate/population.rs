//! Who works in the simulated organisation and what their statements look like: query templates,
//! support agents on shifts, analysts, the event builder.

use super::*;

// ---------------------------------------------------------------------------------------------------
// Query templates: what each kind of statement reads, its digest, and bytes per row.

#[derive(Debug, Clone, Copy)]
pub(super) struct Template {
    pub(super) name: &'static str,
    pub(super) kind: ActivityKind,
    pub(super) operation: &'static str,
    pub(super) tables: &'static [&'static str],
    pub(super) row_bytes: i64,
}

pub(super) const fn query(
    name: &'static str,
    tables: &'static [&'static str],
    row_bytes: i64,
) -> Template {
    Template {
        name,
        kind: ActivityKind::Query,
        operation: "SELECT",
        tables,
        row_bytes,
    }
}

pub(super) const CUSTOMER_BY_ID: Template = query("customer_by_id", &["support.customers"], 620);
pub(super) const CUSTOMER_SEARCH: Template = query("customer_search", &["support.customers"], 620);
pub(super) const CUSTOMERS_BY_REGION: Template =
    query("customers_by_region", &["support.customers"], 620);
pub(super) const TICKETS_BY_CUSTOMER: Template =
    query("tickets_by_customer", &["support.tickets"], 1_400);
pub(super) const CONTACTS_BY_CUSTOMER: Template =
    query("contacts_by_customer", &["support.customer_contacts"], 180);
pub(super) const TICKET_COMMENTS: Template =
    query("ticket_comments", &["support.ticket_comments"], 900);
pub(super) const ANALYST_EXTRACT: Template = query(
    "analyst_extract",
    &["support.customers", "support.tickets"],
    900,
);
pub(super) const ANALYST_EXPORT: Template = Template {
    name: "analyst_export",
    kind: ActivityKind::Export,
    operation: "EXPORT_CSV",
    tables: &["support.customers", "support.tickets"],
    row_bytes: 900,
};
pub(super) const ANALYST_COPY_OUT: Template = Template {
    name: "analyst_copy_out",
    kind: ActivityKind::Export,
    operation: "COPY_TO",
    tables: &["support.customers", "support.customer_contacts"],
    row_bytes: 800,
};
pub(super) const ANALYTICS_TABLES: &[&str] = &[
    "analytics.orders_daily",
    "analytics.revenue_by_region",
    "analytics.ticket_volume_weekly",
    "analytics.churn_cohorts",
    "analytics.nps_scores",
    "analytics.agent_productivity",
];
pub(super) const ANALYTICS_QUERY: Template =
    query("analytics_query", &["analytics.orders_daily"], 150);
pub(super) const DBA_STATS: Template = query("dba_stats", &["pg_catalog.pg_stat_user_tables"], 300);
pub(super) const DBA_LOCKS: Template = query("dba_locks", &["pg_catalog.pg_locks"], 200);
pub(super) const DBA_COUNT: Template = query("dba_count", &["support.customers"], 8);
pub(super) const DBA_FIX_READ: Template = query("dba_fix_read", &["support.customers"], 620);
pub(super) const DBA_ANALYZE: Template = Template {
    name: "dba_analyze",
    kind: ActivityKind::Query,
    operation: "ANALYZE",
    tables: &["support.customers"],
    row_bytes: 0,
};
pub(super) const ETL_COPY_CUSTOMERS: Template = Template {
    name: "etl_copy_customers",
    kind: ActivityKind::Query,
    operation: "COPY",
    tables: &["support.customers"],
    row_bytes: 600,
};
pub(super) const ETL_COPY_TICKETS: Template = Template {
    name: "etl_copy_tickets",
    kind: ActivityKind::Query,
    operation: "COPY",
    tables: &["support.tickets"],
    row_bytes: 1_400,
};
pub(super) const ETL_UNLOAD: Template = Template {
    name: "etl_unload",
    kind: ActivityKind::Export,
    operation: "UNLOAD",
    tables: &["support.customers", "support.tickets"],
    row_bytes: 300,
};
pub(super) const BACKUP_DUMP: Template = Template {
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
pub(super) struct Actor<'a> {
    pub(super) account: &'a str,
    pub(super) db_user: &'a str,
    pub(super) ip: &'a str,
    pub(super) app: &'a str,
    pub(super) peer_group: &'a str,
}

/// Event ids of one stream: `<prefix>.<n>`.
pub(super) struct Ids {
    pub(super) prefix: String,
    pub(super) next: u32,
}

impl Ids {
    pub(super) fn new(prefix: String) -> Self {
        Ids { prefix, next: 0 }
    }
    pub(super) fn next(&mut self) -> String {
        self.next += 1;
        format!("{}.{:05}", self.prefix, self.next)
    }
}

/// One statement. `rows` also sets bytes (rows × the template's row size); record keys are optional.
pub(super) fn statement(
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

pub(super) fn customer_key(id: u64) -> String {
    format!("cust-{id}")
}

// ---------------------------------------------------------------------------------------------------
// The organisation.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shift {
    Day,
    Evening,
    Night,
}

impl Shift {
    pub(super) fn start_hour(self) -> i64 {
        match self {
            Shift::Day => 7,
            Shift::Evening => 15,
            Shift::Night => 23,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Agent {
    pub(super) account: String,
    pub(super) shift: Shift,
    /// Monday = 0.
    pub(super) workdays: [bool; 7],
    pub(super) lookups_per_day: f64,
    pub(super) ip: String,
    pub(super) first_day: u32,
}

impl Agent {
    /// Schedules follow the account number, so scenarios can pick a plausible victim: numbers 1-5 of
    /// every 8 work days, 6-7 evenings, 8 nights; every 5th works Wednesday to Sunday, the rest Mon-Fri.
    pub(super) fn new(seed: u64, account: &str, first_day: u32) -> Agent {
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

    pub(super) fn actor(&self) -> Actor<'_> {
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
pub(super) struct Analyst {
    pub(super) account: String,
    pub(super) ip: String,
    pub(super) app: &'static str,
    /// Median bytes of one ordinary export.
    pub(super) export_bytes: f64,
    pub(super) queries_per_day: f64,
    /// Primary (own prefix) and shared report destinations: the only ones ever used.
    pub(super) destinations: [String; 2],
}

impl Analyst {
    pub(super) fn new(seed: u64, account: &str) -> Analyst {
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

    pub(super) fn actor(&self) -> Actor<'_> {
        Actor {
            account: &self.account,
            db_user: "analytics_ro",
            ip: &self.ip,
            app: self.app,
            peer_group: ANALYTICS_GROUP,
        }
    }

    /// Expected ordinary export bytes per working day (two exports on average).
    pub(super) fn daily_egress(&self) -> f64 {
        2.0 * self.export_bytes
    }
}

/// A label before its time range is known.
pub(super) struct Draft {
    pub(super) scenario: &'static str,
    pub(super) account: String,
    pub(super) malicious: bool,
    pub(super) description: String,
    pub(super) techniques: &'static [&'static str],
    /// Explicit period (benign periods); otherwise first to last event.
    pub(super) window: Option<(i64, i64)>,
    pub(super) watchlist_keys: Vec<String>,
    pub(super) honeytoken_keys: Vec<String>,
}

impl Draft {
    pub(super) fn new(scenario: &ScenarioSpec, account: &str, description: String) -> Draft {
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
