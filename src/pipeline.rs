//! The spine: the per-message loop of the live service.
//!
//! ```text
//! poll ─► decode ─┬─► engine (windows → rules → episodes → alerts) ─► publish alerts ─┐
//!                 └─► dead-letter (bad input, with the reason) ───────────────────────┤
//!                                                 offset tracker ◄── broker acks ◄────┘
//!                                                       └─► store offsets ─► commit
//! ```
//!
//! One thread runs it with a `BaseConsumer`, so rebalance callbacks run between messages, never in the
//! middle of one. Backpressure comes from structure: when too many deliveries are in flight the loop
//! stops fetching until the broker catches up.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use tokio_util::sync::CancellationToken;

use crate::alert::{self, ExfilAlert};
use crate::config::{AlertFraming, Config};
use crate::engine::{Engine, Outcome};
use crate::io::commit::{OffsetTracker, TopicPartition};
use crate::io::consume::{self, GroupConsumer, RebalanceContext};
use crate::io::dead_letter;
use crate::io::decode::{DecodeError, Decoder};
use crate::io::metrics::{Health, Metrics};
use crate::io::publish::{lock, DeliveryTag, PublishError, Publisher, RecordKind};

/// Wall-clock epoch milliseconds: only for `emitted_at` and lag metrics, never for detection.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("alert encoding: {0}")]
    Encode(#[from] alert::AlertCodecError),
}

/// Counts of one run, for logs and the demo's summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunSummary {
    pub messages: u64,
    pub dead_letters: u64,
    pub alerts: u64,
}

/// How often stored offsets and gauges are refreshed.
const HOUSEKEEPING_EVERY: Duration = Duration::from_millis(200);
/// How often the (whole-map) state size is measured.
const STATE_SIZE_EVERY: Duration = Duration::from_secs(10);

/// The running service: consumer, producer, engine and offset tracker wired together.
pub struct Pipeline {
    consumer: GroupConsumer,
    publisher: Arc<Publisher>,
    engine: Arc<Engine>,
    decoder: Decoder,
    tracker: Arc<Mutex<OffsetTracker>>,
    metrics: Metrics,
    health: Arc<Health>,
    config: Config,
}

