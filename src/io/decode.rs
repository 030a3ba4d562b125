//! Decode: payload bytes → validated [`Activity`] with hashed record keys.
//!
//! Accepts the canonical JSON form and Avro (bare datum or Confluent-framed). Every failure is a
//! [`DecodeError`] with a bounded reason code for metrics and a message for the dead-letter header; the
//! caller dead-letters the message and moves on, so a poison event never stops a partition.

use std::sync::OnceLock;

use apache_avro::types::Value as AvroValue;
use apache_avro::Schema;
use serde::Deserialize;

use crate::config::InputFormat;
use crate::event::{Activity, ActivityKind, DbActivityEvent};
use crate::privacy::RecordKeyHasher;

/// The input schema, shipped in `schemas/`.
pub const DB_ACTIVITY_EVENT_SCHEMA: &str = include_str!("../../schemas/db_activity_event.avsc");

/// Parsed once; the schema file is part of the binary, so a parse failure is a build defect.
pub fn db_activity_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::parse_str(DB_ACTIVITY_EVENT_SCHEMA)
            .expect("schemas/db_activity_event.avsc is valid Avro")
    })
}

// Limits that keep one hostile event from costing unbounded memory or time.
const MAX_ID_CHARS: usize = 256;
const MAX_TEXT_CHARS: usize = 1024;
const MAX_TABLES: usize = 256;
const MAX_RECORD_KEYS: usize = 1_000_000;
/// 9999-12-31T23:59:59Z: an event time past this is a unit mistake (micro- or nanoseconds).
const MAX_EVENT_TIME_MS: i64 = 253_402_300_799_000;

/// Why an event could not be used. `reason()` is a bounded label value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty payload")]
    Empty,
    #[error("payload of {0} bytes exceeds input.max_event_bytes")]
    TooLarge(usize),
    #[error("payload is neither JSON nor Confluent-framed Avro (first byte 0x{0:02x})")]
    UnknownFormat(u8),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("invalid Avro: {0}")]
    Avro(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("invalid field `{field}`: {message}")]
    InvalidField { field: String, message: String },
}

impl DecodeError {
    /// Metric label: one of a fixed set.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::TooLarge(_) => "too_large",
            DecodeError::UnknownFormat(_) => "unknown_format",
            DecodeError::Json(_) => "invalid_json",
            DecodeError::Avro(_) => "invalid_avro",
            DecodeError::MissingField(_) => "missing_field",
            DecodeError::InvalidField { .. } => "invalid_field",
        }
    }

    /// A well-formed event the engine could not place in time: far ahead of its partition's time and
    /// of the event before it, unconfirmed ([`crate::engine::Outcome::implausible_time`]). The service
    /// dead-letters it, and replay counts it, as this invalid field.
    pub fn implausible_event_time() -> Self {
        DecodeError::invalid(
            "event_time",
            format!(
                "more than {} days from its partition's time (ahead of it, or apart from the partition's first events), and no later event confirms it",
                crate::engine::partition_time::IMPLAUSIBLE_AHEAD_MS / 86_400_000
            ),
        )
    }

    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DecodeError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Turns payloads into activities; holds the hashing key so raw record keys never outlive decoding.
#[derive(Debug, Clone)]
pub struct Decoder {
    format: InputFormat,
    max_event_bytes: usize,
    hasher: RecordKeyHasher,
}

impl Decoder {
    pub fn new(format: InputFormat, max_event_bytes: usize, hasher: RecordKeyHasher) -> Self {
        Decoder {
            format,
            max_event_bytes,
            hasher,
        }
    }

    /// Decodes, validates and pseudonymises one Kafka payload.
    pub fn decode(&self, payload: &[u8]) -> Result<Activity, DecodeError> {
        let event = self.decode_event(payload)?;
        Ok(self.pseudonymise(event))
    }

    /// Decodes and validates, keeping raw record keys: only for [`Decoder::pseudonymise`] to consume.
    pub fn decode_event(&self, payload: &[u8]) -> Result<DbActivityEvent, DecodeError> {
        if payload.is_empty() {
            return Err(DecodeError::Empty);
        }
        if payload.len() > self.max_event_bytes {
            return Err(DecodeError::TooLarge(payload.len()));
        }
        match self.format {
            InputFormat::Json => decode_json(payload),
            InputFormat::Avro => decode_avro_datum(payload),
            InputFormat::ConfluentAvro => decode_confluent(payload),
            InputFormat::Auto => {
                let first = payload
                    .iter()
                    .copied()
                    .find(|b| !b.is_ascii_whitespace())
                    .unwrap_or(b' ');
                match first {
                    b'{' => decode_json(payload),
                    0 if payload[0] == 0 => decode_confluent(payload),
                    other => Err(DecodeError::UnknownFormat(other)),
                }
            }
        }
    }

