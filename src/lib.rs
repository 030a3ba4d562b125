//! exfilwatch: a streaming detector for insiders who read far more customer data than their job needs.
//!
//! The data flow, one module per stage:
//!
//! ```text
//!  Kafka input topic ──► consume ──► decode ──► engine ─────────────────────────► publish ──► alert topic
//!   (query/export        (group,     (JSON/Avro  │ classify  (table → class)        (Avro,      (SOAR)
//!    events from         rebalance,   → Activity, │ accounts  (per-account windows)  acks=all,
//!    database proxies)   revoke)      keys hashed)│ rules     (breach → Finding)     idempotent)
//!                                      │          │ episode   (dedup, escalation)       │
//!                                      ▼          │ alert     (Finding → ExfilAlert)    ▼
//!                                  dead_letter    └────────────────────────────────► commit
//!                                  (bad input + reason)                        (offset stored only after
//!                                                                              every alert it caused is acked)
//! ```
//!
//! [`pipeline`] is the spine that calls the stages in that order; [`replay`] and [`demo`] drive the same
//! [`engine::Engine`] from files and from an in-process cluster. [`metrics`] defines every metric once and
//! serves `/metrics`, `/healthz`, `/readyz`.

pub mod accounts;
pub mod alert;
pub mod baseline;
pub mod classify;
pub mod commit;
pub mod config;
pub mod consume;
pub mod dead_letter;
pub mod decode;
pub mod demo;
pub mod distinct;
pub mod engine;
pub mod episode;
pub mod evaluate;
pub mod event;
pub mod metrics;
pub mod partitioner;
pub mod peers;
pub mod pipeline;
pub mod prefetch;
pub mod privacy;
pub mod publish;
pub mod record_table;
pub mod replay;
pub mod rules;
pub mod simulate;
pub mod sketch;
pub mod window;
pub mod workload;
