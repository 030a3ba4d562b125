//! The detection engine: classify → record in the account's windows → evaluate rules → episodes →
//! alerts. Pure (no broker, runtime or clock: event time comes from the event, `emitted_at` from the
//! caller), so `replay`, `demo` and the live service run exactly the same code and give the same alerts.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::accounts::{AccountState, AccountStore, Evidence, PartitionRef};
use crate::alert::{self, AlertContext, EpisodeKey, ExfilAlert};
use crate::classify::Classifier;
use crate::config::{Config, RuleMode};
use crate::episode::{Decision, EpisodePolicy};
use crate::event::Activity;
use crate::rules::{EvalContext, RuleSet, Verdict};

/// What became of a rule's breach (a bounded metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingFate {
    /// Turned into an alert.
    Published,
    /// Part of an episode already alerted on.
    Duplicate,
    /// The rule is in observe mode: counted, not published.
    Observed,
    /// The account is on the suppression list.
    Suppressed,
}

impl FindingFate {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingFate::Published => "published",
            FindingFate::Duplicate => "duplicate",
            FindingFate::Observed => "observed",
            FindingFate::Suppressed => "suppressed",
        }
    }
    pub const ALL: [FindingFate; 4] = [
        FindingFate::Published,
        FindingFate::Duplicate,
        FindingFate::Observed,
        FindingFate::Suppressed,
    ];
}

/// What processing one event produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub alerts: Vec<ExfilAlert>,
    /// The event was older than the account's watermark allows: counted, not windowed.
    pub late: bool,
    /// Accounts evicted to respect the cap while making room for this one.
    pub evicted: usize,
    pub findings: Vec<(&'static str, FindingFate)>,
}

/// How often (in events) idle accounts are swept.
const IDLE_SWEEP_EVERY: u64 = 65_536;

