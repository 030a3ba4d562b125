//! Peer groups learned from behaviour, for accounts that neither the source nor a configured pattern
//! places in a group.
//!
//! **Principle.** Peers are people doing the same job, and a job shows in what is read and with what:
//! the sensitive table an account reads most and the client application it reads it with (a fraud
//! investigator reads the customers table through the fraud console, a billing clerk the billing
//! tables through the CRM). On its first working day an account votes for its main sensitive table
//! (Boyer–Moore majority: two words of state, no table list); when that day closes its signature,
//! `"<table> via <application>"`, is fixed for good. Volumes are deliberately not part of it: every
//! comparison is already relative to each member's own level, so a heavy and a light reader of the same
//! job are good peers, and a volume band would move an attacker out of its group as it drifts.
//!
//! **Small signatures stay in the organisation.** A group of two says nothing about a day, so a
//! signature counts as a group only from [`MIN_LEARNED_MEMBERS`] accounts in the partition; until then
//! its accounts stay in the organisation-wide group. Counts only grow, so an account moves at most once,
//! and the move keeps its history (it is still the same job; only a group named by the source or the
//! configuration is a role whose change forgets the past).
//!
//! Everything is decided from the partition's ordered stream alone, so replay equals live.

use std::sync::Arc;

use dashmap::DashMap;

use crate::engine::accounts::PartitionRef;

/// Accounts a learned signature needs in a partition before it is a group of its own (the fewest
/// members a group's common mode is measured from).
pub const MIN_LEARNED_MEMBERS: u32 = 5;

/// Learned signatures kept per partition: the client application is the source's word, so an
/// adversarial stream could invent any number; past this, new signatures stay in the organisation.
pub const MAX_LEARNED_GROUPS: usize = 256;

/// What an account without a named group has shown of its job so far (boxed while it votes: the
/// account's state stays small, as only a first day needs it).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// No sensitive read yet.
    #[default]
    Unknown,
    /// Its first working day: the majority vote over the sensitive tables it reads.
    Observing(Box<Votes>),
    /// Fixed when its first working day closed.
    Learned(Arc<str>),
}

/// The Boyer–Moore majority vote over the sensitive tables of a first working day.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Votes {
    table: String,
    votes: u32,
    application: String,
}

impl Role {
    /// Counts one sensitive table read with `application` (the first one seen is kept).
    pub fn vote(&mut self, table: &str, application: Option<&str>) {
        match self {
            Role::Unknown => {
                *self = Role::Observing(Box::new(Votes {
                    table: table.to_string(),
                    votes: 1,
                    application: application.unwrap_or("unknown application").to_string(),
                }))
            }
            Role::Observing(ballot) => {
                if ballot.table == table {
                    ballot.votes += 1;
                } else if ballot.votes == 0 {
                    ballot.table = table.to_string();
                    ballot.votes = 1;
                } else {
                    ballot.votes -= 1;
                }
            }
            Role::Learned(_) => {}
        }
    }

    /// Fixes the signature at the close of the first working day; returns it when it was just fixed.
    pub fn settle(&mut self) -> Option<Arc<str>> {
        if let Role::Observing(ballot) = self {
            let signature: Arc<str> =
                Arc::from(format!("{} via {}", ballot.table, ballot.application));
            *self = Role::Learned(Arc::clone(&signature));
            return Some(signature);
        }
        None
    }

    pub fn signature(&self) -> Option<&Arc<str>> {
        match self {
            Role::Learned(signature) => Some(signature),
            _ => None,
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Role::Observing(ballot) => {
                std::mem::size_of::<Votes>()
                    + ballot.table.capacity()
                    + ballot.application.capacity()
            }
            Role::Learned(signature) => signature.len(),
            Role::Unknown => 0,
        }
    }
}

/// Learned signatures of one partition and how many accounts carry each.
type Sizes = Vec<(Arc<str>, u32)>;

/// How many accounts carry each learned signature, per partition.
#[derive(Debug, Default)]
pub struct LearnedGroups {
    sizes: DashMap<Option<PartitionRef>, Sizes, ahash::RandomState>,
}

impl LearnedGroups {
    /// Counts an account whose signature was just fixed.
    pub fn join(&self, partition: Option<PartitionRef>, signature: &Arc<str>) {
        let mut sizes = self.sizes.entry(partition).or_default();
        if let Some((_, count)) = sizes.iter_mut().find(|(s, _)| s == signature) {
            *count = count.saturating_add(1);
        } else if sizes.len() < MAX_LEARNED_GROUPS {
            sizes.push((Arc::clone(signature), 1));
        }
    }

    /// Forgets revoked partitions' signatures: their accounts are gone.
    pub fn forget(&self, partitions: &[PartitionRef]) {
        for partition in partitions {
            self.sizes.remove(&Some(*partition));
        }
    }

    /// Whether `signature` has enough accounts in `partition` to be a group of its own.
    pub fn is_group(&self, partition: Option<PartitionRef>, signature: &str) -> bool {
        self.sizes.get(&partition).is_some_and(|sizes| {
            sizes
                .iter()
                .any(|(s, count)| &**s == signature && *count >= MIN_LEARNED_MEMBERS)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_table_of_the_first_day_and_the_application_make_the_signature() {
        let mut role = Role::default();
        for table in ["billing.customers", "billing.invoices", "billing.customers"] {
            role.vote(table, Some("collector-ui"));
        }
        role.vote("billing.customers", Some("psql"));
        assert_eq!(
            role.settle().as_deref(),
            Some("billing.customers via collector-ui")
        );
        // Fixed for good: later days never move it.
        role.vote("legal.cases", Some("psql"));
        assert!(role.settle().is_none());
        assert_eq!(
            role.signature().map(|s| &**s),
            Some("billing.customers via collector-ui")
        );
    }

    #[test]
    fn a_signature_is_a_group_from_five_accounts_in_its_partition() {
        let groups = LearnedGroups::default();
        let signature: Arc<str> = Arc::from("support.customers via fraud-console");
        for _ in 0..MIN_LEARNED_MEMBERS - 1 {
            groups.join(None, &signature);
        }
        assert!(!groups.is_group(None, &signature));
        groups.join(None, &signature);
        assert!(groups.is_group(None, &signature));
        assert!(!groups.is_group(
            Some(PartitionRef {
                topic: 0,
                partition: 1
            }),
            &signature
        ));
        assert!(!groups.is_group(None, "legal.cases via psql"));
    }

    #[test]
    fn an_account_that_never_reads_sensitive_data_has_no_signature() {
        let mut role = Role::default();
        assert!(role.settle().is_none());
        assert!(role.signature().is_none());
    }
}
