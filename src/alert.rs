//! Alert: a finding plus its episode and evidence → an `exfilwatch.v1.ExfilAlert`, its deterministic
//! id, risk score and severity, and its Avro and JSON encodings.

use std::sync::OnceLock;

use apache_avro::types::Value as AvroValue;
use apache_avro::{GenericSingleObjectReader, GenericSingleObjectWriter, Schema};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::AlertFraming;
use crate::detect::risk::Contribution;
use crate::detect::rules::{Finding, RULE_NAMES};
use crate::engine::accounts::Evidence;

/// The alert schema, shipped in `schemas/`.
pub const EXFIL_ALERT_SCHEMA: &str = include_str!("../schemas/exfil_alert.avsc");

/// Parsed once; the schema file is part of the binary, so a parse failure is a build defect.
pub fn alert_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::parse_str(EXFIL_ALERT_SCHEMA).expect("schemas/exfil_alert.avsc is valid Avro")
    })
}

/// At most this many event ids travel with an alert.
pub const MAX_SAMPLE_EVENTS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    #[serde(rename = "LOW")]
    Low,
    #[serde(rename = "MEDIUM")]
    Medium,
    #[serde(rename = "HIGH")]
    High,
    #[serde(rename = "CRITICAL")]
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    fn from_score(score: i32) -> Severity {
        match score {
            90.. => Severity::Critical,
            70..=89 => Severity::High,
            45..=69 => Severity::Medium,
            _ => Severity::Low,
        }
    }
}

/// `exfilwatch.v1.ExfilAlert`; serde field names are the schema's, times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExfilAlert {
    pub alert_id: String,
    pub rule: String,
    pub severity: Severity,
    pub risk_score: i32,
    pub account: String,
    pub window_start: i64,
    pub window_end: i64,
    pub trigger_time: i64,
    pub emitted_at: i64,
    pub observed: f64,
    pub threshold: Option<f64>,
    pub baseline: Option<f64>,
    pub peer_baseline: Option<f64>,
    pub unit: String,
    pub tables: Vec<String>,
    pub data_classes: Vec<String>,
    pub destinations: Vec<String>,
    pub client_ips: Vec<String>,
    pub event_count: i64,
    pub sample_event_ids: Vec<String>,
    pub mitre_techniques: Vec<String>,
    pub summary: String,
    #[serde(default)]
    pub rules: Vec<String>,
    #[serde(default)]
    pub episode_id: String,
    #[serde(default = "first_level")]
    pub episode_level: i32,
    #[serde(default)]
    pub risk: Option<f64>,
    #[serde(default)]
    pub risk_threshold: Option<f64>,
    #[serde(default)]
    pub peer_rank: Option<i32>,
    #[serde(default)]
    pub peer_count: Option<i32>,
    #[serde(default)]
    pub contributions: Vec<AlertContribution>,
}

fn first_level() -> i32 {
    1
}

/// One feature's part in the risk (`exfilwatch.v1.Contribution`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertContribution {
    pub feature: String,
    pub score: f64,
    pub value: f64,
    pub normal: Option<f64>,
    pub peer_normal: Option<f64>,
}

/// The episode identity an alert belongs to (see [`crate::engine::episode`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeKey<'a> {
    pub opened_at_ms: i64,
    pub opening_event_id: &'a str,
    pub level: u32,
}

/// Inputs for [`build`] besides the findings.
#[derive(Debug, Clone)]
pub struct AlertContext<'a> {
    pub account: &'a str,
    pub trigger_time_ms: i64,
    pub evidence: &'a Evidence,
    pub data_classes: Vec<String>,
    /// Highest weight of the data classes involved (1.0 = ordinary personal data).
    pub class_weight: f64,
    pub emitted_at_ms: i64,
    /// Every rule in the episode (bits of [`crate::detect::rules::RULE_NAMES`]).
    pub episode_rules: u8,
    /// The account's risk, when it was scored.
    pub risk: Option<RiskDetail>,
}

/// The account's risk as the alert reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskDetail {
    pub risk: f64,
    pub threshold: f64,
    pub contributions: Vec<Contribution>,
    /// (peers reading more today, peers compared).
    pub rank: Option<(usize, usize)>,
}

/// Deterministic episode id: the account and the event that opened the episode.
pub fn episode_id(account: &str, episode: &EpisodeKey<'_>) -> String {
    alert_id(
        "episode",
        account,
        &EpisodeKey {
            level: 0,
            ..episode.clone()
        },
    )
}

