//! Telemetry, defined once: every metric the service exports, and the HTTP endpoints `/metrics`,
//! `/healthz` and `/readyz`.
//!
//! Names follow `exfilwatch_<name>_<unit>[_total]`; labels are bounded (rule, severity, reason, outcome,
//! topic, partition) — never the account, which would be both unbounded and personal data.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use tokio_util::sync::CancellationToken;

use crate::alert::Severity;
use crate::detect::peers::TeamSight;
use crate::detect::rules::RULE_NAMES;
use crate::engine::FindingFate;

/// The `scope` values of `exfilwatch_calibrated_accounts`, in [`Metrics::calibrated_accounts`] order.
const CALIBRATION_SCOPES: [&str; 3] = ["own_group", "partition", "none"];

/// Decode failure reasons, pre-registered so dashboards show zeros rather than gaps.
pub const DECODE_REASONS: &[&str] = &[
    "empty",
    "too_large",
    "unknown_format",
    "invalid_json",
    "invalid_avro",
    "missing_field",
    "invalid_field",
];

/// Every metric of the service.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub events_consumed: IntCounter,
    pub decode_failures: IntCounterVec,
    pub dead_letters: IntCounter,
    pub late_events: IntCounter,
    pub events_ahead: IntCounter,
    /// `exfilwatch_team_sight_total` by [`TeamSight`] (index `sight as usize`), resolved once: it
    /// counts most events.
    pub team_sight: [IntCounter; 4],
    pub alerts: IntCounterVec,
    pub findings: IntCounterVec,
    pub alert_publish_failures: IntCounter,
    pub processing_duration: Histogram,
    pub event_time_lag: prometheus::Gauge,
    pub tracked_accounts: IntGauge,
    pub state_bytes: IntGauge,
    /// `exfilwatch_calibrated_accounts` by scope (own_group, partition, none), resolved once.
    pub calibrated_accounts: [IntGauge; 3],
    pub accounts_evicted: IntCounter,
    pub accounts_compacted: IntCounter,
    pub assigned_partitions: IntGauge,
    pub consumer_lag: IntGaugeVec,
    pub rebalances: IntCounterVec,
    pub rebalance_duration: Histogram,
    pub offset_commits: IntCounterVec,
    pub deliveries_in_flight: IntGauge,
    pub ready: IntGauge,
    pub build_info: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    // Names are static and unique within this struct, so registration only fails on a programming error.
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

