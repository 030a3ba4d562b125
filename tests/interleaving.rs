//! Partitions are consumed at their own pace: whatever the interleaving of their events, the engine
//! must give the same alerts (no Kafka needed: the interleavings are replayed offline). A sweep that
//! judged idleness by the whole stream's clock once compacted accounts of a lagging partition that were
//! still at work.

mod common;

use std::collections::VecDeque;

use common::workload::{generate, WorkloadSpec};
use common::{config, Topics, SECRET};
use exfilwatch::engine::accounts::PartitionRef;
use exfilwatch::engine::Engine;
use exfilwatch::event::DbActivityEvent;
use exfilwatch::io::decode::Decoder;
use exfilwatch::io::partitioner::Partitioner;
use exfilwatch::privacy::RecordKeyHasher;

const PARTITIONS: usize = 3;

fn partition_of(event: &DbActivityEvent) -> PartitionRef {
    Partitioner::ConsistentRandom.partition_of(&event.account, PARTITIONS as u32)
}

/// The alerts (id and summary, sorted) of the events taken in `order`.
fn alerts(events: &[DbActivityEvent], order: &[usize]) -> Vec<(String, String)> {
    let config = config(&Topics::new("interleaving"));
    let hasher = RecordKeyHasher::new(SECRET.as_bytes()).expect("secret");
    let engine = Engine::new(&config, &hasher);
    let decoder = Decoder::new(config.input.format, config.input.max_event_bytes, hasher);
    let mut out = Vec::new();
    for &index in order {
        let event = &events[index];
        let partition = Some(partition_of(event));
        let outcome = engine.process(&decoder.pseudonymise(event.clone()), partition, 0);
        out.extend(outcome.alerts.into_iter().map(|a| (a.alert_id, a.summary)));
    }
    out.sort();
    out
}

#[test]
fn alerts_do_not_depend_on_how_partitions_interleave() {
    let events = generate(&WorkloadSpec {
        agents: 30,
        ..WorkloadSpec::default()
    });
    let in_time_order: Vec<usize> = (0..events.len()).collect();
    let reference = alerts(&events, &in_time_order);
    assert!(
        reference.len() >= 2,
        "the workload raises alerts: {reference:?}"
    );

    // One partition after another: the others wait days behind.
    let mut one_after_another = in_time_order.clone();
    one_after_another.sort_by_key(|&i| partition_of(&events[i]).partition);
    assert_eq!(
        alerts(&events, &one_after_another),
        reference,
        "one partition after another"
    );

    // Uneven fetches taken in turn (3,000, 4,000 and 5,000 events), as a consumer's batches arrive.
    let mut queues: Vec<VecDeque<usize>> = vec![VecDeque::new(); PARTITIONS];
    for &i in &in_time_order {
        queues[partition_of(&events[i]).partition as usize].push_back(i);
    }
    let mut in_batches = Vec::with_capacity(events.len());
    for turn in 0..events.len() {
        let queue = &mut queues[turn % PARTITIONS];
        let take = (3_000 + 1_000 * (turn % PARTITIONS)).min(queue.len());
        in_batches.extend(queue.drain(..take));
        if in_batches.len() == events.len() {
            break;
        }
    }
    assert_eq!(in_batches.len(), events.len());
    assert_eq!(
        alerts(&events, &in_batches),
        reference,
        "uneven batches in turn"
    );
}
