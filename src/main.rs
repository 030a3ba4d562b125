//! The `exfilwatch` binary: CLI, logging, config loading and signals. `anyhow` lives only here.

mod lab;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use exfilwatch::config::{Config, InputFormat};
use exfilwatch::engine::Engine;
use exfilwatch::io::decode::Decoder;
use exfilwatch::io::metrics::{self, Health, Metrics};
use exfilwatch::io::partitioner::Partitioner;
use exfilwatch::pipeline::{now_ms, Pipeline};
use exfilwatch::privacy::RecordKeyHasher;
use exfilwatch::replay::Replayer;
use lab::demo::{self, DemoOptions};
use lab::simulate::SimSpec;
use lab::workload::WorkloadSpec;

/// mimalloc: an account's state is a couple of dozen small allocations, touched on each of its events.
/// Against glibc's allocator it made the engine about a quarter faster at 100,000 accounts
/// (`cargo bench --bench hot_path -- engine`) and resident state about 5% smaller
/// (`cargo bench --bench state_memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "exfilwatch",
    version,
    about = "Streaming detector for bulk reads and exfiltration of customer data"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "EXFILWATCH_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Join the consumer group and detect until SIGTERM.
    Run {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the engine offline over JSON-lines or Avro container files (or `-` for stdin); alerts go
    /// to stdout as JSON lines, a summary to stderr.
    Replay {
        #[arg(long)]
        config: PathBuf,
        /// Partitions of the live input topic: with it, peer statistics are sampled per partition exactly
        /// as the live service samples them, so replay reproduces its alerts.
        #[arg(long)]
        partitions: Option<u32>,
        /// The input producers' partitioner (librdkafka default: consistent-random; Java: murmur2).
        #[arg(long, value_enum, default_value = "consistent-random")]
        partitioner: Partitioner,
        files: Vec<String>,
    },
    /// Validate a config file (and that the record-key secret is available) and exit.
    CheckConfig { file: PathBuf },
    /// Generate the seeded, labelled simulation of an organisation (support agents, analysts, service
    /// accounts, DBAs) with attacks and benign surges injected: JSON lines (stdout or --output) and a
    /// labels file, or produced to Kafka keyed by account.
    Simulate {
        /// A JSON SimSpec (see src/lab/simulate/mod.rs); flags below override it.
        #[arg(long)]
        spec: Option<PathBuf>,
        #[arg(long)]
        days: Option<u32>,
        #[arg(long)]
        agents: Option<u32>,
        #[arg(long)]
        seed: Option<u64>,
        /// Write JSON lines here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Write the labels (scenario, account, malicious, time span) here as JSON.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Produce to this Kafka cluster instead of writing lines.
        #[arg(long, requires = "topic")]
        bootstrap_servers: Option<String>,
        #[arg(long)]
        topic: Option<String>,
    },
    /// Run the engine over a labelled stream (a simulation, or recorded events with labels) and report,
    /// per scenario, detected or not and time to detect, and false positives per day, as Markdown.
    Evaluate {
        #[arg(long)]
        config: PathBuf,
        /// JSON-lines events and their labels; without them the default simulation is generated.
        #[arg(long, requires = "labels")]
        events: Option<PathBuf>,
        #[arg(long)]
        labels: Option<PathBuf>,
        /// A JSON SimSpec to generate instead of the default simulation.
        #[arg(long, conflicts_with = "events")]
        spec: Option<PathBuf>,
        /// Also write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Partitions of the live input topic: peer statistics are then sampled per partition, as
        /// the live service samples them (without it, every account is in one sample).
        #[arg(long)]
        partitions: Option<u32>,
        /// The input producers' partitioner (librdkafka default: consistent-random; Java: murmur2).
        #[arg(long, value_enum, default_value = "consistent-random")]
        partitioner: Partitioner,
    },
    /// Run the whole pipeline on an in-process Kafka over a synthetic workload with one insider.
    Demo {
        /// Where to serve /metrics while the demo runs.
        #[arg(long, default_value = "127.0.0.1:9477")]
        listen: SocketAddr,
        /// Days of activity to generate: a week of the team's ordinary days, then the insider's theft
        /// from day 8.
        #[arg(long, default_value_t = 9)]
        days: u32,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let code = match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("exfilwatch: error: {error:#}");
            2
        }
    };
    std::process::exit(code);
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EXFILWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run { config } => run(&config),
        Command::Replay {
            config,
            partitions,
            partitioner,
            files,
        } => replay(&config, partitions.map(|p| (partitioner, p)), &files),
        Command::CheckConfig { file } => check_config(&file),
        Command::Demo { listen, days, seed } => run_demo(listen, days, seed),
        Command::Simulate {
            spec,
            days,
            agents,
            seed,
            output,
            labels,
            bootstrap_servers,
            topic,
        } => {
            let mut spec = load_spec(spec.as_deref())?;
            spec.days = days.unwrap_or(spec.days);
            spec.agents = agents.unwrap_or(spec.agents);
            spec.seed = seed.unwrap_or(spec.seed);
            simulate(&spec, output, labels, bootstrap_servers.zip(topic))
        }
        Command::Evaluate {
            config,
            events,
            labels,
            spec,
            json,
            partitions,
            partitioner,
        } => evaluate(
            &config,
            events.zip(labels),
            spec.as_deref(),
            json,
            partitions.map(|p| (partitioner, p)),
        ),
    }
}

