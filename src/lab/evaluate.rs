//! Evaluate: run a labelled stream through the engine and score the alerts per scenario.
//!
//! Scoring is by account and time, never by rule name, so it measures whatever rules the engine has:
//! - a label is **detected** when any alert on its account triggers within
//!   `[start_ms, end_ms + DETECTION_GRACE_MS]`; time to detect is the first such trigger − `start_ms`;
//!   for a benign label the same match means the benign activity raised a false alarm;
//! - an alert is a **true positive** when it matches a malicious label that way, otherwise a **false
//!   positive** (this includes alerts on an attacker's account outside the attack).
//!
//! Inputs come from [`crate::lab::simulate::generate`] or from files ([`load_simulation`]: JSON lines of
//! events plus a JSON labels file), so recorded production traffic with hand-made labels scores the same.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lab::simulate::{Label, Simulation, DAY};
use exfilwatch::alert::ExfilAlert;
use exfilwatch::detect::peers::TeamSightCounts;
use exfilwatch::engine::Engine;
use exfilwatch::event::DbActivityEvent;
use exfilwatch::io::decode::Decoder;
use exfilwatch::io::partitioner::Partitioner;

/// Alerts up to this long after a label's last event still count as detecting it.
pub const DETECTION_GRACE_MS: i64 = 2 * DAY;
/// False-positive accounts listed in a report.
pub const TOP_FALSE_POSITIVE_ACCOUNTS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: not a valid event: {message}")]
    Event {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: not a valid labels file: {message}")]
    Labels { path: PathBuf, message: String },
}

/// The engine's output over a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    pub events: u64,
    /// Events the engine refused (counted, not windowed): too late, or implausibly far ahead of their
    /// partition's time (which the service dead-letters).
    pub late_events: u64,
    pub team_sight: TeamSightCounts,
    pub alerts: Vec<ExfilAlert>,
}

/// One label's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelResult {
    pub scenario: String,
    pub malicious: bool,
    pub account: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// An alert on the account within the detection window (for a benign label: a false alarm).
    pub detected: bool,
    pub first_alert_ms: Option<i64>,
    #[serde(with = "humantime_serde")]
    pub time_to_detect: Option<Duration>,
    pub alerts: u64,
    /// Rules that fired within the window, sorted.
    pub rules: Vec<String>,
}

/// All labels of one scenario together (team-wide scenarios label every member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub malicious: bool,
    pub accounts: Vec<String>,
    /// Labels with an alert in their window.
    pub detected: usize,
    /// Fastest detection over its labels.
    #[serde(with = "humantime_serde")]
    pub time_to_detect: Option<Duration>,
    pub alerts: u64,
    pub rules: Vec<String>,
}

/// False positives of one rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleFalsePositives {
    pub alerts: u64,
    pub accounts: usize,
    pub account_days: usize,
    pub alerts_per_day: f64,
    pub accounts_per_day: f64,
}

/// An account with false-positive alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FalsePositiveAccount {
    pub account: String,
    pub alerts: u64,
    pub rules: Vec<String>,
    /// Benign scenarios labelled on the account (e.g. `nightly_etl`): the known explanation, if any.
    pub benign_scenarios: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FalsePositives {
    pub alerts: u64,
    pub accounts: usize,
    /// Distinct (account, UTC day) pairs with a false positive.
    pub account_days: usize,
    pub alerts_per_day: f64,
    /// Accounts falsely alerted on per day, on average (`account_days / days`).
    pub accounts_per_day: f64,
    pub by_rule: BTreeMap<String, RuleFalsePositives>,
    /// Most-alerted first, at most [`TOP_FALSE_POSITIVE_ACCOUNTS`].
    pub top_accounts: Vec<FalsePositiveAccount>,
}

/// The score of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub events: u64,
    pub late_events: u64,
    /// Sensitive reads by how much of the account's peer group they were judged with.
    #[serde(default)]
    pub team_sight: TeamSightCounts,
    /// UTC calendar days the events span.
    pub days: u32,
    pub accounts: usize,
    pub alerts: u64,
    pub alerts_by_rule: BTreeMap<String, u64>,
    pub attacks: usize,
    pub attacks_detected: usize,
    /// One row per scenario, in label order.
    pub scenarios: Vec<ScenarioSummary>,
    /// One row per label.
    pub labels: Vec<LabelResult>,
    pub false_positives: FalsePositives,
}

