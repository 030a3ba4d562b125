//! The detection engine: classify → record in the account's state → score → rules → one episode per
//! account → alerts. Pure (no broker, runtime or clock: event time comes from the event, `emitted_at` from
//! the caller), so `replay`, `demo` and the live service run exactly the same code and give the same alerts.
//!
//! The engine owns state (accounts, their windows and histories, the peer groups' book); what is abnormal
//! and why is [`crate::detect`]'s, which never sees the store.

pub mod accounts;
mod alerting;
mod batch;
pub use batch::Batch;
pub mod day_clock;
mod destinations;
pub mod distinct;
pub mod episode;
pub mod evidence;
pub mod groups;
mod held;
pub mod learned;
mod outcome;
pub mod partition_time;
pub mod prefetch;
pub mod record_table;
mod recording;
mod scoring;
mod setup;
pub mod sketch;
pub mod window;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use smallvec::SmallVec;

use crate::alert::{self, AlertContext, EpisodeKey, RiskDetail};
use crate::config::{Config, RuleMode};
use crate::detect::baseline::Baseline;
use crate::detect::explain::{risk_finding, RiskReport, LAST_DAY, TODAY};
use crate::detect::features::{day_of, Day, ALERTED, DAY_MS, RAISED};
use crate::detect::peers::GroupView;
use crate::detect::risk::{assess, Assessment, PeerContext, Today, ALLOWANCE};
use crate::detect::rules::{rule_index, DestinationNovelty, Finding, WindowTotal};
use crate::event::{Activity, ActivityKind};
use crate::privacy::RecordKeyHasher;
use accounts::{
    AccountState, AccountStore, Evidence, PartitionRef, StateLayout, CLIENT_CAPACITY,
    DESTINATION_CAPACITY, WATCHED_CAPACITY,
};
pub use destinations::destination_identity;
use episode::Decision;
use groups::{GroupBook, GroupContext, Habit, Threshold};
pub use outcome::{FindingFate, Outcome};
pub use setup::ReloadError;
use setup::{compact_after_ms, layout_of, millis, Detection};

/// How far ahead of both its account's newest event and its partition's time the first of a run of
/// events the partition has not confirmed may be and still move its account's clock at once: a day. A
/// proxy logging local time as UTC is at most 14 hours off. One a day or more ahead is held
/// ([`held`]): a broken clock, or the first event of a partition resuming after a silence, which the
/// partition's next event tells apart. Placed at once, a broken clock's event would move its account's
/// watermark, windows and day that far ahead, and leave every later event of the account late.
pub const HELD_AHEAD_MS: i64 = 86_400_000;

/// Per-event values computed before the account's entry is locked.
struct Prepared<'a> {
    sensitive_records: u64,
    /// Rows and bytes of an export, whatever its tables.
    exported_records: u64,
    exported_bytes: u64,
    /// Records of a sensitive export (what the absolute rule weighs).
    sensitive_exported_records: u64,
    /// Bit `i`: `tables[i]` holds sensitive data (first 64 tables; later ones are classified again).
    sensitive_tables: u64,
    day: i32,
    /// Where the partition's day begins, in ms after UTC midnight (`day` counts from it).
    day_offset_ms: i64,
    /// For the first of a run of events more than an hour ahead of the partition's time: the
    /// partition's time, once it has one (see [`HELD_AHEAD_MS`]).
    first_ahead_of: Option<i64>,
    group: &'a str,
    /// Named by the source or a configured pattern (a role), rather than learned.
    named_group: bool,
    group_hash: u64,
    view: Arc<GroupView>,
    threshold: Threshold,
    learning: bool,
    watched_hits: u32,
    honeytoken_hits: u32,
    ip: Option<u64>,
    app: Option<u64>,
    destination: Option<(u64, DestinationNovelty)>,
}

/// How often, in event time, idle accounts are swept. A sweep visits every account, so it is paced by
/// the stream's clock rather than by event count: at a few hundred thousand events a second a count-based
/// sweep would revisit every account several times a second.
const IDLE_SWEEP_PERIOD_MS: i64 = 3_600_000;

