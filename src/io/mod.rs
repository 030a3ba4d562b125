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

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

use crate::config::{KafkaConfig, OWNED_KAFKA_KEYS};

/// A client config with the user's librdkafka passthrough: `common`, then the client's own section
/// (`consumer` or `producer`). The caller then sets the keys correctness depends on, which
/// `validate()` refuses in the passthrough.
fn passthrough(kafka: &KafkaConfig, client: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in kafka.common.iter().chain(client) {
        debug_assert!(
            !OWNED_KAFKA_KEYS.contains(&key.as_str()),
            "validate() refuses owned keys"
        );
        config.set(key, value);
    }
    config
}