/// Deterministic alert id: the same rule, account, episode and level always give the same id, so
/// consumers can drop the duplicates that at-least-once delivery may produce.
pub fn alert_id(rule: &str, account: &str, episode: &EpisodeKey<'_>) -> String {
    let mut hasher = Sha256::new();
    for part in [
        "exfilwatch.v1",
        rule,
        account,
        &episode.opened_at_ms.to_string(),
        episode.opening_event_id,
        &episode.level.to_string(),
    ] {
        // Length-prefix each part so that ("ab","c") and ("a","bc") cannot collide.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let hex = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Risk 0–100: 50 at the threshold, +15 per doubling beyond it, +10 per unit of class weight above 1,
/// +5 per escalation level. Monotone in each input, so analysts can reason about it.
pub fn risk_score(ratio: f64, class_weight: f64, level: u32) -> i32 {
    let over = if ratio > 0.0 {
        ratio.log2() * 15.0
    } else {
        -50.0
    };
    let class = (class_weight - 1.0).max(0.0) * 10.0;
    let escalation = f64::from(level.saturating_sub(1)) * 5.0;
    let score = 50.0 + over + class + escalation;
    score.round().clamp(0.0, 100.0) as i32
}

/// Builds the alert the episode logic decided to publish for `findings` (at least one): the leading
/// finding (critical first, then the worst ratio) sets the rule, the measure and the severity; every
/// finding's clause goes into the summary.
pub fn build(
    findings: &[Finding],
    episode: &EpisodeKey<'_>,
    ctx: &AlertContext<'_>,
) -> Option<ExfilAlert> {
    let lead = findings.iter().max_by(|a, b| {
        (a.critical, a.ratio)
            .partial_cmp(&(b.critical, b.ratio))
            .unwrap_or(std::cmp::Ordering::Equal)
    })?;
    let ratio = if lead.critical {
        lead.ratio.max(16.0)
    } else {
        lead.ratio
    };
    let risk = risk_score(ratio, ctx.class_weight, episode.level);
    let window_start = findings
        .iter()
        .map(|f| f.window_start_ms)
        .min()
        .unwrap_or(lead.window_start_ms);
    let window_end = findings
        .iter()
        .map(|f| f.window_end_ms)
        .max()
        .unwrap_or(lead.window_end_ms);
    let tables = Evidence::names_since(&ctx.evidence.tables, window_start);
    let destinations = Evidence::names_since(&ctx.evidence.destinations, window_start);
    let client_ips = Evidence::names_since(&ctx.evidence.client_ips, window_start);
    let mut sample_event_ids = ctx.evidence.event_ids_since(window_start);
    sample_event_ids.truncate(MAX_SAMPLE_EVENTS);
    let mut mitre: Vec<String> = Vec::new();
    for finding in findings {
        for technique in finding.mitre_techniques {
            if !mitre.iter().any(|t| t == technique) {
                mitre.push((*technique).to_string());
            }
        }
    }
    let rules: Vec<String> = RULE_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| ctx.episode_rules & (1 << i) != 0)
        .map(|(_, name)| (*name).to_string())
        .collect();
    let summary = summarise(
        findings,
        lead,
        ctx,
        episode.level,
        tables.first().map(String::as_str),
    );
    let detail = ctx.risk.as_ref();
    Some(ExfilAlert {
        alert_id: alert_id(lead.rule, ctx.account, episode),
        rule: lead.rule.to_string(),
        severity: if lead.critical {
            Severity::Critical
        } else {
            Severity::from_score(risk)
        },
        risk_score: if lead.critical { risk.max(90) } else { risk },
        account: ctx.account.to_string(),
        window_start,
        window_end,
        trigger_time: ctx.trigger_time_ms,
        emitted_at: ctx.emitted_at_ms,
        observed: lead.observed,
        threshold: lead.threshold,
        baseline: lead.baseline,
        peer_baseline: lead.peer_baseline,
        unit: lead.unit.to_string(),
        tables,
        data_classes: ctx.data_classes.clone(),
        destinations,
        client_ips,
        event_count: i64::try_from(lead.event_count).unwrap_or(i64::MAX),
        sample_event_ids,
        mitre_techniques: mitre,
        summary,
        rules,
        episode_id: episode_id(ctx.account, episode),
        episode_level: i32::try_from(episode.level).unwrap_or(i32::MAX),
        risk: detail.map(|d| round2(d.risk)),
        risk_threshold: detail.map(|d| round2(d.threshold)),
        peer_rank: detail
            .and_then(|d| d.rank)
            .map(|(above, _)| i32::try_from(above + 1).unwrap_or(i32::MAX)),
        peer_count: detail
            .and_then(|d| d.rank)
            .map(|(_, of)| i32::try_from(of).unwrap_or(i32::MAX)),
        contributions: detail.map_or_else(Vec::new, |d| {
            d.contributions
                .iter()
                .map(|c| AlertContribution {
                    feature: c.feature.as_str().to_string(),
                    score: round2(c.score),
                    value: c.value.round(),
                    normal: c.normal.map(f64::round),
                    peer_normal: c.peer_normal.map(f64::round),
                })
                .collect()
        }),
    })
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn summarise(
    findings: &[Finding],
    lead: &Finding,
    ctx: &AlertContext<'_>,
    level: u32,
    top_table: Option<&str>,
) -> String {
    let mut text = lead.clause.clone();
    for other in findings.iter().filter(|f| !std::ptr::eq(*f, lead)) {
        text.push_str("; also: ");
        text.push_str(&other.clause);
    }
    if let Some(table) = top_table {
        let classes = if ctx.data_classes.is_empty() {
            String::new()
        } else {
            format!(" ({})", ctx.data_classes.join("/"))
        };
        text.push_str(&format!("; most from {table}{classes}"));
    }
    if level > 1 {
        text.push_str(&format!("; escalation {level} of an ongoing episode"));
    }
    text.push('.');
    text
}

#[derive(Debug, thiserror::Error)]
pub enum AlertCodecError {
    #[error("alert does not fit schemas/exfil_alert.avsc: {0}")]
    Schema(String),
    #[error("cannot decode alert: {0}")]
    Decode(String),
}

/// The alert as an Avro value resolved against the schema.
pub fn to_avro_value(alert: &ExfilAlert) -> Result<AvroValue, AlertCodecError> {
    let value = apache_avro::to_value(alert).map_err(|e| AlertCodecError::Schema(e.to_string()))?;
    value
        .resolve(alert_schema())
        .map_err(|e| AlertCodecError::Schema(e.to_string()))
}

/// Encodes with the configured framing.
pub fn encode_avro(
    alert: &ExfilAlert,
    framing: AlertFraming,
    schema_id: Option<u32>,
) -> Result<Vec<u8>, AlertCodecError> {
    let value = to_avro_value(alert)?;
    match framing {
        AlertFraming::Raw => apache_avro::to_avro_datum(alert_schema(), value)
            .map_err(|e| AlertCodecError::Schema(e.to_string())),
        AlertFraming::Confluent => {
            let mut out = vec![0u8];
            out.extend_from_slice(&schema_id.unwrap_or(0).to_be_bytes());
            let datum = apache_avro::to_avro_datum(alert_schema(), value)
                .map_err(|e| AlertCodecError::Schema(e.to_string()))?;
            out.extend_from_slice(&datum);
            Ok(out)
        }
        AlertFraming::SingleObject => {
            let mut writer = GenericSingleObjectWriter::new_with_capacity(alert_schema(), 1024)
                .map_err(|e| AlertCodecError::Schema(e.to_string()))?;
            let mut out = Vec::with_capacity(1024);
            writer
                .write_value(value, &mut out)
                .map_err(|e| AlertCodecError::Schema(e.to_string()))?;
            Ok(out)
        }
    }
}

/// Decodes an alert written with `framing` (consumers, tests and the demo use this).
pub fn decode_avro(bytes: &[u8], framing: AlertFraming) -> Result<ExfilAlert, AlertCodecError> {
    let value = match framing {
        AlertFraming::SingleObject => {
            let reader = GenericSingleObjectReader::new(alert_schema().clone())
                .map_err(|e| AlertCodecError::Decode(e.to_string()))?;
            reader
                .read_value(&mut &bytes[..])
                .map_err(|e| AlertCodecError::Decode(e.to_string()))?
        }
        AlertFraming::Confluent => {
            if bytes.len() < 5 || bytes[0] != 0 {
                return Err(AlertCodecError::Decode("not Confluent wire format".into()));
            }
            apache_avro::from_avro_datum(alert_schema(), &mut &bytes[5..], None)
                .map_err(|e| AlertCodecError::Decode(e.to_string()))?
        }
        AlertFraming::Raw => apache_avro::from_avro_datum(alert_schema(), &mut &bytes[..], None)
            .map_err(|e| AlertCodecError::Decode(e.to_string()))?,
    };
    apache_avro::from_value::<ExfilAlert>(&value)
        .map_err(|e| AlertCodecError::Decode(e.to_string()))
}

/// The alert as one line of JSON with the schema's field names (replay, demo, the JSON topic).
pub fn to_json_line(alert: &ExfilAlert) -> String {
    // Serialising plain strings, numbers and vectors cannot fail.
    serde_json::to_string(alert).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ExfilAlert {
        ExfilAlert {
            alert_id: alert_id(
                "bulk_read",
                "alice",
                &EpisodeKey {
                    opened_at_ms: 1,
                    opening_event_id: "e1",
                    level: 1,
                },
            ),
            rule: "bulk_read".into(),
            severity: Severity::High,
            risk_score: 77,
            account: "alice".into(),
            window_start: 1_000,
            window_end: 2_000,
            trigger_time: 2_000,
            emitted_at: 3_000,
            observed: 5000.0,
            threshold: Some(2000.0),
            baseline: None,
            peer_baseline: Some(40.0),
            unit: "records".into(),
            tables: vec!["support.customers".into()],
            data_classes: vec!["customer_pii".into()],
            destinations: vec![],
            client_ips: vec!["10.0.0.1".into()],
            event_count: 12,
            sample_event_ids: vec!["e1".into(), "e2".into()],
            mitre_techniques: vec!["T1213.006".into(), "T1078".into()],
            summary: "alice read a lot.".into(),
            rules: vec!["bulk_read".into(), "account_risk".into()],
            episode_id: "e".into(),
            episode_level: 1,
            risk: Some(5.2),
            risk_threshold: Some(4.9),
            peer_rank: Some(1),
            peer_count: Some(94),
            contributions: vec![AlertContribution {
                feature: "reads".into(),
                score: 3.4,
                value: 1240.0,
                normal: Some(480.0),
                peer_normal: None,
            }],
        }
    }

    #[test]
    fn every_framing_round_trips_through_the_schema() {
        for framing in [
            AlertFraming::SingleObject,
            AlertFraming::Confluent,
            AlertFraming::Raw,
        ] {
            let bytes = encode_avro(&sample(), framing, Some(42)).expect("encodes");
            let back = decode_avro(&bytes, framing).expect("decodes");
            assert_eq!(back, sample(), "{framing:?}");
        }
    }

    #[test]
    fn single_object_encoding_starts_with_the_spec_marker() {
        let bytes = encode_avro(&sample(), AlertFraming::SingleObject, None).expect("encodes");
        assert_eq!(&bytes[..2], &[0xC3, 0x01]);
    }

    #[test]
    fn alert_id_is_deterministic_and_sensitive_to_every_part() {
        let key = |at, id: &'static str, level| EpisodeKey {
            opened_at_ms: at,
            opening_event_id: id,
            level,
        };
        let base = alert_id("bulk_read", "alice", &key(1, "e1", 1));
        assert_eq!(base, alert_id("bulk_read", "alice", &key(1, "e1", 1)));
        assert_eq!(base.len(), 36);
        assert_ne!(base, alert_id("bulk_read", "alice", &key(1, "e1", 2)));
        assert_ne!(base, alert_id("bulk_read", "alicf", &key(1, "e1", 1)));
        assert_ne!(base, alert_id("bulk_read", "alice", &key(2, "e1", 1)));
        assert_ne!(base, alert_id("egress", "alice", &key(1, "e1", 1)));
    }

    #[test]
    fn risk_grows_with_ratio_weight_and_level() {
        assert_eq!(risk_score(1.0, 1.0, 1), 50);
        assert!(risk_score(2.0, 1.0, 1) > risk_score(1.0, 1.0, 1));
        assert!(risk_score(2.0, 2.0, 1) > risk_score(2.0, 1.0, 1));
        assert!(risk_score(2.0, 1.0, 3) > risk_score(2.0, 1.0, 1));
        assert_eq!(risk_score(1e9, 5.0, 9), 100);
        assert_eq!(Severity::from_score(50), Severity::Medium);
        assert_eq!(Severity::from_score(95), Severity::Critical);
    }

    #[test]
    fn json_uses_schema_field_names() {
        let json: serde_json::Value = serde_json::from_str(&to_json_line(&sample())).expect("json");
        assert_eq!(json["severity"], "HIGH");
        assert_eq!(json["window_start"], 1_000);
        assert!(json["baseline"].is_null());
    }
}
