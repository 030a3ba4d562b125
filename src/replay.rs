//! Replay: the same engine over recorded events from files, offline.
//!
//! Reads JSON lines or Avro object-container files (recognised by their `Obj\x01` magic), writes each
//! alert as one JSON line, and counts what could not be decoded. Because the engine runs on event time,
//! a replay of what the live service consumed yields the same alerts (same ids and fields but
//! `emitted_at`): useful to backfill, to test rule changes, and to audit a past period.
//!
//! Decoding (JSON parsing, validation, record-key hashing) costs about as much as the engine, so the two
//! run on two threads. The calling thread reads the stream in chunks of whole lines (or batches of Avro
//! records), a decoding thread turns each chunk into activities, and the calling thread runs the engine
//! over the decoded batches in the order they were read. One decoding thread and FIFO channels keep the
//! input order, so the alerts, their order and every count are those of a sequential replay.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use apache_avro::types::Value as AvroValue;

use crate::alert;
use crate::detect::peers::TeamSightCounts;
use crate::engine::{Batch, Engine};
use crate::event::Activity;
use crate::io::decode::{self, DecodeError, Decoder};
use crate::io::partitioner::Partitioner;

/// Avro object-container files start with these four bytes.
const AVRO_MAGIC: &[u8; 4] = b"Obj\x01";

/// Bytes of JSON lines read per batch (a batch is then extended to the end of its last line): about a
/// thousand typical events, so that a channel hand-off costs nothing per event while the two threads
/// overlap from the first milliseconds.
const CHUNK_BYTES: usize = 512 << 10;

/// Avro records per batch, for the same reasons.
const AVRO_BATCH_RECORDS: usize = 1024;

/// Batches read but not yet run through the engine. A few keep the decoding thread busy while the
/// engine works through a batch; more would only hold memory.
const BATCHES_IN_FLIGHT: usize = 4;

