//! What to simulate: the organisation's shape and the scenarios injected into it, with the defaults
//! `exfilwatch simulate` and the scenario tests use.

use serde::{Deserialize, Serialize};

use super::*;

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

    pub(super) fn is_analyst_scenario(&self) -> bool {
        matches!(
            self,
            ScenarioSpec::NewDestinationExport { .. } | ScenarioSpec::ChunkedEgress { .. }
        )
    }
}

/// Every scenario, after a 7-day warm-up, on accounts whose shifts make them plausible. Day 0 is
/// Thursday 2026-10-01; weekends are days 2-3, 9-10, 16-17, 23-24.
fn default_scenarios() -> Vec<ScenarioSpec> {
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
