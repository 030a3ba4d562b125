//! exfilwatch: a streaming detector for insiders who read far more customer data than their job needs.
//!
//! The data flow, one layer per folder; imports run one way, io → engine → detect:
//!
//! ```text
//!  Kafka input topic ──► io::consume ──► io::decode ──► engine ──────────────────────► io::publish ──► alert topic
//!   (query/export        (group,         (JSON/Avro     │ accounts (state per account)  (Avro, acks=all,   (SOAR)
//!    events from         rebalance,       → Activity,   │ detect   (features, baseline,  idempotent)
//!    database proxies)   revoke)          keys hashed)  │          peers, risk, rules)        │
//!                                          │            │ episode  (one per account)          ▼
//!                                          ▼            │ alert    (findings → ExfilAlert)  io::commit
//!                                   io::dead_letter     └──────────────────────────────►  (offset stored only after
//!                                   (bad input + reason)                                   every alert it caused is acked)
//! ```
//!
//! [`pipeline`] is the spine that calls the stages in that order; [`replay`] drives the same
//! [`engine::Engine`] from files. [`io::metrics`] defines every metric once and serves `/metrics`,
//! `/healthz`, `/readyz`. The offline tools (simulate, evaluate, the demo's workload) live with the binary
//! (`src/lab/`), outside this library.

pub mod io;

pub mod engine;

pub mod detect;

pub mod alert;
pub mod config;
pub mod event;
pub mod pipeline;
pub mod privacy;
pub mod replay;
