//! Replay: the same engine over recorded events from files, offline.
//!
//! Reads JSON lines or Avro object-container files (recognised by their `Obj\x01` magic), writes each
//! alert as one JSON line, and counts what could not be decoded. Because the engine runs on event time,
//! a replay of what the live service consumed yields the same alerts (same ids and fields but
//! `emitted_at`): useful to backfill, to test rule changes, and to audit a past period.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};

use crate::accounts::PartitionRef;
use crate::alert;
use crate::decode::{self, Decoder};
use crate::engine::Engine;
use crate::event::Activity;
use crate::partitioner::Partitioner;

/// Avro object-container files start with these four bytes.
const AVRO_MAGIC: &[u8; 4] = b"Obj\x01";

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {source_name}: {error}")]
    Io {
        source_name: String,
        error: std::io::Error,
    },
    #[error("{source_name} is not a readable Avro container file: {error}")]
    Container { source_name: String, error: String },
    #[error("cannot write alerts: {0}")]
    Output(std::io::Error),
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReplaySummary {
    pub events: u64,
    pub decode_failures: BTreeMap<&'static str, u64>,
    pub late_events: u64,
    pub alerts: u64,
    pub alerts_by_rule: BTreeMap<String, u64>,
    pub accounts: usize,
}

impl ReplaySummary {
    /// One line for stderr.
    pub fn to_line(&self) -> String {
        let failures: u64 = self.decode_failures.values().sum();
        let mut line = format!(
            "replay: {} events, {} undecodable, {} late, {} alerts, {} accounts tracked",
            self.events, failures, self.late_events, self.alerts, self.accounts
        );
        for (reason, count) in &self.decode_failures {
            line.push_str(&format!("; {reason}={count}"));
        }
        for (rule, count) in &self.alerts_by_rule {
            line.push_str(&format!("; alerts[{rule}]={count}"));
        }
        line
    }
}

/// Replays sources in order through one engine; `-` is standard input.
pub struct Replayer<'a> {
    pub engine: &'a Engine,
    pub decoder: &'a Decoder,
    /// Wall clock for `emitted_at`.
    pub clock: &'a dyn Fn() -> i64,
    /// How the live input topic spread accounts over partitions, to reproduce its per-partition peer
    /// statistics; `None` treats the whole stream as one partition.
    pub partitioning: Option<(Partitioner, u32)>,
}

