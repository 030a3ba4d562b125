//! Shared harness for the integration tests, which run against a real Apache Kafka broker.
//!
//! The broker comes from `scripts/kafka start` (idempotent: it reuses a running one), or from
//! `EXFILWATCH_TEST_BOOTSTRAP` when set. Every test uses its own topics and group ids, so tests can run
//! in parallel against one broker.

#![allow(dead_code)]

/// The demo's seeded workload, shared with the binary's offline tools (it is not part of the service
/// library).
#[allow(dead_code)]
#[path = "../../src/lab/workload.rs"]
pub mod workload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use exfilwatch::alert::{self, ExfilAlert};
use exfilwatch::config::{AlertFraming, Config};
use exfilwatch::event::DbActivityEvent;
use exfilwatch::io::decode::Decoder;
use exfilwatch::io::metrics::{Health, Metrics};
use exfilwatch::pipeline::{Pipeline, PipelineError, RunSummary};
use exfilwatch::privacy::RecordKeyHasher;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "integration-test-secret-0123456789";
pub const T0: i64 = 1_793_577_600_000;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The broker's bootstrap address, starting it once per test binary if needed.
pub fn bootstrap() -> &'static str {
    static BOOTSTRAP: OnceLock<String> = OnceLock::new();
    BOOTSTRAP.get_or_init(|| {
        if let Ok(address) = std::env::var("EXFILWATCH_TEST_BOOTSTRAP") {
            return address;
        }
        let output = Command::new("bash")
            .arg(repo_root().join("scripts/kafka"))
            .arg("start")
            .output()
            .expect("run scripts/kafka start");
        assert!(
            output.status.success(),
            "scripts/kafka start failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    })
}

/// A unique name per test and run, so tests never see each other's data.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// Topics for one test.
#[derive(Debug, Clone)]
pub struct Topics {
    pub input: String,
    pub alerts: String,
    pub dead_letter: String,
    pub group: String,
}

impl Topics {
    pub fn new(test: &str) -> Self {
        let base = unique(test);
        Topics {
            input: format!("{base}-in"),
            alerts: format!("{base}-alerts"),
            dead_letter: format!("{base}-dlq"),
            group: format!("{base}-group"),
        }
    }
}

pub async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("admin client");
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics(
            &[topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await
        .expect("create topics");
    for result in results {
        if let Err((name, code)) = result {
            assert_eq!(
                code,
                rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
                "create {name}"
            );
        }
    }
}

pub async fn create_topics(topics: &Topics, input_partitions: i32) {
    create_topic(&topics.input, input_partitions).await;
    create_topic(&topics.alerts, 1).await;
    create_topic(&topics.dead_letter, 1).await;
}

/// A config for the test topics, with short intervals so tests do not wait long.
pub fn config(topics: &Topics) -> Config {
    let mut config = Config::default();
    config.kafka.bootstrap_servers = bootstrap().to_string();
    config.kafka.group_id = topics.group.clone();
    config.kafka.input_topics = vec![topics.input.clone()];
    config.kafka.alert_topic = topics.alerts.clone();
    config.kafka.dead_letter_topic = topics.dead_letter.clone();
    config.kafka.commit_interval = Duration::from_millis(500);
    config.kafka.statistics_interval = Duration::from_secs(1);
    config.kafka.drain_timeout = Duration::from_secs(20);
    config.http.listen = "127.0.0.1:0".into();
    // These tests exercise the pipeline on a few minutes or days of events, not the learning of a new
    // deployment: judge from the first event.
    config.detection.learning_period = Duration::ZERO;
    config.validate().expect("test config is valid");
    config
}

pub fn decoder(config: &Config) -> Decoder {
    let hasher = RecordKeyHasher::new(SECRET.as_bytes()).expect("secret");
    Decoder::new(config.input.format, config.input.max_event_bytes, hasher)
}

/// A pipeline running on its own thread.
pub struct RunningPipeline {
    pub metrics: Metrics,
    pub health: Arc<Health>,
    stop: CancellationToken,
    handle: JoinHandle<Result<RunSummary, PipelineError>>,
}

impl RunningPipeline {
    pub fn start(config: &Config) -> Self {
        let metrics = Metrics::new();
        let health = Arc::new(Health::default());
        let pipeline = Pipeline::start(
            config,
            decoder(config),
            metrics.clone(),
            Arc::clone(&health),
        )
        .expect("pipeline starts");
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = std::thread::spawn(move || pipeline.run(&token));
        RunningPipeline {
            metrics,
            health,
            stop,
            handle,
        }
    }

    /// Waits (bounded) until the pipeline consumed `count` messages.
    pub fn wait_consumed(&self, count: u64, timeout: Duration) -> bool {
        wait_until(timeout, || self.metrics.events_consumed.get() >= count)
    }

    pub fn stop(self) -> RunSummary {
        self.stop.cancel();
        self.handle
            .join()
            .expect("pipeline thread")
            .expect("pipeline ran cleanly")
    }
}

pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    condition()
}

/// A query event.
pub fn read_event(
    id: &str,
    account: &str,
    time_ms: i64,
    rows: i64,
    table: &str,
) -> DbActivityEvent {
    DbActivityEvent {
        source: "it-proxy".into(),
        client_ip: Some("10.9.8.7".into()),
        client_app: Some("psql".into()),
        database: Some("support".into()),
        record_keys: Some(vec!["cust-1".into(), "cust-2".into()]),
        peer_group: Some("support".into()),
        ..DbActivityEvent::query(id, time_ms, account, table, rows)
    }
}

pub fn json(event: &DbActivityEvent) -> Vec<u8> {
    serde_json::to_vec(event).expect("serialize")
}

/// Produces (key, payload) pairs and waits for every acknowledgement.
pub async fn produce(topic: &str, records: &[(String, Vec<u8>)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("enable.idempotence", "true")
        .set("linger.ms", "10")
        .create()
        .expect("producer");
    let mut pending = Vec::with_capacity(records.len());
    for (key, payload) in records {
        let record = FutureRecord::to(topic)
            .key(key.as_str())
            .payload(payload.as_slice());
        pending.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue"),
        );
    }
    for delivery in pending {
        delivery.await.expect("delivery future").expect("delivered");
    }
}

/// Produces events as JSON keyed by account.
pub async fn produce_events(topic: &str, events: &[DbActivityEvent]) {
    let records: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.account.clone(), json(e)))
        .collect();
    produce(topic, &records).await;
}

