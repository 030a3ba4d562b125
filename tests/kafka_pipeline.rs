//! The live pipeline against a real Apache Kafka broker (KRaft), end to end.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use exfilwatch::config::Config;
use exfilwatch::engine::Engine;
use exfilwatch::privacy::RecordKeyHasher;

const WAIT: Duration = Duration::from_secs(60);

/// The alerts the offline engine gives for `events`: what the live pipeline must publish.
fn expected_alert_ids(
    config: &Config,
    events: &[exfilwatch::event::DbActivityEvent],
) -> BTreeSet<String> {
    let hasher = RecordKeyHasher::new(SECRET.as_bytes()).expect("secret");
    let engine = Engine::new(config, &hasher);
    let decoder = exfilwatch::io::decode::Decoder::new(
        config.input.format,
        config.input.max_event_bytes,
        hasher,
    );
    let mut ids = BTreeSet::new();
    for event in events {
        let activity = decoder.pseudonymise(event.clone());
        for alert in engine.process(&activity, None, 0).alerts {
            ids.insert(alert.alert_id);
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insider_burst_produces_one_schema_valid_alert_keyed_by_account() {
    let topics = Topics::new("burst");
    create_topics(&topics, 3).await;
    let mut events = Vec::new();
    for i in 0..30 {
        events.push(read_event(
            &format!("b{i}"),
            &format!("agent{}", i % 5),
            T0 + i * 1_000,
            2,
            "support.customers",
        ));
    }
    events.push(read_event(
        "grab-1",
        "mallory",
        T0 + 40_000,
        125_000,
        "support.customers",
    ));
    events.push(read_event(
        "after-1",
        "mallory",
        T0 + 41_000,
        1,
        "support.customers",
    ));
    produce_events(&topics.input, &events).await;

    let config = config(&topics);
    let pipeline = RunningPipeline::start(&config);
    assert!(
        pipeline.wait_consumed(events.len() as u64, WAIT),
        "pipeline consumed everything"
    );
    let records = read_records(&topics.alerts, 1, WAIT);
    pipeline.stop();

    assert_eq!(records.len(), 1, "exactly one alert for one burst");
    let record = &records[0];
    assert_eq!(
        record.key.as_deref(),
        Some(&b"mallory"[..]),
        "alerts are keyed by account"
    );
    assert_eq!(
        record.headers.get("exfilwatch.schema").map(String::as_str),
        Some("exfilwatch.v1.ExfilAlert")
    );
    let alert = exfilwatch::alert::decode_avro(
        &record.payload,
        exfilwatch::config::AlertFraming::SingleObject,
    )
    .expect("decodes with schemas/exfil_alert.avsc");
    assert_eq!(alert.rule, "bulk_read");
    assert_eq!(alert.account, "mallory");
    assert_eq!(alert.observed, 125_000.0);
    assert_eq!(alert.threshold, Some(5_000.0));
    assert_eq!(alert.trigger_time, T0 + 40_000);
    assert_eq!(alert.unit, "rows");
    assert_eq!(alert.tables, vec!["support.customers".to_string()]);
    assert_eq!(alert.data_classes, vec!["customer_pii".to_string()]);
    assert_eq!(alert.client_ips, vec!["10.9.8.7".to_string()]);
    assert_eq!(alert.sample_event_ids, vec!["grab-1".to_string()]);
    assert_eq!(
        alert.mitre_techniques,
        vec!["T1213.006".to_string(), "T1078".to_string()]
    );
    assert!(
        alert.risk_score >= 90,
        "25x the threshold is critical: {}",
        alert.risk_score
    );
    assert_eq!(alert.severity, exfilwatch::alert::Severity::Critical);
    assert!(alert.emitted_at > 0);
    assert!(
        !String::from_utf8_lossy(&record.payload).contains("cust-1"),
        "no raw record keys in alerts"
    );
    let expected = expected_alert_ids(&config, &events);
    assert_eq!(
        BTreeSet::from([alert.alert_id]),
        expected,
        "live alert id equals the offline engine's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_committed_only_after_the_alert_is_acknowledged() {
    let topics = Topics::new("ackgate");
    // The alert topic does not exist yet: the alert cannot be delivered.
    create_topic(&topics.input, 1).await;
    create_topic(&topics.dead_letter, 1).await;
    let mut events = Vec::new();
    for i in 0..5 {
        events.push(read_event(
            &format!("pre{i}"),
            "agent1",
            T0 + i * 1_000,
            1,
            "support.customers",
        ));
    }
    events.push(read_event(
        "grab",
        "mallory",
        T0 + 10_000,
        50_000,
        "support.customers",
    )); // offset 5
    for i in 0..5 {
        events.push(read_event(
            &format!("post{i}"),
            "agent2",
            T0 + 20_000 + i * 1_000,
            1,
            "support.customers",
        ));
    }
    produce_events(&topics.input, &events).await;

    let mut config = config(&topics);
    config.kafka.delivery_timeout = Duration::from_secs(2);
    let pipeline = RunningPipeline::start(&config);
    assert!(
        pipeline.wait_consumed(6, WAIT),
        "the alerting event was consumed"
    );
    // Give the background commit several intervals: it must stop at the undelivered alert's offset.
    assert!(
        wait_until(WAIT, || committed(&topics.group, &topics.input, 1)
            == vec![5]),
        "offsets before the alerting event are committed"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        committed(&topics.group, &topics.input, 1),
        vec![5],
        "nothing at or after an unacknowledged alert is committed"
    );

    create_topic(&topics.alerts, 1).await;
    assert!(
        wait_until(WAIT, || committed(&topics.group, &topics.input, 1)
            == vec![11]),
        "once the alert is acknowledged the commit moves to the end"
    );
    let summary = pipeline.stop();
    assert_eq!(summary.messages, 11);
    let alerts = read_alerts(&topics.alerts, 1, WAIT);
    let ids: HashSet<_> = alerts.iter().map(|a| a.alert_id.clone()).collect();
    assert_eq!(ids.len(), 1, "the held-back alert was delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_consumer_does_not_reprocess_committed_events() {
    let topics = Topics::new("restart");
    create_topics(&topics, 2).await;
    let batch_a: Vec<_> = (0..50)
        .map(|i| {
            read_event(
                &format!("a{i}"),
                &format!("u{}", i % 7),
                T0 + i * 1_000,
                if i == 20 { 9_000 } else { 1 },
                "support.customers",
            )
        })
        .collect();
    produce_events(&topics.input, &batch_a).await;
    let config = config(&topics);

    let first = RunningPipeline::start(&config);
    assert!(first.wait_consumed(50, WAIT));
    assert!(wait_until(WAIT, || committed_total(
        &topics.group,
        &topics.input,
        2
    ) == 50));
    assert_eq!(first.stop().messages, 50);

    let batch_b: Vec<_> = (0..30)
        .map(|i| {
            read_event(
                &format!("b{i}"),
                &format!("v{}", i % 3),
                T0 + 100_000 + i * 1_000,
                if i == 5 { 9_000 } else { 1 },
                "support.customers",
            )
        })
        .collect();
    produce_events(&topics.input, &batch_b).await;
    let second = RunningPipeline::start(&config);
    assert!(second.wait_consumed(30, WAIT));
    assert!(wait_until(WAIT, || committed_total(
        &topics.group,
        &topics.input,
        2
    ) == 80));
    std::thread::sleep(Duration::from_secs(2));
    let summary = second.stop();
    assert_eq!(
        summary.messages, 30,
        "only the new events are read after a restart"
    );

    let alerts = read_alerts(&topics.alerts, 3, Duration::from_secs(10));
    assert_eq!(alerts.len(), 2, "one alert per burst, none re-published");
    let accounts: BTreeSet<_> = alerts.iter().map(|a| a.account.clone()).collect();
    assert_eq!(
        accounts,
        BTreeSet::from(["u6".to_string(), "v2".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_dead_lettered_with_its_reason_and_the_next_event_still_alerts() {
    let topics = Topics::new("poison");
    create_topics(&topics, 1).await;
    let garbage = b"\xde\xad\xbe\xef not an event".to_vec();
    let missing = br#"{"event_id":"m1","event_time":1793577600000,"kind":"QUERY","source":"s","operation":"SELECT"}"#.to_vec();
    let grab = json(&read_event(
        "grab",
        "mallory",
        T0,
        7_000,
        "support.customers",
    ));
    // Well formed, but from a proxy whose clock jumped four years ahead: it cannot be placed in time.
    let future = json(&read_event(
        "future",
        "eve",
        T0 + 4 * 365 * 86_400_000,
        3,
        "support.customers",
    ));
    // The partition's first events set its time together (`PartitionTime::observe`): ordinary reads
    // open it before the event from the future arrives.
    let mut messages = vec![
        ("k1".to_string(), garbage.clone()),
        ("k2".to_string(), missing.clone()),
        ("mallory".to_string(), grab),
    ];
    for i in 0..7 {
        let account = format!("agent{i}");
        let read = read_event(&format!("o{i}"), &account, T0 + i, 1, "support.customers");
        messages.push((account, json(&read)));
    }
    messages.push(("eve".to_string(), future.clone()));
    produce(&topics.input, &messages).await;
    let total = messages.len();

    let config = config(&topics);
    let pipeline = RunningPipeline::start(&config);
    assert!(pipeline.wait_consumed(total as u64, WAIT));
    let alerts = read_alerts(&topics.alerts, 1, WAIT);
    let dead = read_records(&topics.dead_letter, 3, WAIT);
    assert!(
        wait_until(WAIT, || committed(&topics.group, &topics.input, 1)
            == vec![total as i64]),
        "committed past the poison"
    );
    let metrics = pipeline.metrics.clone();
    pipeline.stop();

    assert_eq!(
        alerts.len(),
        1,
        "the good event after the poison still alerts"
    );
    assert_eq!(alerts[0].account, "mallory");
    assert_eq!(dead.len(), 3);
    assert_eq!(dead[2].payload, future);
    assert_eq!(dead[2].headers["exfilwatch.error.reason"], "invalid_field");
    assert!(
        dead[2].headers["exfilwatch.error.message"].contains("event_time"),
        "{:?}",
        dead[2].headers
    );
    assert_eq!(
        dead[2].headers["exfilwatch.source.offset"],
        (total - 1).to_string()
    );
    assert_eq!(dead[0].payload, garbage, "original bytes are kept");
    assert_eq!(dead[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(dead[0].headers["exfilwatch.error.reason"], "unknown_format");
    assert_eq!(dead[0].headers["exfilwatch.source.topic"], topics.input);
    assert_eq!(dead[0].headers["exfilwatch.source.partition"], "0");
    assert_eq!(dead[0].headers["exfilwatch.source.offset"], "0");
    assert_eq!(dead[1].payload, missing);
    assert_eq!(dead[1].headers["exfilwatch.error.reason"], "missing_field");
    assert_eq!(
        dead[1].headers["exfilwatch.error.message"],
        "missing required field `account`"
    );
    assert_eq!(dead[1].headers["exfilwatch.source.offset"], "1");
    assert_eq!(
        metrics
            .decode_failures
            .with_label_values(&["unknown_format"])
            .get(),
        1
    );
    assert_eq!(
        metrics
            .decode_failures
            .with_label_values(&["missing_field"])
            .get(),
        1
    );
    assert_eq!(
        metrics
            .decode_failures
            .with_label_values(&["invalid_field"])
            .get(),
        1
    );
    assert_eq!(metrics.dead_letters.get(), 3);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let body = http_get(port, "/metrics")?;
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn spawn_service(config_path: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_exfilwatch"))
        .args(["run", "--config"])
        .arg(config_path)
        .env("EXFILWATCH_RECORD_KEY_SECRET", SECRET)
        .env("EXFILWATCH_LOG", "info,rdkafka=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn exfilwatch run")
}

fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "exfilwatch did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_loses_nothing() {
    let topics = Topics::new("sigterm");
    let partitions = 3;
    create_topics(&topics, partitions).await;
    let mut events = Vec::new();
    let total_benign = 60_000i64;
    for i in 0..total_benign {
        events.push(read_event(
            &format!("n{i}"),
            &format!("user{}", i % 400),
            T0 + i * 500,
            1,
            "support.customers",
        ));
        if i % 1_500 == 700 {
            let n = i / 1_500;
            events.push(read_event(
                &format!("grab{n}"),
                &format!("thief{n}"),
                T0 + i * 500,
                50_000,
                "support.customers",
            ));
        }
    }
    let thieves = events
        .iter()
        .filter(|e| e.account.starts_with("thief"))
        .count();
    produce_events(&topics.input, &events).await;
    let mut poison = Vec::new();
    for i in 0..5 {
        poison.push((format!("poison{i}"), format!("{{broken {i}").into_bytes()));
    }
    produce(&topics.input, &poison).await;
    let total = events.len() as i64 + 5;

    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config_path = dir.path().join("exfilwatch.toml");
    std::fs::write(
        &config_path,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\ngroup_id = \"{}\"\ninput_topics = [\"{}\"]\nalert_topic = \"{}\"\ndead_letter_topic = \"{}\"\ncommit_interval = \"500ms\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[detection]\nlearning_period = \"0s\"\n",
            bootstrap(),
            topics.group,
            topics.input,
            topics.alerts,
            topics.dead_letter
        ),
    )
    .expect("write config");

    let mut first = spawn_service(&config_path);
    assert!(
        wait_until(WAIT, || metric(port, "exfilwatch_events_consumed_total")
            .is_some_and(|v| v >= 1.0)),
        "the service started consuming"
    );
    let status = sigterm_and_wait(&mut first);
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let after_first = committed_total(&topics.group, &topics.input, partitions);
    assert!(
        after_first > 0 && after_first < total,
        "stopped mid-stream with progress committed: {after_first} of {total}"
    );

    let mut second = spawn_service(&config_path);
    assert!(
        wait_until(Duration::from_secs(120), || committed_total(
            &topics.group,
            &topics.input,
            partitions
        ) == total),
        "the restarted service finishes the stream"
    );
    let status = sigterm_and_wait(&mut second);
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    let config = Config::load(&config_path, Vec::new()).expect("config");
    let expected = expected_alert_ids(&config, &events);
    assert_eq!(expected.len(), thieves, "one alert per thief");
    let alerts = read_alerts(&topics.alerts, expected.len(), WAIT);
    let got: BTreeSet<String> = alerts.iter().map(|a| a.alert_id.clone()).collect();
    assert_eq!(
        got, expected,
        "every alert published, none invented, same ids as offline"
    );
    let dead = read_records(&topics.dead_letter, 5, WAIT);
    let positions: BTreeSet<(String, String)> = dead
        .iter()
        .map(|r| {
            (
                r.headers["exfilwatch.source.partition"].clone(),
                r.headers["exfilwatch.source.offset"].clone(),
            )
        })
        .collect();
    assert_eq!(positions.len(), 5, "every poison message dead-lettered");
}

/// Determinism: the live pipeline (3 partitions, whatever batching the client chooses) publishes exactly
/// the alerts that `replay` computes offline from the same events, field for field but `emitted_at`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_pipeline_and_offline_replay_give_identical_alerts() {
    let topics = Topics::new("determinism");
    create_topics(&topics, 3).await;
    let spec = common::workload::WorkloadSpec {
        agents: 30,
        ..common::workload::WorkloadSpec::default()
    };
    let events = common::workload::generate(&spec);
    produce_events(&topics.input, &events).await;

    let config = config(&topics);
    let hasher = RecordKeyHasher::new(SECRET.as_bytes()).expect("secret");
    let engine = Engine::new(&config, &hasher);
    let decoder = exfilwatch::io::decode::Decoder::new(
        config.input.format,
        config.input.max_event_bytes,
        hasher,
    );
    // The live topic has 3 partitions filled by librdkafka's default partitioner: replay reproduces that.
    let mut offline = Vec::new();
    for event in &events {
        let partition = exfilwatch::engine::accounts::PartitionRef {
            topic: 0,
            partition: exfilwatch::io::partitioner::Partitioner::ConsistentRandom
                .partition(event.account.as_bytes(), 3),
        };
        offline.extend(
            engine
                .process(&decoder.pseudonymise(event.clone()), Some(partition), 0)
                .alerts,
        );
    }
    assert!(
        offline.len() >= 2,
        "the workload raises alerts: {}",
        offline.len()
    );

    let pipeline = RunningPipeline::start(&config);
    assert!(pipeline.wait_consumed(events.len() as u64, Duration::from_secs(120)));
    let mut live = read_alerts(&topics.alerts, offline.len(), WAIT);
    pipeline.stop();

    for alert in &mut live {
        assert!(alert.emitted_at > 0);
        alert.emitted_at = 0;
    }
    live.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
    offline.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
    assert_eq!(live, offline, "same alerts, same ids, same fields");
}
