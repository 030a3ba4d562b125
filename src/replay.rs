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
use crate::engine::{Batch, Engine, Outcome};
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
    /// Events a day or more ahead of their account and partition, judged alone.
    pub events_ahead: u64,
    pub alerts: u64,
    pub alerts_by_rule: BTreeMap<String, u64>,
    pub accounts: usize,
    /// Sensitive reads by how much of the account's peer group they were judged with: with
    /// `--partitions`, how thin the live service's samples would be.
    pub team_sight: TeamSightCounts,
    /// The risk threshold in force at the last event (of its partition).
    pub threshold: Option<crate::engine::groups::Threshold>,
    /// How the accounts were calibrated at the end: with `--partitions`, how many of them the live
    /// service would judge with a group too small in its partition.
    pub calibration: crate::engine::groups::CalibrationCoverage,
}

impl ReplaySummary {
    /// Counts what processing one event gave: late or not (or not placed in time at all, which the
    /// service dead-letters), the threshold and team sight it was judged with, and its alerts by rule.
    pub fn count(&mut self, outcome: &Outcome) {
        if outcome.implausible_time {
            // What the service dead-letters.
            let reason = DecodeError::implausible_event_time().reason();
            *self.decode_failures.entry(reason).or_insert(0) += 1;
        }
        self.late_events += u64::from(outcome.late);
        self.events_ahead += u64::from(outcome.ahead);
        self.threshold = outcome.threshold.or(self.threshold);
        if let Some(sight) = outcome.team_sight {
            self.team_sight.count(sight);
        }
        for alert in &outcome.alerts {
            self.alerts += 1;
            *self.alerts_by_rule.entry(alert.rule.clone()).or_insert(0) += 1;
        }
    }

    /// One line for stderr.
    pub fn to_line(&self) -> String {
        let failures: u64 = self.decode_failures.values().sum();
        let mut line = format!(
            "replay: {} events, {} undecodable, {} late, {} ahead, {} alerts, {} accounts tracked",
            self.events, failures, self.late_events, self.events_ahead, self.alerts, self.accounts
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
        let calibration = &self.calibration;
        line.push_str(&format!(
            "; calibrated[own_group]={}; calibrated[partition]={}; calibrated[none]={}",
            calibration.own_group, calibration.partition, calibration.uncalibrated
        ));
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
        summary.calibration = self.engine.calibration_coverage();
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
        summary.count(&outcome);
        for alert in &outcome.alerts {
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
mod tests;