/// The buffer that format detection reads into, and Avro containers are read through.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// The decoding thread's output: one result per event, in input order.
type Decoded = Vec<Result<Activity, DecodeError>>;

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
    #[error("cannot start the decoding thread: {0}")]
    Thread(std::io::Error),
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
    /// Sensitive reads by how much of the account's peer group they were judged with: with
    /// `--partitions`, how thin the live service's samples would be.
    pub team_sight: TeamSightCounts,
    /// The risk threshold in force at the last event (of its partition).
    pub threshold: Option<crate::engine::groups::Threshold>,
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
        let sight = &self.team_sight;
        line.push_str(&format!(
            "; team_sight[measured]={}; team_sight[latest_days]={}; team_sight[unseen]={}; team_sight[no_levels]={}",
            sight.measured, sight.latest_days, sight.unseen, sight.no_levels
        ));
        if let Some(threshold) = self.threshold {
            line.push_str(&format!(
                "; risk_threshold={:.2} (from {} accounts)",
                threshold.value, threshold.samples
            ));
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
    ///
    /// A read error is returned once everything read before it has been replayed, as a sequential
    /// replay would have left it.
    pub fn replay_reader(
        &self,
        name: &str,
        reader: Box<dyn Read + '_>,
        out: &mut dyn Write,
        summary: &mut ReplaySummary,
    ) -> Result<(), ReplayError> {
        self.replay_chunked(name, reader, out, summary, CHUNK_BYTES)
    }

    /// [`Replayer::replay_reader`] with chunks of `chunk_bytes`: tests use tiny ones, to cut lines
    /// everywhere and fill every channel.
    fn replay_chunked(
        &self,
        name: &str,
        reader: Box<dyn Read + '_>,
        out: &mut dyn Write,
        summary: &mut ReplaySummary,
        chunk_bytes: usize,
    ) -> Result<(), ReplayError> {
        let io_error = |error| ReplayError::Io {
            source_name: name.to_string(),
            error,
        };
        let mut buffered = BufReader::with_capacity(READ_BUFFER_BYTES, reader);
        let is_container = buffered
            .fill_buf()
            .map_err(io_error)?
            .starts_with(AVRO_MAGIC);
        let mut input = if is_container {
            let container =
                apache_avro::Reader::new(buffered).map_err(|e| ReplayError::Container {
                    source_name: name.to_string(),
                    error: e.to_string(),
                })?;
            RawInput::Avro(Box::new(container))
        } else {
            // Chunks are read straight from the stream into their own buffer, not through this one:
            // what detection buffered opens the first chunk.
            let detected = buffered.buffer().to_vec();
            RawInput::Lines {
                reader: buffered.into_inner(),
                chunk_bytes,
                partial: detected,
                failed: None,
            }
        };
        match self.pipeline(&mut input, out, summary)? {
            Some(error) => Err(io_error(error)),
            None => Ok(()),
        }
    }

    /// Reads and runs the engine on this thread while a scoped thread decodes (see the module docs);
    /// returns the read error that ended the stream early, if any.
    ///
    /// The stream may be standard input or another reader that cannot leave this thread, so raw bytes
    /// cross over, not the reader: reading whole chunks costs this thread next to nothing.
    fn pipeline(
        &self,
        input: &mut RawInput<'_>,
        out: &mut dyn Write,
        summary: &mut ReplaySummary,
    ) -> Result<Option<std::io::Error>, ReplayError> {
        let decoder = self.decoder;
        std::thread::scope(|scope| {
            // Each channel holds every batch that may be in flight, so no send ever blocks: the decoding
            // thread waits only for input, this thread only for decoded batches.
            let (raw_tx, raw_rx) = sync_channel(BATCHES_IN_FLIGHT);
            let (decoded_tx, decoded_rx) = sync_channel(BATCHES_IN_FLIGHT);
            let (spent_tx, spent_rx) = sync_channel(BATCHES_IN_FLIGHT);
            std::thread::Builder::new()
                .name("replay-decode".into())
                .spawn_scoped(scope, move || {
                    decode_batches(decoder, raw_rx, decoded_tx, spent_rx)
                })
                .map_err(ReplayError::Thread)?;
            let mut in_flight = 0usize;
            let mut exhausted = false;
            let mut read_error = None;
            loop {
                while !exhausted && in_flight < BATCHES_IN_FLIGHT {
                    match input.next_batch() {
                        Ok(Some(batch)) => {
                            if raw_tx.send(batch).is_err() {
                                // The decoding thread is gone, which only a panic does: the scope
                                // re-raises it once this closure returns.
                                return Ok(None);
                            }
                            in_flight += 1;
                        }
                        Ok(None) => exhausted = true,
                        Err(error) => {
                            // Replay what was read before the error, then report it.
                            exhausted = true;
                            read_error = Some(error);
                        }
                    }
                }
                if in_flight == 0 {
                    break;
                }
                let Ok(decoded) = decoded_rx.recv() else {
                    // As above: the decoding thread panicked, and the scope re-raises it.
                    return Ok(None);
                };
                in_flight -= 1;
                // In order, with the engine prefetching the state of the events coming up.
                self.engine.process_all(
                    &decoded,
                    |event| event.as_ref().ok(),
                    |batch, event| {
                        summary.events += 1;
                        self.process(batch, event, out, summary)
                    },
                )?;
                // Hand the batch back to be freed by the thread that allocated it: glibc frees another
                // thread's memory slowly, under that thread's arena lock (a sixth of this thread's time
                // in a profile). Should the channel be full, the batch is simply freed here.
                let _ = spent_tx.try_send(decoded);
            }
            Ok(read_error)
        })
    }

    fn process(
        &self,
        batch: &Batch<'_>,
        decoded: &Result<Activity, DecodeError>,
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
        let partition = self
            .partitioning
            .map(|(partitioner, count)| partitioner.partition_of(&activity.account, count));
        let outcome = batch.process(activity, partition, (self.clock)());
        if outcome.late {
            summary.late_events += 1;
        }
        summary.threshold = outcome.threshold.or(summary.threshold);
        if let Some(sight) = outcome.team_sight {
            summary.team_sight.count(sight);
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

/// The stream being replayed, read on the calling thread.
enum RawInput<'r> {
    Lines {
        reader: Box<dyn Read + 'r>,
        /// Bytes to read per batch; see [`CHUNK_BYTES`].
        chunk_bytes: usize,
        /// The start of a line that the previous chunk cut: it opens the next one.
        partial: Vec<u8>,
        /// A read error met while filling a chunk, reported once the lines before it are replayed.
        failed: Option<std::io::Error>,
    },
    /// Boxed: the reader is large, and there is one per stream.
    Avro(Box<apache_avro::Reader<'static, BufReader<Box<dyn Read + 'r>>>>),
}

impl RawInput<'_> {
    /// The next batch, `None` at the end of the stream.
    fn next_batch(&mut self) -> Result<Option<RawBatch>, std::io::Error> {
        match self {
            RawInput::Lines {
                reader,
                chunk_bytes,
                partial,
                failed,
            } => {
                if let Some(error) = failed.take() {
                    return Err(error);
                }
                let mut bytes = std::mem::take(partial);
                loop {
                    let searched = bytes.len();
                    bytes.reserve(*chunk_bytes);
                    let read = reader
                        .by_ref()
                        .take(*chunk_bytes as u64)
                        .read_to_end(&mut bytes);
                    match read {
                        // The end of the stream ends its last line, with or without a newline.
                        Ok(0) => return Ok((!bytes.is_empty()).then_some(RawBatch::Lines(bytes))),
                        Ok(_) => {}
                        Err(error) => {
                            // Lines read before the error are replayed; the line it cut is lost, as
                            // in a sequential read.
                            let whole = last_newline(&bytes, 0).map_or(0, |end| end + 1);
                            bytes.truncate(whole);
                            if bytes.is_empty() {
                                return Err(error);
                            }
                            *failed = Some(error);
                            return Ok(Some(RawBatch::Lines(bytes)));
                        }
                    }
                    // Without a newline in what was just read, the line is longer than a chunk: read on.
                    if let Some(end) = last_newline(&bytes, searched) {
                        *partial = bytes[end + 1..].to_vec();
                        bytes.truncate(end + 1);
                        return Ok(Some(RawBatch::Lines(bytes)));
                    }
                }
            }
            RawInput::Avro(container) => {
                // The container reader decodes records as it reads them, so only the conversion to an
                // event, its validation and the hashing move to the decoding thread.
                let values: Vec<_> = container
                    .by_ref()
                    .take(AVRO_BATCH_RECORDS)
                    .map(|value| value.map_err(|e| DecodeError::Avro(e.to_string())))
                    .collect();
                Ok((!values.is_empty()).then_some(RawBatch::Avro(values)))
            }
        }
    }
}

/// Index of the last newline at or after `from`.
fn last_newline(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| from + i)
}

