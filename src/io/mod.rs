//! The I/O shell: everything that touches the broker or the network. Consume (group membership,
//! rebalances), decode (bytes → events, keys hashed on arrival), publish (alerts and dead letters,
//! awaited delivery), commit (offsets stored only when done), metrics (`/metrics`, `/healthz`, `/readyz`).

pub mod commit;
pub mod consume;
pub mod dead_letter;
pub mod decode;
pub mod metrics;
pub mod partitioner;
pub mod publish;