/// Shared by the pipeline thread and the rebalance callbacks.
#[derive(Debug)]
pub struct Engine {
    /// What `SIGHUP` may replace: rules, thresholds, classes, lists, the budget. Window shapes stay fixed.
    detection: RwLock<Arc<Detection>>,
    store: AccountStore,
    layout: StateLayout,
    groups: GroupBook,
    /// Events held for being far ahead until their partition's next event ([`HELD_AHEAD_MS`]).
    held: held::HeldEvents,
    /// Keyed fast hash for destinations, client addresses, applications and tables kept in state.
    fast_hash: ahash::RandomState,
    allowed_lateness_ms: i64,
    idle_timeout_ms: i64,
    newest_event_ms: AtomicI64,
    /// Idle time after which an account is compacted (see [`compact_after_ms`]).
    compact_after_ms: i64,
    /// Newest event time at the last idle sweep.
    last_sweep_ms: AtomicI64,
}

impl Engine {
    /// Builds the engine; `hasher` hashes the configured watchlist and honeytoken keys and keys the
    /// fast hash of destinations, clients and tables, so state never holds those names.
    pub fn new(config: &Config, hasher: &RecordKeyHasher) -> Self {
        let seeds = hasher.derive_seeds();
        let layout = layout_of(config);
        Engine {
            detection: RwLock::new(Arc::new(Detection::new(config, hasher))),
            store: AccountStore::new(config.state.max_accounts),
            compact_after_ms: compact_after_ms(&layout),
            layout,
            groups: GroupBook::new(
                &config.peer_groups(),
                config.detection.day_start_ms().ok().flatten(),
            ),
            held: held::HeldEvents::default(),
            fast_hash: ahash::RandomState::with_seeds(seeds[0], seeds[1], seeds[2], seeds[3]),
            allowed_lateness_ms: millis(config.input.allowed_lateness),
            idle_timeout_ms: millis(config.state.idle_timeout),
            newest_event_ms: AtomicI64::new(i64::MIN),
            last_sweep_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Replaces rules, thresholds, classes, lists and the budget from a new config, keeping every
    /// account's state.
    pub fn reload(&self, config: &Config, hasher: &RecordKeyHasher) -> Result<(), ReloadError> {
        if layout_of(config) != self.layout {
            return Err(ReloadError::WindowsChanged);
        }
        if GroupBook::new(&config.peer_groups(), None).patterns() != self.groups.patterns() {
            return Err(ReloadError::GroupsChanged);
        }
        if config.detection.day_start_ms().ok().flatten() != self.groups.day_start() {
            return Err(ReloadError::DayStartChanged);
        }
        let fresh = Arc::new(Detection::new(config, hasher));
        match self.detection.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    /// The detection in force, held for one event: a reload waits for the event to finish (the read
    /// lock costs less per event than cloning the `Arc`).
    fn current(&self) -> std::sync::RwLockReadGuard<'_, Arc<Detection>> {
        match self.detection.read() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn accounts(&self) -> &AccountStore {
        &self.store
    }

    /// How the accounts of this instance's partitions were judged at their latest calibration: with
    /// their own group, with the whole partition, or by the Gaussian default (thin partitions).
    pub fn calibration_coverage(&self) -> groups::CalibrationCoverage {
        self.groups.calibration_coverage()
    }

    /// Drops what this instance holds of partitions another consumer owns now: their accounts and
    /// everything measured of them (see [`GroupBook::forget_partitions`]). Whenever one comes back it is
    /// new here, as on an instance that never owned it. Returns the accounts dropped.
    pub fn drop_partitions(&self, revoked: &[PartitionRef]) -> usize {
        self.groups.forget_partitions(revoked);
        self.held.forget(revoked);
        self.store.drop_partitions(revoked)
    }

    /// Processes one decoded event. `partition` records ownership (None offline); `emitted_at_ms` is the
    /// wall clock stamped on any alert, the only non-deterministic output.
    pub fn process(
        &self,
        event: &Activity,
        partition: Option<PartitionRef>,
        emitted_at_ms: i64,
    ) -> Outcome {
        self.process_with(&self.current(), event, partition, emitted_at_ms)
    }

    /// [`Engine::process`] under the detection `d`.
    fn process_with(
        &self,
        d: &Detection,
        event: &Activity,
        partition: Option<PartitionRef>,
        emitted_at_ms: i64,
    ) -> Outcome {
        // Days begin at the partition's quiet hour (UTC midnight until its first 24 hours are seen).
        let placement = self.groups.place(partition, event.event_time_ms, || {
            self.fast_hash.hash_one(&event.account)
        });
        // An event held for being far ahead is processed first if this one shows the partition resuming.
        let Some((held, held_emitted_at_ms)) =
            self.held.decide(partition, placement.time, placement.run)
        else {
            return self.process_placed(d, event, partition, placement, emitted_at_ms);
        };
        let again = groups::Placement {
            run: 0,
            outvoted: Vec::new(),
            ..placement
        };
        let mut released = self.process_placed(d, &held, partition, again, held_emitted_at_ms);
        let mut outcome = self.process_placed(d, event, partition, placement, emitted_at_ms);
        released.alerts.append(&mut outcome.alerts);
        outcome.alerts = released.alerts;
        outcome.findings.append(&mut released.findings);
        outcome.evicted += released.evicted;
        outcome.compacted += released.compacted;
        // The held event cannot have become late: it was a day ahead of its account, and no event of its
        // partition came between. Merged all the same, so the count never silently loses one.
        outcome.late |= released.late;
        outcome
    }

    /// [`Engine::process_with`] for an event placed in its partition's time.
    fn process_placed(
        &self,
        d: &Detection,
        event: &Activity,
        partition: Option<PartitionRef>,
        placement: groups::Placement,
        emitted_at_ms: i64,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        // Each table is classified once per event (a cache lookup); `record` reuses the result.
        let mut classes = crate::detect::classify::ClassSet::default();
        let mut sensitive_tables = 0u64;
        for (index, table) in event.tables.iter().enumerate() {
            let set = d.classifier.classify_table(table);
            classes = classes.union(set);
            if index < 64 && !d.classifier.sensitive(set).is_empty() {
                sensitive_tables |= 1 << index;
            }
        }
        let sensitive = !d.classifier.sensitive(classes).is_empty() && event.success;
        // Reads and exports are separate signals: an export (a report, a COPY) never counts as a read.
        let sensitive_records = if sensitive && event.kind == ActivityKind::Query {
            event.record_count()
        } else {
            0
        };
        // Egress is egress whatever the tables: every export counts in the account's exports; only
        // sensitive ones count for the absolute rule.
        let exported = event.kind == ActivityKind::Export && event.success;
        let (exported_records, exported_bytes) = if exported {
            (event.record_count(), event.bytes.unwrap_or(0))
        } else {
            (0, 0)
        };
        let sensitive_exported_records = if sensitive { exported_records } else { 0 };
        let groups::Placement {
            day_offset_ms,
            time: event_time,
            run,
            outvoted,
        } = placement;
        // Accounts whose events among the partition's first were outvoted: built on a wrong clock.
        let restarted = self.store.drop_accounts(partition, &outvoted);
        if event_time == partition_time::EventTime::Implausible {
            // A clock error, most likely: placed, it would move its account's watermark and day that far
            // ahead and leave every later event of the account late.
            outcome.implausible_time = true;
            outcome.evicted = restarted;
            return outcome;
        }
        let trusted_time = event_time == partition_time::EventTime::Trusted;
        let day = day_of(event.event_time_ms - day_offset_ms);
        let group_name = self.groups.group_of(
            &event.account,
            event.peer_group.as_deref(),
            partition,
            || self.store.learned_signature(&event.account),
        );
        let named_group = group_name.is_named();
        let group: &str = &group_name;
        // The group's view and the threshold read every account: fetch them before taking this one.
        let group_hash = self.fast_hash.hash_one(group);
        let GroupContext {
            view,
            threshold,
            started,
        } = self.groups.context(
            &self.store,
            group,
            group_hash,
            partition,
            (event.event_time_ms, trusted_time),
            (day, day_offset_ms),
            &d.reference,
        );
        let mut watched_hits = 0u32;
        let mut honeytoken_hits = 0u32;
        if let Some(keys) = &event.record_key_hashes {
            for key in keys {
                watched_hits += u32::from(d.watched.contains(key));
                honeytoken_hits += u32::from(d.honeytokens.contains(key));
            }
        }
        let destination = match (event.kind, event.destination.as_deref()) {
            (ActivityKind::Export, Some(destination)) => {
                let hash = self.fast_hash.hash_one(destination_identity(destination));
                let since = day - d.retention_days;
                let account = self.fast_hash.hash_one(&event.account);
                let news =
                    self.groups
                        .usage()
                        .destination_news(group, partition, (hash, account), since);
                Some((
                    hash,
                    DestinationNovelty {
                        new_to_account: false,
                        new_to_group: news.new_to_group,
                        new_to_organisation: news.new_to_organisation,
                        private: news.private,
                        internal: d.destinations.internal(destination),
                        allowed: d.destinations.allowed(destination),
                    },
                ))
            }
            _ => None,
        };
        if sensitive_records > 0 {
            outcome.team_sight = Some(view.sight());
        }
        outcome.threshold = Some(threshold);
        let prepared = Prepared {
            sensitive_records,
            exported_records,
            exported_bytes,
            sensitive_exported_records,
            sensitive_tables,
            day,
            day_offset_ms,
            first_ahead_of: (event_time == partition_time::EventTime::Unconfirmed && run == 1)
                .then(|| self.groups.partition_time(partition))
                .flatten(),
            group,
            named_group,
            group_hash,
            view,
            threshold,
            learning: event.event_time_ms < started.saturating_add(d.learning_ms),
            watched_hits,
            honeytoken_hits,
            ip: event
                .client_ip
                .as_deref()
                .map(|v| self.fast_hash.hash_one(v)),
            app: event
                .client_app
                .as_deref()
                .map(|v| self.fast_hash.hash_one(v)),
            destination,
        };
        let layout = &self.layout;
        let ((), evicted) = self.store.with_account(
            &event.account,
            || AccountState {
                key: self.fast_hash.hash_one(&event.account),
                ..AccountState::new(layout, partition)
            },
            |state| {
                self.update_account(
                    d,
                    state,
                    event,
                    partition,
                    &prepared,
                    emitted_at_ms,
                    &mut outcome,
                )
            },
        );
        if let Some((hash, _)) = prepared.destination {
            // A held event is processed again if it was no clock error: its destination is news then.
            if exported && !outcome.ahead {
                let account = self.fast_hash.hash_one(&event.account);
                self.groups.usage().touch_destination(
                    group,
                    partition,
                    (hash, account),
                    (day, day - d.retention_days),
                );
            }
        }
        outcome.evicted = evicted + restarted;
        // A load and a store, not `fetch_max`: a read-modify-write is a full barrier on x86, and events
        // are processed by one thread (the pipeline's, replay's). Were two threads to race, the newest
        // time could lag one event behind, delaying the next sweep by as much: nothing else reads it.
        // Only a trusted time paces the sweeps: one event years ahead would stop them until then.
        let mut newest = self.newest_event_ms.load(Ordering::Relaxed);
        if trusted_time && event.event_time_ms > newest {
            newest = event.event_time_ms;
            self.newest_event_ms.store(newest, Ordering::Relaxed);
        }
        let last_sweep = self.last_sweep_ms.load(Ordering::Relaxed);
        if newest.saturating_sub(last_sweep) >= IDLE_SWEEP_PERIOD_MS
            && self
                .last_sweep_ms
                .compare_exchange(last_sweep, newest, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let (evicted, compacted) = self.sweep_idle();
            outcome.evicted += evicted;
            outcome.compacted += compacted;
        }
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    fn update_account(
        &self,
        d: &Detection,
        state: &mut AccountState,
        event: &Activity,
        partition: Option<PartitionRef>,
        prepared: &Prepared,
        emitted_at_ms: i64,
        outcome: &mut Outcome,
    ) {
        if partition.is_some() {
            state.partition = partition;
        }
        let time = event.event_time_ms;
        outcome.late = state.newest_event_ms != i64::MIN
            && time
                < state
                    .newest_event_ms
                    .saturating_sub(self.allowed_lateness_ms);
        outcome.ahead = !outcome.late
            && prepared.first_ahead_of.is_some_and(|partition_time| {
                time > state
                    .newest_event_ms
                    .max(partition_time)
                    .saturating_add(HELD_AHEAD_MS)
            });
        if outcome.late || outcome.ahead {
            // Outside the account's clock: judged on what it shows alone, and held if far ahead.
            outcome.team_sight = None;
            self.judge_alone(d, state, event, prepared, emitted_at_ms, outcome);
            if outcome.ahead {
                self.held.hold(partition, event, emitted_at_ms);
            }
            return;
        }
        state.newest_event_ms = state.newest_event_ms.max(time);
        if state.peer_group_hash != prepared.group_hash {
            if state.peer_group.is_some() && (state.peer_group_named || prepared.named_group) {
                // Another named group is another role: its old days describe another job. Moving from
                // the organisation into the group its behaviour showed keeps them (the same job).
                state.history.forget(prepared.day);
                state.baseline = Baseline::default();
                state.risk.reset();
            }
            state.peer_group = Some(prepared.group.to_string());
            state.peer_group_hash = prepared.group_hash;
            state.peer_group_named = prepared.named_group;
        }
        if !prepared.named_group
            && prepared.sensitive_records > 0
            && state.role.signature().is_none()
        {
            for (index, table) in event.tables.iter().enumerate().take(64) {
                if prepared.sensitive_tables & (1 << index) != 0 {
                    state.role.vote(table, event.client_app.as_deref());
                }
            }
        }
        let mut closed_breach = None;
        if let Some(closed) = state.history.roll_to(prepared.day) {
            if let Some(signature) = state.role.settle() {
                self.groups
                    .join_learned(partition.or(state.partition), &signature);
            }
            closed_breach = recording::close_day(
                &event.account,
                state,
                closed,
                &prepared.view,
                prepared.day,
                (prepared.threshold.value, prepared.learning),
            )
            .map(|assessment| (closed, assessment));
        }
        state.expand(&self.layout);
        let scored = prepared.sensitive_records > 0
            || prepared.exported_records > 0
            || prepared.exported_bytes > 0;
        if scored {
            self.notice_novelty(d, state, event, prepared);
        }
        self.record(d, state, event, prepared);
        let mut findings: SmallVec<[Finding; 2]> = SmallVec::new();
        let risk_detail = self.judge_risk(
            d,
            state,
            event,
            prepared,
            scored,
            closed_breach.as_ref(),
            &mut findings,
        );
        self.immediate(d, state, event, prepared, &mut findings);
        self.publish(
            d,
            state,
            event,
            prepared,
            findings,
            risk_detail,
            emitted_at_ms,
            outcome,
        );
    }

    /// Drops accounts idle (in event time) for longer than `state.idle_timeout` and compacts those idle
    /// for longer than every window. Validation keeps the timeout longer than every window plus the
    /// cooldown, so dropping them cannot change any alert; compacting never does (see
    /// [`AccountState::compact`]). Returns (dropped, compacted).
    pub fn sweep_idle(&self) -> (usize, usize) {
        let newest = self.newest_event_ms.load(Ordering::Relaxed);
        if newest == i64::MIN {
            return (0, 0);
        }
        self.store
            .sweep_idle(self.idle_timeout_ms, self.compact_after_ms, |partition| {
                self.groups.partition_time(partition)
            })
    }
}

#[cfg(test)]
mod tests;
