//! The hand-made organisations of the detection tests: seeded people reading customers through one
//! engine, a day at a time (shared by `tests/detection.rs` and `tests/detection_properties.rs`, each
//! using part of it).

#![allow(dead_code)]

use exfilwatch::alert::ExfilAlert;
use exfilwatch::config::Config;
use exfilwatch::engine::Engine;
use exfilwatch::event::{ActivityKind, DbActivityEvent};
use exfilwatch::io::decode::Decoder;
use exfilwatch::privacy::RecordKeyHasher;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const SECRET: &[u8] = b"detection-test-secret-0123456789";
/// 2026-11-02T00:00:00Z, a Monday.
pub const MONDAY: i64 = 1_793_577_600_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;

/// One person: name, group, customers on an ordinary day, first hour of the shift.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub group: String,
    pub level: f64,
    pub shift: i64,
    /// The sensitive table of its job.
    pub table: &'static str,
}

pub fn person(name: &str, group: &str, level: f64) -> Person {
    Person {
        name: name.into(),
        group: group.into(),
        level,
        shift: 8,
        table: "support.customers",
    }
}

/// An organisation fed through one engine, a day at a time: each day's events from everyone are fed in
/// time order, as a proxy ships them.
pub struct Org {
    pub engine: Engine,
    pub decoder: Decoder,
    pub rng: ChaCha8Rng,
    pub seed: u64,
    pub alerts: Vec<ExfilAlert>,
    pub next_id: u64,
    pub next_customer: u64,
    /// Sources that give rows only, no record keys.
    pub keyless: bool,
    /// Sources that count neither rows nor record keys (Teleport, MariaDB's `server_audit`).
    pub rowless: bool,
    /// Sources that do not name the account's group: each group uses its own client application.
    pub unnamed: bool,
    /// Events of the day being built, fed by [`Org::flush`].
    pub pending: Vec<DbActivityEvent>,
}

impl Org {
    pub fn new(seed: u64) -> Self {
        Org::with_config(seed, &Config::default())
    }

    pub fn with_config(seed: u64, config: &Config) -> Self {
        let hasher = RecordKeyHasher::new(SECRET).expect("secret");
        Org {
            engine: Engine::new(config, &hasher),
            decoder: Decoder::new(config.input.format, 1 << 20, hasher),
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            alerts: Vec::new(),
            next_id: 0,
            next_customer: 0,
            keyless: false,
            rowless: false,
            unnamed: false,
            pending: Vec::new(),
        }
    }

    pub fn feed(&mut self, event: DbActivityEvent) {
        self.pending.push(event);
    }

    /// Feeds the events built so far, in time order.
    pub fn flush(&mut self) {
        let mut events = std::mem::take(&mut self.pending);
        events.sort_by_key(|e| e.event_time);
        for event in events {
            let activity = self.decoder.pseudonymise(event);
            let outcome = self.engine.process(&activity, None, 0);
            self.alerts.extend(outcome.alerts);
        }
    }

    pub fn id(&mut self) -> String {
        self.next_id += 1;
        format!("e{}", self.next_id)
    }

    /// `who` reads `customers` distinct customers from `table` on `day`, in lookups of one to three
    /// spread over an eight-hour shift.
    pub fn reads(&mut self, who: &Person, day: i64, customers: u64, table: &str) {
        let start = MONDAY + day * DAY + who.shift * HOUR;
        let mut left = customers;
        let mut lookups = Vec::new();
        while left > 0 {
            let take = self.rng.gen_range(1..=3u64).min(left);
            left -= take;
            lookups.push((start + self.rng.gen_range(0..8 * HOUR), take));
        }
        lookups.sort_unstable();
        for (time, take) in lookups {
            let keys: Vec<String> = (0..take)
                .map(|_| {
                    self.next_customer += 1;
                    format!("cust-{}", self.next_customer)
                })
                .collect();
            let id = self.id();
            let event = DbActivityEvent {
                client_ip: Some(format!(
                    "10.1.{}.{}",
                    who.name.len(),
                    who.name.as_bytes()[0]
                )),
                client_app: Some(if self.unnamed {
                    format!("{}-console", who.group)
                } else {
                    "crm-web".into()
                }),
                record_keys: (!self.keyless).then_some(keys),
                peer_group: (!self.unnamed).then(|| who.group.clone()),
                ..DbActivityEvent::query(id, time, &who.name, table, take as i64)
            };
            if self.rowless {
                self.feed(DbActivityEvent {
                    rows: None,
                    record_keys: None,
                    ..event
                });
                continue;
            }
            self.feed(event);
        }
    }

