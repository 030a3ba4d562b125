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

mod background;
mod inject;
mod population;
mod spec;

use population::*;
pub use spec::{ScenarioSpec, SimSpec};

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
mod tests;
