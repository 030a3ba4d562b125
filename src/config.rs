//! Configuration: one TOML file plus `EXFILWATCH__SECTION__KEY` environment overrides.
//!
//! Every struct is plain serde with `deny_unknown_fields` and a named default function per option, so the
//! example file (`config/exfilwatch.example.toml`) and this module document the same defaults. `validate()`
//! refuses a bad value at start and names the field, e.g. `rules.bulk_read.windows[1].rows: must be > 0`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A configuration problem, always naming the offending field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file is not valid TOML: {0}")]
    Syntax(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The whole service configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub input: InputConfig,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub alerts: AlertConfig,
    /// The accumulated, calibrated account risk: the main knob is `false_alarm_budget`.
    #[serde(default)]
    pub detection: DetectionConfig,
    /// Table patterns → data classes. Only tables of a class marked `sensitive` feed the read rules.
    #[serde(default = "default_data_classes")]
    pub data_classes: Vec<DataClassConfig>,
    #[serde(default)]
    pub rules: RulesConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kafka: KafkaConfig::default(),
            input: InputConfig::default(),
            privacy: PrivacyConfig::default(),
            http: HttpConfig::default(),
            state: StateConfig::default(),
            alerts: AlertConfig::default(),
            detection: DetectionConfig::default(),
            data_classes: default_data_classes(),
            rules: RulesConfig::default(),
        }
    }
}

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

/// `[detection]`: the accumulated account risk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionConfig {
    /// The expected false alarms: accounts alerted by the accumulated risk per 1,000 benign
    /// account-days. The threshold is calibrated from the population's own daily risks to meet it.
    /// 0.1 is about one innocent person paged a month in an organisation of 300 accounts.
    #[serde(default = "default_false_alarm_budget")]
    pub false_alarm_budget: f64,
    /// After the first event of a partition, nothing but watchlist and honeytoken reads is published
    /// for this long (event time): every account, job and destination is new to a detector that just
    /// started, and a weekly job needs a week to be seen once.
    #[serde(default = "default_learning_period", with = "humantime_serde")]
    pub learning_period: Duration,
    /// `alert`, or `observe` (evaluate and count the risk's findings, publish nothing).
    #[serde(default = "default_mode")]
    pub mode: RuleMode,
    /// Peer groups from account patterns, for sources that send no `peer_group` (first match wins;
    /// default: the whole organisation).
    #[serde(default)]
    pub peer_groups: Vec<PeerGroupConfig>,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            false_alarm_budget: default_false_alarm_budget(),
            learning_period: default_learning_period(),
            mode: default_mode(),
            peer_groups: Vec::new(),
        }
    }
}

fn default_false_alarm_budget() -> f64 {
    0.1
}
fn default_learning_period() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}

/// One data class: which tables hold it and how much it weighs in the risk score.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataClassConfig {
    pub name: String,
    /// Glob patterns over fully qualified table names, `*` matching any run of characters; case-insensitive.
    pub tables: Vec<String>,
    /// Reads of sensitive classes feed the read rules.
    #[serde(default = "default_true")]
    pub sensitive: bool,
    /// 1.0 is ordinary personal data; higher raises risk score and severity.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_true() -> bool {
    true
}
fn default_weight() -> f64 {
    1.0
}

fn default_data_classes() -> Vec<DataClassConfig> {
    vec![DataClassConfig {
        name: "customer_pii".into(),
        tables: vec![
            "*customers".into(),
            "*customer_contacts".into(),
            "*.tickets".into(),
        ],
        sensitive: true,
        weight: 1.0,
    }]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    /// Publish alerts.
    Alert,
    /// Evaluate and count in metrics, publish nothing: for tuning a rule before trusting it.
    Observe,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    #[serde(default)]
    pub bulk_read: BulkReadConfig,
    #[serde(default)]
    pub new_destination: NewDestinationConfig,
    #[serde(default)]
    pub watchlist: WatchlistConfig,
    /// Retired rules of version 0.1, accepted so that an older config still starts; their thresholds
    /// have no effect (the accumulated risk replaced them) and [`Config::retired_settings`] lists them.
    #[serde(default)]
    pub distinct_records: LegacyDistinctRecords,
    #[serde(default)]
    pub peer_deviation: LegacyPeerDeviation,
    #[serde(default)]
    pub baseline_deviation: Option<toml::Table>,
    #[serde(default)]
    pub egress_volume: Option<toml::Table>,
    #[serde(default)]
    pub unusual_access: Option<toml::Table>,
}