    /// An ordinary working day of `who`: its level times a log-normal day-to-day factor (0.3).
    ///
    /// Each person-day draws from its own stream (of the organisation's seed, the person and the day),
    /// so two runs that differ on one day are the same on every other.
    pub fn ordinary_day(&mut self, who: &Person, day: i64, factor: f64) {
        let day_seed = who.name.bytes().fold(
            self.seed ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3),
        );
        let organisation_stream =
            std::mem::replace(&mut self.rng, ChaCha8Rng::seed_from_u64(day_seed));
        self.ordinary_day_drawn(who, day, factor);
        self.rng = organisation_stream;
    }

    pub fn ordinary_day_drawn(&mut self, who: &Person, day: i64, factor: f64) {
        let noise: f64 = {
            // Box–Muller from the organisation's stream.
            let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
            let v: f64 = self.rng.gen_range(0.0..1.0);
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let customers = (who.level * factor * (0.3 * noise).exp()).round().max(1.0) as u64;
        self.reads(who, day, customers, who.table);
    }

    /// `days` weekdays of everyone's ordinary work from `first`, `factor(person, day)` times their level.
    pub fn weeks(
        &mut self,
        people: &[Person],
        first: i64,
        days: i64,
        factor: impl Fn(&Person, i64) -> f64,
    ) {
        for day in first..first + days {
            if day % 7 >= 5 {
                continue;
            }
            for who in people {
                let f = factor(who, day);
                if f > 0.0 {
                    self.ordinary_day(who, day, f);
                }
            }
            self.flush();
        }
    }

    pub fn export(&mut self, who: &Person, day: i64, hour: i64, rows: i64, destination: &str) {
        let id = self.id();
        let event = DbActivityEvent {
            kind: ActivityKind::Export,
            operation: "COPY".into(),
            bytes: Some(rows * 300),
            destination: Some(destination.into()),
            client_app: Some("psql".into()),
            peer_group: Some(who.group.clone()),
            ..DbActivityEvent::query(
                id,
                MONDAY + day * DAY + hour * HOUR,
                &who.name,
                "billing.customers",
                rows,
            )
        };
        self.feed(event);
    }

    pub fn alerted(&mut self) -> Vec<String> {
        self.flush();
        let mut names: Vec<String> = self.alerts.iter().map(|a| a.account.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The first alert on `who` at or after `day`, as days since that day's midnight.
    pub fn caught_after(&mut self, who: &str, day: i64) -> Option<f64> {
        self.flush();
        let from = MONDAY + day * DAY;
        self.alerts
            .iter()
            .filter(|a| a.account == who && a.trigger_time >= from)
            .map(|a| (a.trigger_time - from) as f64 / DAY as f64)
            .reduce(f64::min)
    }

    pub fn summaries(&mut self) -> Vec<String> {
        self.flush();
        self.alerts.iter().map(|a| a.summary.clone()).collect()
    }
}

/// A support team of `n`: levels spread log-normally around 150 customers a day (30 to 600).
pub fn team(n: usize, group: &str, seed: u64) -> Vec<Person> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let level = (150.0 * (0.6 * (rng.gen_range(-1.5f64..1.5))).exp()).clamp(30.0, 600.0);
            Person {
                shift: if i % 2 == 0 { 7 } else { 13 },
                ..person(&format!("{group}-{i:02}"), group, level)
            }
        })
        .collect()
}

pub const WEEKS: i64 = 28;
