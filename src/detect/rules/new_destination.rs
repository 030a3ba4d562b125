//! `new_destination`: many sensitive records exported to an external destination that nobody else in
//! the organisation (the partition's accounts) has used within the retention period. A destination the
//! account's group uses is the group's (the company warehouse on a billing run); one anyone in the
//! organisation uses is the company's; an export to a personal mailbox or a file share nobody knows is
//! exfiltration whatever else the account did. Smaller or internal novelties are evidence for the
//! accumulated risk (its `new_destination` feature), not an alert of their own.
//!
//! What an account sends to a destination only it uses is one transfer, however it is split
//! ([`PrivateExports`]): five chunks of 6 MB in an afternoon breach the 10 MiB floor at the second, as
//! one 30 MB export would at once (T1030), and forty customers mailed to a personal address every
//! working day breach the 100-record floor on the third day, as a hundred and twenty at once would.
//! Only the destination's privacy ends the sum: once another account of the organisation exports there
//! it is the organisation's. Without it, a source that counts bytes but no rows (records are then one
//! per statement) could never show a chunked export as large, and a drip of a few records a day would
//! never add up to anything at all.

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
    /// Nobody in the organisation but this account used it within the retention.
    pub private: bool,
    pub internal: bool,
    pub allowed: bool,
}

/// Private destinations remembered per account (nearly always none).
const PRIVATE_CAPACITY: usize = 4;

/// What one account sent to an external destination that nobody else in the organisation used, since
/// its first export there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateExport {
    /// Keyed fast hash of the destination's identity.
    pub hash: u64,
    pub first_ms: i64,
    pub records: u64,
    pub bytes: u64,
}

/// What was sent to one private destination: records and bytes up to the latest export, what they
/// were before it, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub records: u64,
    pub bytes: u64,
    pub earlier_records: u64,
    pub earlier_bytes: u64,
    pub first_ms: i64,
}

impl Sent {
    /// One export on its own.
    pub fn once(records: u64, bytes: u64, time_ms: i64) -> Sent {
        Sent {
            records,
            bytes,
            earlier_records: 0,
            earlier_bytes: 0,
            first_ms: time_ms,
        }
    }
}

/// An account's exports to destinations that were new to the organisation at its first export there,
/// each summed from that export for as long as the destination stays private to the account, up to
/// the retention. A destination the account has used longer than that is its own established channel
/// (a nightly sync), not a transfer in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateExports(Vec<PrivateExport>);

impl PrivateExports {
    /// Records an export of `records` sensitive records and `bytes` to `hash` at `time_ms`, as judged
    /// before it: `novelty.new_to_organisation` when nobody in the organisation had used the
    /// destination within the retention, `novelty.private` when nobody but this account had. Internal
    /// and allowed destinations are never private. Sums end `horizon_ms` (the retention) after their
    /// first export. Returns what the account has sent there while private, this export included, or
    /// `None`.
    pub fn record(
        &mut self,
        hash: u64,
        novelty: DestinationNovelty,
        time_ms: i64,
        (records, bytes): (u64, u64),
        horizon_ms: i64,
    ) -> Option<Sent> {
        self.0
            .retain(|e| time_ms.saturating_sub(e.first_ms) < horizon_ms);
        let index = self.0.iter().position(|e| e.hash == hash);
        if !novelty.private || novelty.internal || novelty.allowed {
            if let Some(index) = index {
                self.0.swap_remove(index);
            }
            return None;
        }
        if let Some(entry) = index.and_then(|i| self.0.get_mut(i)) {
            entry.records = entry.records.saturating_add(records);
            entry.bytes = entry.bytes.saturating_add(bytes);
            return Some(entry.sent((records, bytes)));
        }
        if !novelty.new_to_organisation {
            return None;
        }
        if self.0.len() >= PRIVATE_CAPACITY {
            if let Some(oldest) = (0..self.0.len()).min_by_key(|&i| self.0[i].first_ms) {
                self.0.swap_remove(oldest);
            }
        }
        let entry = PrivateExport {
            hash,
            first_ms: time_ms,
            records,
            bytes,
        };
        self.0.push(entry);
        Some(entry.sent((records, bytes)))
    }