/// The retired `distinct_records` rule: its HyperLogLog `precision` still sizes the sketch that
/// counts an account's distinct customers per day; its windows and thresholds are retired.
#[derive(Debug, Clone, Deserialize)]
pub struct LegacyDistinctRecords {
    #[serde(default = "default_precision")]
    pub precision: u8,
    #[serde(flatten)]
    pub retired: toml::Table,
}

impl Default for LegacyDistinctRecords {
    fn default() -> Self {
        LegacyDistinctRecords {
            precision: default_precision(),
            retired: toml::Table::new(),
        }
    }
}

fn default_precision() -> u8 {
    14
}

/// The retired `peer_deviation` rule: its `groups` still define peer groups (with
/// `detection.peer_groups`); the rest is retired.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct LegacyPeerDeviation {
    #[serde(default)]
    pub groups: Vec<PeerGroupConfig>,
    #[serde(flatten)]
    pub retired: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerGroupConfig {
    pub name: String,
    /// Account globs, e.g. `svc-*`.
    pub accounts: Vec<String>,
}

/// `new_destination`: an export of sensitive data to an external destination that nobody in the
/// organisation (the partition's accounts) has used within `retention`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDestinationConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_mode")]
    pub mode: RuleMode,
    #[serde(default = "default_destination_retention", with = "humantime_serde")]
    pub retention: Duration,
    /// Destinations never alerted on (globs, case-insensitive), e.g. `s3://corp-warehouse/*`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Addresses inside these networks are internal: a new internal destination never fires the rule (the
    /// risk still scores its novelty).
    #[serde(default = "default_internal_cidrs")]
    pub internal_cidrs: Vec<String>,
    /// Host name suffixes that are internal, e.g. `.internal`, `.corp.example.com`.
    #[serde(default = "default_internal_suffixes")]
    pub internal_suffixes: Vec<String>,
    /// Only exports of at least this many sensitive records, or of this many bytes, count.
    #[serde(default = "default_destination_min_records")]
    pub min_records: u64,
    #[serde(default = "default_destination_min_bytes")]
    pub min_bytes: u64,
}

impl Default for NewDestinationConfig {
    fn default() -> Self {
        NewDestinationConfig {
            enabled: true,
            mode: default_mode(),
            retention: default_destination_retention(),
            allow: Vec::new(),
            internal_cidrs: default_internal_cidrs(),
            internal_suffixes: default_internal_suffixes(),
            min_records: default_destination_min_records(),
            min_bytes: default_destination_min_bytes(),
        }
    }
}

fn default_destination_retention() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_internal_cidrs() -> Vec<String> {
    vec![
        "10.0.0.0/8".into(),
        "172.16.0.0/12".into(),
        "192.168.0.0/16".into(),
    ]
}
fn default_internal_suffixes() -> Vec<String> {
    vec![".internal".into(), ".local".into()]
}
fn default_destination_min_records() -> u64 {
    100
}
fn default_destination_min_bytes() -> u64 {
    10 * 1024 * 1024
}

/// `watchlist`: reads of watched records (e.g. VIP customers) by accounts with no business reason, and
/// any read of a honeytoken. Keys are hashed with the record-key secret at load.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchlistConfig {
    #[serde(default = "default_true_watch")]
    pub enabled: bool,
    #[serde(default = "default_mode_watch")]
    pub mode: RuleMode,
    /// Record keys of watched customers.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Record keys planted as bait: any read is an alert.
    #[serde(default)]
    pub honeytoken_keys: Vec<String>,
    /// Accounts and peer groups whose job includes the watched customers.
    #[serde(default)]
    pub allowed_accounts: Vec<String>,
    #[serde(default)]
    pub allowed_peer_groups: Vec<String>,
    /// Distinct watched records per account in 24 hours that make an alert.
    #[serde(default = "default_watch_min")]
    pub min_records: u64,
}

impl Default for WatchlistConfig {
    fn default() -> Self {
        WatchlistConfig {
            enabled: true,
            mode: default_mode(),
            keys: Vec::new(),
            honeytoken_keys: Vec::new(),
            allowed_accounts: Vec::new(),
            allowed_peer_groups: Vec::new(),
            min_records: default_watch_min(),
        }
    }
}