/// A raw record read back, with its headers.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// Reads records from the beginning of every partition of `topic` until `expected` arrived or `timeout`.
pub fn read_records(topic: &str, expected: usize, timeout: Duration) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            assignment
                .add_partition_offset(t.name(), p.id(), Offset::Beginning)
                .expect("partition");
        }
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    let deadline = Instant::now() + timeout;
    while records.len() < expected && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let mut headers = HashMap::new();
            if let Some(h) = message.headers() {
                for header in h.iter() {
                    headers.insert(
                        header.key.to_string(),
                        String::from_utf8_lossy(header.value.unwrap_or_default()).to_string(),
                    );
                }
            }
            records.push(Record {
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
    }
    records
}

/// Reads and decodes alerts (single-object Avro) from the alert topic.
pub fn read_alerts(topic: &str, expected: usize, timeout: Duration) -> Vec<ExfilAlert> {
    read_records(topic, expected, timeout)
        .into_iter()
        .map(|r| {
            alert::decode_avro(&r.payload, AlertFraming::SingleObject)
                .expect("alert decodes with the schema")
        })
        .collect()
}

/// Committed offsets of `group` for every partition of `topic` (-1 where nothing is committed).
pub fn committed(group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("offset reader");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition(topic, p);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    (0..partitions)
        .map(
            |p| match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => -1,
            },
        )
        .collect()
}

/// Sum of committed offsets, counting uncommitted partitions as 0.
pub fn committed_total(group: &str, topic: &str, partitions: i32) -> i64 {
    committed(group, topic, partitions)
        .into_iter()
        .map(|o| o.max(0))
        .sum()
}
