//! What one event adds to its account: today's surprises (judged before it is recorded), the day's
//! totals, windows and habits; and the close of a day.

use super::*;
use crate::detect::novelty::Hours;

impl Engine {
    /// Today's surprises, judged before the event is recorded (so the first use of a value is new).
    pub(super) fn notice_novelty(
        &self,
        d: &Detection,
        state: &mut AccountState,
        event: &Activity,
        prepared: &Prepared,
    ) {
        let since = prepared.day - d.retention_days;
        let mut surprise = |slot: usize, value: f64| {
            if let Some(kept) = state.novelty_today.get_mut(slot) {
                *kept = kept.max(value as f32);
            }
        };
        if prepared
            .ip
            .is_some_and(|h| !state.client_ips.known(h, since))
        {
            surprise(0, state.client_ips.surprise());
        }
        if let Some(app) = prepared.app.filter(|&h| !state.client_apps.known(h, since)) {
            // A tool the group uses is the group's (the billing team's export client on a billing run).
            let group = self.groups.usage().news(
                prepared.group,
                state.partition,
                Habit::ClientApplication,
                app,
                since,
            );
            if let Some(group) = group {
                surprise(1, state.client_apps.surprise().max(group));
            }
        }
        if !state.hours.usual(event.event_time_ms) {
            // An hour the group works is the group's (a weekend rota, an on-call night): only an hour
            // none of its members worked within the retention is the account's odd hour.
            let slot = Hours::hour_of_week(event.event_time_ms);
            if !self
                .groups
                .usage()
                .works_hour(prepared.group, state.partition, slot, since)
            {
                surprise(2, state.hours.surprise());
            }
        }
        if let Some((hash, news)) = prepared.destination {
            let new_to_account = !state.destinations.known(hash, since);
            if new_to_account && news.new_to_group && !news.allowed {
                surprise(3, state.destinations.surprise());
            }
        }
        if prepared.sensitive_records > 0 {
            for (index, table) in event.tables.iter().enumerate() {
                let hash = self.fast_hash.hash_one(table);
                if self.table_is_sensitive(d, prepared, index, table)
                    && !state.tables.known(hash, since)
                {
                    // Breadth: a table new to the account; more surprising when none of its peers read it.
                    let own = state.tables.surprise();
                    let group = self
                        .groups
                        .usage()
                        .news(
                            prepared.group,
                            state.partition,
                            Habit::SensitiveTable,
                            hash,
                            since,
                        )
                        .unwrap_or(0.0);
                    surprise(4, own.max(group));
                }
            }
        }
    }

    pub(super) fn table_is_sensitive(
        &self,
        d: &Detection,
        prepared: &Prepared,
        index: usize,
        table: &str,
    ) -> bool {
        if index < 64 {
            prepared.sensitive_tables & (1 << index) != 0
        } else {
            !d.classifier
                .sensitive(d.classifier.classify_table(table))
                .is_empty()
        }
    }