fn default_true_watch() -> bool {
    true
}
fn default_mode_watch() -> RuleMode {
    RuleMode::Alert
}
fn default_watch_min() -> u64 {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkReadConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_mode")]
    pub mode: RuleMode,
    /// Sliding windows and their thresholds in sensitive rows (record count where rows are missing).
    #[serde(default = "default_bulk_windows")]
    pub windows: Vec<WindowThreshold>,
}

impl Default for BulkReadConfig {
    fn default() -> Self {
        BulkReadConfig {
            enabled: true,
            mode: default_mode(),
            windows: default_bulk_windows(),
        }
    }
}

fn default_mode() -> RuleMode {
    RuleMode::Alert
}

/// A sliding event-time window of `length`, kept as `buckets` buckets (error at most one bucket).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowThreshold {
    #[serde(with = "humantime_serde")]
    pub length: Duration,
    pub rows: u64,
    #[serde(default = "default_buckets")]
    pub buckets: u32,
}

fn default_buckets() -> u32 {
    12
}

fn default_bulk_windows() -> Vec<WindowThreshold> {
    vec![
        WindowThreshold {
            length: Duration::from_secs(600),
            rows: 5_000,
            buckets: 10,
        },
        WindowThreshold {
            length: Duration::from_secs(3600),
            rows: 10_000,
            buckets: 12,
        },
        WindowThreshold {
            length: Duration::from_secs(24 * 3600),
            rows: 20_000,
            buckets: 24,
        },
    ]
}