    /// Replaces raw record keys by keyed digests; the raw strings are dropped here.
    pub fn pseudonymise(&self, event: DbActivityEvent) -> Activity {
        let record_key_hashes = event
            .record_keys
            .map(|keys| keys.iter().map(|k| self.hasher.hash(k)).collect());
        Activity {
            event_id: event.event_id,
            event_time_ms: event.event_time,
            kind: event.kind,
            account: event.account,
            db_user: event.db_user,
            source: event.source,
            client_ip: event.client_ip,
            client_app: event.client_app,
            database: event.database,
            tables: event.tables,
            operation: event.operation,
            query_digest: event.query_digest,
            // Validation refused negative counts, so these conversions are exact.
            rows: event.rows.map(|r| r.unsigned_abs()),
            bytes: event.bytes.map(|b| b.unsigned_abs()),
            record_key_hashes,
            destination: event.destination,
            peer_group: event.peer_group,
            success: event.success,
        }
    }

    /// The hashing key in use, for rules that match hashed watchlists.
    pub fn hasher(&self) -> &RecordKeyHasher {
        &self.hasher
    }
}

/// Every field optional so that a missing required field is reported by name, not by serde's wording.
#[derive(Deserialize)]
struct LooseEvent {
    event_id: Option<String>,
    event_time: Option<i64>,
    kind: Option<ActivityKind>,
    account: Option<String>,
    db_user: Option<String>,
    source: Option<String>,
    client_ip: Option<String>,
    client_app: Option<String>,
    database: Option<String>,
    tables: Option<Vec<String>>,
    operation: Option<String>,
    query_digest: Option<String>,
    rows: Option<i64>,
    bytes: Option<i64>,
    record_keys: Option<Vec<String>>,
    destination: Option<String>,
    peer_group: Option<String>,
    success: Option<bool>,
}

/// The fast path: parses JSON without tracking the path of the value being read, which allocates a
/// string per object key and only serves to word an error, and checks the payload is UTF-8 in one pass
/// rather than string by string. Together these halve the decode time (`decode/json` bench).
///
/// On valid UTF-8 the two readers of serde_json parse alike, so whatever this path accepts,
/// [`decode_json_explained`] accepts with the same value; whatever it refuses goes there, to be decided
/// and worded as before.
fn decode_json(payload: &[u8]) -> Result<DbActivityEvent, DecodeError> {
    let Ok(text) = std::str::from_utf8(payload) else {
        return decode_json_explained(payload);
    };
    let mut de = serde_json::Deserializer::from_str(text);
    match LooseEvent::deserialize(&mut de).and_then(|loose| de.end().map(|()| loose)) {
        Ok(loose) => validate(loose),
        Err(_) => decode_json_explained(payload),
    }
}

/// The slow path of [`decode_json`]: names the field that failed to parse (`rows`, `tables[2]`).
fn decode_json_explained(payload: &[u8]) -> Result<DbActivityEvent, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(payload);
    let loose: LooseEvent = match serde_path_to_error::deserialize(&mut de) {
        Ok(loose) => loose,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(if inner.is_data() && path != "." {
                DecodeError::invalid(path, inner.to_string())
            } else {
                DecodeError::Json(inner.to_string())
            });
        }
    };
    de.end().map_err(|e| DecodeError::Json(e.to_string()))?;
    validate(loose)
}

fn decode_confluent(payload: &[u8]) -> Result<DbActivityEvent, DecodeError> {
    // Confluent wire format: magic byte 0, then a 4-byte big-endian schema id, then the datum.
    if payload.len() < 5 || payload[0] != 0 {
        return Err(DecodeError::Avro(
            "not Confluent wire format (magic byte 0 + 4-byte schema id)".into(),
        ));
    }
    decode_avro_datum(&payload[5..])
}

fn decode_avro_datum(mut body: &[u8]) -> Result<DbActivityEvent, DecodeError> {
    let value = apache_avro::from_avro_datum(db_activity_schema(), &mut body, None)
        .map_err(|e| DecodeError::Avro(e.to_string()))?;
    if !body.is_empty() {
        return Err(DecodeError::Avro(format!(
            "{} trailing bytes after the datum",
            body.len()
        )));
    }
    from_avro_value(value)
}

