//! A batch of events processed under one detection, with the accounts of the events coming up fetched
//! into cache while the current one is worked on (see `prefetch.rs` for why).

use super::*;

/// How [`Engine::process_all`] prefetches an event's account, in three steps that each need the previous
/// one's lines in cache: `PREFETCH_SLOT_AHEAD` events ahead the table slot where its lookup starts,
/// `PREFETCH_STATE_AHEAD` ahead the state (found through that slot), `PREFETCH_PARTS_AHEAD` ahead what
/// the state points to. Far enough apart that a memory load (about 100 ns) completes while the events
/// between are worked on, near enough that nothing is evicted first.
const PREFETCH_SLOT_AHEAD: usize = 8;
const PREFETCH_STATE_AHEAD: usize = 4;
const PREFETCH_PARTS_AHEAD: usize = 2;

/// Events after which [`Engine::process_all`] looks again at where the account tables are (a table
/// grows as accounts arrive; until it is looked at again, its slots are not prefetched).
const SLOT_MAP_REFRESH: usize = 1024;

/// The engine with the detection in force held for a batch of events: see [`Engine::process_all`].
pub struct Batch<'e> {
    engine: &'e Engine,
    detection: std::sync::RwLockReadGuard<'e, Arc<Detection>>,
}

impl Batch<'_> {
    /// [`Engine::process`], under the detection held for the batch.
    pub fn process(
        &self,
        event: &Activity,
        partition: Option<PartitionRef>,
        emitted_at_ms: i64,
    ) -> Outcome {
        self.engine
            .process_with(&self.detection, event, partition, emitted_at_ms)
    }
}

impl Engine {
    /// Calls `each` on every item of a batch, in order, while prefetching the account state of the
    /// events coming up (see [`crate::engine::prefetch`]): for callers that hold a batch and process each of its
    /// events with [`Batch::process`]. `activity` picks the event out of an item (`None`: nothing to
    /// prefetch, e.g. an event that failed to decode). Stops at the first error `each` returns.
    ///
    /// The detection in force is held for the whole batch: a reload waits for the batch to finish, and
    /// its events take no lock for the rules (an atomic read-modify-write is a full barrier on x86,
    /// which would stall the prefetches in flight). So `each` must process through the [`Batch`] it is
    /// given, never [`Engine::process`]: a second read of the detection would wait behind a waiting
    /// reload, which waits for this batch.
    pub fn process_all<T, E>(
        &self,
        items: &[T],
        activity: impl Fn(&T) -> Option<&Activity>,
        mut each: impl FnMut(&Batch<'_>, &T) -> Result<(), E>,
    ) -> Result<(), E> {
        let batch = Batch {
            engine: self,
            detection: self.current(),
        };
        let mut slots = self.store.slot_map();
        let event_at = |index: usize| items.get(index).and_then(&activity);
        for index in 0..PREFETCH_SLOT_AHEAD {
            event_at(index).inspect(|event| self.store.prefetch_slot(&slots, &event.account));
        }
        for index in 0..PREFETCH_STATE_AHEAD {
            event_at(index).inspect(|event| self.store.prefetch_state(&event.account));
        }
        for (index, item) in items.iter().enumerate() {
            if index % SLOT_MAP_REFRESH == SLOT_MAP_REFRESH - 1 {
                // New accounts may have grown a table since.
                slots = self.store.slot_map();
            }
            if let Some(event) = event_at(index + PREFETCH_SLOT_AHEAD) {
                self.store.prefetch_slot(&slots, &event.account);
            }
            if let Some(event) = event_at(index + PREFETCH_STATE_AHEAD) {
                self.store.prefetch_state(&event.account);
            }
            if let Some(event) = event_at(index + PREFETCH_PARTS_AHEAD) {
                let keys = event.record_key_hashes.as_deref().unwrap_or_default();
                self.store.prefetch_parts(&event.account, keys);
            }
            each(&batch, item)?;
        }
        Ok(())
    }
}
