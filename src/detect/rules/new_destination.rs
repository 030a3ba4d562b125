//! `new_destination`: many sensitive records exported to an external destination that nobody in the
//! organisation (the partition's accounts) has used within the retention period. A destination the
//! account's group uses is the group's (the company warehouse on a billing run); one anyone in the
//! organisation uses is the company's; an export to a personal mailbox or a file share nobody knows is
//! exfiltration whatever else the account did. Smaller or internal novelties are evidence for the
//! accumulated risk (its `new_destination` feature), not an alert of their own.

use super::{grouped, Finding};
use crate::config::{NewDestinationConfig, RuleMode};

pub const NAME: &str = "new_destination";

/// T1048 Exfiltration Over Alternative Protocol; T1567.002 Exfiltration to Cloud Storage; T1537
/// Transfer Data to Cloud Account.
const MITRE: &[&str] = &["T1048", "T1567.002", "T1537"];

/// How new an export's destination is, judged before the export is recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestinationNovelty {
    pub new_to_account: bool,
    pub new_to_group: bool,
    pub new_to_organisation: bool,
    pub internal: bool,
    pub allowed: bool,
}

#[derive(Debug, Clone)]
pub struct NewDestination {
    mode: RuleMode,
    min_records: u64,
    min_bytes: u64,
    retention_days: u64,
}

impl NewDestination {
    pub fn from_config(config: &NewDestinationConfig) -> Option<Self> {
        config.enabled.then_some(NewDestination {
            mode: config.mode,
            min_records: config.min_records,
            min_bytes: config.min_bytes,
            retention_days: config.retention.as_secs() / 86_400,
        })
    }

    /// A breach for an export of `records` sensitive records and `bytes` to `identity`.
    pub fn check(
        &self,
        account: &str,
        identity: &str,
        novelty: DestinationNovelty,
        records: u64,
        bytes: u64,
        time_ms: i64,
    ) -> Option<Finding> {
        if novelty.allowed || novelty.internal || !novelty.new_to_organisation {
            return None;
        }
        if records < self.min_records && bytes < self.min_bytes {
            return None;
        }
        let (observed, unit) = if records > 0 {
            (records as f64, "records")
        } else {
            (bytes as f64, "bytes")
        };
        let threshold = if records > 0 {
            self.min_records as f64
        } else {
            self.min_bytes as f64
        };
        Some(Finding {
            rule: NAME,
            mode: self.mode,
            window_start_ms: time_ms,
            window_end_ms: time_ms,
            observed,
            threshold: Some(threshold),
            baseline: None,
            peer_baseline: None,
            unit,
            // An external destination nobody knows: high at once.
            ratio: 4.0,
            event_count: 1,
            mitre_techniques: MITRE,
            clause: format!(
                "{account} exported {} sensitive {unit} to {identity}, an external destination nobody in the organisation used in the last {} days",
                grouped(observed),
                self.retention_days
            ),
            critical: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_large_exports_to_destinations_the_organisation_never_used_breach() {
        let rule = NewDestination::from_config(&NewDestinationConfig::default()).expect("enabled");
        let unknown = DestinationNovelty {
            new_to_account: true,
            new_to_group: true,
            new_to_organisation: true,
            ..DestinationNovelty::default()
        };
        assert!(rule
            .check("a", "smtp://mail.example", unknown, 4_000, 0, 1)
            .is_some());
        assert!(rule
            .check("a", "smtp://mail.example", unknown, 10, 1_000, 1)
            .is_none());
        let company = DestinationNovelty {
            new_to_organisation: false,
            ..unknown
        };
        assert!(rule
            .check("a", "s3://corp-warehouse", company, 25_000, 0, 1)
            .is_none());
        let internal = DestinationNovelty {
            internal: true,
            ..unknown
        };
        assert!(rule
            .check("a", "10.0.0.9", internal, 25_000, 0, 1)
            .is_none());
    }
}