/// Runs the events through the engine in the given order (`emitted_at` 0) and scores the alerts.
/// With `partitioning`, accounts are assigned to input partitions as the producers would, so peer
/// statistics are sampled per partition as the live service samples them (see [`exfilwatch::detect::peers`]);
/// without it every account is in one sample.
pub fn evaluate(
    engine: &Engine,
    decoder: &Decoder,
    sim: &Simulation,
    partitioning: Option<(Partitioner, u32)>,
) -> Report {
    let run = run(engine, decoder, &sim.events, partitioning);
    score(&sim.events, &sim.labels, &run)
}

/// Feeds the events to the engine in order and collects every alert. With `partitioning`, accounts are
/// assigned to `count` input partitions by the producers' partitioner; without it they share one sample.
pub fn run(
    engine: &Engine,
    decoder: &Decoder,
    events: &[DbActivityEvent],
    partitioning: Option<(Partitioner, u32)>,
) -> Run {
    let mut out = Run::default();
    for event in events {
        let activity = decoder.pseudonymise(event.clone());
        let partition = partitioning
            .map(|(partitioner, count)| partitioner.partition_of(&activity.account, count));
        let outcome = engine.process(&activity, partition, 0);
        out.events += 1;
        out.late_events += u64::from(outcome.late || outcome.ahead || outcome.implausible_time);
        if let Some(sight) = outcome.team_sight {
            out.team_sight.count(sight);
        }
        out.alerts.extend(outcome.alerts);
    }
    out
}