/// Maps an Avro record (from a datum or an object-container file) onto the event, by field name, so
/// that files written with an older or newer compatible schema still decode.
pub fn from_avro_value(value: AvroValue) -> Result<DbActivityEvent, DecodeError> {
    let AvroValue::Record(fields) = value else {
        return Err(DecodeError::Avro("top-level value is not a record".into()));
    };
    let mut loose = LooseEvent {
        event_id: None,
        event_time: None,
        kind: None,
        account: None,
        db_user: None,
        source: None,
        client_ip: None,
        client_app: None,
        database: None,
        tables: None,
        operation: None,
        query_digest: None,
        rows: None,
        bytes: None,
        record_keys: None,
        destination: None,
        peer_group: None,
        success: None,
    };
    for (name, value) in fields {
        let value = unwrap_union(value);
        if matches!(value, AvroValue::Null) {
            continue;
        }
        match name.as_str() {
            "event_id" => loose.event_id = Some(avro_string(&name, value)?),
            "event_time" => loose.event_time = Some(avro_long(&name, value)?),
            "kind" => loose.kind = Some(avro_kind(value)?),
            "account" => loose.account = Some(avro_string(&name, value)?),
            "db_user" => loose.db_user = Some(avro_string(&name, value)?),
            "source" => loose.source = Some(avro_string(&name, value)?),
            "client_ip" => loose.client_ip = Some(avro_string(&name, value)?),
            "client_app" => loose.client_app = Some(avro_string(&name, value)?),
            "database" => loose.database = Some(avro_string(&name, value)?),
            "tables" => loose.tables = Some(avro_strings(&name, value)?),
            "operation" => loose.operation = Some(avro_string(&name, value)?),
            "query_digest" => loose.query_digest = Some(avro_string(&name, value)?),
            "rows" => loose.rows = Some(avro_long(&name, value)?),
            "bytes" => loose.bytes = Some(avro_long(&name, value)?),
            "record_keys" => loose.record_keys = Some(avro_strings(&name, value)?),
            "destination" => loose.destination = Some(avro_string(&name, value)?),
            "peer_group" => loose.peer_group = Some(avro_string(&name, value)?),
            "success" => match value {
                AvroValue::Boolean(b) => loose.success = Some(b),
                _ => return Err(DecodeError::invalid("success", "expected a boolean")),
            },
            // Unknown fields are ignored, as in JSON: sources add fields over time.
            _ => {}
        }
    }
    validate(loose)
}

fn unwrap_union(value: AvroValue) -> AvroValue {
    match value {
        AvroValue::Union(_, inner) => *inner,
        other => other,
    }
}

fn avro_string(field: &str, value: AvroValue) -> Result<String, DecodeError> {
    match value {
        AvroValue::String(s) => Ok(s),
        _ => Err(DecodeError::invalid(field, "expected a string")),
    }
}

fn avro_long(field: &str, value: AvroValue) -> Result<i64, DecodeError> {
    match value {
        AvroValue::Long(v) | AvroValue::TimestampMillis(v) => Ok(v),
        AvroValue::Int(v) => Ok(i64::from(v)),
        AvroValue::TimestampMicros(v) => Ok(v / 1000),
        _ => Err(DecodeError::invalid(field, "expected a long")),
    }
}

fn avro_kind(value: AvroValue) -> Result<ActivityKind, DecodeError> {
    let symbol = match value {
        AvroValue::Enum(_, symbol) | AvroValue::String(symbol) => symbol,
        _ => return Err(DecodeError::invalid("kind", "expected an enum")),
    };
    match symbol.as_str() {
        "QUERY" => Ok(ActivityKind::Query),
        "EXPORT" => Ok(ActivityKind::Export),
        other => Err(DecodeError::invalid(
            "kind",
            format!("unknown symbol {other:?}"),
        )),
    }
}

fn avro_strings(field: &str, value: AvroValue) -> Result<Vec<String>, DecodeError> {
    let AvroValue::Array(items) = value else {
        return Err(DecodeError::invalid(field, "expected an array of strings"));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(avro_string(field, item)?);
    }
    Ok(out)
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::MissingField(field))
}

