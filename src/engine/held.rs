//! Events held for being far ahead of their account and their partition ([`super::HELD_AHEAD_MS`]),
//! until the partition's next event says what they were.
//!
//! **Why.** The first event of a partition resuming after a long silence (a weekend) and an event from
//! a clock that jumped days ahead look the same when they come: far ahead of everything before them.
//! Processed at once, a clock error moves its account's watermark, windows and day days ahead and leaves
//! the account's next days late; judged alone for good, the first events after a weekend lose all but
//! what they show alone (five chunks of an exfiltration to a new share were missed that way). The
//! partition's next event tells them apart: far ahead too, the partition is resuming, and the held event
//! is processed before it; back at the partition's time, it was a clock error, already judged alone.
//! One event per partition is held at most, for one event of the partition.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::engine::accounts::PartitionRef;
use crate::engine::partition_time::EventTime;
use crate::event::Activity;

#[derive(Debug, Default)]
pub struct HeldEvents {
    /// How many are held: in the common case (none) no lock is taken.
    count: AtomicUsize,
    events: Mutex<Vec<Held>>,
}

#[derive(Debug)]
struct Held {
    partition: Option<PartitionRef>,
    event: Activity,
    emitted_at_ms: i64,
}

impl HeldEvents {
    /// Holds `event` of `partition` (judged alone meanwhile by the caller).
    pub fn hold(&self, partition: Option<PartitionRef>, event: &Activity, emitted_at_ms: i64) {
        let mut events = self.lock();
        events.retain(|held| held.partition != partition);
        events.push(Held {
            partition,
            event: event.clone(),
            emitted_at_ms,
        });
        self.count.store(events.len(), Ordering::Relaxed);
    }

    /// What the partition's next event, placed as `time` (and the `run`-th in a row far ahead of the
    /// partition's time), makes of the event held there: released (with its wall-clock stamp) when the
    /// partition is resuming, dropped when the next event is back at the partition's time.
    pub fn decide(
        &self,
        partition: Option<PartitionRef>,
        time: EventTime,
        run: u32,
    ) -> Option<(Activity, i64)> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let resuming = time == EventTime::Unconfirmed && run >= 2;
        if !resuming && time != EventTime::Trusted {
            return None;
        }
        let mut events = self.lock();
        let index = events.iter().position(|held| held.partition == partition)?;
        let held = events.swap_remove(index);
        self.count.store(events.len(), Ordering::Relaxed);
        resuming.then_some((held.event, held.emitted_at_ms))
    }

    /// Forgets what revoked partitions held.
    pub fn forget(&self, partitions: &[PartitionRef]) {
        let mut events = self.lock();
        events.retain(|held| !held.partition.is_some_and(|p| partitions.contains(&p)));
        self.count.store(events.len(), Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Held>> {
        // A panic while holding the lock leaves a consistent list (every change is one call).
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
