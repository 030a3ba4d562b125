//! The offline tools, outside the service library: the labelled simulation of an organisation
//! ([`simulate`]), the scoring of alerts against its labels ([`evaluate`]), the workload of the demo and
//! the benchmarks ([`workload`]) and the no-setup demo on an in-process Kafka ([`demo`]). They drive the
//! same engine the service runs; nothing in the service depends on them.

pub mod demo;
pub mod evaluate;
pub mod simulate;
pub mod workload;

#[cfg(test)]
mod scenarios;
