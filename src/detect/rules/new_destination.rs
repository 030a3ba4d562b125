//! `new_destination`: many sensitive records exported to an external destination that nobody in the
//! organisation (the partition's accounts) has used within the retention period. A destination the
//! account's group uses is the group's (the company warehouse on a billing run); one anyone in the
//! organisation uses is the company's; an export to a personal mailbox or a file share nobody knows is
//! exfiltration whatever else the account did. Smaller or internal novelties are evidence for the
//! accumulated risk (its `new_destination` feature), not an alert of their own.
//!
//! A transfer split into chunks (T1030) is still one transfer: what an account sends to a destination
//! that was new to the organisation is summed for a day from its first export there ([`FreshExports`]),
//! so five chunks of 6 MB breach the 10 MiB floor at the second, as one 30 MB export would at once.
//! Without it, a source that counts bytes but no rows (records are then one per statement) could never
//! show a chunked export as large.

use serde::{Deserialize, Serialize};

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

/// How long after an account's first export to a destination new to the organisation its later
/// exports there still count as the same transfer: a day.
pub const FRESH_MS: i64 = 86_400_000;
/// Fresh destinations remembered per account (nearly always none).
const FRESH_CAPACITY: usize = 4;

/// What one account sent to a destination that nobody in the organisation had used, since its first
/// export there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreshExport {
    /// Keyed fast hash of the destination's identity.
    pub hash: u64,
    pub first_ms: i64,
    pub records: u64,
    pub bytes: u64,
}

/// An account's exports to destinations new to the organisation, each for [`FRESH_MS`] from its first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreshExports(Vec<FreshExport>);

impl FreshExports {
    /// Records an export of `records` sensitive records and `bytes` to `hash` at `time_ms`;
    /// `new_to_organisation` when nobody had used the destination before this export (and it is
    /// neither internal nor allowed). Returns what the account has sent there while it is fresh, this
    /// export included, or `None` when it is not a fresh destination.
    pub fn record(
        &mut self,
        hash: u64,
        new_to_organisation: bool,
        time_ms: i64,
        records: u64,
        bytes: u64,
    ) -> Option<(u64, u64)> {
        self.0
            .retain(|e| time_ms.saturating_sub(e.first_ms) < FRESH_MS);
        if let Some(entry) = self.0.iter_mut().find(|e| e.hash == hash) {
            entry.records = entry.records.saturating_add(records);
            entry.bytes = entry.bytes.saturating_add(bytes);
            return Some((entry.records, entry.bytes));
        }
        if !new_to_organisation {
            return None;
        }
        if self.0.len() >= FRESH_CAPACITY {
            if let Some(oldest) = (0..self.0.len()).min_by_key(|&i| self.0[i].first_ms) {
                self.0.swap_remove(oldest);
            }
        }
        self.0.push(FreshExport {
            hash,
            first_ms: time_ms,
            records,
            bytes,
        });
        Some((records, bytes))
    }

    /// What was sent to `hash` while fresh, as of the last [`FreshExports::record`].
    pub fn sent(&self, hash: u64) -> Option<(u64, u64)> {
        self.0
            .iter()
            .find(|e| e.hash == hash)
            .map(|e| (e.records, e.bytes))
    }

    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<FreshExport>()
    }
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
        // Report the measure that breached: a source without row counts counts one record per
        // statement, and "2 records" would hide 12 MB.
        let (observed, unit, threshold) = if records >= self.min_records {
            (records as f64, "records", self.min_records as f64)
        } else {
            (bytes as f64, "bytes", self.min_bytes as f64)
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
    fn chunks_to_a_fresh_destination_add_up_for_a_day() {
        let mut fresh = FreshExports::default();
        let hour = 3_600_000;
        assert_eq!(fresh.record(7, true, 0, 1, 6_000_000), Some((1, 6_000_000)));
        // The destination is known after the first chunk, but the transfer goes on.
        assert_eq!(
            fresh.record(7, false, hour, 1, 6_000_000),
            Some((2, 12_000_000))
        );
        assert_eq!(fresh.sent(7), Some((2, 12_000_000)));
        // A destination someone else used first is not fresh.
        assert_eq!(fresh.record(8, false, hour, 5, 5), None);
        // A day after the first export it is an ordinary destination again.
        assert_eq!(fresh.record(7, false, FRESH_MS, 1, 1), None);
        assert_eq!(fresh.sent(7), None);
        // Bounded: the oldest gives way.
        for hash in 10..20 {
            fresh.record(
                hash,
                true,
                2 * FRESH_MS + i64::try_from(hash).expect("small"),
                1,
                1,
            );
        }
        assert_eq!(fresh.0.len(), FRESH_CAPACITY);
        assert!(fresh.sent(19).is_some() && fresh.sent(10).is_none());
    }

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
