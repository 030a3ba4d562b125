//! The sentence an analyst reads: the account's value and its own normal, its peers right now and its
//! rank among them, how many days it has run above normal, and which features made the risk.
//!
//! For example: "agent07 read 1,240 customers today: own median 480, peers' median today 115, top 1 of
//! 94 in support; third day above normal; risk 5.3 over the threshold of 4.9 from reads 3.4σ, new table 1.7σ".

use super::risk::{Assessment, Contribution, Feature};
use super::rules::{grouped, Finding, ACCOUNT_RISK};
use crate::config::RuleMode;

use crate::event::VolumeUnit;

/// T1213.006 Databases; T1078 Valid Accounts; T1030 Data Transfer Size Limits (a run of moderate days).
const MITRE: &[&str] = &["T1213.006", "T1078", "T1030"];

/// Everything the accumulated risk's alert says.
#[derive(Debug, Clone, Copy)]
pub struct RiskReport<'a> {
    pub account: &'a str,
    /// What the reads are counted in.
    pub unit: VolumeUnit,
    pub assessment: &'a Assessment,
    pub risk: f64,
    pub threshold: f64,
    /// Days in a row above the account's normal, today included.
    pub run_days: u32,
    /// The short run (the days well above normal, their excess over 1.5σ accumulated) passes the
    /// threshold by itself.
    pub short_run: bool,
    /// (members reading more today, members compared).
    pub rank: Option<(usize, usize)>,
    /// The peer group compared with (named by the source or configuration, or learned).
    pub group: &'a str,
    /// The group's median reads today so far.
    pub peers_today: Option<f64>,
    pub window_start_ms: i64,
    pub now_ms: i64,
    pub events_today: u64,
    pub mode: RuleMode,
    /// The day judged: "today" while it runs, else how a closed day is named (its whole-day evidence
    /// passed the threshold only once the day was over).
    pub day_words: &'static str,
}

/// How a report names the day while it runs.
pub const TODAY: &str = "today";
/// How a report names a closed day judged whole.
pub const LAST_DAY: &str = "on its last working day (whole day)";

/// The accumulated risk's finding.
pub fn risk_finding(report: &RiskReport<'_>) -> Finding {
    let parts = report.assessment.contributing();
    let lead = parts.iter().find(|p| p.value > 0.0).copied();
    let mut clause = match lead {
        Some(part) => volume_clause(report, part),
        None => format!("{} read sensitive data", report.account),
    };
    let novel: Vec<&str> = parts
        .iter()
        .filter(|p| p.value == 0.0)
        .map(|p| novelty_words(p.feature))
        .collect();
    if !novel.is_empty() {
        clause.push_str(&format!(" ({})", novel.join(", ")));
    }
    if report.run_days > 1 {
        clause.push_str(&format!("; {} day above normal", ordinal(report.run_days)));
    }
    if report.assessment.alone >= report.threshold {
        clause.push_str("; this day alone passes the threshold");
    } else if report.short_run {
        clause.push_str("; its days well above normal pass the threshold");
    }
    let why: Vec<String> = parts
        .iter()
        .map(|p| format!("{} {:.1}σ", p.feature.as_str().replace('_', " "), p.score))
        .collect();
    clause.push_str(&format!(
        "; risk {:.1} over the threshold of {:.1} from {}",
        report.risk,
        report.threshold,
        why.join(", ")
    ));
    Finding {
        rule: ACCOUNT_RISK,
        mode: report.mode,
        window_start_ms: report.window_start_ms,
        window_end_ms: report.now_ms,
        observed: report.risk,
        threshold: Some(report.threshold),
        baseline: lead.and_then(|p| p.normal),
        peer_baseline: report.peers_today.or(lead.and_then(|p| p.peer_normal)),
        unit: "risk",
        ratio: report.risk / report.threshold.max(1e-9),
        event_count: report.events_today,
        mitre_techniques: MITRE,
        clause,
        critical: false,
    }
}