fn bounded_text(field: &str, value: &str, max: usize) -> Result<(), DecodeError> {
    // A string has no more characters than bytes: only a long one needs counting.
    if value.len() > max && value.chars().count() > max {
        return Err(DecodeError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

fn validate(loose: LooseEvent) -> Result<DbActivityEvent, DecodeError> {
    let event_id = required(loose.event_id, "event_id")?;
    let event_time = required(loose.event_time, "event_time")?;
    let kind = required(loose.kind, "kind")?;
    let account = required(loose.account, "account")?;
    let source = required(loose.source, "source")?;
    let operation = required(loose.operation, "operation")?;
    for (field, value) in [
        ("event_id", &event_id),
        ("account", &account),
        ("source", &source),
        ("operation", &operation),
    ] {
        if value.trim().is_empty() {
            return Err(DecodeError::invalid(field, "must not be empty"));
        }
        bounded_text(field, value, MAX_ID_CHARS)?;
    }
    if !(0..=MAX_EVENT_TIME_MS).contains(&event_time) {
        return Err(DecodeError::invalid(
            "event_time",
            "must be epoch milliseconds between 1970 and 9999",
        ));
    }
    for (field, value) in [("rows", loose.rows), ("bytes", loose.bytes)] {
        if value.is_some_and(|v| v < 0) {
            return Err(DecodeError::invalid(field, "must not be negative"));
        }
    }
    let tables = loose.tables.unwrap_or_default();
    if tables.len() > MAX_TABLES {
        return Err(DecodeError::invalid(
            "tables",
            format!("more than {MAX_TABLES} entries"),
        ));
    }
    for table in &tables {
        bounded_text("tables", table, MAX_TEXT_CHARS)?;
    }
    if loose
        .record_keys
        .as_ref()
        .is_some_and(|k| k.len() > MAX_RECORD_KEYS)
    {
        return Err(DecodeError::invalid(
            "record_keys",
            format!("more than {MAX_RECORD_KEYS} entries"),
        ));
    }
    for (field, value) in [
        ("db_user", &loose.db_user),
        ("client_ip", &loose.client_ip),
        ("client_app", &loose.client_app),
        ("database", &loose.database),
        ("query_digest", &loose.query_digest),
        ("destination", &loose.destination),
        ("peer_group", &loose.peer_group),
    ] {
        if let Some(value) = value {
            bounded_text(field, value, MAX_TEXT_CHARS)?;
        }
    }
    Ok(DbActivityEvent {
        event_id,
        event_time,
        kind,
        account,
        db_user: loose.db_user,
        source,
        client_ip: loose.client_ip,
        client_app: loose.client_app,
        database: loose.database,
        tables,
        operation,
        query_digest: loose.query_digest,
        rows: loose.rows,
        bytes: loose.bytes,
        record_keys: loose.record_keys,
        destination: loose.destination,
        peer_group: loose.peer_group,
        success: loose.success.unwrap_or(true),
    })
}

/// Encodes an event as a bare Avro datum with the input schema (generators, tests, benchmarks).
pub fn encode_avro_datum(event: &DbActivityEvent) -> Result<Vec<u8>, apache_avro::Error> {
    apache_avro::to_avro_datum(db_activity_schema(), to_avro_value(event))
}

/// The event as an Avro record value of the input schema.
pub fn to_avro_value(event: &DbActivityEvent) -> AvroValue {
    fn opt_string(value: &Option<String>) -> AvroValue {
        match value {
            Some(s) => AvroValue::Union(1, Box::new(AvroValue::String(s.clone()))),
            None => AvroValue::Union(0, Box::new(AvroValue::Null)),
        }
    }
    fn opt_long(value: Option<i64>) -> AvroValue {
        match value {
            Some(v) => AvroValue::Union(1, Box::new(AvroValue::Long(v))),
            None => AvroValue::Union(0, Box::new(AvroValue::Null)),
        }
    }
    fn strings(values: &[String]) -> AvroValue {
        AvroValue::Array(
            values
                .iter()
                .map(|s| AvroValue::String(s.clone()))
                .collect(),
        )
    }
    let kind_index = match event.kind {
        ActivityKind::Query => 0,
        ActivityKind::Export => 1,
    };
    AvroValue::Record(vec![
        ("event_id".into(), AvroValue::String(event.event_id.clone())),
        (
            "event_time".into(),
            AvroValue::TimestampMillis(event.event_time),
        ),
        (
            "kind".into(),
            AvroValue::Enum(kind_index, event.kind.as_str().into()),
        ),
        ("account".into(), AvroValue::String(event.account.clone())),
        ("db_user".into(), opt_string(&event.db_user)),
        ("source".into(), AvroValue::String(event.source.clone())),
        ("client_ip".into(), opt_string(&event.client_ip)),
        ("client_app".into(), opt_string(&event.client_app)),
        ("database".into(), opt_string(&event.database)),
        ("tables".into(), strings(&event.tables)),
        (
            "operation".into(),
            AvroValue::String(event.operation.clone()),
        ),
        ("query_digest".into(), opt_string(&event.query_digest)),
        ("rows".into(), opt_long(event.rows)),
        ("bytes".into(), opt_long(event.bytes)),
        (
            "record_keys".into(),
            match &event.record_keys {
                Some(keys) => AvroValue::Union(1, Box::new(strings(keys))),
                None => AvroValue::Union(0, Box::new(AvroValue::Null)),
            },
        ),
        ("destination".into(), opt_string(&event.destination)),
        ("peer_group".into(), opt_string(&event.peer_group)),
        ("success".into(), AvroValue::Boolean(event.success)),
    ])
}

#[cfg(test)]
mod tests;
