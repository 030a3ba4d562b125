//! The organisation's ordinary work, day by day: agents' lookups, analysts' queries and report
//! exports, DBAs' maintenance, the nightly ETL and the weekly backup.

use super::*;

impl Generator<'_> {
    // ---- background ------------------------------------------------------------------------------

    pub(super) fn background(&mut self) {
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
    pub(super) fn lookups(
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
    pub(super) fn lookup(
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

    pub(super) fn analyst_day(&self, analyst: &Analyst, day: u32, out: &mut Vec<DbActivityEvent>) {
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

    pub(super) fn report_export(
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

    pub(super) fn dba_day(&self, account: &str, day: u32, out: &mut Vec<DbActivityEvent>) {
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
    pub(super) fn etl_night(&self, day: u32, out: &mut Vec<DbActivityEvent>) {
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
    pub(super) fn backup(&self, day: u32, out: &mut Vec<DbActivityEvent>) {
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

    pub(super) fn service_labels(&mut self) {
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
}