    /// Records the event in the account's windows, today's totals, profiles and evidence.
    pub(super) fn record(
        &self,
        d: &Detection,
        state: &mut AccountState,
        event: &Activity,
        prepared: &Prepared,
    ) {
        let time = event.event_time_ms;
        let day = prepared.day;
        if state.hours.record(time) {
            self.groups.usage().touch_hour(
                prepared.group,
                state.partition,
                Hours::hour_of_week(time),
                day,
            );
        }
        if let Some(hash) = prepared.ip {
            state.client_ips.touch(hash, day, CLIENT_CAPACITY);
        }
        if let Some(hash) = prepared.app {
            if state.client_apps.touch(hash, day, CLIENT_CAPACITY) {
                self.groups.usage().touch_habit(
                    prepared.group,
                    state.partition,
                    Habit::ClientApplication,
                    hash,
                    day,
                );
            }
        }
        if let Some((hash, news)) = prepared.destination {
            state.destinations.touch(hash, day, DESTINATION_CAPACITY);
            if prepared.sensitive_exported_records > 0 {
                state.private_exports.record(
                    hash,
                    news,
                    time,
                    (prepared.sensitive_exported_records, prepared.exported_bytes),
                    i64::from(d.retention_days) * DAY_MS,
                );
            }
        }
        let exported = if prepared.exported_bytes > 0 {
            prepared.exported_bytes
        } else {
            prepared.exported_records
        };
        if exported > 0 {
            if let Some(today) = state.history.today_mut() {
                today.exported += exported as f32;
                today.add_exported_records(prepared.sensitive_exported_records);
            }
        }
        remember_watched(d, state, event, prepared);
        let records = prepared.sensitive_records;
        if records > 0 {
            match &event.record_key_hashes {
                // Today's distinct customers and the day's shape count on the partition's day.
                Some(keys) if !keys.is_empty() => {
                    for key in keys {
                        state.distinct.insert(time - prepared.day_offset_ms, *key);
                    }
                }
                _ => state
                    .distinct
                    .add_keyless(time - prepared.day_offset_ms, records),
            }
            state.read_windows.add(time, records);
            state.shape.record(time - prepared.day_offset_ms, records);
            let reads = u32::try_from(state.reads_today()).unwrap_or(u32::MAX);
            if let Some(today) = state.history.today_mut() {
                today.reads = reads;
                today.rows = today
                    .rows
                    .saturating_add(u32::try_from(records).unwrap_or(u32::MAX));
                today.queries = today.queries.saturating_add(1);
            }
            state.evidence.record_event(time, &event.event_id);
            for (index, table) in event.tables.iter().enumerate() {
                if self.table_is_sensitive(d, prepared, index, table) {
                    let hash = self.fast_hash.hash_one(table);
                    if state.tables.touch(hash, day, CLIENT_CAPACITY) {
                        self.groups.usage().touch_habit(
                            prepared.group,
                            state.partition,
                            Habit::SensitiveTable,
                            hash,
                            day,
                        );
                    }
                    Evidence::bump(&mut state.evidence.tables, hash, table, records, time);
                }
            }
        }
        // Evidence of where data came from and went, for alerts: sensitive reads and every export.
        if records > 0 || event.kind == ActivityKind::Export {
            if records == 0 {
                state.evidence.record_event(time, &event.event_id);
            }
            if let (Some(ip), Some(hash)) = (&event.client_ip, prepared.ip) {
                Evidence::bump(&mut state.evidence.client_ips, hash, ip, records, time);
            }
            if let Some(destination) = &event.destination {
                let hash = self.fast_hash.hash_one(destination);
                Evidence::bump(
                    &mut state.evidence.destinations,
                    hash,
                    destination,
                    records,
                    time,
                );
            }
        }
    }
}

/// Remembers the watched records the event read, with its time (the watchlist counts them in any order).
fn remember_watched(
    d: &Detection,
    state: &mut AccountState,
    event: &Activity,
    prepared: &Prepared,
) {
    if prepared.watched_hits == 0 {
        return;
    }
    if let Some(keys) = &event.record_key_hashes {
        for key in keys.iter().filter(|k| d.watched.contains(k)) {
            if state.watched_reads.len() == WATCHED_CAPACITY {
                state.watched_reads.pop_front();
            }
            state.watched_reads.push_back((*key, event.event_time_ms));
        }
    }
}