/// Loads and validates the config; settings of retired rules (accepted so that an older config still
/// starts) are named in a warning, since they no longer do anything.
fn load_config(path: &Path) -> Result<Config> {
    let config = Config::load(path, std::env::vars())
        .with_context(|| format!("config {}", path.display()))?;
    let retired = config.retired_settings();
    if !retired.is_empty() {
        tracing::warn!(
            settings = %retired.join(", "),
            "retired settings have no effect: the accumulated risk ([detection]) replaced those rules"
        );
    }
    Ok(config)
}

fn load_hasher(config: &Config) -> Result<RecordKeyHasher> {
    RecordKeyHasher::from_config(&config.privacy, |name| std::env::var(name).ok())
        .context("record-key secret")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")
}

fn check_config(path: &Path) -> Result<i32> {
    let config = load_config(path)?;
    load_hasher(&config)?;
    println!(
        "config ok: brokers {}, group {}, inputs {:?}, alerts → {}, {} data classes, bulk_read windows {}, \
         false-alarm budget {} per 1,000 account-days, learning period {}",
        config.kafka.bootstrap_servers,
        config.kafka.group_id,
        config.kafka.input_topics,
        config.kafka.alert_topic,
        config.data_classes.len(),
        config.rules.bulk_read.windows.len(),
        config.detection.false_alarm_budget,
        humantime::format_duration(config.detection.learning_period),
    );
    let retired = config.retired_settings();
    if !retired.is_empty() {
        println!(
            "retired settings (accepted, no effect; see [detection]): {}",
            retired.join(", ")
        );
    }
    Ok(0)
}

fn replay(path: &Path, partitioning: Option<(Partitioner, u32)>, files: &[String]) -> Result<i32> {
    let config = load_config(path)?;
    let hasher = load_hasher(&config)?;
    let engine = Engine::new(&config, &hasher);
    let decoder = Decoder::new(InputFormat::Json, config.input.max_event_bytes, hasher);
    let replayer = Replayer {
        engine: &engine,
        decoder: &decoder,
        clock: &now_ms,
        partitioning,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let summary = replayer.run(files, &mut out)?;
    out.flush().context("stdout")?;
    eprintln!("{}", summary.to_line());
    Ok(0)
}

fn run(path: &Path) -> Result<i32> {
    let config = load_config(path)?;
    let hasher = load_hasher(&config)?;
    let listen: SocketAddr = config.http.listen.parse().context("http.listen")?;
    let rt = runtime()?;
    rt.block_on(async move {
        let metrics = Metrics::new();
        let health = Arc::new(Health::default());
        let http_stop = CancellationToken::new();
        let (bound, http) = metrics::serve(
            listen,
            metrics.clone(),
            Arc::clone(&health),
            http_stop.clone(),
        )
        .await
        .with_context(|| format!("bind http.listen {listen}"))?;
        tracing::info!(%bound, "serving /metrics, /healthz, /readyz");

        let decoder = Decoder::new(
            config.input.format,
            config.input.max_event_bytes,
            hasher.clone(),
        );
        let pipeline = Pipeline::start(&config, decoder, metrics, Arc::clone(&health))
            .context("start pipeline")?;
        let stop = CancellationToken::new();
        spawn_signal_handler(stop.clone())?;
        spawn_reload_handler(path.to_path_buf(), pipeline.engine(), hasher)?;
        let token = stop.clone();
        let worker = tokio::task::spawn_blocking(move || pipeline.run(&token));
        let result = worker.await.context("pipeline thread")?;
        let code = match result {
            Ok(summary) => {
                tracing::info!(
                    messages = summary.messages,
                    alerts = summary.alerts,
                    "clean shutdown"
                );
                0
            }
            Err(error) => {
                health.set_failed();
                tracing::error!(error = %error, "pipeline failed");
                1
            }
        };
        http_stop.cancel();
        let _ = http.await;
        Ok(code)
    })
}

/// SIGTERM or SIGINT: stop fetching, drain, commit, exit.
fn spawn_signal_handler(stop: CancellationToken) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = int.recv() => tracing::info!("SIGINT: draining"),
        }
        stop.cancel();
    });
    Ok(())
}