impl Pipeline {
    /// Connects the producer and joins the consumer group.
    pub fn start(
        config: &Config,
        decoder: Decoder,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> Result<Self, PipelineError> {
        let tracker = Arc::new(Mutex::new(OffsetTracker::new()));
        let publisher = Arc::new(Publisher::new(
            &config.kafka,
            Arc::clone(&tracker),
            metrics.clone(),
        )?);
        let engine = Arc::new(Engine::new(config, decoder.hasher()));
        let context = RebalanceContext {
            tracker: Arc::clone(&tracker),
            publisher: Arc::clone(&publisher),
            engine: Arc::clone(&engine),
            metrics: metrics.clone(),
            health: Arc::clone(&health),
            input_topics: config.kafka.input_topics.clone(),
            drain_timeout: config.kafka.drain_timeout,
        };
        let consumer = consume::subscribe(&config.kafka, context)?;
        Ok(Pipeline {
            consumer,
            publisher,
            engine,
            decoder,
            tracker,
            metrics,
            health,
            config: config.clone(),
        })
    }

    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine)
    }

    /// Runs until `shutdown` is cancelled, then drains, commits and leaves the group.
    pub fn run(self, shutdown: &CancellationToken) -> Result<RunSummary, PipelineError> {
        let mut summary = RunSummary::default();
        let stop = || shutdown.is_cancelled();
        let result = self.run_loop(shutdown, &mut summary, &stop);
        let drained = self.drain();
        tracing::info!(
            messages = summary.messages,
            alerts = summary.alerts,
            dead_letters = summary.dead_letters,
            "pipeline stopped"
        );
        result?;
        drained?;
        Ok(summary)
    }

    fn run_loop(
        &self,
        shutdown: &CancellationToken,
        summary: &mut RunSummary,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), PipelineError> {
        let mut last_housekeeping = Instant::now();
        let mut last_state_size = Instant::now();
        let max_in_flight = self.config.kafka.max_in_flight as u64;
        while !shutdown.is_cancelled() {
            if lock(&self.tracker).in_flight() >= max_in_flight {
                // Backpressure: let the broker acknowledge before fetching more.
                self.publisher.resend_failed(stop)?;
                std::thread::sleep(Duration::from_millis(1));
                self.housekeeping();
                continue;
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
                Some(Ok(message)) => self.handle(&message, summary, stop)?,
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
                self.publisher.resend_failed(stop)?;
                self.housekeeping();
                last_housekeeping = Instant::now();
            }
            if last_state_size.elapsed() >= STATE_SIZE_EVERY {
                self.metrics
                    .state_bytes
                    .set(self.engine.accounts().approx_bytes() as i64);
                self.metrics
                    .set_calibration(self.engine.calibration_coverage());
                last_state_size = Instant::now();
            }
        }
        Ok(())
    }

    /// One message through the stages, in order.
    fn handle(
        &self,
        message: &BorrowedMessage<'_>,
        summary: &mut RunSummary,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), PipelineError> {
        let started = Instant::now();
        summary.messages += 1;
        self.metrics.events_consumed.inc();
        let source = TopicPartition::new(message.topic(), message.partition());
        let offset = message.offset();
        let payload = message.payload().unwrap_or_default();
        match self.decoder.decode(payload) {
            Err(error) => {
                self.dead_letter(message, &error, summary, stop)?;
            }
            Ok(activity) => {
                let partition = consume::partition_ref(
                    &self.config.kafka.input_topics,
                    message.topic(),
                    message.partition(),
                );
                let now = now_ms();
                let outcome = self.engine.process(&activity, partition, now);
                self.record_outcome_metrics(&outcome);
                if outcome.implausible_time {
                    self.dead_letter(
                        message,
                        &DecodeError::implausible_event_time(),
                        summary,
                        stop,
                    )?;
                    self.metrics
                        .processing_duration
                        .observe(started.elapsed().as_secs_f64());
                    return Ok(());
                }
                self.metrics
                    .event_time_lag
                    .set((now - activity.event_time_ms) as f64 / 1000.0);
                let per_alert = if self.config.kafka.alert_json_topic.is_some() {
                    2
                } else {
                    1
                };
                let outstanding =
                    u32::try_from(outcome.alerts.len() * per_alert).unwrap_or(u32::MAX);
                // Begin before sending: an acknowledgement must never arrive for an offset not yet tracked.
                lock(&self.tracker).begin(&source, offset, outstanding);
                for alert in &outcome.alerts {
                    self.publish_alert(alert, &source, offset, stop)?;
                    summary.alerts += 1;
                }
            }
        }
        self.metrics
            .processing_duration
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    fn publish_alert(
        &self,
        alert: &ExfilAlert,
        source: &TopicPartition,
        offset: i64,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), PipelineError> {
        let alerts = &self.config.alerts;
        let bytes = alert::encode_avro(alert, alerts.framing, alerts.schema_id)?;
        let content_type: &[u8] = match alerts.framing {
            AlertFraming::SingleObject => b"application/vnd.apache.avro.single-object",
            AlertFraming::Confluent => b"application/vnd.confluent.avro",
            AlertFraming::Raw => b"application/vnd.apache.avro",
        };
        let headers: [(&str, &[u8]); 4] = [
            ("content-type", content_type),
            ("exfilwatch.schema", b"exfilwatch.v1.ExfilAlert"),
            ("exfilwatch.rule", alert.rule.as_bytes()),
            ("exfilwatch.alert_id", alert.alert_id.as_bytes()),
        ];
        let tag = DeliveryTag {
            source: source.clone(),
            offset,
            kind: RecordKind::Alert {
                rule: alert.rule.clone(),
                severity: alert.severity.as_str(),
            },
        };
        // Keyed by account: one account's alerts stay ordered in one partition.
        self.publisher.send(
            &self.config.kafka.alert_topic,
            Some(alert.account.as_bytes()),
            &bytes,
            &headers,
            tag,
            stop,
        )?;
        if let Some(json_topic) = &self.config.kafka.alert_json_topic {
            let json = alert::to_json_line(alert);
            let tag = DeliveryTag {
                source: source.clone(),
                offset,
                kind: RecordKind::AlertJson,
            };
            let json_headers: [(&str, &[u8]); 2] = [
                ("content-type", b"application/json"),
                ("exfilwatch.alert_id", alert.alert_id.as_bytes()),
            ];
            self.publisher.send(
                json_topic,
                Some(alert.account.as_bytes()),
                json.as_bytes(),
                &json_headers,
                tag,
                stop,
            )?;
        }
        Ok(())
    }

    /// Sends `message` to the dead-letter topic with the reason and its origin in headers (the
    /// original headers kept), counted by reason; its offset completes when the broker acknowledges.
    fn dead_letter(
        &self,
        message: &BorrowedMessage<'_>,
        error: &DecodeError,
        summary: &mut RunSummary,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), PipelineError> {
        let source = TopicPartition::new(message.topic(), message.partition());
        let offset = message.offset();
        self.metrics
            .decode_failures
            .with_label_values(&[error.reason()])
            .inc();
        // Reason and position only: the message itself may hold personal data.
        tracing::warn!(
            reason = error.reason(),
            field = match error {
                DecodeError::InvalidField { field, .. } => field.as_str(),
                _ => "",
            },
            topic = message.topic(),
            partition = message.partition(),
            offset,
            "dead-lettering an event that cannot be used"
        );
        lock(&self.tracker).begin(&source, offset, 1);
        let origin = dead_letter::Origin {
            topic: message.topic(),
            partition: message.partition(),
            offset,
            timestamp_ms: message.timestamp().to_millis(),
        };
        let mut headers: Vec<(&str, &[u8])> = Vec::new();
        if let Some(original) = message.headers() {
            for header in original.iter() {
                headers.push((header.key, header.value.unwrap_or_default()));
            }
        }
        let added = dead_letter::headers(&origin, error);
        for (name, value) in &added {
            headers.push((name, value.as_slice()));
        }
        let tag = DeliveryTag {
            source,
            offset,
            kind: RecordKind::DeadLetter,
        };
        self.publisher.send(
            &self.config.kafka.dead_letter_topic,
            message.key(),
            message.payload().unwrap_or_default(),
            &headers,
            tag,
            stop,
        )?;
        summary.dead_letters += 1;
        Ok(())
    }

    fn record_outcome_metrics(&self, outcome: &Outcome) {
        for (rule, fate) in &outcome.findings {
            self.metrics
                .findings
                .with_label_values(&[rule, fate.as_str()])
                .inc();
        }
        if outcome.late {
            self.metrics.late_events.inc();
        }
        if outcome.ahead {
            self.metrics.events_ahead.inc();
        }
        if let Some(sight) = outcome.team_sight {
            self.metrics.team_sight[sight as usize].inc();
        }
        if outcome.evicted > 0 {
            self.metrics.accounts_evicted.inc_by(outcome.evicted as u64);
        }
        if outcome.compacted > 0 {
            self.metrics
                .accounts_compacted
                .inc_by(outcome.compacted as u64);
        }
    }

    /// Stores offsets that became committable and refreshes gauges.
    fn housekeeping(&self) {
        let (changed, in_flight) = {
            let mut tracker = lock(&self.tracker);
            (tracker.take_changed(), tracker.in_flight())
        };
        if let Err(e) = consume::store_offsets(&self.consumer, &changed) {
            tracing::debug!(error = %e, "cannot store offsets (partition revoked meanwhile?)");
        }
        self.metrics.deliveries_in_flight.set(in_flight as i64);
        self.metrics
            .tracked_accounts
            .set(self.engine.accounts().len() as i64);
    }

    /// Shutdown: stop fetching, wait for the broker to acknowledge what is in flight, commit, leave.
    fn drain(&self) -> Result<(), PipelineError> {
        self.health.set_ready(false);
        self.metrics.ready.set(0);
        let deadline = Instant::now() + self.config.kafka.drain_timeout;
        loop {
            let flushed = self.publisher.flush(Duration::from_millis(500));
            if self.publisher.failed_count() > 0 {
                // Shutting down does not excuse a lost alert: failed deliveries are sent again.
                if let Err(e) = self.publisher.resend_failed(&|| Instant::now() >= deadline) {
                    tracing::warn!(error = %e, "cannot resend before the drain deadline");
                    break;
                }
            } else if flushed {
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        self.housekeeping();
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => self.metrics.offset_commits.with_label_values(&["ok"]).inc(),
            Err(rdkafka::error::KafkaError::ConsumerCommit(
                rdkafka::types::RDKafkaErrorCode::NoOffset,
            )) => {}
            Err(e) => {
                self.metrics
                    .offset_commits
                    .with_label_values(&["error"])
                    .inc();
                tracing::warn!(error = %e, "final commit failed; uncommitted events will be re-read");
            }
        }
        let in_flight = lock(&self.tracker).in_flight();
        if in_flight > 0 {
            tracing::warn!(in_flight, "deliveries unacknowledged at shutdown; their events stay uncommitted and are re-read");
        }
        Ok(())
    }
}
