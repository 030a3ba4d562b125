//! Consume: the Kafka consumer-group member, its settings, and the rebalance hooks that keep the
//! at-least-once promise when partitions move.
//!
//! On revoke (a rebalance, or close at shutdown) the hook waits for the producer to acknowledge every
//! alert in flight, commits what is done for the revoked partitions, and drops their accounts, which
//! another member now owns. Callbacks run on the pipeline thread, inside `poll`, so they never race with
//! the per-message loop.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::engine::accounts::PartitionRef;
use crate::engine::Engine;
use crate::io::commit::{OffsetTracker, TopicPartition};
use crate::io::metrics::{Health, Metrics};
use crate::io::publish::{lock, Publisher};

/// The consumer type the pipeline runs.
pub type GroupConsumer = BaseConsumer<RebalanceContext>;

/// Shared with the rebalance hooks.
pub struct RebalanceContext {
    pub tracker: Arc<Mutex<OffsetTracker>>,
    pub publisher: Arc<Publisher>,
    pub engine: Arc<Engine>,
    pub metrics: Metrics,
    pub health: Arc<Health>,
    pub input_topics: Vec<String>,
    pub drain_timeout: Duration,
}

impl RebalanceContext {
    /// Drains deliveries and commits the done offsets of `revoked`, then forgets them.
    fn on_revoke(&self, consumer: &GroupConsumer, revoked: &TopicPartitionList) {
        let started = Instant::now();
        self.metrics.rebalances.with_label_values(&["revoke"]).inc();
        if !self.publisher.flush(self.drain_timeout) {
            tracing::warn!("deliveries still in flight after the drain timeout; their offsets stay uncommitted");
        }
        let mut to_commit = TopicPartitionList::new();
        let mut dropped = Vec::new();
        {
            let mut tracker = lock(&self.tracker);
            for element in revoked.elements() {
                let tp = TopicPartition::new(element.topic(), element.partition());
                if let Some(offset) = tracker.committable(&tp) {
                    if let Err(e) = to_commit.add_partition_offset(
                        &tp.topic,
                        tp.partition,
                        Offset::Offset(offset),
                    ) {
                        tracing::warn!(error = %e, "cannot list offset for commit");
                    }
                }
                tracker.revoke(&tp);
                if let Some(p) = partition_ref(&self.input_topics, &tp.topic, tp.partition) {
                    dropped.push(p);
                }
            }
        }
        if to_commit.count() > 0 {
            match consumer.commit(&to_commit, CommitMode::Sync) {
                Ok(()) => self.metrics.offset_commits.with_label_values(&["ok"]).inc(),
                Err(e) => {
                    self.metrics
                        .offset_commits
                        .with_label_values(&["error"])
                        .inc();
                    tracing::warn!(error = %e, "commit on revoke failed; the next owner re-reads from the last commit");
                }
            }
        }
        let accounts = self.engine.drop_partitions(&dropped);
        tracing::info!(partitions = revoked.count(), accounts, "partitions revoked");
        self.metrics
            .rebalance_duration
            .observe(started.elapsed().as_secs_f64());
    }

    fn on_assign(&self, consumer: &GroupConsumer, assigned: &TopicPartitionList) {
        let started = Instant::now();
        self.metrics.rebalances.with_label_values(&["assign"]).inc();
        {
            let mut tracker = lock(&self.tracker);
            for element in assigned.elements() {
                tracker.assign(TopicPartition::new(element.topic(), element.partition()));
            }
        }
        tracing::info!(partitions = assigned.count(), "partitions assigned");
        self.metrics
            .rebalance_duration
            .observe(started.elapsed().as_secs_f64());
        self.refresh_assignment(consumer);
    }

    fn refresh_assignment(&self, consumer: &GroupConsumer) {
        let count = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        self.metrics.assigned_partitions.set(count as i64);
        self.metrics.ready.set(i64::from(count > 0));
        self.health.set_ready(count > 0);
    }
}

impl ClientContext for RebalanceContext {
    fn stats(&self, statistics: Statistics) {
        for (topic_name, topic) in &statistics.topics {
            if !self.input_topics.contains(topic_name) {
                continue;
            }
            for (partition_id, partition) in &topic.partitions {
                // -1 is librdkafka's internal UA partition; lag -1 means unknown.
                if *partition_id < 0 || partition.consumer_lag < 0 {
                    continue;
                }
                self.metrics
                    .consumer_lag
                    .with_label_values(&[topic_name, &partition_id.to_string()])
                    .set(partition.consumer_lag);
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(error = %error, reason, "kafka client error");
    }
}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &GroupConsumer, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(revoked) => self.on_revoke(consumer, revoked),
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
    }

    fn post_rebalance(&self, consumer: &GroupConsumer, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => self.on_assign(consumer, assigned),
            Rebalance::Revoke(_) => {
                self.metrics.consumer_lag.reset();
                self.refresh_assignment(consumer);
            }
            Rebalance::Error(_) => {}
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) => self.metrics.offset_commits.with_label_values(&["ok"]).inc(),
            // "No offset to commit" is not a failure: nothing moved since the last commit.
            Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => {
                self.metrics
                    .offset_commits
                    .with_label_values(&["error"])
                    .inc();
                tracing::warn!(error = %e, "offset commit failed");
            }
        }
    }
}

/// librdkafka settings for the consumer: passthrough first, then the keys correctness depends on.
pub fn consumer_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = super::passthrough(kafka, &kafka.consumer);
    config
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", &kafka.group_id)
        // Offsets are stored by us, only once a message's alerts are acknowledged; librdkafka commits
        // the stored ones in the background and we commit explicitly on revoke and shutdown.
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set(
            "auto.commit.interval.ms",
            kafka.commit_interval.as_millis().to_string(),
        )
        .set("auto.offset.reset", &kafka.auto_offset_reset)
        .set(
            "partition.assignment.strategy",
            &kafka.partition_assignment_strategy,
        )
        .set("enable.partition.eof", "false")
        .set(
            "statistics.interval.ms",
            kafka.statistics_interval.as_millis().to_string(),
        );
    if let Some(instance) = &kafka.group_instance_id {
        config.set("group.instance.id", instance);
    }
    config
}

/// Creates the consumer and subscribes to the input topics.
pub fn subscribe(kafka: &KafkaConfig, context: RebalanceContext) -> KafkaResult<GroupConsumer> {
    let consumer: GroupConsumer = consumer_config(kafka).create_with_context(context)?;
    let topics: Vec<&str> = kafka.input_topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    Ok(consumer)
}

/// Stores committable offsets in the client so the next (auto or explicit) commit carries them.
pub fn store_offsets(
    consumer: &GroupConsumer,
    offsets: &[(TopicPartition, i64)],
) -> KafkaResult<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::with_capacity(offsets.len());
    for (tp, offset) in offsets {
        list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))?;
    }
    consumer.store_offsets(&list)
}

/// The partition as the engine records ownership.
pub fn partition_ref(input_topics: &[String], topic: &str, partition: i32) -> Option<PartitionRef> {
    let index = input_topics.iter().position(|t| t == topic)?;
    Some(PartitionRef {
        topic: u16::try_from(index).ok()?,
        partition,
    })
}
