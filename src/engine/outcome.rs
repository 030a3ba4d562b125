//! What processing one event produced, and what became of each finding.

use crate::alert::ExfilAlert;
use crate::detect::peers::TeamSight;
use crate::engine::groups::Threshold;

/// What became of a finding (a bounded metric label).
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
    /// The partition is still in its learning period.
    Learning,
}

impl FindingFate {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingFate::Published => "published",
            FindingFate::Duplicate => "duplicate",
            FindingFate::Observed => "observed",
            FindingFate::Suppressed => "suppressed",
            FindingFate::Learning => "learning",
        }
    }
    pub const ALL: [FindingFate; 5] = [
        FindingFate::Published,
        FindingFate::Duplicate,
        FindingFate::Observed,
        FindingFate::Suppressed,
        FindingFate::Learning,
    ];
}

/// What processing one event produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub alerts: Vec<ExfilAlert>,
    /// The event was older than the account's watermark allows: counted, not windowed.
    pub late: bool,
    /// The event was held for being a day or more ahead of both its account and its partition
    /// ([`super::HELD_AHEAD_MS`]): judged alone, it moved nothing of its account (yet).
    pub ahead: bool,
    /// The event's time was implausibly far ahead of its partition's
    /// ([`super::partition_time::EventTime::Implausible`]): not processed; the service dead-letters it.
    pub implausible_time: bool,
    /// Accounts evicted to respect the cap while making room for this one, idle too long, or started
    /// afresh because their first events were on a clock the partition outvoted.
    pub evicted: usize,
    /// Idle accounts shrunk to their baseline by a sweep this event triggered.
    pub compacted: usize,
    pub findings: Vec<(&'static str, FindingFate)>,
    /// For a sensitive read: how much of the account's group it was judged with.
    pub team_sight: Option<TeamSight>,
    /// The risk threshold in force for the event's partition.
    pub threshold: Option<Threshold>,
}
