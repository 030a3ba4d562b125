//! `[detection]`, `[[data_classes]]` and `[rules.*]`, with their defaults (retired rules included, so
//! that old configs still start).

use super::*;

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
    /// without a match the group is learned from the account's main sensitive table and application).
    #[serde(default)]
    pub peer_groups: Vec<PeerGroupConfig>,
    /// Where the day that daily totals count begins: `auto` (each partition's quiet hour, learned from
    /// the people at work per hour over its first 24 hours that show a working day) or a UTC time `HH:MM` (for example `"00:00"`, or `"14:00"` for an
    /// organisation in UTC+10 whose night is then).
    #[serde(default = "default_day_start")]
    pub day_start: String,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            false_alarm_budget: default_false_alarm_budget(),
            learning_period: default_learning_period(),
            mode: default_mode(),
            peer_groups: Vec::new(),
            day_start: default_day_start(),
        }
    }
}

impl DetectionConfig {
    /// `day_start` as ms after UTC midnight; `None` for `auto`. `Err` names what is wrong.
    pub fn day_start_ms(&self) -> Result<Option<i64>, String> {
        let value = self.day_start.trim();
        if value.eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        let parsed = value.split_once(':').and_then(|(h, m)| {
            let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
            ((0..24).contains(&h) && (0..60).contains(&m) && value.len() == 5)
                .then_some((h * 60 + m) * 60_000)
        });
        parsed
            .map(Some)
            .ok_or_else(|| format!("must be \"auto\" or a UTC time HH:MM, not {value:?}"))
    }
}

fn default_day_start() -> String {
    "auto".into()
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

pub(super) fn default_data_classes() -> Vec<DataClassConfig> {
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
