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
    let (result, summary, out) = replay_chunked(Box::new(std::io::Cursor::new(input)), CHUNK_BYTES);
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
        summary.count(&outcome);
        for alert in &outcome.alerts {
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