impl Engine {
    /// What an event judged alone (late, or held for being far ahead) still adds to its account: the
    /// watched records it read, and its tables and address as evidence, so that an alert on it shows
    /// where the read came from. It touches no window, day or level.
    pub(super) fn record_alone(
        &self,
        d: &Detection,
        state: &mut AccountState,
        event: &Activity,
        prepared: &Prepared,
    ) {
        remember_watched(d, state, event, prepared);
        let time = event.event_time_ms;
        let records = prepared.sensitive_records;
        state.evidence.record_event(time, &event.event_id);
        for (index, table) in event.tables.iter().enumerate() {
            if self.table_is_sensitive(d, prepared, index, table) {
                let hash = self.fast_hash.hash_one(table);
                Evidence::bump(&mut state.evidence.tables, hash, table, records, time);
            }
        }
        if let (Some(ip), Some(hash)) = (&event.client_ip, prepared.ip) {
            Evidence::bump(&mut state.evidence.client_ips, hash, ip, records, time);
        }
    }
}

/// Closes the account's previous day: stores the group's common mode that day, scores the whole day
/// against the level the account had (the group's whole-day rise taken out), accumulates its risk,
/// marks a day that raised it, folds the day into the account's day shape, and measures its level again.
pub(super) fn close_day(
    account: &str,
    state: &mut AccountState,
    closed: Day,
    view: &GroupView,
    today: i32,
    (threshold, learning): (f64, bool),
) -> Option<Assessment> {
    let shift = view.shift_on(closed.day);
    let assessment = assess(
        Today {
            reads: f64::from(closed.reads),
            queries: f64::from(closed.queries),
            exported: f64::from(closed.exported),
            exported_records: closed.exported_records(),
        },
        &state.baseline,
        &PeerContext::on_day(
            view,
            closed.day,
            Day::exported_within(state.history.all(), closed.day),
        ),
        &state.novelty_today,
    );
    let raised = state.risk.close_day(&assessment);
    tracing::trace!(
        target: "exfilwatch::risk",
        account,
        day = closed.day,
        reads = closed.reads,
        queries = closed.queries,
        exported = closed.exported,
        median = state.baseline.reads.map(|l| l.median),
        spread = state.baseline.reads.map(|l| l.spread),
        samples = state.baseline.reads.map(|l| l.samples),
        shift = shift,
        typical = view.typical_spread,
        score = assessment.score,
        parts = ?assessment.parts.iter().map(|p| (p.feature.as_str(), (p.score * 100.0).round() / 100.0)).collect::<Vec<_>>(),
        accumulated = state.risk.accumulated,
        burst = state.risk.burst,
        peak = closed.risk(),
        threshold,
        "day closed"
    );
    // A whole day that alone passes the threshold breaches, as it would have during the day. So does
    // the whole day of an account judged by its peers alone (nothing accumulates for it) when its
    // exports were judged by reads, which only a whole day is: everything else of it was judged as it
    // came.
    let judged_whole = assessment.own
        || assessment
            .parts
            .iter()
            .any(|p| p.feature == crate::detect::risk::Feature::ExportsVsReads);
    let breach = judged_whole
        && closed_day_risk(state, &assessment) > threshold
        && !closed.has(ALERTED)
        && !assessment.contributing().is_empty();
    if let Some(day) = state.history.closed.back_mut() {
        if let Some(shift) = shift {
            day.set_group_shift(shift);
        }
        if raised {
            day.flags |= RAISED;
        }
        // As during the day: only a breach that will be published keeps the day out of the level (one
        // held back by the learning period is no alert, and its day is needed to learn).
        if breach && !learning {
            day.flags |= ALERTED;
        }
    }
    crate::detect::baseline::mark_run(&mut state.history.closed, f64::from(state.risk.accumulated));
    state.shape.close_day();
    state.novelty_today = [0.0; 5];
    state.baseline = Baseline::of(&state.history, today);
    breach.then_some(assessment)
}

/// The risk of a whole closed day: the accumulated evidence (slow or short run) or the day alone for an
/// account with a level of its own, the day's own score for one judged by its peers.
pub(super) fn closed_day_risk(state: &AccountState, assessment: &Assessment) -> f64 {
    if assessment.own {
        state.risk.carried().max(assessment.alone)
    } else {
        assessment.score - crate::detect::risk::ALLOWANCE
    }
}