fn volume_clause(report: &RiskReport<'_>, part: Contribution) -> String {
    let account = report.account;
    let unit = report.unit.as_str();
    match part.feature {
        Feature::Reads => {
            let mut text = format!(
                "{account} read {} {unit} {}",
                grouped(part.value),
                report.day_words
            );
            let mut facts = Vec::new();
            if let Some(normal) = part.normal {
                facts.push(format!("own median {}", grouped(normal)));
            }
            if let Some(peers) = report.peers_today {
                facts.push(format!("peers' median today {}", grouped(peers)));
            }
            if let Some((above, of)) = report.rank.filter(|&(_, of)| of > 1) {
                facts.push(format!("top {} of {of} in {}", above + 1, report.group));
            }
            if !facts.is_empty() {
                text.push_str(": ");
                text.push_str(&facts.join(", "));
            }
            text
        }
        Feature::ReadsVsPeers => format!(
            "{account} read {} {unit} {} with no history of its own: peers' median day {}",
            grouped(part.value),
            report.day_words,
            part.peer_normal.map_or_else(|| "unknown".into(), grouped)
        ),
        Feature::Exports => format!(
            "{account} exported {} {}: own median export day {}",
            bytes(part.value),
            report.day_words,
            part.normal.map_or_else(|| "unknown".into(), bytes)
        ),
        Feature::ExportsVsPeers => format!(
            "{account} exported {} {}: peers exporting that day {} each (median)",
            bytes(part.value),
            report.day_words,
            part.peer_normal.map_or_else(|| "unknown".into(), bytes)
        ),
        Feature::ExportsVsReads => {
            // Exports are counted to three significant figures from a thousand.
            let about = if part.value >= 1_000.0 { "about " } else { "" };
            let reads = match (part.normal, part.peer_normal) {
                (Some(own), _) => format!("it reads {} {unit} a day (median)", grouped(own)),
                (None, Some(peers)) => format!(
                    "with no history of its own, its peers read {} {unit} a day (median)",
                    grouped(peers)
                ),
                (None, None) => "its reads unknown".into(),
            };
            format!(
                "{account} exported {about}{} sensitive records {}, where neither it nor its peers export: {reads}",
                grouped(part.value),
                report.day_words,
            )
        }
        _ => format!("{account} read sensitive data"),
    }
}

fn novelty_words(feature: Feature) -> &'static str {
    match feature {
        Feature::NewClientAddress => "from a new client address",
        Feature::NewClientApplication => "with a new client application",
        Feature::UnusualHour => "at an hour it never works",
        Feature::NewDestination => "to a destination new to it and its peers",
        Feature::NewTable => "from a sensitive table it never read",
        _ => "",
    }
}

/// `3` → `third`.
pub fn ordinal(n: u32) -> String {
    const WORDS: [&str; 10] = [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
        "tenth",
    ];
    match WORDS.get(n.saturating_sub(1) as usize) {
        Some(word) if n > 0 => (*word).to_string(),
        _ => format!("{n}th"),
    }
}

/// `2_400_000_000` → `2.4 GB`.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut scaled = value.max(0.0);
    let mut unit = 0;
    while scaled >= 1000.0 && unit + 1 < UNITS.len() {
        scaled /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{scaled:.0} B")
    } else {
        format!("{scaled:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::risk::Contribution;
    use smallvec::smallvec;

    #[test]
    fn the_sentence_names_the_value_the_normals_the_rank_the_run_and_the_features() {
        let assessment = Assessment {
            score: 5.1,
            own: true,
            alone: 3.4,
            mature: false,
            parts: smallvec![
                Contribution {
                    feature: Feature::Reads,
                    score: 3.4,
                    value: 1240.0,
                    normal: Some(480.0),
                    peer_normal: Some(110.0),
                },
                Contribution {
                    feature: Feature::NewTable,
                    score: 1.7,
                    value: 0.0,
                    normal: None,
                    peer_normal: None,
                },
            ],
        };
        let report = RiskReport {
            account: "agent07",
            unit: VolumeUnit::Customers,
            assessment: &assessment,
            risk: 5.3,
            threshold: 4.9,
            run_days: 3,
            short_run: false,
            rank: Some((0, 94)),
            group: "support",
            peers_today: Some(115.0),
            window_start_ms: 0,
            now_ms: 1,
            events_today: 400,
            day_words: TODAY,
            mode: RuleMode::Alert,
        };
        let finding = risk_finding(&report);
        assert_eq!(
            finding.clause,
            "agent07 read 1,240 customers today: own median 480, peers' median today 115, top 1 of 94 \
             in support (from a sensitive table it never read); third day above normal; risk 5.3 over the threshold \
             of 4.9 from reads 3.4σ, new table 1.7σ"
        );
        assert_eq!(finding.rule, ACCOUNT_RISK);
        let strong = risk_finding(&RiskReport {
            short_run: true,
            ..report
        });
        assert!(
            strong.clause.contains(
                "; third day above normal; its days well above normal pass the threshold; risk 5.3"
            ),
            "{}",
            strong.clause
        );
        assert_eq!(finding.baseline, Some(480.0));
        assert!((finding.ratio - 5.3 / 4.9).abs() < 1e-9);
    }

    #[test]
    fn small_words_read_well() {
        assert_eq!(ordinal(2), "second");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(bytes(2_400_000_000.0), "2.4 GB");
        assert_eq!(bytes(512.0), "512 B");
    }
}
