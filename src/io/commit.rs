//! Commit: per-partition offset tracking, the one place offset arithmetic lives.
//!
//! A message is *done* when every alert or dead letter it caused is acknowledged by the broker (a message
//! that caused nothing is done at once). The committable offset of a partition is the offset of its
//! oldest message not yet done, or one past the newest message when all are done: Kafka commits the
//! *next* offset to read, hence the `+ 1`. Nothing after a pending message is committed, so a crash
//! replays it and everything behind it: at-least-once, never lost.

use std::collections::{BTreeMap, HashMap};

/// A topic partition by name, as the Kafka client reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct PartitionOffsets {
    /// offset → outstanding deliveries for messages not yet done.
    pending: BTreeMap<i64, u32>,
    /// Newest offset handed to `begin`.
    newest: Option<i64>,
    /// Last committable offset reported to the caller, to report only changes.
    last_reported: Option<i64>,
}

impl PartitionOffsets {
    fn committable(&self) -> Option<i64> {
        match self.pending.keys().next() {
            Some(&oldest_pending) => Some(oldest_pending),
            // The next offset to read after the newest done message.
            None => self.newest.map(|n| n + 1),
        }
    }
}

/// Offsets of all assigned partitions.
#[derive(Debug, Default, Clone)]
pub struct OffsetTracker {
    partitions: HashMap<TopicPartition, PartitionOffsets>,
}

impl OffsetTracker {
    pub fn new() -> Self {
        OffsetTracker::default()
    }

    /// Starts tracking a newly assigned partition (a no-op if already tracked).
    pub fn assign(&mut self, tp: TopicPartition) {
        self.partitions.entry(tp).or_default();
    }

    /// Stops tracking a revoked partition; late acknowledgements for it are then ignored.
    pub fn revoke(&mut self, tp: &TopicPartition) {
        self.partitions.remove(tp);
    }

    /// Records that message `offset` was processed and caused `outstanding` deliveries.
    /// Offsets must grow per partition (Kafka delivers them in order).
    pub fn begin(&mut self, tp: &TopicPartition, offset: i64, outstanding: u32) {
        let entry = self.partitions.entry(tp.clone()).or_default();
        debug_assert!(
            entry.newest.is_none_or(|n| offset > n),
            "offsets must grow per partition"
        );
        entry.newest = Some(entry.newest.map_or(offset, |n| n.max(offset)));
        if outstanding > 0 {
            *entry.pending.entry(offset).or_insert(0) += outstanding;
        }
    }

    /// One delivery for message `offset` was acknowledged.
    pub fn ack(&mut self, tp: &TopicPartition, offset: i64) {
        let Some(entry) = self.partitions.get_mut(tp) else {
            return;
        };
        if let Some(count) = entry.pending.get_mut(&offset) {
            *count -= 1;
            if *count == 0 {
                entry.pending.remove(&offset);
            }
        }
    }

    /// The offset to commit for `tp`: the next offset a restarted consumer must read.
    pub fn committable(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions
            .get(tp)
            .and_then(PartitionOffsets::committable)
    }

    /// Committable offsets that moved since the last call, for storing in the client.
    pub fn take_changed(&mut self) -> Vec<(TopicPartition, i64)> {
        let mut changed = Vec::new();
        for (tp, entry) in &mut self.partitions {
            let now = entry.committable();
            if now.is_some() && now != entry.last_reported {
                entry.last_reported = now;
                if let Some(offset) = now {
                    changed.push((tp.clone(), offset));
                }
            }
        }
        changed.sort();
        changed
    }

    /// Deliveries not yet acknowledged, over all partitions.
    pub fn in_flight(&self) -> u64 {
        self.partitions
            .values()
            .flat_map(|p| p.pending.values())
            .map(|&c| u64::from(c))
            .sum()
    }

    pub fn assigned(&self) -> Vec<TopicPartition> {
        let mut tps: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
        tps.sort();
        tps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tp() -> TopicPartition {
        TopicPartition::new("in", 0)
    }

    #[test]
    fn message_without_alerts_is_committable_at_once() {
        let mut t = OffsetTracker::new();
        t.begin(&tp(), 7, 0);
        assert_eq!(t.committable(&tp()), Some(8));
    }

    #[test]
    fn pending_alert_holds_back_later_offsets() {
        let mut t = OffsetTracker::new();
        t.begin(&tp(), 0, 0);
        t.begin(&tp(), 1, 2); // two alerts in flight
        t.begin(&tp(), 2, 0);
        assert_eq!(
            t.committable(&tp()),
            Some(1),
            "resume at the message whose alerts are unacked"
        );
        t.ack(&tp(), 1);
        assert_eq!(t.committable(&tp()), Some(1));
        t.ack(&tp(), 1);
        assert_eq!(t.committable(&tp()), Some(3));
    }

    #[test]
    fn take_changed_reports_each_move_once() {
        let mut t = OffsetTracker::new();
        t.begin(&tp(), 0, 0);
        assert_eq!(t.take_changed(), vec![(tp(), 1)]);
        assert!(t.take_changed().is_empty());
        t.begin(&tp(), 1, 1);
        assert!(t.take_changed().is_empty(), "still 1: message 1 is pending");
        t.ack(&tp(), 1);
        assert_eq!(t.take_changed(), vec![(tp(), 2)]);
    }

    #[test]
    fn revoked_partition_ignores_late_acks() {
        let mut t = OffsetTracker::new();
        t.begin(&tp(), 0, 1);
        t.revoke(&tp());
        t.ack(&tp(), 0);
        assert_eq!(t.committable(&tp()), None);
        assert_eq!(t.in_flight(), 0);
    }

    proptest! {
        /// The committable offset never passes a message with unacknowledged deliveries, and once every
        /// delivery is acknowledged it is one past the newest message.
        #[test]
        fn never_commits_past_pending_work(
            alerts in proptest::collection::vec(0u32..3, 1..60),
            ack_order in proptest::collection::vec(any::<proptest::sample::Index>(), 0..200),
        ) {
            let mut t = OffsetTracker::new();
            let mut outstanding: Vec<(i64, u32)> = Vec::new();
            for (offset, &n) in alerts.iter().enumerate() {
                t.begin(&tp(), offset as i64, n);
                if n > 0 {
                    outstanding.push((offset as i64, n));
                }
            }
            for index in ack_order {
                if outstanding.is_empty() {
                    break;
                }
                let i = index.index(outstanding.len());
                let offset = outstanding[i].0;
                t.ack(&tp(), offset);
                outstanding[i].1 -= 1;
                if outstanding[i].1 == 0 {
                    outstanding.remove(i);
                }
                let oldest_pending = outstanding.iter().map(|(o, _)| *o).min();
                let expected = oldest_pending.unwrap_or(alerts.len() as i64);
                prop_assert_eq!(t.committable(&tp()), Some(expected));
            }
        }
    }
}