impl Metrics {
    /// A fresh registry with every metric registered (tests get their own).
    pub fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        let events_consumed = register(
            r,
            IntCounter::new(
                "exfilwatch_events_consumed_total",
                "Input messages read from Kafka or files.",
            )
            .expect("valid metric"),
        );
        let decode_failures = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "exfilwatch_decode_failures_total",
                    "Messages that could not be decoded or failed validation, by reason.",
                ),
                &["reason"],
            )
            .expect("valid metric"),
        );
        let dead_letters = register(
            r,
            IntCounter::new(
                "exfilwatch_dead_letters_total",
                "Messages published to the dead-letter topic and acknowledged.",
            )
            .expect("valid metric"),
        );
        let late_events = register(
            r,
            IntCounter::new(
                "exfilwatch_late_events_total",
                "Events older than their account's watermark minus the allowed lateness: counted, not windowed.",
            )
            .expect("valid metric"),
        );
        let events_ahead = register(
            r,
            IntCounter::new(
                "exfilwatch_events_ahead_total",
                "Events held for being a day or more ahead of their account and their partition: judged alone, processed if the partition's next event shows it resuming.",
            )
            .expect("valid metric"),
        );
        let team_sight = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "exfilwatch_team_sight_total",
                    "Sensitive reads by how much of the account's peer group in its partition they were judged with: measured (the group's common mode right now), latest_days (colleagues' latest days only), unseen (neither), no_levels (nobody in the group has a learned level yet).",
                ),
                &["team"],
            )
            .expect("valid metric"),
        );
        let team_sight =
            TeamSight::ALL.map(|sight| team_sight.with_label_values(&[sight.as_str()]));
        let alerts = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "exfilwatch_alerts_total",
                    "Alerts acknowledged by the broker, by rule and severity.",
                ),
                &["rule", "severity"],
            )
            .expect("valid metric"),
        );
        let findings = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "exfilwatch_rule_findings_total",
                    "Rule breaches by outcome: published, duplicate (same episode), observed (observe-only rule), suppressed, learning (held back: the partition is in its learning period).",
                ),
                &["rule", "outcome"],
            )
            .expect("valid metric"),
        );
        let alert_publish_failures = register(
            r,
            IntCounter::new(
                "exfilwatch_alert_publish_failures_total",
                "Alert or dead-letter deliveries the broker did not acknowledge (each is retried).",
            )
            .expect("valid metric"),
        );
        let processing_duration = register(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "exfilwatch_processing_duration_seconds",
                    "Time to decode one message, run it through the engine and hand its alerts to the producer.",
                )
                .buckets(vec![
                    0.000_001, 0.000_002_5, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5,
                    0.001, 0.002_5, 0.005, 0.01, 0.05, 0.1,
                ]),
            )
            .expect("valid metric"),
        );
        let event_time_lag = register(
            r,
            prometheus::Gauge::new(
                "exfilwatch_event_time_lag_seconds",
                "Wall clock minus the event time of the last processed event.",
            )
            .expect("valid metric"),
        );
        let tracked_accounts = register(
            r,
            IntGauge::new(
                "exfilwatch_tracked_accounts",
                "Accounts with state in memory.",
            )
            .expect("valid metric"),
        );
        let state_bytes = register(
            r,
            IntGauge::new(
                "exfilwatch_state_bytes",
                "Approximate memory held by per-account state (windows, evidence, episodes).",
            )
            .expect("valid metric"),
        );
        let calibrated_accounts = register(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "exfilwatch_calibrated_accounts",
                    "Accounts behind this instance's latest daily risk thresholds, by the population they were calibrated with: own_group (their peer group has 10 or more such accounts in the partition), partition (their group is too small there: judged with the whole partition), none (the partition itself is too small: the Gaussian default).",
                ),
                &["scope"],
            )
            .expect("valid metric"),
        );
        let calibrated_accounts =
            CALIBRATION_SCOPES.map(|scope| calibrated_accounts.with_label_values(&[scope]));
        let accounts_evicted = register(
            r,
            IntCounter::new(
                "exfilwatch_accounts_evicted_total",
                "Accounts dropped for the tracked-account cap or for being idle.",
            )
            .expect("valid metric"),
        );
        let accounts_compacted = register(
            r,
            IntCounter::new(
                "exfilwatch_accounts_compacted_total",
                "Idle accounts shrunk to their baseline (windows and evidence released).",
            )
            .expect("valid metric"),
        );
        let assigned_partitions = register(
            r,
            IntGauge::new(
                "exfilwatch_assigned_partitions",
                "Input partitions assigned to this instance.",
            )
            .expect("valid metric"),
        );
        let consumer_lag = register(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "exfilwatch_consumer_lag_messages",
                    "Messages behind the partition's high watermark, from librdkafka statistics.",
                ),
                &["topic", "partition"],
            )
            .expect("valid metric"),
        );
        let rebalances = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "exfilwatch_rebalances_total",
                    "Consumer group rebalances seen, by kind (assign, revoke).",
                ),
                &["kind"],
            )
            .expect("valid metric"),
        );
        let rebalance_duration = register(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "exfilwatch_rebalance_duration_seconds",
                    "Time spent in a rebalance callback: draining deliveries and committing on revoke, preparing on assign.",
                )
                .buckets(vec![0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0]),
            )
            .expect("valid metric"),
        );
        let offset_commits = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "exfilwatch_offset_commits_total",
                    "Offset commits by result (ok, error).",
                ),
                &["result"],
            )
            .expect("valid metric"),
        );
        let deliveries_in_flight = register(
            r,
            IntGauge::new(
                "exfilwatch_deliveries_in_flight",
                "Alerts and dead letters sent but not yet acknowledged.",
            )
            .expect("valid metric"),
        );
        let ready = register(
            r,
            IntGauge::new(
                "exfilwatch_ready",
                "1 once the consumer has partitions assigned and is processing.",
            )
            .expect("valid metric"),
        );
        let build_info = register(
            r,
            IntGaugeVec::new(
                Opts::new("exfilwatch_build_info", "Build information; always 1."),
                &["version"],
            )
            .expect("valid metric"),
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for reason in DECODE_REASONS {
            decode_failures.with_label_values(&[reason]);
        }
        for rule in RULE_NAMES.iter() {
            for severity in Severity::ALL {
                alerts.with_label_values(&[rule, severity.as_str()]);
            }
            for fate in FindingFate::ALL {
                findings.with_label_values(&[rule, fate.as_str()]);
            }
        }
        for kind in ["assign", "revoke"] {
            rebalances.with_label_values(&[kind]);
        }
        for result in ["ok", "error"] {
            offset_commits.with_label_values(&[result]);
        }
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            // Process metrics are a convenience; a second registration in tests is harmless to skip.
            let _ = registry.register(Box::new(process));
        }
        Metrics {
            registry,
            events_consumed,
            decode_failures,
            dead_letters,
            late_events,
            events_ahead,
            team_sight,
            alerts,
            findings,
            alert_publish_failures,
            processing_duration,
            event_time_lag,
            tracked_accounts,
            state_bytes,
            calibrated_accounts,
            accounts_evicted,
            accounts_compacted,
            assigned_partitions,
            consumer_lag,
            rebalances,
            rebalance_duration,
            offset_commits,
            deliveries_in_flight,
            ready,
            build_info,
        }
    }

    /// The Prometheus text exposition of every metric.
    /// Sets `exfilwatch_calibrated_accounts` from the engine's latest calibrations.
    pub fn set_calibration(&self, coverage: crate::engine::groups::CalibrationCoverage) {
        let [own_group, partition, none] = &self.calibrated_accounts;
        own_group.set(coverage.own_group as i64);
        partition.set(coverage.partition as i64);
        none.set(coverage.uncalibrated as i64);
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Liveness and readiness as the HTTP probes see them.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    failed: AtomicBool,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.is_failed()
    }
    /// A fatal error: liveness fails so the orchestrator restarts the pod.
    pub fn set_failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct HttpState {
    metrics: Metrics,
    health: Arc<Health>,
}