impl Config {
    /// Reads `path`, applies `EXFILWATCH__A__B=value` overrides from `env`, and validates.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml_str(&text, env)
    }

    /// Parses TOML text, applies environment overrides, and validates.
    pub fn from_toml_str(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut doc: toml::Value =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        apply_env_overrides(&mut doc, env)?;
        let config: Config = serde_path_to_error::deserialize(doc).map_err(|e| {
            let field = e.path().to_string();
            ConfigError::invalid(field, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value a type cannot express; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        if k.bootstrap_servers.trim().is_empty() {
            return Err(ConfigError::invalid(
                "kafka.bootstrap_servers",
                "must not be empty",
            ));
        }
        if k.group_id.trim().is_empty() {
            return Err(ConfigError::invalid("kafka.group_id", "must not be empty"));
        }
        if k.input_topics.is_empty() || k.input_topics.iter().any(|t| t.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "kafka.input_topics",
                "must list at least one non-empty topic",
            ));
        }
        for (field, topic) in [
            ("kafka.alert_topic", &k.alert_topic),
            ("kafka.dead_letter_topic", &k.dead_letter_topic),
        ] {
            if topic.trim().is_empty() {
                return Err(ConfigError::invalid(field, "must not be empty"));
            }
            if k.input_topics.contains(topic) {
                return Err(ConfigError::invalid(
                    field,
                    "must differ from the input topics",
                ));
            }
        }
        if !["earliest", "latest"].contains(&k.auto_offset_reset.as_str()) {
            return Err(ConfigError::invalid(
                "kafka.auto_offset_reset",
                "must be \"earliest\" or \"latest\"",
            ));
        }
        if ![
            "cooperative-sticky",
            "range",
            "roundrobin",
            "range,roundrobin",
        ]
        .contains(&k.partition_assignment_strategy.as_str())
        {
            return Err(ConfigError::invalid(
                "kafka.partition_assignment_strategy",
                "must be cooperative-sticky, range, roundrobin or range,roundrobin",
            ));
        }
        if k.commit_interval.is_zero() {
            return Err(ConfigError::invalid("kafka.commit_interval", "must be > 0"));
        }
        if k.delivery_timeout < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "kafka.delivery_timeout",
                "must be at least 1s",
            ));
        }
        if k.max_in_flight == 0 {
            return Err(ConfigError::invalid("kafka.max_in_flight", "must be > 0"));
        }
        for (section, map) in [
            ("kafka.common", &k.common),
            ("kafka.consumer", &k.consumer),
            ("kafka.producer", &k.producer),
        ] {
            for key in map.keys() {
                if OWNED_KAFKA_KEYS.contains(&key.as_str()) {
                    return Err(ConfigError::invalid(
                        format!("{section}.{key}"),
                        "is set by exfilwatch itself (delivery guarantees depend on it); use the typed option",
                    ));
                }
            }
        }
        if self.input.max_event_bytes < 64 {
            return Err(ConfigError::invalid(
                "input.max_event_bytes",
                "must be at least 64",
            ));
        }
        if self.privacy.record_key_secret_env.trim().is_empty()
            && self.privacy.record_key_secret_file.is_none()
        {
            return Err(ConfigError::invalid(
                "privacy.record_key_secret_env",
                "name an environment variable or set privacy.record_key_secret_file",
            ));
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::invalid(
                "http.listen",
                "must be an address like 0.0.0.0:9477",
            ));
        }
        if self.state.max_accounts == 0 {
            return Err(ConfigError::invalid("state.max_accounts", "must be > 0"));
        }
        if self.state.idle_timeout.is_zero() {
            return Err(ConfigError::invalid("state.idle_timeout", "must be > 0"));
        }
        let a = &self.alerts;
        if !(a.escalation_factor > 1.0 && a.escalation_factor.is_finite()) {
            return Err(ConfigError::invalid(
                "alerts.escalation_factor",
                "must be a number > 1",
            ));
        }
        if a.framing == AlertFraming::Confluent && a.schema_id.is_none() {
            return Err(ConfigError::invalid(
                "alerts.schema_id",
                "is required when alerts.framing = \"confluent\"",
            ));
        }
        if self.data_classes.len() > 64 {
            return Err(ConfigError::invalid("data_classes", "at most 64 classes"));
        }
        for (i, class) in self.data_classes.iter().enumerate() {
            let field = format!("data_classes[{i}]");
            if class.name.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("{field}.name"),
                    "must not be empty",
                ));
            }
            if self.data_classes[..i].iter().any(|c| c.name == class.name) {
                return Err(ConfigError::invalid(
                    format!("{field}.name"),
                    "duplicate class name",
                ));
            }
            if class.tables.is_empty() || class.tables.iter().any(|t| t.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    format!("{field}.tables"),
                    "must list at least one non-empty pattern",
                ));
            }
            if !(class.weight > 0.0 && class.weight <= 10.0) {
                return Err(ConfigError::invalid(
                    format!("{field}.weight"),
                    "must be in (0, 10]",
                ));
            }
        }
        let r = &self.rules;
        let d = &self.detection;
        if !(d.false_alarm_budget > 0.0 && d.false_alarm_budget <= 1000.0) {
            return Err(ConfigError::invalid(
                "detection.false_alarm_budget",
                "must be in (0, 1000] alerts per 1,000 account-days",
            ));
        }
        if d.learning_period > Duration::from_secs(90 * 24 * 3600) {
            return Err(ConfigError::invalid(
                "detection.learning_period",
                "must be at most 90d",
            ));
        }
        if !(10..=16).contains(&r.distinct_records.precision) {
            return Err(ConfigError::invalid(
                "rules.distinct_records.precision",
                "must be in 10..=16",
            ));
        }
        if r.new_destination.retention < Duration::from_secs(3600) {
            return Err(ConfigError::invalid(
                "rules.new_destination.retention",
                "must be at least 1h",
            ));
        }
        for (i, cidr) in r.new_destination.internal_cidrs.iter().enumerate() {
            if cidr.parse::<ipnet::IpNet>().is_err() {
                return Err(ConfigError::invalid(
                    format!("rules.new_destination.internal_cidrs[{i}]"),
                    "must be a CIDR like 10.0.0.0/8",
                ));
            }
        }
        for (field, groups) in [
            ("detection.peer_groups", &d.peer_groups),
            ("rules.peer_deviation.groups", &r.peer_deviation.groups),
        ] {
            for (i, group) in groups.iter().enumerate() {
                if group.name.trim().is_empty() || group.accounts.is_empty() {
                    return Err(ConfigError::invalid(
                        format!("{field}[{i}]"),
                        "needs a name and at least one account pattern",
                    ));
                }
            }
        }
        if r.watchlist.min_records == 0 {
            return Err(ConfigError::invalid(
                "rules.watchlist.min_records",
                "must be > 0",
            ));
        }
        let bulk = &self.rules.bulk_read;
        if bulk.enabled && bulk.windows.is_empty() {
            return Err(ConfigError::invalid(
                "rules.bulk_read.windows",
                "an enabled rule needs at least one window",
            ));
        }
        validate_windows(
            "rules.bulk_read.windows",
            "rows",
            bulk.windows.iter().map(|w| (w.length, w.rows, w.buckets)),
        )?;
        // Idle accounts may only be dropped once nothing they hold can matter: every window and the
        // 28 days of daily history the baselines keep.
        let longest = bulk
            .windows
            .iter()
            .map(|w| w.length)
            .max()
            .unwrap_or_default()
            .max(Duration::from_secs(29 * 24 * 3600));
        if self.state.idle_timeout < longest + a.cooldown {
            return Err(ConfigError::invalid(
                "state.idle_timeout",
                "must be at least the longest window (and the 29 days of baseline history) plus alerts.cooldown, or evicting idle accounts would change alerts",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Settings of retired rules found in this config: accepted so that it still starts, but without
    /// effect. Logged at start and by `check-config`.
    pub fn retired_settings(&self) -> Vec<String> {
        let r = &self.rules;
        let mut found = Vec::new();
        let mut table = |name: &str, table: Option<&toml::Table>| {
            if let Some(table) = table {
                if table.is_empty() {
                    found.push(format!("rules.{name}"));
                }
                for key in table.keys() {
                    found.push(format!("rules.{name}.{key}"));
                }
            }
        };
        table("baseline_deviation", r.baseline_deviation.as_ref());
        table("egress_volume", r.egress_volume.as_ref());
        table("unusual_access", r.unusual_access.as_ref());
        table(
            "distinct_records",
            Some(&r.distinct_records.retired).filter(|t| !t.is_empty()),
        );
        table(
            "peer_deviation",
            Some(&r.peer_deviation.retired).filter(|t| !t.is_empty()),
        );
        found
    }

    /// Peer groups from account patterns: `detection.peer_groups`, then the retired
    /// `rules.peer_deviation.groups`.
    pub fn peer_groups(&self) -> Vec<PeerGroupConfig> {
        self.detection
            .peer_groups
            .iter()
            .chain(&self.rules.peer_deviation.groups)
            .cloned()
            .collect()
    }
}

fn validate_windows(
    field: &str,
    threshold_name: &str,
    windows: impl ExactSizeIterator<Item = (Duration, u64, u32)>,
) -> Result<(), ConfigError> {
    if windows.len() > 8 {
        return Err(ConfigError::invalid(field, "at most 8 windows"));
    }
    for (i, (length, threshold, buckets)) in windows.enumerate() {
        let here = format!("{field}[{i}]");
        if length < Duration::from_secs(1) || length > Duration::from_secs(90 * 24 * 3600) {
            return Err(ConfigError::invalid(
                format!("{here}.length"),
                "must be between 1s and 90 days",
            ));
        }
        if threshold == 0 {
            return Err(ConfigError::invalid(
                format!("{here}.{threshold_name}"),
                "must be > 0",
            ));
        }
        if !(1..=1024).contains(&buckets) {
            return Err(ConfigError::invalid(
                format!("{here}.buckets"),
                "must be in 1..=1024",
            ));
        }
        if length.as_millis() % u128::from(buckets) != 0 {
            return Err(ConfigError::invalid(
                format!("{here}.buckets"),
                "must divide the window length into whole milliseconds",
            ));
        }
    }
    Ok(())
}

/// Applies `EXFILWATCH__KAFKA__BOOTSTRAP_SERVERS=host:9092`-style overrides onto the parsed document.
///
/// Section and key names are lower-cased; a value is read as TOML when it parses (numbers, booleans,
/// arrays) and as a plain string otherwise. `EXFILWATCH__KAFKA__COMMON__SASL_MECHANISM` style keys under a
/// passthrough map keep `_` → `.` so librdkafka keys can be written in an environment variable.
pub fn apply_env_overrides(
    doc: &mut toml::Value,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    const PREFIX: &str = "EXFILWATCH__";
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let mut path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::invalid(
                name,
                "empty path segment in environment override",
            ));
        }
        let passthrough = path.len() == 3
            && path[0] == "kafka"
            && ["common", "consumer", "producer"].contains(&path[1].as_str());
        if passthrough {
            path[2] = path[2].replace('_', ".");
        }
        let value = parse_env_value(&raw);
        let mut node = &mut *doc;
        for (i, segment) in path.iter().enumerate() {
            let table = node
                .as_table_mut()
                .ok_or_else(|| ConfigError::invalid(path[..i].join("."), "is not a table"))?;
            if i + 1 == path.len() {
                let value = if passthrough {
                    toml::Value::String(raw.clone())
                } else {
                    value.clone()
                };
                table.insert(segment.clone(), value);
                break;
            }
            node = table
                .entry(segment.clone())
                .or_insert_with(|| toml::Value::Table(toml::map::Map::new()));
        }
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn empty_file_gives_documented_defaults() {
        let config = Config::from_toml_str("", no_env()).expect("defaults are valid");
        assert_eq!(config.kafka.group_id, "exfilwatch");
        assert_eq!(config.rules.bulk_read.windows.len(), 3);
        assert_eq!(config.http.listen, "0.0.0.0:9477");
    }

    #[test]
    fn unknown_field_is_refused_with_its_path() {
        let err = Config::from_toml_str("[kafka]\nbootstrap = \"x\"\n", no_env()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("kafka"), "{text}");
        assert!(text.contains("bootstrap"), "{text}");
    }

    #[test]
    fn bad_value_names_the_field() {
        let text = "[[rules.bulk_read.windows]]\nlength = \"10m\"\nrows = 0\n";
        let err = Config::from_toml_str(text, no_env()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rules.bulk_read.windows[0].rows: must be > 0"
        );
    }

    #[test]
    fn the_false_alarm_budget_must_be_a_rate() {
        let err =
            Config::from_toml_str("[detection]\nfalse_alarm_budget = 0\n", no_env()).unwrap_err();
        assert!(
            err.to_string().starts_with("detection.false_alarm_budget"),
            "{err}"
        );
        let config = Config::from_toml_str("", no_env()).expect("defaults are valid");
        assert_eq!(config.detection.false_alarm_budget, 0.1);
        assert_eq!(config.alerts.cooldown, Duration::from_secs(86_400));
    }

    #[test]
    fn a_version_one_config_still_starts_and_its_retired_settings_are_named() {
        let text = "[rules.baseline_deviation]\nmultiple = 3.0\n\n[rules.distinct_records]\nprecision = 12\n\n\
                    [[rules.distinct_records.windows]]\nlength = \"24h\"\nthreshold = 3000\n\n\
                    [[rules.peer_deviation.groups]]\nname = \"fraud\"\naccounts = [\"fraud-*\"]\n";
        let config = Config::from_toml_str(text, no_env()).expect("accepted");
        assert_eq!(config.rules.distinct_records.precision, 12);
        assert_eq!(config.peer_groups().len(), 1);
        assert_eq!(
            config.retired_settings(),
            vec![
                "rules.baseline_deviation.multiple".to_string(),
                "rules.distinct_records.windows".to_string()
            ]
        );
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/exfilwatch.example.toml");
        let example = Config::load(&shipped, no_env()).expect("valid");
        assert!(example.retired_settings().is_empty());
    }

    #[test]
    fn mistyped_duration_names_the_field() {
        let err =
            Config::from_toml_str("[input]\nallowed_lateness = \"soon\"\n", no_env()).unwrap_err();
        assert!(
            err.to_string().starts_with("input.allowed_lateness"),
            "{err}"
        );
    }

    #[test]
    fn owned_librdkafka_key_is_refused() {
        let text = "[kafka.consumer]\n\"enable.auto.commit\" = \"false\"\n";
        let err = Config::from_toml_str(text, no_env()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("kafka.consumer.enable.auto.commit"),
            "{err}"
        );
    }

    #[test]
    fn environment_overrides_typed_and_passthrough_values() {
        let env = vec![
            (
                "EXFILWATCH__KAFKA__BOOTSTRAP_SERVERS".to_string(),
                "broker:9093".to_string(),
            ),
            (
                "EXFILWATCH__STATE__MAX_ACCOUNTS".to_string(),
                "42".to_string(),
            ),
            (
                "EXFILWATCH__KAFKA__COMMON__SECURITY_PROTOCOL".to_string(),
                "SASL_SSL".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let config = Config::from_toml_str("", env).expect("valid");
        assert_eq!(config.kafka.bootstrap_servers, "broker:9093");
        assert_eq!(config.state.max_accounts, 42);
        assert_eq!(
            config
                .kafka
                .common
                .get("security.protocol")
                .map(String::as_str),
            Some("SASL_SSL")
        );
    }

    #[test]
    fn confluent_framing_requires_schema_id() {
        let err =
            Config::from_toml_str("[alerts]\nframing = \"confluent\"\n", no_env()).unwrap_err();
        assert!(err.to_string().starts_with("alerts.schema_id"), "{err}");
    }

    #[test]
    fn idle_timeout_must_outlast_the_baseline_history() {
        let err = Config::from_toml_str("[state]\nidle_timeout = \"10d\"\n", no_env()).unwrap_err();
        assert!(err.to_string().starts_with("state.idle_timeout"), "{err}");
    }

    #[test]
    fn shipped_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/exfilwatch.example.toml");
        Config::load(&path, no_env()).expect("example config must be valid");
    }
}