impl Replayer<'_> {
    pub fn run(
        &self,
        sources: &[String],
        out: &mut dyn Write,
    ) -> Result<ReplaySummary, ReplayError> {
        let mut summary = ReplaySummary::default();
        let stdin_only = ["-".to_string()];
        let sources = if sources.is_empty() {
            &stdin_only[..]
        } else {
            sources
        };
        for name in sources {
            let reader: Box<dyn Read> = if name == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                let file = std::fs::File::open(name).map_err(|error| ReplayError::Io {
                    source_name: name.clone(),
                    error,
                })?;
                Box::new(file)
            };
            self.replay_reader(name, reader, out, &mut summary)?;
        }
        summary.accounts = self.engine.accounts().len();
        out.flush().map_err(ReplayError::Output)?;
        Ok(summary)
    }

    /// Replays one stream, detecting its format.
    pub fn replay_reader(
        &self,
        name: &str,
        reader: Box<dyn Read + '_>,
        out: &mut dyn Write,
        summary: &mut ReplaySummary,
    ) -> Result<(), ReplayError> {
        let io_error = |error| ReplayError::Io {
            source_name: name.to_string(),
            error,
        };
        let mut buffered = BufReader::with_capacity(1 << 20, reader);
        let is_container = buffered
            .fill_buf()
            .map_err(io_error)?
            .starts_with(AVRO_MAGIC);
        if is_container {
            let container =
                apache_avro::Reader::new(buffered).map_err(|e| ReplayError::Container {
                    source_name: name.to_string(),
                    error: e.to_string(),
                })?;
            for value in container {
                summary.events += 1;
                let decoded = value
                    .map_err(|e| decode::DecodeError::Avro(e.to_string()))
                    .and_then(decode::from_avro_value)
                    .map(|event| self.decoder.pseudonymise(event));
                self.process(decoded, out, summary)?;
            }
            return Ok(());
        }
        let mut line = Vec::with_capacity(4096);
        loop {
            line.clear();
            let read = buffered.read_until(b'\n', &mut line).map_err(io_error)?;
            if read == 0 {
                break;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            summary.events += 1;
            let decoded = self.decoder.decode(&line);
            self.process(decoded, out, summary)?;
        }
        Ok(())
    }

    fn process(
        &self,
        decoded: Result<Activity, decode::DecodeError>,
        out: &mut dyn Write,
        summary: &mut ReplaySummary,
    ) -> Result<(), ReplayError> {
        let activity = match decoded {
            Ok(activity) => activity,
            Err(error) => {
                *summary.decode_failures.entry(error.reason()).or_insert(0) += 1;
                return Ok(());
            }
        };
        let partition = self.partitioning.map(|(partitioner, count)| PartitionRef {
            topic: 0,
            partition: partitioner.partition(activity.account.as_bytes(), count),
        });
        let outcome = self.engine.process(&activity, partition, (self.clock)());
        if outcome.late {
            summary.late_events += 1;
        }
        for alert in &outcome.alerts {
            summary.alerts += 1;
            *summary
                .alerts_by_rule
                .entry(alert.rule.clone())
                .or_insert(0) += 1;
            writeln!(out, "{}", alert::to_json_line(alert)).map_err(ReplayError::Output)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, InputFormat};
    use crate::event::DbActivityEvent;
    use crate::privacy::RecordKeyHasher;

    fn event(i: i64) -> DbActivityEvent {
        DbActivityEvent::query(
            format!("e{i}"),
            1_700_000_000_000 + i * 1000,
            "mallory",
            "support.customers",
            120,
        )
    }

    fn replay(input: Vec<u8>) -> (ReplaySummary, String) {
        let config = Config::default();
        let hasher = RecordKeyHasher::new(b"replay-test-secret-123").expect("secret");
        let engine = Engine::new(&config, &hasher);
        let decoder = Decoder::new(InputFormat::Json, 1 << 20, hasher);
        let replayer = Replayer {
            engine: &engine,
            decoder: &decoder,
            clock: &|| 7,
            partitioning: None,
        };
        let mut out = Vec::new();
        let mut summary = ReplaySummary::default();
        replayer
            .replay_reader(
                "test",
                Box::new(std::io::Cursor::new(input)),
                &mut out,
                &mut summary,
            )
            .expect("replays");
        (summary, String::from_utf8(out).expect("utf8"))
    }

    #[test]
    fn json_lines_with_a_bad_line_still_alert() {
        let mut input = Vec::new();
        for i in 0..10 {
            input.extend(serde_json::to_vec(&event(i)).expect("json"));
            input.push(b'\n');
            if i == 3 {
                input.extend_from_slice(b"{broken\n\n");
            }
        }
        let (summary, out) = replay(input);
        assert_eq!(summary.events, 11);
        assert_eq!(summary.decode_failures.get("invalid_json"), Some(&1));
        assert_eq!(summary.alerts, 1);
        let alert: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
        assert_eq!(alert["rule"], "bulk_read");
        assert_eq!(alert["emitted_at"], 7);
    }

    #[test]
    fn avro_container_files_replay_like_json() {
        let schema = decode::db_activity_schema();
        let mut writer = apache_avro::Writer::new(schema, Vec::new());
        for i in 0..10 {
            writer
                .append(decode::to_avro_value(&event(i)))
                .expect("append");
        }
        let bytes = writer.into_inner().expect("container");
        let (avro_summary, avro_out) = replay(bytes);
        let mut json = Vec::new();
        for i in 0..10 {
            json.extend(serde_json::to_vec(&event(i)).expect("json"));
            json.push(b'\n');
        }
        let (json_summary, json_out) = replay(json);
        assert_eq!(avro_summary, json_summary);
        assert_eq!(avro_out, json_out);
    }
}