/// Shared by the pipeline thread and the rebalance callbacks.
#[derive(Debug)]
pub struct Engine {
    classifier: Classifier,
    rules: RuleSet,
    store: AccountStore,
    /// (bucket width ms, bucket count) of each bulk-read window, in config order.
    window_shapes: Vec<(i64, usize)>,
    allowed_lateness_ms: i64,
    episodes: EpisodePolicy,
    suppressed_accounts: HashSet<String>,
    idle_timeout_ms: i64,
    newest_event_ms: AtomicI64,
    processed: AtomicU64,
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Engine {
    pub fn new(config: &Config) -> Self {
        let window_shapes = config
            .rules
            .bulk_read
            .windows
            .iter()
            .map(|w| {
                let buckets = w.buckets.max(1) as usize;
                (millis(w.length) / buckets as i64, buckets)
            })
            .collect();
        Engine {
            classifier: Classifier::new(&config.data_classes),
            rules: RuleSet::from_config(&config.rules),
            store: AccountStore::new(config.state.max_accounts),
            window_shapes,
            allowed_lateness_ms: millis(config.input.allowed_lateness),
            episodes: EpisodePolicy {
                escalation_factor: config.alerts.escalation_factor,
                cooldown_ms: millis(config.alerts.cooldown),
            },
            suppressed_accounts: config.alerts.suppress_accounts.iter().cloned().collect(),
            idle_timeout_ms: millis(config.state.idle_timeout),
            newest_event_ms: AtomicI64::new(i64::MIN),
            processed: AtomicU64::new(0),
        }
    }

    pub fn accounts(&self) -> &AccountStore {
        &self.store
    }

    /// Processes one decoded event. `partition` records ownership (None offline); `emitted_at_ms` is the
    /// wall clock stamped on any alert, the only non-deterministic output.
    pub fn process(
        &self,
        event: &Activity,
        partition: Option<PartitionRef>,
        emitted_at_ms: i64,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let classes = self.classifier.classify_tables(&event.tables);
        let sensitive = self.classifier.sensitive(classes);
        // A failed statement handed nothing out.
        let sensitive_records = if sensitive.is_empty() || !event.success {
            0
        } else {
            event.record_count()
        };
        let shapes = &self.window_shapes;
        let ((), evicted) = self.store.with_account(
            &event.account,
            || AccountState::new(shapes, partition),
            |state| {
                self.update_account(
                    state,
                    event,
                    partition,
                    sensitive_records,
                    emitted_at_ms,
                    &mut outcome,
                )
            },
        );
        outcome.evicted = evicted;
        self.newest_event_ms
            .fetch_max(event.event_time_ms, Ordering::Relaxed);
        if self.processed.fetch_add(1, Ordering::Relaxed) % IDLE_SWEEP_EVERY == IDLE_SWEEP_EVERY - 1
        {
            outcome.evicted += self.sweep_idle();
        }
        outcome
    }

    fn update_account(
        &self,
        state: &mut AccountState,
        event: &Activity,
        partition: Option<PartitionRef>,
        sensitive_records: u64,
        emitted_at_ms: i64,
        outcome: &mut Outcome,
    ) {
        if partition.is_some() {
            state.partition = partition;
        }
        let time = event.event_time_ms;
        if state.newest_event_ms != i64::MIN
            && time
                < state
                    .newest_event_ms
                    .saturating_sub(self.allowed_lateness_ms)
        {
            outcome.late = true;
            return;
        }
        state.newest_event_ms = state.newest_event_ms.max(time);

        if sensitive_records > 0 {
            for window in &mut state.read_windows {
                window.records.add(time, sensitive_records);
                window.events.add(time, 1);
            }
            state.evidence.record_event(time, &event.event_id);
            for table in &event.tables {
                if !self
                    .classifier
                    .sensitive(self.classifier.classify_table(table))
                    .is_empty()
                {
                    Evidence::bump(&mut state.evidence.tables, table, sensitive_records, time);
                }
            }
            if let Some(ip) = &event.client_ip {
                Evidence::bump(&mut state.evidence.client_ips, ip, sensitive_records, time);
            }
            if let Some(destination) = &event.destination {
                Evidence::bump(
                    &mut state.evidence.destinations,
                    destination,
                    sensitive_records,
                    time,
                );
            }
        }

        let ctx = EvalContext {
            event,
            sensitive_records,
        };
        for rule in self.rules.iter() {
            let finding = match rule.evaluate(&ctx, state) {
                Verdict::NotApplicable => continue,
                Verdict::Clear => {
                    self.episodes
                        .on_quiet(&mut state.episodes, rule.name(), time);
                    continue;
                }
                Verdict::Breach(finding) => finding,
            };
            if self.suppressed_accounts.contains(&event.account) {
                outcome
                    .findings
                    .push((rule.name(), FindingFate::Suppressed));
                continue;
            }
            if rule.mode() == RuleMode::Observe {
                outcome.findings.push((rule.name(), FindingFate::Observed));
                continue;
            }
            let decision = self.episodes.on_breach(
                &mut state.episodes,
                rule.name(),
                finding.ratio,
                time,
                &event.event_id,
            );
            let Decision::Alert {
                opened_at_ms,
                opening_event_id,
                level,
            } = decision
            else {
                outcome.findings.push((rule.name(), FindingFate::Duplicate));
                continue;
            };
            let window_tables =
                Evidence::names_since(&state.evidence.tables, finding.window_start_ms);
            let classes = self
                .classifier
                .sensitive(self.classifier.classify_tables(&window_tables));
            let ctx = AlertContext {
                account: &event.account,
                trigger_time_ms: time,
                evidence: &state.evidence,
                data_classes: self.classifier.names(classes),
                class_weight: self.classifier.max_weight(classes),
                emitted_at_ms,
            };
            let key = EpisodeKey {
                opened_at_ms,
                opening_event_id: &opening_event_id,
                level,
            };
            outcome.alerts.push(alert::build(&finding, &key, &ctx));
            outcome.findings.push((rule.name(), FindingFate::Published));
        }
    }

    /// Drops accounts idle (in event time) for longer than `state.idle_timeout`. Validation keeps that
    /// longer than every window plus the cooldown, so dropping them cannot change any alert.
    pub fn sweep_idle(&self) -> usize {
        let newest = self.newest_event_ms.load(Ordering::Relaxed);
        if newest == i64::MIN {
            return 0;
        }
        self.store
            .evict_idle(newest.saturating_sub(self.idle_timeout_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ActivityKind;

    fn engine() -> Engine {
        Engine::new(&Config::default())
    }

    fn read(id: &str, account: &str, time_ms: i64, rows: u64, table: &str) -> Activity {
        Activity {
            event_id: id.into(),
            event_time_ms: time_ms,
            kind: ActivityKind::Query,
            account: account.into(),
            db_user: None,
            source: "test".into(),
            client_ip: Some("10.0.0.7".into()),
            client_app: None,
            database: None,
            tables: vec![table.into()],
            operation: "SELECT".into(),
            query_digest: None,
            rows: Some(rows),
            bytes: None,
            record_key_hashes: None,
            destination: None,
            peer_group: None,
            success: true,
        }
    }

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn smash_and_grab_fires_once_with_evidence() {
        let e = engine();
        let out = e.process(
            &read("e1", "mallory", T0, 50_000, "support.customers"),
            None,
            0,
        );
        assert_eq!(out.alerts.len(), 1);
        let a = &out.alerts[0];
        assert_eq!(a.rule, "bulk_read");
        assert_eq!(a.account, "mallory");
        assert_eq!(a.observed, 50_000.0);
        assert_eq!(a.tables, vec!["support.customers".to_string()]);
        assert_eq!(a.data_classes, vec!["customer_pii".to_string()]);
        assert_eq!(a.client_ips, vec!["10.0.0.7".to_string()]);
        assert_eq!(a.sample_event_ids, vec!["e1".to_string()]);
        assert_eq!(a.trigger_time, T0);
        assert!(a.summary.contains("mallory"));
        // The same burst again inside the episode is a duplicate, not a second alert.
        let again = e.process(
            &read("e2", "mallory", T0 + 1_000, 10, "support.customers"),
            None,
            0,
        );
        assert!(again.alerts.is_empty());
        assert_eq!(again.findings, vec![("bulk_read", FindingFate::Duplicate)]);
    }

    #[test]
    fn non_sensitive_tables_never_count() {
        let e = engine();
        let out = e.process(&read("e1", "etl", T0, 10_000_000, "ref.countries"), None, 0);
        assert!(out.alerts.is_empty() && out.findings.is_empty());
    }

    #[test]
    fn many_small_reads_add_up_in_the_day_window() {
        let e = engine();
        let mut alerts = Vec::new();
        // 30 rows every 5 minutes: 360 rows/hour, never near the 10m or 1h thresholds, 20k within a day.
        for i in 0..1_000 {
            let out = e.process(
                &read(
                    &format!("e{i}"),
                    "slow",
                    T0 + i * 300_000,
                    30,
                    "support.customers",
                ),
                None,
                0,
            );
            alerts.extend(out.alerts);
        }
        assert_eq!(alerts.len(), 1, "one alert for the episode");
        assert!(alerts[0].summary.contains("24h"), "{}", alerts[0].summary);
    }

    #[test]
    fn late_events_are_counted_not_windowed() {
        let e = engine();
        e.process(&read("e1", "a", T0, 1, "support.customers"), None, 0);
        let out = e.process(
            &read("e0", "a", T0 - 3_600_000, 50_000, "support.customers"),
            None,
            0,
        );
        assert!(out.late);
        assert!(out.alerts.is_empty());
    }

    #[test]
    fn suppressed_accounts_and_observe_mode_publish_nothing() {
        let mut config = Config::default();
        config.alerts.suppress_accounts = vec!["backup".into()];
        let e = Engine::new(&config);
        let out = e.process(
            &read("e1", "backup", T0, 1_000_000, "support.customers"),
            None,
            0,
        );
        assert!(out.alerts.is_empty());
        assert_eq!(out.findings, vec![("bulk_read", FindingFate::Suppressed)]);

        config.rules.bulk_read.mode = RuleMode::Observe;
        let e = Engine::new(&config);
        let out = e.process(
            &read("e1", "x", T0, 1_000_000, "support.customers"),
            None,
            0,
        );
        assert!(out.alerts.is_empty());
        assert_eq!(out.findings, vec![("bulk_read", FindingFate::Observed)]);
    }

    #[test]
    fn same_events_give_the_same_alerts_apart_from_emitted_at() {
        let events: Vec<Activity> = (0..200)
            .map(|i| {
                read(
                    &format!("e{i}"),
                    if i % 2 == 0 { "a" } else { "b" },
                    T0 + i * 10_000,
                    150,
                    "support.customers",
                )
            })
            .collect();
        let run = |emitted| {
            let e = engine();
            let mut alerts = Vec::new();
            for ev in &events {
                alerts.extend(e.process(ev, None, emitted).alerts);
            }
            alerts
        };
        let mut first = run(1);
        let second = run(2);
        assert!(!first.is_empty());
        for alert in &mut first {
            alert.emitted_at = 2;
        }
        assert_eq!(first, second);
    }

    #[test]
    fn failed_queries_do_not_count() {
        let e = engine();
        let mut ev = read("e1", "a", T0, 50_000, "support.customers");
        ev.success = false;
        assert!(e.process(&ev, None, 0).alerts.is_empty());
    }
}
