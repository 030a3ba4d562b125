//! Demo: the real pipeline against librdkafka's in-process mock cluster, with no external service.
//!
//! Produces the synthetic workload (a support team, a nightly ETL job, one insider paging through
//! customers, and a few poison messages), runs the live [`Pipeline`] over it exactly as `run` would,
//! then reads the alert topic back, decodes the Avro alerts and prints them as JSON lines.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::lab::workload::{self, WorkloadSpec};
use exfilwatch::alert::{self, ExfilAlert};
use exfilwatch::config::Config;
use exfilwatch::io::decode::Decoder;
use exfilwatch::io::metrics::{self, Health, Metrics};
use exfilwatch::pipeline::{Pipeline, PipelineError, RunSummary};
use exfilwatch::privacy::RecordKeyHasher;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("pipeline: {0}")]
    Pipeline(#[from] PipelineError),
    #[error("metrics server: {0}")]
    Http(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    pub workload: WorkloadSpec,
    pub partitions: i32,
}

/// What the demo did, for its closing line on stderr.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub produced: u64,
    pub pipeline: RunSummary,
    pub alerts: Vec<ExfilAlert>,
    pub metrics_addr: SocketAddr,
}

const INPUT_TOPIC: &str = "db-activity";

/// Runs the demo and writes each alert as a JSON line to `out`.
pub async fn run(
    options: DemoOptions,
    out: &mut (dyn Write + Send),
) -> Result<DemoReport, DemoError> {
    let cluster = MockCluster::new(1)?;
    let bootstrap = cluster.bootstrap_servers();
    let mut config = Config::default();
    config.kafka.bootstrap_servers = bootstrap.clone();
    config.kafka.group_id = "exfilwatch-demo".into();
    config.kafka.input_topics = vec![INPUT_TOPIC.into()];
    config.kafka.commit_interval = Duration::from_secs(1);
    config.kafka.statistics_interval = Duration::from_secs(1);
    config.kafka.drain_timeout = Duration::from_secs(10);
    // The mock cluster implements the classic eager protocol best.
    config.kafka.partition_assignment_strategy = "range".into();
    for topic in [
        INPUT_TOPIC,
        &config.kafka.alert_topic,
        &config.kafka.dead_letter_topic,
    ] {
        cluster.create_topic(topic, options.partitions, 1)?;
    }

    let metrics = Metrics::new();
    let health = Arc::new(Health::default());
    let shutdown = CancellationToken::new();
    let (metrics_addr, http) = metrics::serve(
        options.listen,
        metrics.clone(),
        Arc::clone(&health),
        shutdown.clone(),
    )
    .await?;
    tracing::info!(%metrics_addr, "demo metrics at http://{metrics_addr}/metrics");

    let produced = produce_workload(&bootstrap, &options.workload)?;
    tracing::info!(produced, "workload produced");

    let secret: [u8; 32] = rand::random();
    let hasher = RecordKeyHasher::new(&secret).map_err(|e| DemoError::Other(e.to_string()))?;
    let decoder = Decoder::new(config.input.format, config.input.max_event_bytes, hasher);
    let pipeline = Pipeline::start(&config, decoder, metrics.clone(), Arc::clone(&health))?;
    let pipeline_stop = CancellationToken::new();
    let pipeline_token = pipeline_stop.clone();
    let worker = tokio::task::spawn_blocking(move || pipeline.run(&pipeline_token));

    // Bounded wait for the pipeline to read everything that was produced.
    let deadline = Instant::now() + Duration::from_secs(180);
    while metrics.events_consumed.get() < produced && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pipeline_stop.cancel();
    let summary = worker
        .await
        .map_err(|e| DemoError::Other(format!("pipeline thread: {e}")))??;
    if summary.messages < produced {
        return Err(DemoError::Other(format!(
            "pipeline read {} of {produced} events before the deadline",
            summary.messages
        )));
    }

    let alerts = read_alerts(&bootstrap, &config, summary.alerts as usize)?;
    for alert in &alerts {
        writeln!(out, "{}", alert::to_json_line(alert)).map_err(DemoError::Http)?;
    }
    out.flush().map_err(DemoError::Http)?;
    shutdown.cancel();
    let _ = http.await;
    Ok(DemoReport {
        produced,
        pipeline: summary,
        alerts,
        metrics_addr,
    })
}

/// Produces the workload as JSON keyed by account, plus the poison messages; returns the count.
pub fn produce_workload(bootstrap: &str, spec: &WorkloadSpec) -> Result<u64, DemoError> {
    let mut payloads: Vec<(String, Vec<u8>)> = workload::generate(spec)
        .into_iter()
        .map(|event| {
            let payload = serde_json::to_vec(&event).unwrap_or_default();
            (event.account, payload)
        })
        .collect();
    for (i, poison) in workload::poison_payloads().into_iter().enumerate() {
        // Spread the poison through the stream so good events follow each one.
        let at = (payloads.len() * (i + 1)) / 4;
        payloads.insert(at, (format!("poison-{i}"), poison));
    }
    produce_records(bootstrap, INPUT_TOPIC, &payloads)
}

/// Produces keyed records with an idempotent producer and waits for every acknowledgement.
pub fn produce_records(
    bootstrap: &str,
    topic: &str,
    records: &[(String, Vec<u8>)],
) -> Result<u64, DemoError> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .create()?;
    let mut count = 0u64;
    for (key, payload) in records {
        let mut record = BaseRecord::to(topic)
            .key(key.as_str())
            .payload(payload.as_slice());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, returned)) => {
                    if !matches!(
                        e,
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull
                        )
                    ) {
                        return Err(DemoError::Kafka(e));
                    }
                    record = returned;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        count += 1;
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(count)
}

/// Reads `expected` alerts back from the alert topic (bounded wait) and decodes them.
fn read_alerts(
    bootstrap: &str,
    config: &Config,
    expected: usize,
) -> Result<Vec<ExfilAlert>, DemoError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "exfilwatch-demo-reader")
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata =
        consumer.fetch_metadata(Some(&config.kafka.alert_topic), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            assignment.add_partition_offset(topic.name(), partition.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&assignment)?;
    let mut alerts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while alerts.len() < expected && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message?;
            let payload = message.payload().unwrap_or_default();
            let decoded = alert::decode_avro(payload, config.alerts.framing)
                .map_err(|e| DemoError::Other(e.to_string()))?;
            alerts.push(decoded);
        }
    }
    alerts.sort_by(|a, b| (a.trigger_time, &a.alert_id).cmp(&(b.trigger_time, &b.alert_id)));
    Ok(alerts)
}