/// Scores a run against labels. `events` only provide the time span and account count.
pub fn score(events: &[DbActivityEvent], labels: &[Label], run: &Run) -> Report {
    let first_day = events.iter().map(|e| e.event_time.div_euclid(DAY)).min();
    let last_day = events.iter().map(|e| e.event_time.div_euclid(DAY)).max();
    let days = match first_day.zip(last_day) {
        Some((first, last)) => u32::try_from(last - first + 1).unwrap_or(u32::MAX),
        None => 1,
    };
    let per_day = |n: u64| n as f64 / f64::from(days.max(1));
    let accounts: BTreeSet<&str> = events.iter().map(|e| e.account.as_str()).collect();

    let mut by_account: HashMap<&str, Vec<&ExfilAlert>> = HashMap::new();
    for alert in &run.alerts {
        by_account.entry(&alert.account).or_default().push(alert);
    }
    for alerts in by_account.values_mut() {
        alerts.sort_by_key(|a| a.trigger_time);
    }
    let in_window = |label: &Label, alert: &ExfilAlert| {
        alert.trigger_time >= label.start_ms
            && alert.trigger_time <= label.end_ms.saturating_add(DETECTION_GRACE_MS)
    };

    let results: Vec<LabelResult> = labels
        .iter()
        .map(|label| {
            let hits: Vec<&ExfilAlert> = by_account
                .get(label.account.as_str())
                .map(|alerts| {
                    alerts
                        .iter()
                        .copied()
                        .filter(|a| in_window(label, a))
                        .collect()
                })
                .unwrap_or_default();
            let first_alert_ms = hits.first().map(|a| a.trigger_time);
            let rules: BTreeSet<String> = hits.iter().map(|a| a.rule.clone()).collect();
            LabelResult {
                scenario: label.scenario.clone(),
                malicious: label.malicious,
                account: label.account.clone(),
                start_ms: label.start_ms,
                end_ms: label.end_ms,
                detected: !hits.is_empty(),
                first_alert_ms,
                time_to_detect: first_alert_ms.map(|t| millis(t - label.start_ms)),
                alerts: hits.len() as u64,
                rules: rules.into_iter().collect(),
            }
        })
        .collect();

    let mut scenarios: Vec<ScenarioSummary> = Vec::new();
    for result in &results {
        let position = scenarios
            .iter()
            .position(|s| s.scenario == result.scenario && s.malicious == result.malicious);
        let summary = match position {
            Some(i) => &mut scenarios[i],
            None => {
                scenarios.push(ScenarioSummary {
                    scenario: result.scenario.clone(),
                    malicious: result.malicious,
                    accounts: Vec::new(),
                    detected: 0,
                    time_to_detect: None,
                    alerts: 0,
                    rules: Vec::new(),
                });
                scenarios.last_mut().expect("just pushed")
            }
        };
        if !summary.accounts.contains(&result.account) {
            summary.accounts.push(result.account.clone());
        }
        summary.detected += usize::from(result.detected);
        summary.alerts += result.alerts;
        if let Some(ttd) = result.time_to_detect {
            summary.time_to_detect = Some(summary.time_to_detect.map_or(ttd, |t| t.min(ttd)));
        }
        for rule in &result.rules {
            if !summary.rules.contains(rule) {
                summary.rules.push(rule.clone());
            }
        }
        summary.rules.sort();
    }

    // False positives: alerts that match no malicious label of their account.
    let malicious: Vec<&Label> = labels.iter().filter(|l| l.malicious).collect();
    let mut fp = FalsePositives::default();
    let mut fp_accounts: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    let mut fp_account_days: BTreeSet<(&str, i64)> = BTreeSet::new();
    let mut rule_accounts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut rule_account_days: BTreeMap<&str, BTreeSet<(&str, i64)>> = BTreeMap::new();
    let mut alerts_by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for alert in &run.alerts {
        *alerts_by_rule.entry(alert.rule.clone()).or_default() += 1;
        let true_positive = malicious
            .iter()
            .any(|l| l.account == alert.account && in_window(l, alert));
        if true_positive {
            continue;
        }
        fp.alerts += 1;
        let entry = fp_accounts.entry(&alert.account).or_default();
        entry.0 += 1;
        entry.1.insert(&alert.rule);
        let account_day = (alert.account.as_str(), alert.trigger_time.div_euclid(DAY));
        fp_account_days.insert(account_day);
        rule_account_days
            .entry(&alert.rule)
            .or_default()
            .insert(account_day);
        rule_accounts
            .entry(&alert.rule)
            .or_default()
            .insert(&alert.account);
        fp.by_rule.entry(alert.rule.clone()).or_default().alerts += 1;
    }
    for (rule, stats) in &mut fp.by_rule {
        stats.accounts = rule_accounts.get(rule.as_str()).map_or(0, BTreeSet::len);
        stats.account_days = rule_account_days
            .get(rule.as_str())
            .map_or(0, BTreeSet::len);
        stats.alerts_per_day = per_day(stats.alerts);
        stats.accounts_per_day = per_day(stats.account_days as u64);
    }
    fp.accounts = fp_accounts.len();
    fp.account_days = fp_account_days.len();
    fp.alerts_per_day = per_day(fp.alerts);
    fp.accounts_per_day = per_day(fp.account_days as u64);
    let mut top: Vec<FalsePositiveAccount> = fp_accounts
        .into_iter()
        .map(|(account, (alerts, rules))| {
            let benign: BTreeSet<String> = labels
                .iter()
                .filter(|l| !l.malicious && l.account == account)
                .map(|l| l.scenario.clone())
                .collect();
            FalsePositiveAccount {
                account: account.to_string(),
                alerts,
                rules: rules.into_iter().map(str::to_string).collect(),
                benign_scenarios: benign.into_iter().collect(),
            }
        })
        .collect();
    top.sort_by(|a, b| {
        b.alerts
            .cmp(&a.alerts)
            .then_with(|| a.account.cmp(&b.account))
    });
    top.truncate(TOP_FALSE_POSITIVE_ACCOUNTS);
    fp.top_accounts = top;

    let attacks = results.iter().filter(|r| r.malicious).count();
    let attacks_detected = results.iter().filter(|r| r.malicious && r.detected).count();
    Report {
        events: run.events,
        late_events: run.late_events,
        team_sight: run.team_sight,
        days,
        accounts: accounts.len(),
        alerts: run.alerts.len() as u64,
        alerts_by_rule,
        attacks,
        attacks_detected,
        scenarios,
        labels: results,
        false_positives: fp,
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `0s`: two units are enough to compare detectors.
pub fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

impl Report {
    /// The report as Markdown: the per-scenario table, then false positives overall, per rule and by
    /// account.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(&format!(
            "{} events over {} days, {} accounts, {} alerts; {} of {} attacks detected.\n\n",
            self.events, self.days, self.accounts, self.alerts, self.attacks_detected, self.attacks
        ));
        md.push_str("| scenario | label | account | result | time to detect | alerts | rules |\n");
        md.push_str("|---|---|---|---|---|---:|---|\n");
        for s in &self.scenarios {
            let account = match s.accounts.as_slice() {
                [one] => one.clone(),
                many => format!("{} accounts", many.len()),
            };
            let labels = s.accounts.len();
            let result = match (s.malicious, s.detected, labels) {
                (true, 0, _) => "**missed**".to_string(),
                (true, n, 1) if n > 0 => "detected".to_string(),
                (true, n, total) => format!("detected {n}/{total}"),
                (false, 0, _) => "quiet".to_string(),
                (false, n, 1) if n > 0 => "**false alarm**".to_string(),
                (false, n, total) => format!("**false alarm** {n}/{total}"),
            };
            let ttd = match (s.malicious, s.time_to_detect) {
                (true, Some(t)) => short_duration(t),
                _ => "–".to_string(),
            };
            let rules = if s.rules.is_empty() {
                "–".to_string()
            } else {
                s.rules.join(", ")
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                s.scenario,
                if s.malicious { "attack" } else { "benign" },
                account,
                result,
                ttd,
                s.alerts,
                rules
            ));
        }
        let (measured, latest_days, unseen, no_levels) = self.team_sight.percentages();
        md.push_str(&format!(
            "\nSensitive reads judged with the group's common mode measured: {measured:.1}%; with colleagues' \
             latest days only: {latest_days:.1}%; with no team in sight: {unseen:.1}%; before anyone in \
             the group had a learned level: {no_levels:.1}%.\n"
        ));
        let fp = &self.false_positives;
        md.push_str(&format!(
            "\nFalse positives: {} alerts on {} accounts ({:.2} alerts/day, {:.2} accounts/day).\n",
            fp.alerts, fp.accounts, fp.alerts_per_day, fp.accounts_per_day
        ));
        if !fp.by_rule.is_empty() {
            md.push_str(
                "\n| rule | FP alerts | FP accounts | FP alerts/day | FP accounts/day |\n|---|---:|---:|---:|---:|\n",
            );
            for (rule, stats) in &fp.by_rule {
                md.push_str(&format!(
                    "| {rule} | {} | {} | {:.2} | {:.2} |\n",
                    stats.alerts, stats.accounts, stats.alerts_per_day, stats.accounts_per_day
                ));
            }
        }
        if !fp.top_accounts.is_empty() {
            md.push_str(
                "\n| FP account | alerts | rules | known benign activity |\n|---|---:|---|---|\n",
            );
            for a in &fp.top_accounts {
                let known = if a.benign_scenarios.is_empty() {
                    "–".to_string()
                } else {
                    a.benign_scenarios.join(", ")
                };
                md.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    a.account,
                    a.alerts,
                    a.rules.join(", "),
                    known
                ));
            }
        }
        md
    }
}