/// Undecoded input on its way to the decoding thread.
enum RawBatch {
    /// Whole lines, each with its newline but perhaps the last of the stream; blank ones included.
    Lines(Vec<u8>),
    /// Records of an Avro container, or why one could not be read.
    Avro(Vec<Result<AvroValue, DecodeError>>),
}

impl RawBatch {
    /// Appends one result per event to `decoded`, dropping one of `spent` before decoding each event.
    ///
    /// Freeing an event's strings just before allocating the next event's, of much the same sizes,
    /// lets glibc serve more allocations from its per-thread cache than freeing a whole batch at once,
    /// which overflows that cache (half the slow-path allocations, 4% fewer instructions here).
    fn decode_into(
        self,
        decoder: &Decoder,
        decoded: &mut Decoded,
        spent: &mut impl Iterator<Item = Result<Activity, DecodeError>>,
    ) {
        match self {
            RawBatch::Lines(bytes) => {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let (line, tail) = rest.split_at(line_len(rest));
                    rest = tail;
                    // Blank lines are not events.
                    if !line.iter().all(u8::is_ascii_whitespace) {
                        drop(spent.next());
                        decoded.push(decoder.decode(line));
                    }
                }
            }
            RawBatch::Avro(values) => {
                for value in values {
                    drop(spent.next());
                    decoded.push(
                        value
                            .and_then(decode::from_avro_value)
                            .map(|event| decoder.pseudonymise(event)),
                    );
                }
            }
        }
    }
}

