//! From evidence to alerts: the immediate breaches (honeytoken, watched records, a table dump, an
//! export nobody uses), the risk's report of today, and publishing through the account's episode.

use super::*;
use crate::detect::rules::Sent;
use crate::engine::accounts::ReadWindow;

impl Engine {
    /// What today looks like for the risk's alert.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn risk_report<'a>(
        &self,
        d: &Detection,
        state: &AccountState,
        event: &'a Activity,
        prepared: &Prepared<'a>,
        assessment: &'a Assessment,
        risk: f64,
        (day, day_words): (Day, &'static str),
    ) -> RiskReport<'a> {
        let live = day.day == prepared.day;
        let run = state
            .history
            .closed
            .iter()
            .rev()
            .take_while(|day| day.has(RAISED))
            .count();
        // Today is not among the closed days yet; a closed day judged whole is, with its mark.
        let today_runs = u32::from(live && assessment.score > ALLOWANCE);
        let short_run = if live {
            state.risk.short_run_now(assessment)
        } else {
            state.risk.short_run_carried()
        };
        RiskReport {
            account: &event.account,
            unit: event.volume_unit(),
            assessment,
            risk,
            threshold: prepared.threshold.value,
            run_days: u32::try_from(run).unwrap_or(u32::MAX) + today_runs,
            short_run: short_run >= prepared.threshold.value,
            rank: (live && day.reads > 0)
                .then(|| prepared.view.rank(state.key, f64::from(day.reads))),
            group: prepared.group,
            peers_today: live
                .then(|| prepared.view.median_today(state.key))
                .flatten(),
            window_start_ms: i64::from(day.day) * DAY_MS + prepared.day_offset_ms,
            now_ms: state.newest_event_ms,
            events_today: u64::from(day.queries),
            mode: d.risk_mode,
            day_words,
        }
    }

    /// A late event (behind its account's newest by more than the allowed lateness), or one held for
    /// being far ahead ([`HELD_AHEAD_MS`]), is judged on what it shows alone: a honeytoken is a breach
    /// whenever it is read, a watched record read late is still read, one statement beyond a
    /// `bulk_read` ceiling is a dump in any window, and one export over the floors to a destination
    /// nobody in the organisation used is `new_destination`. The rest of its evidence needs the windows
    /// and the day it belonged to, which have moved on.
    pub(super) fn judge_alone(
        &self,
        d: &Detection,
        state: &mut AccountState,
        event: &Activity,
        prepared: &Prepared,
        emitted_at_ms: i64,
        outcome: &mut Outcome,
    ) {
        if prepared.sensitive_records == 0
            && prepared.sensitive_exported_records == 0
            && prepared.honeytoken_hits == 0
            && prepared.watched_hits == 0
        {
            return;
        }
        self.record_alone(d, state, event, prepared);
        let mut findings = SmallVec::new();
        self.planted(d, state, event, prepared, &mut findings);
        if prepared.sensitive_records > 0 {
            findings.extend(bulk_read(d, state, event, event.event_time_ms, |w| {
                WindowTotal {
                    length_ms: w.length_ms(),
                    rows: prepared.sensitive_records,
                    events: 1,
                    start_ms: Some(event.event_time_ms),
                }
            }));
        }
        // An export of sensitive data to a destination nobody in the organisation had used: its own
        // records and bytes against the floors (a late export adds to no transfer).
        if let (Some(rule), Some((_, news)), Some(destination)) = (
            &d.new_destination,
            prepared.destination,
            event.destination.as_deref(),
        ) {
            if prepared.sensitive_exported_records > 0 {
                findings.extend(rule.check(
                    &event.account,
                    &destination_identity(destination),
                    DestinationNovelty {
                        private: news.new_to_organisation,
                        ..news
                    },
                    Sent::once(
                        prepared.sensitive_exported_records,
                        prepared.exported_bytes,
                        event.event_time_ms,
                    ),
                    event.event_time_ms,
                ));
            }
        }
        if !findings.is_empty() {
            self.publish(
                d,
                state,
                event,
                prepared,
                findings,
                None,
                emitted_at_ms,
                outcome,
            );
        }
    }

    /// The records planted or watched: a honeytoken read, watched records read without a reason.
    pub(super) fn planted(
        &self,
        d: &Detection,
        state: &AccountState,
        event: &Activity,
        prepared: &Prepared,
        findings: &mut SmallVec<[Finding; 2]>,
    ) {
        let Some(rule) = &d.watchlist else {
            return;
        };
        findings.extend(rule.honeytoken(
            &event.account,
            prepared.honeytoken_hits,
            event.event_time_ms,
        ));
        if prepared.watched_hits > 0 {
            findings.extend(rule.watched(
                &event.account,
                prepared.group,
                state.watched_reads.iter().copied(),
                state.newest_event_ms,
            ));
        }
    }

    /// The immediate breaches: honeytoken, watched records, a table dump, an export to a destination
    /// nobody in the organisation uses.
    pub(super) fn immediate(
        &self,
        d: &Detection,
        state: &AccountState,
        event: &Activity,
        prepared: &Prepared,
        findings: &mut SmallVec<[Finding; 2]>,
    ) {
        let time = event.event_time_ms;
        let account = &event.account;
        self.planted(d, state, event, prepared, findings);
        if prepared.sensitive_records > 0 {
            findings.extend(bulk_read(d, state, event, state.newest_event_ms, |w| {
                WindowTotal {
                    length_ms: w.length_ms(),
                    rows: w.records(),
                    events: w.events(),
                    start_ms: w.window_start_ms(),
                }
            }));
        }
        if let (Some(rule), Some((hash, news)), Some(destination)) = (
            &d.new_destination,
            prepared.destination,
            event.destination.as_deref(),
        ) {
            // What the account has sent there since its first export to it, while the destination
            // is private (recorded with this export: see `PrivateExports`).
            if let Some(sent) = state
                .private_exports
                .sent(
                    hash,
                    (prepared.sensitive_exported_records, prepared.exported_bytes),
                )
                .filter(|_| prepared.sensitive_exported_records > 0)
            {
                let news = DestinationNovelty {
                    private: true,
                    ..news
                };
                findings.extend(rule.check(
                    account,
                    &destination_identity(destination),
                    news,
                    sent,
                    time,
                ));
            }
        }
    }

    /// Turns findings into at most one alert for the account's episode.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn publish(
        &self,
        d: &Detection,
        state: &mut AccountState,
        event: &Activity,
        prepared: &Prepared,
        findings: SmallVec<[Finding; 2]>,
        risk: Option<RiskDetail>,
        emitted_at_ms: i64,
        outcome: &mut Outcome,
    ) {
        let time = event.event_time_ms;
        if findings.is_empty() {
            // The risk carried from earlier days keeps the episode open: the morning of an insider whose
            // evidence has not come down is still the same incident, before today's reads add to it.
            if state.risk.carried() <= prepared.threshold.value {
                d.episodes.on_quiet(&mut state.episode, time);
            }
            return;
        }
        let mut live: SmallVec<[Finding; 2]> = SmallVec::new();
        for finding in findings {
            // Honeytokens and watched records need no learning: they are planted, not learned.
            let needs_learning = finding.rule != crate::detect::rules::watchlist::NAME;
            let fate = if d.suppressed_accounts.contains(&event.account) {
                Some(FindingFate::Suppressed)
            } else if finding.mode == RuleMode::Observe {
                Some(FindingFate::Observed)
            } else if prepared.learning && needs_learning {
                Some(FindingFate::Learning)
            } else {
                None
            };
            match fate {
                Some(fate) => outcome.findings.push((finding.rule, fate)),
                None => live.push(finding),
            }
        }
        if live.is_empty() {
            return;
        }
        // A day with a breach (published or part of an open episode) never trains the account's level
        // nor calibrates the threshold: it is evidence, not a sample of normal.
        if let Some(today) = state.history.today_mut() {
            today.flags |= ALERTED;
        }
        let rules = live
            .iter()
            .fold(0u8, |bits, f| bits | 1 << rule_index(f.rule));
        let ratio = live.iter().map(|f| f.ratio).fold(0.0, f64::max);
        let decision =
            d.episodes
                .on_breach(&mut state.episode, rules, ratio, time, &event.event_id);
        let Decision::Alert {
            opened_at_ms,
            opening_event_id,
            level,
            rules,
        } = decision
        else {
            for finding in &live {
                outcome
                    .findings
                    .push((finding.rule, FindingFate::Duplicate));
            }
            return;
        };
        let window_start = live.iter().map(|f| f.window_start_ms).min().unwrap_or(time);
        let window_tables = Evidence::names_since(&state.evidence.tables, window_start);
        let classes = d
            .classifier
            .sensitive(d.classifier.classify_tables(&window_tables));
        let ctx = AlertContext {
            account: &event.account,
            trigger_time_ms: time,
            evidence: &state.evidence,
            data_classes: d.classifier.names(classes),
            class_weight: d.classifier.max_weight(classes),
            emitted_at_ms,
            episode_rules: rules,
            risk,
        };
        let key = EpisodeKey {
            opened_at_ms,
            opening_event_id: &opening_event_id,
            level,
        };
        if let Some(alert) = alert::build(&live, &key, &ctx) {
            outcome.alerts.push(alert);
        }
        for finding in &live {
            outcome
                .findings
                .push((finding.rule, FindingFate::Published));
        }
    }
}

/// `bulk_read` over the account's read windows, each totalled by `total` (its live totals, or one late
/// event alone), with the ceilings its learned largest day raises.
fn bulk_read(
    d: &Detection,
    state: &AccountState,
    event: &Activity,
    now_ms: i64,
    total: impl Fn(&ReadWindow<'_>) -> WindowTotal,
) -> Option<Finding> {
    let rule = d.bulk_read.as_ref()?;
    let windows: SmallVec<[WindowTotal; 4]> =
        state.read_windows.iter().map(|w| total(&w)).collect();
    let learned = state
        .baseline
        .reads
        .is_some()
        .then_some(state.baseline.largest_rows);
    rule.check(&event.account, &windows, learned, now_ms)
}