fn load_spec(path: Option<&Path>) -> Result<SimSpec> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("simulation spec {}", path.display()))
        }
        None => Ok(SimSpec::default()),
    }
}

fn simulate(
    spec: &SimSpec,
    output: Option<PathBuf>,
    labels: Option<PathBuf>,
    kafka: Option<(String, String)>,
) -> Result<i32> {
    if spec.days == 0 {
        bail!("--days must be at least 1");
    }
    let sim = lab::simulate::generate(spec);
    if let Some(path) = &labels {
        let file =
            std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
        sim.write_labels_json(std::io::BufWriter::new(file))?;
    }
    if let Some((bootstrap, topic)) = kafka {
        let records: Vec<(String, Vec<u8>)> = sim
            .events
            .iter()
            .map(|e| Ok((e.account.clone(), serde_json::to_vec(e)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        let count = demo::produce_records(&bootstrap, &topic, &records)?;
        eprintln!(
            "simulate: produced {count} events to {topic}; {} labels",
            sim.labels.len()
        );
        return Ok(0);
    }
    let sink: Box<dyn Write> = match &output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    sim.write_events_jsonl(std::io::BufWriter::with_capacity(1 << 16, sink))?;
    eprintln!(
        "simulate: wrote {} events; {} labels",
        sim.events.len(),
        sim.labels.len()
    );
    Ok(0)
}

fn evaluate(
    path: &Path,
    recorded: Option<(PathBuf, PathBuf)>,
    spec: Option<&Path>,
    json: Option<PathBuf>,
    partitioning: Option<(Partitioner, u32)>,
) -> Result<i32> {
    let mut config = load_config(path)?;
    let hasher = load_hasher(&config)?;
    let sim = match recorded {
        Some((events, labels)) => lab::evaluate::load_simulation(&events, &labels)?,
        None => lab::simulate::generate(&load_spec(spec)?),
    };
    // The labels name the watched and honeytoken records the simulation planted.
    for label in &sim.labels {
        for key in &label.watchlist_keys {
            if !config.rules.watchlist.keys.contains(key) {
                config.rules.watchlist.keys.push(key.clone());
            }
        }
        for key in &label.honeytoken_keys {
            if !config.rules.watchlist.honeytoken_keys.contains(key) {
                config.rules.watchlist.honeytoken_keys.push(key.clone());
            }
        }
    }
    let engine = Engine::new(&config, &hasher);
    let decoder = Decoder::new(config.input.format, config.input.max_event_bytes, hasher);
    let report = lab::evaluate::evaluate(&engine, &decoder, &sim, partitioning);
    println!("{}", report.to_markdown());
    if let Some(path) = json {
        let file =
            std::fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
        serde_json::to_writer_pretty(std::io::BufWriter::new(file), &report)?;
    }
    Ok(0)
}

/// SIGHUP: re-read the config file and swap rules, thresholds, classes and lists in place. Window state is
/// kept; a file that does not validate, or that changes window shapes, leaves the running rules alone.
fn spawn_reload_handler(path: PathBuf, engine: Arc<Engine>, hasher: RecordKeyHasher) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match Config::load(&path, std::env::vars()) {
                Ok(config) => match engine.reload(&config, &hasher) {
                    Ok(()) => {
                        tracing::info!(config = %path.display(), "SIGHUP: rules reloaded; Kafka and HTTP settings apply at the next restart")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: reload refused; the running rules stay")
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: config invalid; the running rules stay")
                }
            }
        }
    });
    Ok(())
}

fn run_demo(listen: SocketAddr, days: u32, seed: u64) -> Result<i32> {
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let rt = runtime()?;
    let options = DemoOptions {
        listen,
        workload: WorkloadSpec {
            days,
            seed,
            ..WorkloadSpec::default()
        },
        partitions: 3,
    };
    let report = rt.block_on(async move {
        let mut stdout = std::io::stdout();
        demo::run(options, &mut stdout).await
    })?;
    eprintln!(
        "demo: produced {} events; pipeline consumed {}, dead-lettered {}, published {} alerts ({} read back); metrics were at http://{}/metrics",
        report.produced,
        report.pipeline.messages,
        report.pipeline.dead_letters,
        report.pipeline.alerts,
        report.alerts.len(),
        report.metrics_addr
    );
    if report.alerts.is_empty() {
        bail!("the demo produced no alert: the insider went unnoticed");
    }
    Ok(0)
}