/// Reads a recorded stream: `events_path` holds one canonical JSON event per line (blank lines
/// skipped), `labels_path` a JSON array of [`Label`]s (or one label per line). Events keep file order.
pub fn load_simulation(
    events_path: &Path,
    labels_path: &Path,
) -> Result<Simulation, EvaluateError> {
    let file = std::fs::File::open(events_path).map_err(|source| EvaluateError::Io {
        path: events_path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut events = Vec::new();
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| EvaluateError::Io {
                path: events_path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |message: String| EvaluateError::Event {
            path: events_path.to_path_buf(),
            line: number,
            message,
        };
        let event: DbActivityEvent =
            serde_json::from_slice(&line).map_err(|e| bad(e.to_string()))?;
        if event.account.trim().is_empty() {
            return Err(bad("empty account".into()));
        }
        if event.rows.is_some_and(|r| r < 0) || event.bytes.is_some_and(|b| b < 0) {
            return Err(bad("negative rows or bytes".into()));
        }
        events.push(event);
    }
    let text = std::fs::read_to_string(labels_path).map_err(|source| EvaluateError::Io {
        path: labels_path.to_path_buf(),
        source,
    })?;
    let labels_error = |message: String| EvaluateError::Labels {
        path: labels_path.to_path_buf(),
        message,
    };
    let labels: Vec<Label> = if text.trim_start().starts_with('[') {
        serde_json::from_str(&text).map_err(|e| labels_error(e.to_string()))?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| labels_error(format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<_, _>>()?
    };
    for label in &labels {
        if label.start_ms > label.end_ms {
            return Err(labels_error(format!(
                "label {} / {}: start_ms after end_ms",
                label.scenario, label.account
            )));
        }
    }
    Ok(Simulation { events, labels })
}

#[cfg(test)]
mod tests;
