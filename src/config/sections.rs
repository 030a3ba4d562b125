//! The service's sections: Kafka, input, privacy, HTTP, state and alerts, with their defaults.

use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    #[serde(default = "default_bootstrap")]
    pub bootstrap_servers: String,
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// Static membership (`group.instance.id`): set it to the pod name so a rolling restart does not rebalance.
    #[serde(default)]
    pub group_instance_id: Option<String>,
    /// Input topics. Producers must key events by account so one account's events stay in one partition.
    #[serde(default = "default_input_topics")]
    pub input_topics: Vec<String>,
    #[serde(default = "default_alert_topic")]
    pub alert_topic: String,
    /// Optional second topic that receives each alert as a JSON document, for SOAR tools that read strings.
    #[serde(default)]
    pub alert_json_topic: Option<String>,
    #[serde(default = "default_dead_letter_topic")]
    pub dead_letter_topic: String,
    #[serde(default = "default_auto_offset_reset")]
    pub auto_offset_reset: String,
    #[serde(default = "default_assignment_strategy")]
    pub partition_assignment_strategy: String,
    #[serde(default = "default_commit_interval", with = "humantime_serde")]
    pub commit_interval: Duration,
    #[serde(default = "default_statistics_interval", with = "humantime_serde")]
    pub statistics_interval: Duration,
    /// How long the producer keeps retrying one alert before reporting it failed (then it is re-sent).
    #[serde(default = "default_delivery_timeout", with = "humantime_serde")]
    pub delivery_timeout: Duration,
    /// How long shutdown and partition revocation wait for outstanding alert deliveries.
    #[serde(default = "default_drain_timeout", with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// Alerts and dead letters in flight before the consumer stops fetching (backpressure).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// librdkafka settings applied to both clients (security.protocol, sasl.*, ssl.*).
    #[serde(default)]
    pub common: BTreeMap<String, String>,
    /// librdkafka settings for the consumer only.
    #[serde(default)]
    pub consumer: BTreeMap<String, String>,
    /// librdkafka settings for the producer only.
    #[serde(default)]
    pub producer: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: default_bootstrap(),
            group_id: default_group_id(),
            group_instance_id: None,
            input_topics: default_input_topics(),
            alert_topic: default_alert_topic(),
            alert_json_topic: None,
            dead_letter_topic: default_dead_letter_topic(),
            auto_offset_reset: default_auto_offset_reset(),
            partition_assignment_strategy: default_assignment_strategy(),
            commit_interval: default_commit_interval(),
            statistics_interval: default_statistics_interval(),
            delivery_timeout: default_delivery_timeout(),
            drain_timeout: default_drain_timeout(),
            max_in_flight: default_max_in_flight(),
            common: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
        }
    }
}

fn default_bootstrap() -> String {
    "127.0.0.1:9092".into()
}
fn default_group_id() -> String {
    "exfilwatch".into()
}
fn default_input_topics() -> Vec<String> {
    vec!["db-activity".into()]
}
fn default_alert_topic() -> String {
    "exfilwatch-alerts".into()
}
fn default_dead_letter_topic() -> String {
    "exfilwatch-dead-letter".into()
}
fn default_auto_offset_reset() -> String {
    "earliest".into()
}
fn default_assignment_strategy() -> String {
    "cooperative-sticky".into()
}
fn default_commit_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_statistics_interval() -> Duration {
    Duration::from_secs(15)
}
fn default_delivery_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_drain_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_in_flight() -> usize {
    10_000
}

/// librdkafka keys whose value the detector's delivery guarantee depends on; code sets them, config may not.
pub const OWNED_KAFKA_KEYS: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "partition.assignment.strategy",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "statistics.interval.ms",
    "enable.partition.eof",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// JSON if the payload starts with `{`, otherwise Confluent-framed Avro (magic byte 0).
    Auto,
    Json,
    /// A bare Avro binary datum written with `schemas/db_activity_event.avsc`.
    Avro,
    /// Confluent wire format: byte 0, a 4-byte schema id, then the Avro datum.
    ConfluentAvro,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    #[serde(default = "default_input_format")]
    pub format: InputFormat,
    /// Larger payloads are dead-lettered instead of decoded.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    /// Events older than an account's newest event time minus this are late: counted, not windowed.
    #[serde(default = "default_allowed_lateness", with = "humantime_serde")]
    pub allowed_lateness: Duration,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            format: default_input_format(),
            max_event_bytes: default_max_event_bytes(),
            allowed_lateness: default_allowed_lateness(),
        }
    }
}

fn default_input_format() -> InputFormat {
    InputFormat::Auto
}
fn default_max_event_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_allowed_lateness() -> Duration {
    Duration::from_secs(10 * 60)
}

/// Where the secret key for hashing record identifiers comes from. The file wins over the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    #[serde(default = "default_secret_env")]
    pub record_key_secret_env: String,
    #[serde(default)]
    pub record_key_secret_file: Option<PathBuf>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            record_key_secret_env: default_secret_env(),
            record_key_secret_file: None,
        }
    }
}

fn default_secret_env() -> String {
    "EXFILWATCH_RECORD_KEY_SECRET".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address for `/metrics`, `/healthz` and `/readyz`.
    #[serde(default = "default_listen")]
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
        }
    }
}

fn default_listen() -> String {
    "0.0.0.0:9477".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Cap on tracked accounts; past it the least recently active account is evicted.
    #[serde(default = "default_max_accounts")]
    pub max_accounts: usize,
    /// Accounts with no event (in event time) for this long are dropped.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            max_accounts: default_max_accounts(),
            idle_timeout: default_idle_timeout(),
        }
    }
}

fn default_max_accounts() -> usize {
    1_000_000
}
fn default_idle_timeout() -> Duration {
    // Longer than the 28 days of daily history baselines keep, so a month-long leave does not reset them.
    Duration::from_secs(35 * 24 * 3600)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertFraming {
    /// Avro single-object encoding: `C3 01`, the schema's 8-byte CRC-64-AVRO fingerprint, the datum.
    SingleObject,
    /// Confluent wire format with `alerts.schema_id` (register `schemas/exfil_alert.avsc` yourself).
    Confluent,
    /// The bare Avro datum; readers must know the schema.
    Raw,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    #[serde(default = "default_framing")]
    pub framing: AlertFraming,
    /// Schema registry id written in Confluent framing.
    #[serde(default)]
    pub schema_id: Option<u32>,
    /// An open episode raises an escalation (same episode, next level) once its worst ratio grows by
    /// this factor; a rule joining the episode escalates it too.
    #[serde(default = "default_escalation_factor")]
    pub escalation_factor: f64,
    /// An account's episode closes once nothing has breached for this long; the next breach then opens
    /// a new episode. A day: an insider's run does not page again every morning.
    #[serde(default = "default_cooldown", with = "humantime_serde")]
    pub cooldown: Duration,
    /// Accounts never alerted on (e.g. a declared backup service account). Matching is exact.
    #[serde(default)]
    pub suppress_accounts: Vec<String>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            framing: default_framing(),
            schema_id: None,
            escalation_factor: default_escalation_factor(),
            cooldown: default_cooldown(),
            suppress_accounts: Vec::new(),
        }
    }
}

fn default_framing() -> AlertFraming {
    AlertFraming::SingleObject
}
fn default_escalation_factor() -> f64 {
    2.0
}
fn default_cooldown() -> Duration {
    Duration::from_secs(24 * 3600)
}