/// Length of the first line of `bytes`, its newline included. `BufRead` on a slice reaches std's
/// word-at-a-time memchr, and cannot fail.
fn line_len(bytes: &[u8]) -> usize {
    let mut cursor = bytes;
    cursor.skip_until(b'\n').unwrap_or(bytes.len())
}

/// The decoding thread: batches in, decoded batches out, in order, until the input channel closes or
/// the engine side stops listening.
///
/// It also frees the events the engine is done with (see [`RawBatch::decode_into`]) and reuses their
/// batches: a fresh batch is a large allocation, which makes glibc consolidate its free small chunks.
fn decode_batches(
    decoder: &Decoder,
    raw: Receiver<RawBatch>,
    decoded: SyncSender<Decoded>,
    spent: Receiver<Decoded>,
) {
    // Batches the engine is done with, events still in them, and emptied ones.
    let mut full: Vec<Decoded> = Vec::new();
    let mut empty: Vec<Decoded> = Vec::new();
    for batch in raw {
        full.extend(spent.try_iter());
        let mut events = empty.pop().unwrap_or_default();
        let mut old = full.pop().unwrap_or_default();
        let mut old_events = old.drain(..);
        batch.decode_into(decoder, &mut events, &mut old_events);
        // Whatever the batch did not replace is freed here.
        drop(old_events);
        empty.push(old);
        if decoded.send(events).is_err() {
            return;
        }
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
            600,
        )
    }

    const SECRET: &[u8] = b"replay-test-secret-123";
    /// Small enough that the long lines of [`mixed_input`] are refused as too large.
    const MAX_EVENT_BYTES: usize = 4096;

    fn decoder() -> Decoder {
        let hasher = RecordKeyHasher::new(SECRET).expect("secret");
        Decoder::new(InputFormat::Json, MAX_EVENT_BYTES, hasher)
    }

    fn engine() -> Engine {
        let hasher = RecordKeyHasher::new(SECRET).expect("secret");
        let mut config = Config::default();
        // These inputs are minutes long: judge from the first event, not after a week of learning.
        config.detection.learning_period = std::time::Duration::ZERO;
        Engine::new(&config, &hasher)
    }

    /// Replays `reader` through a fresh engine in chunks of `chunk_bytes`.
    fn replay_chunked(
        reader: Box<dyn Read + '_>,
        chunk_bytes: usize,
    ) -> (Result<(), ReplayError>, ReplaySummary, String) {
        let engine = engine();
        let decoder = decoder();
        let replayer = Replayer {
            engine: &engine,
            decoder: &decoder,
            clock: &|| 7,
            partitioning: None,
        };
        let mut out = Vec::new();
        let mut summary = ReplaySummary::default();
        let result = replayer.replay_chunked("test", reader, &mut out, &mut summary, chunk_bytes);
        (result, summary, String::from_utf8(out).expect("utf8"))
    }

    fn replay(input: Vec<u8>) -> (ReplaySummary, String) {
        let (result, summary, out) =
            replay_chunked(Box::new(std::io::Cursor::new(input)), CHUNK_BYTES);
        result.expect("replays");
        (summary, out)
    }

    /// What a replay must produce, computed the plain way: line by line, each decoded and run through
    /// a fresh engine on this thread.
    fn sequential_reference(input: &[u8]) -> (ReplaySummary, String) {
        let engine = engine();
        let decoder = decoder();
        let mut summary = ReplaySummary::default();
        let mut out = String::new();
        for line in input.split_inclusive(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            summary.events += 1;
            let activity = match decoder.decode(line) {
                Ok(activity) => activity,
                Err(error) => {
                    *summary.decode_failures.entry(error.reason()).or_insert(0) += 1;
                    continue;
                }
            };
            let outcome = engine.process(&activity, None, 7);
            summary.late_events += u64::from(outcome.late);
            summary.threshold = outcome.threshold.or(summary.threshold);
            if let Some(sight) = outcome.team_sight {
                summary.team_sight.count(sight);
            }
            for alert in &outcome.alerts {
                summary.alerts += 1;
                *summary
                    .alerts_by_rule
                    .entry(alert.rule.clone())
                    .or_insert(0) += 1;
                out.push_str(&alert::to_json_line(alert));
                out.push('\n');
            }
        }
        (summary, out)
    }

    /// 5,000 events of 40 quiet accounts, with bulk-read bursts, late events and undecodable, blank
    /// and oversized lines spread through; the last line has no newline.
    fn mixed_input() -> Vec<u8> {
        const T0: i64 = 1_700_000_000_000;
        let mut input = Vec::new();
        fn push(input: &mut Vec<u8>, event: &DbActivityEvent) {
            input.extend(serde_json::to_vec(event).expect("json"));
            input.push(b'\n');
        }
        for i in 0..5_000i64 {
            let time = T0 + i * 1_000;
            let mut quiet = DbActivityEvent::query(
                format!("q{i}"),
                time,
                format!("user{:02}", i % 40),
                "support.customers",
                1 + i % 3,
            );
            if i % 7 == 0 {
                quiet.record_keys = Some(vec![format!("cust-{}", i % 500)]);
            }
            push(&mut input, &quiet);
            // A burst of 6,000 rows in ten seconds: a bulk read by a different account each time.
            if i % 1_200 == 600 {
                for j in 0..10 {
                    push(
                        &mut input,
                        &DbActivityEvent::query(
                            format!("b{i}.{j}"),
                            time + j,
                            format!("burst{i}"),
                            "support.customers",
                            600,
                        ),
                    );
                }
            }
            // An hour behind its account: late.
            if i % 1_000 == 999 {
                push(
                    &mut input,
                    &DbActivityEvent::query(
                        format!("late{i}"),
                        time - 3_600_000,
                        format!("user{:02}", i % 40),
                        "support.customers",
                        1,
                    ),
                );
            }
            // Too long to accept, and longer than the chunks of the small-chunk test.
            if i % 1_500 == 700 {
                push(
                    &mut input,
                    &DbActivityEvent {
                        record_keys: Some((0..1_000).map(|k| format!("cust-{k}")).collect()),
                        ..DbActivityEvent::query(
                            format!("big{i}"),
                            time,
                            "user01",
                            "support.customers",
                            1,
                        )
                    },
                );
            }
            let bad: &[u8] = match i % 997 {
                13 => b"{broken\n",
                211 => b"{\"event_id\":\"x\",\"event_time\":1,\"kind\":\"QUERY\",\"source\":\"s\",\"operation\":\"S\"}\n",
                503 => b"\n  \t\r\n",
                877 => b"{\"event_id\":\"x\",\"event_time\":1,\"kind\":\"QUERY\",\"account\":\"a\",\"source\":\"s\",\"operation\":\"S\",\"rows\":-1}\n",
                _ => b"",
            };
            input.extend_from_slice(bad);
        }
        input.extend_from_slice(
            br#"{"event_id":"last","event_time":1700005000000,"kind":"QUERY","account":"user00","source":"s","operation":"SELECT","rows":1}"#,
        );
        input
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
    fn pipelined_replay_matches_a_sequential_replay() {
        let input = mixed_input();
        let (expected, expected_out) = sequential_reference(&input);
        // The input exercises what it should: more than a chunk, alerts along the way, every kind of
        // decode failure and late events.
        assert!(input.len() > CHUNK_BYTES, "{} bytes", input.len());
        assert!(expected.events > 5_000);
        assert!(expected.alerts >= 4, "{expected:?}");
        assert!(expected.late_events >= 4, "{expected:?}");
        let sight = expected.team_sight;
        assert!(
            sight.measured + sight.latest_days + sight.unseen + sight.no_levels > 5_000,
            "{expected:?}"
        );
        for reason in [
            "invalid_json",
            "missing_field",
            "invalid_field",
            "too_large",
        ] {
            assert!(
                expected.decode_failures.contains_key(reason),
                "{expected:?}"
            );
        }
        let (summary, out) = replay(input.clone());
        assert_eq!(summary, expected);
        assert_eq!(out, expected_out, "same alerts in the same order");
        // Chunks far smaller than a line cut lines everywhere and keep every channel full.
        for chunk_bytes in [1, 97, 4096] {
            let (result, summary, out) =
                replay_chunked(Box::new(std::io::Cursor::new(input.clone())), chunk_bytes);
            result.expect("replays");
            assert_eq!(summary, expected, "chunks of {chunk_bytes} bytes");
            assert_eq!(out, expected_out, "chunks of {chunk_bytes} bytes");
        }
    }

    /// Serves `data` up to `fail_at` bytes, then fails, as a broken disk or pipe would.
    struct FailingReader {
        data: std::io::Cursor<Vec<u8>>,
        fail_at: u64,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let left = self.fail_at.saturating_sub(self.data.position());
            if left == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let len = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.data.read(&mut buf[..len])
        }
    }

    #[test]
    fn a_read_error_is_reported_after_replaying_the_lines_before_it() {
        let input = mixed_input();
        // Cut in the middle of a line, well after the first chunk.
        let fail_at = CHUNK_BYTES + CHUNK_BYTES / 2 + 17;
        let whole_lines = input[..fail_at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        assert_ne!(whole_lines, fail_at, "the error cuts a line");
        let (expected, expected_out) = sequential_reference(&input[..whole_lines]);
        for chunk_bytes in [97, CHUNK_BYTES] {
            let reader = FailingReader {
                data: std::io::Cursor::new(input.clone()),
                fail_at: fail_at as u64,
            };
            let (result, summary, out) = replay_chunked(Box::new(reader), chunk_bytes);
            match result {
                Err(ReplayError::Io { source_name, error }) => {
                    assert_eq!(source_name, "test");
                    assert_eq!(error.to_string(), "disk on fire");
                }
                other => panic!("expected a read error, got {other:?}"),
            }
            assert_eq!(summary, expected, "chunks of {chunk_bytes} bytes");
            assert_eq!(out, expected_out, "chunks of {chunk_bytes} bytes");
        }
    }

    #[test]
    fn avro_container_files_replay_like_json() {
        // Several batches of records, with a bulk read in each of the first two.
        let events: Vec<DbActivityEvent> = (0..2_500)
            .map(|i| {
                let rows = if i % 1_024 < 10 { 600 } else { 1 };
                DbActivityEvent {
                    account: format!("user{}", i / 1_024),
                    ..DbActivityEvent::query(
                        format!("e{i}"),
                        1_700_000_000_000 + i * 1000,
                        "",
                        "support.customers",
                        rows,
                    )
                }
            })
            .collect();
        let schema = decode::db_activity_schema();
        let mut writer = apache_avro::Writer::new(schema, Vec::new());
        for event in &events {
            writer.append(decode::to_avro_value(event)).expect("append");
        }
        let bytes = writer.into_inner().expect("container");
        let (avro_summary, avro_out) = replay(bytes);
        let mut json = Vec::new();
        for event in &events {
            json.extend(serde_json::to_vec(event).expect("json"));
            json.push(b'\n');
        }
        let (json_summary, json_out) = replay(json);
        assert_eq!(avro_summary.events, 2_500);
        assert!(avro_summary.alerts >= 2, "{avro_summary:?}");
        assert_eq!(avro_summary, json_summary);
        assert_eq!(avro_out, json_out);
    }

    #[test]
    fn a_small_avro_container_replays_like_json() {
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
