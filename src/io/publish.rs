//! Publish: the idempotent, `acks=all` producer for alerts and dead letters, and its delivery callback,
//! which is where a message becomes *done* for [`crate::io::commit`].
//!
//! Each record carries a [`DeliveryTag`] naming the input message that caused it. The callback runs on
//! the producer's own polling thread: an acknowledgement releases the input offset in the shared
//! tracker; a failure is queued for the pipeline to send again, so an alert is never silently dropped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::config::KafkaConfig;
use crate::io::commit::{OffsetTracker, TopicPartition};
use crate::io::metrics::Metrics;

/// What a produced record is, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    Alert {
        rule: String,
        severity: &'static str,
    },
    /// The JSON projection of an alert (counted with its Avro twin, not again).
    AlertJson,
    DeadLetter,
}

/// Names the input message a produced record belongs to.
#[derive(Debug, Clone)]
pub struct DeliveryTag {
    pub source: TopicPartition,
    pub offset: i64,
    pub kind: RecordKind,
}

/// A record the broker did not acknowledge, to be produced again.
#[derive(Debug, Clone)]
pub struct FailedDelivery {
    pub tag: DeliveryTag,
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub error: String,
}

/// Producer context: releases offsets on acknowledgement, queues failures for a retry.
pub struct DeliveryContext {
    tracker: Arc<Mutex<OffsetTracker>>,
    metrics: Metrics,
    failed: Mutex<Vec<FailedDelivery>>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<DeliveryTag>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Box<DeliveryTag>) {
        match result {
            Ok(_) => {
                match &tag.kind {
                    RecordKind::Alert { rule, severity } => {
                        self.metrics
                            .alerts
                            .with_label_values(&[rule.as_str(), severity])
                            .inc();
                    }
                    RecordKind::DeadLetter => self.metrics.dead_letters.inc(),
                    RecordKind::AlertJson => {}
                }
                lock(&self.tracker).ack(&tag.source, tag.offset);
            }
            Err((error, message)) => {
                self.metrics.alert_publish_failures.inc();
                tracing::warn!(error = %error, topic = message.topic(), "delivery failed; will retry");
                let headers = message
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|header| {
                                (
                                    header.key.to_string(),
                                    header.value.map(<[u8]>::to_vec).unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let failed = FailedDelivery {
                    topic: message.topic().to_string(),
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().map(<[u8]>::to_vec),
                    headers,
                    error: error.to_string(),
                    tag: *tag,
                };
                lock(&self.failed).push(failed);
            }
        }
    }
}

fn is_missing_topic(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::UnknownPartition
            | RDKafkaErrorCode::UnknownTopicOrPartition
    )
}

/// Locks a mutex even if a panicking thread poisoned it: the data (offsets, a queue) stays consistent
/// because every critical section is a single map update.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot create the Kafka producer: {0}")]
    Create(KafkaError),
    #[error("the producer refused a record for {topic}: {error}")]
    Refused { topic: String, error: KafkaError },
    #[error("stopped while the producer queue was full")]
    Stopped,
}

/// The producer the pipeline publishes through.
pub struct Publisher {
    producer: ThreadedProducer<DeliveryContext>,
}

/// librdkafka settings for the producer: passthrough first, then the keys correctness depends on.
pub fn producer_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = super::passthrough(kafka, &kafka.producer);
    config
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        // Idempotence: broker retries cannot duplicate or reorder alerts within a partition.
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set(
            "message.timeout.ms",
            kafka.delivery_timeout.as_millis().to_string(),
        );
    if !kafka.producer.contains_key("linger.ms") {
        config.set("linger.ms", "5");
    }
    config
}

impl Publisher {
    pub fn new(
        kafka: &KafkaConfig,
        tracker: Arc<Mutex<OffsetTracker>>,
        metrics: Metrics,
    ) -> Result<Self, PublishError> {
        let context = DeliveryContext {
            tracker,
            metrics,
            failed: Mutex::new(Vec::new()),
        };
        let producer = producer_config(kafka)
            .create_with_context(context)
            .map_err(PublishError::Create)?;
        Ok(Publisher { producer })
    }

    /// Hands one record to the producer, waiting while its queue is full (backpressure) unless `stop`
    /// says to give up.
    pub fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &[(&str, &[u8])],
        tag: DeliveryTag,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), PublishError> {
        let mut owned_headers = OwnedHeaders::new_with_capacity(headers.len());
        for (name, value) in headers {
            owned_headers = owned_headers.insert(Header {
                key: name,
                value: Some(*value),
            });
        }
        let mut record = BaseRecord::with_opaque_to(topic, Box::new(tag))
            .payload(payload)
            .headers(owned_headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    if stop() {
                        return Err(PublishError::Stopped);
                    }
                    record = returned;
                    std::thread::sleep(Duration::from_millis(5));
                }
                // The topic is missing (deleted, or not created yet): nothing may be committed past this
                // message, so wait for it rather than fail the service.
                Err((KafkaError::MessageProduction(code), returned)) if is_missing_topic(code) => {
                    if stop() {
                        return Err(PublishError::Stopped);
                    }
                    self.producer.context().metrics.alert_publish_failures.inc();
                    tracing::warn!(topic, error = %code, "output topic unavailable; retrying");
                    record = returned;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err((error, _)) => {
                    return Err(PublishError::Refused {
                        topic: topic.to_string(),
                        error,
                    })
                }
            }
        }
    }

    /// Sends again every record whose delivery failed since the last call.
    pub fn resend_failed(&self, stop: &dyn Fn() -> bool) -> Result<usize, PublishError> {
        let failed = std::mem::take(&mut *lock(&self.producer.context().failed));
        let count = failed.len();
        for record in failed {
            let headers: Vec<(&str, &[u8])> = record
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice()))
                .collect();
            self.send(
                &record.topic,
                record.key.as_deref(),
                record.payload.as_deref().unwrap_or_default(),
                &headers,
                record.tag,
                stop,
            )?;
        }
        Ok(count)
    }

    /// Waits until every record handed over so far is acknowledged or failed, at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.producer.flush(timeout).is_ok()
    }

    /// Records handed to the producer and not yet acknowledged or failed.
    pub fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Records whose delivery failed and wait for [`Publisher::resend_failed`].
    pub fn failed_count(&self) -> usize {
        lock(&self.producer.context().failed).len()
    }
}