async fn metrics_handler(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn healthz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.health.is_failed() {
        (StatusCode::SERVICE_UNAVAILABLE, "failed\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Binds the HTTP listener now (so a port clash fails at start) and serves until `shutdown`.
pub async fn serve(
    listen: SocketAddr,
    metrics: Metrics,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(HttpState { metrics, health });
    let handle = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok((bound, handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_documented_names_and_no_account_label() {
        let m = Metrics::new();
        m.events_consumed.inc();
        m.alerts.with_label_values(&["bulk_read", "HIGH"]).inc();
        m.team_sight[TeamSight::Unseen as usize].inc();
        let text = m.render();
        for name in [
            "exfilwatch_team_sight_total{team=\"unseen\"} 1",
            "exfilwatch_team_sight_total{team=\"measured\"} 0",
            "exfilwatch_events_consumed_total 1",
            "exfilwatch_alerts_total{rule=\"bulk_read\",severity=\"HIGH\"} 1",
            "exfilwatch_decode_failures_total{reason=\"invalid_json\"} 0",
            "exfilwatch_processing_duration_seconds_bucket",
            "exfilwatch_build_info",
            "exfilwatch_calibrated_accounts{scope=\"partition\"} 0",
        ] {
            assert!(text.contains(name), "missing {name}");
        }
        assert!(!text.contains("account="));
    }

    #[test]
    fn readiness_needs_ready_and_not_failed() {
        let h = Health::default();
        assert!(!h.is_ready());
        h.set_ready(true);
        assert!(h.is_ready());
        h.set_failed();
        assert!(!h.is_ready());
    }
}
