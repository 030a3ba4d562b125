//! The input event, as the database proxies emit it (`schemas/db_activity_event.avsc`) and as the
//! engine sees it after decoding: record identifiers already replaced by keyed hashes.

use serde::{Deserialize, Serialize};

/// What the proxy observed: a query returning rows, or an export writing data somewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActivityKind {
    #[serde(rename = "QUERY")]
    Query,
    #[serde(rename = "EXPORT")]
    Export,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Query => "QUERY",
            ActivityKind::Export => "EXPORT",
        }
    }
}

/// The canonical event with raw record keys, exactly the schema's fields. It exists only between the
/// wire and [`crate::privacy::RecordKeyHasher`]; generators and tests build it to produce input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbActivityEvent {
    pub event_id: String,
    /// Epoch milliseconds.
    pub event_time: i64,
    pub kind: ActivityKind,
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_user: Option<String>,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default)]
    pub tables: Vec<String>,
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_keys: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_group: Option<String>,
    #[serde(default = "default_success")]
    pub success: bool,
}

fn default_success() -> bool {
    true
}

impl DbActivityEvent {
    /// A successful SELECT of `rows` rows from one table, every optional field empty: the base that
    /// tests, benchmarks and generators fill in with struct-update syntax.
    pub fn query(
        event_id: impl Into<String>,
        event_time: i64,
        account: impl Into<String>,
        table: &str,
        rows: i64,
    ) -> Self {
        DbActivityEvent {
            event_id: event_id.into(),
            event_time,
            kind: ActivityKind::Query,
            account: account.into(),
            db_user: None,
            source: "proxy".into(),
            client_ip: None,
            client_app: None,
            database: None,
            tables: vec![table.to_string()],
            operation: "SELECT".into(),
            query_digest: None,
            rows: Some(rows),
            bytes: None,
            record_keys: None,
            destination: None,
            peer_group: None,
            success: true,
        }
    }
}

/// The event the engine works on: validated, with record identifiers hashed by the secret key.
///
/// Nothing in here is raw customer data; the account is the one identity alerts are allowed to name.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub event_id: String,
    pub event_time_ms: i64,
    pub kind: ActivityKind,
    pub account: String,
    pub db_user: Option<String>,
    pub source: String,
    pub client_ip: Option<String>,
    pub client_app: Option<String>,
    pub database: Option<String>,
    pub tables: Vec<String>,
    pub operation: String,
    pub query_digest: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    /// Keyed hashes of `record_keys`; `None` when the source does not inspect results.
    pub record_key_hashes: Option<Vec<u64>>,
    pub destination: Option<String>,
    pub peer_group: Option<String>,
    pub success: bool,
}

/// What a source's reads are counted in: the best unit it gives (see [`Activity::record_count`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeUnit {
    /// Distinct customers, from record keys.
    Customers,
    /// Rows, where the source counts them but shows no keys.
    Rows,
    /// Statements, where the source counts neither (each sensitive statement counts as one).
    Statements,
}

impl VolumeUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeUnit::Customers => "customers",
            VolumeUnit::Rows => "sensitive rows",
            VolumeUnit::Statements => "sensitive statements",
        }
    }
}

impl Activity {
    /// The unit of this event's reads: distinct customers where it carries record keys (the day's
    /// reads are then the distinct count, whatever `rows` says), else rows, else statements.
    pub fn volume_unit(&self) -> VolumeUnit {
        match (&self.record_key_hashes, self.rows) {
            (Some(_), _) => VolumeUnit::Customers,
            (None, Some(_)) => VolumeUnit::Rows,
            (None, None) => VolumeUnit::Statements,
        }
    }

    /// How many records this event handed out, in the best unit the source gives: rows where the proxy
    /// counted them, else the number of record keys it saw, else one for the statement itself.
    ///
    /// Several sources count neither (Teleport's query events, MariaDB's `server_audit`, pgaudit
    /// without `log_rows`). Every volume the risk weighs is judged against the account's own history
    /// and its peers in the same unit, so statements are a volume like rows: a reader who runs three
    /// times their usual statements is as visible as one who reads three times their usual rows. What
    /// a count alone shows is lost: one `SELECT *` is one statement, so the absolute ceilings
    /// (`bulk_read`) cannot see a dump from such a source.
    pub fn record_count(&self) -> u64 {
        match (self.rows, &self.record_key_hashes) {
            (Some(rows), _) => rows,
            (None, Some(keys)) => keys.len() as u64,
            (None, None) => 1,
        }
    }
}