    /// What was sent to `hash` while private, as of the last [`PrivateExports::record`], whose own
    /// export was `latest` (records, bytes).
    pub fn sent(&self, hash: u64, latest: (u64, u64)) -> Option<Sent> {
        self.0
            .iter()
            .find(|e| e.hash == hash)
            .map(|e| e.sent(latest))
    }

    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<PrivateExport>()
    }
}

impl PrivateExport {
    /// The sums, and what they were before the `latest` export (records, bytes) that ended them.
    fn sent(&self, (records, bytes): (u64, u64)) -> Sent {
        Sent {
            records: self.records,
            bytes: self.bytes,
            earlier_records: self.records.saturating_sub(records),
            earlier_bytes: self.bytes.saturating_sub(bytes),
            first_ms: self.first_ms,
        }
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

    /// A breach for what `account` has sent to `identity` (`sent`, up to the export at `time_ms`).
    pub fn check(
        &self,
        account: &str,
        identity: &str,
        novelty: DestinationNovelty,
        sent: Sent,
        time_ms: i64,
    ) -> Option<Finding> {
        if novelty.allowed || novelty.internal || !novelty.private {
            return None;
        }
        // The sum breaches once, when it first reaches a floor: later exports there are the same
        // transfer, already reported (the account's export volume still weighs them in its risk).
        let reaches =
            |records: u64, bytes: u64| records >= self.min_records || bytes >= self.min_bytes;
        if !reaches(sent.records, sent.bytes) || reaches(sent.earlier_records, sent.earlier_bytes) {
            return None;
        }
        // Report the measure that breached: a source without row counts counts one record per
        // statement, and "2 records" would hide 12 MB.
        let (observed, unit, threshold) = if sent.records >= self.min_records {
            (sent.records as f64, "records", self.min_records as f64)
        } else {
            (sent.bytes as f64, "bytes", self.min_bytes as f64)
        };
        let span_ms = time_ms.saturating_sub(sent.first_ms);
        let sent_what = if span_ms < 3_600_000 {
            format!("exported {} sensitive {unit}", grouped(observed))
        } else {
            format!(
                "has exported {} sensitive {unit} over {} (since its first export there)",
                grouped(observed),
                span(span_ms)
            )
        };
        Some(Finding {
            rule: NAME,
            mode: self.mode,
            window_start_ms: sent.first_ms.min(time_ms),
            window_end_ms: time_ms,
            observed,
            threshold: Some(threshold),
            baseline: None,
            peer_baseline: None,
            unit,
            // An external destination nobody else knows: high at once.
            ratio: 4.0,
            event_count: 1,
            mitre_techniques: MITRE,
            clause: format!(
                "{account} {sent_what} to {identity}, an external destination nobody else in the organisation used in the last {} days",
                self.retention_days
            ),
            critical: false,
        })
    }
}

/// A span for an analyst: hours under two days, days beyond.
fn span(ms: i64) -> String {
    let hours = ms / 3_600_000;
    match hours {
        0..=1 => "an hour".to_string(),
        2..=47 => format!("{hours} hours"),
        _ => format!("{} days", hours / 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const HORIZON: i64 = 30 * DAY;

    fn novelty(new_to_organisation: bool, private: bool) -> DestinationNovelty {
        DestinationNovelty {
            new_to_organisation,
            private,
            ..DestinationNovelty::default()
        }
    }

    #[test]
    fn what_goes_to_a_private_destination_adds_up_until_someone_else_uses_it() {
        let mut exports = PrivateExports::default();
        let hour = 3_600_000;
        let first = exports.record(7, novelty(true, true), 0, (1, 6_000_000), HORIZON);
        assert_eq!(first, Some(Sent::once(1, 6_000_000, 0)));
        // Known to the organisation after the first chunk, but only through this account: the
        // transfer goes on, for days.
        let later = exports.record(
            7,
            novelty(false, true),
            3 * DAY + hour,
            (1, 6_000_000),
            HORIZON,
        );
        let expected = Sent {
            records: 2,
            bytes: 12_000_000,
            earlier_records: 1,
            earlier_bytes: 6_000_000,
            first_ms: 0,
        };
        assert_eq!(later, Some(expected));
        assert_eq!(exports.sent(7, (1, 6_000_000)), Some(expected));
        // A destination someone else used first is not the account's private one.
        assert_eq!(
            exports.record(8, novelty(false, false), hour, (5, 5), HORIZON),
            None
        );
        // Nor is one the account has used longer than the retention: its own channel (a nightly sync).
        assert_eq!(
            exports.record(9, novelty(false, true), hour, (5, 5), HORIZON),
            None
        );
        // Once another account exports there it is the organisation's: the sum ends.
        assert_eq!(
            exports.record(7, novelty(false, false), 4 * DAY, (1, 1), HORIZON),
            None
        );
        assert_eq!(exports.sent(7, (1, 1)), None);
        // So does the retention.
        exports.record(6, novelty(true, true), 0, (1, 1), HORIZON);
        assert_eq!(
            exports.record(6, novelty(false, true), HORIZON, (1, 1), HORIZON),
            None
        );
        // Internal and allowed destinations are never private.
        let internal = DestinationNovelty {
            internal: true,
            ..novelty(true, true)
        };
        assert_eq!(exports.record(5, internal, 0, (500, 1), HORIZON), None);
        // Bounded: the oldest gives way.
        for hash in 10..20 {
            let time = 2 * DAY + i64::try_from(hash).expect("small");
            exports.record(hash, novelty(true, true), time, (1, 1), HORIZON);
        }
        assert_eq!(exports.0.len(), PRIVATE_CAPACITY);
        assert!(exports.sent(19, (1, 1)).is_some() && exports.sent(10, (1, 1)).is_none());
    }

    #[test]
    fn a_private_transfer_breaches_once_when_it_first_reaches_a_floor() {
        let rule = NewDestination::from_config(&NewDestinationConfig::default()).expect("enabled");
        let private = novelty(true, true);
        let mail = "smtp://mail.example";
        assert!(rule
            .check("a", mail, private, Sent::once(4_000, 0, 1), 1)
            .is_some());
        assert!(rule
            .check("a", mail, private, Sent::once(10, 1_000, 1), 1)
            .is_none());
        // Forty records a day: the third day's export reaches the 100-record floor.
        let third = Sent {
            earlier_records: 80,
            earlier_bytes: 48_000,
            ..Sent::once(120, 72_000, 0)
        };
        let finding = rule
            .check("a", mail, private, third, 2 * DAY)
            .expect("breach");
        assert_eq!((finding.observed, finding.window_start_ms), (120.0, 0));
        assert!(
            finding
                .clause
                .contains("has exported 120 sensitive records over 2 days"),
            "{}",
            finding.clause
        );
        // The fourth adds to a transfer already reported.
        let fourth = Sent {
            earlier_records: 120,
            earlier_bytes: 72_000,
            ..Sent::once(160, 96_000, 0)
        };
        assert!(rule.check("a", mail, private, fourth, 3 * DAY).is_none());
        let company = novelty(false, false);
        let warehouse = "s3://corp-warehouse";
        assert!(rule
            .check("a", warehouse, company, Sent::once(25_000, 0, 1), 1)
            .is_none());
        let internal = DestinationNovelty {
            internal: true,
            ..private
        };
        assert!(rule
            .check("a", "10.0.0.9", internal, Sent::once(25_000, 0, 1), 1)
            .is_none());
    }
}
