//! Detection: what is abnormal for an account, and why. Pure functions and plain data over what the
//! engine measured; no broker, no clock, no shared state.
//!
//! ```text
//!  features  (per-day totals, the open day, the day's shape)
//!     │
//!  baseline  (the account's own robust level)   peers (the group right now: common mode, pooled level)
//!     └──────────────┬──────────────────────────────┘
//!                  risk   (z-scores → capped day score → CUSUM → calibrated threshold)   novelty (Good–Turing)
//!                    │
//!  rules (immediate breaches)   explain (the sentence an analyst reads)
//! ```
//!
//! Principles (see `docs/detection.md`): every volume is judged on the log scale against the account's own
//! history and its peers over the same window at the same moment; evidence accumulates over days and
//! decays; the threshold is a false-alarm budget calibrated from the population's own scores; reads and
//! exports are separate signals; an alert says what an analyst needs to act on it. Only what no person's
//! normal comes near (a honeytoken, a dump in minutes, many records to a destination nobody uses) is
//! immediate.

pub mod baseline;
pub mod classify;
pub mod explain;
pub mod features;
pub mod novelty;
pub mod peers;
pub mod risk;
pub mod rules;
pub mod stats;
