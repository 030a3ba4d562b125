//! The labelled scenarios injected on top of the background: each attack or benign surprise from its
//! own random stream, with its label.

use super::*;

impl Generator<'_> {
    // ---- scenarios -------------------------------------------------------------------------------

    pub(super) fn inject(&mut self, index: usize, scenario: &ScenarioSpec) {
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
