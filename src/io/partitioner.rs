//! Which partition a producer put an account's events in, for `replay` to reproduce the live service's
//! per-partition peer samples. Keys are the account, as producers of the input topic must use.

use serde::Deserialize;

use crate::engine::accounts::PartitionRef;

/// The producer's partitioner for keyed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Partitioner {
    /// librdkafka's default (`consistent_random`): CRC32 of the key modulo the partition count.
    ConsistentRandom,
    /// The Java client's default: murmur2 of the key, made positive, modulo the partition count.
    Murmur2,
}

impl Partitioner {
    pub fn partition(self, key: &[u8], partitions: u32) -> i32 {
        let partitions = partitions.max(1);
        let index = match self {
            Partitioner::ConsistentRandom => crc32fast::hash(key) % partitions,
            Partitioner::Murmur2 => (murmur2(key) & 0x7fff_ffff) % partitions,
        };
        i32::try_from(index).unwrap_or(0)
    }

    /// The partition of the (first) input topic that `account`'s events went to.
    pub fn partition_of(self, account: &str, partitions: u32) -> PartitionRef {
        PartitionRef {
            topic: 0,
            partition: self.partition(account.as_bytes(), partitions),
        }
    }
}

/// Kafka's murmur2 (seed 0x9747b28c), as in `org.apache.kafka.common.utils.Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h = SEED ^ (length as u32);
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= u32::from(tail[2]) << 16;
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_reference_values() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21") as i32, -973_932_308);
        assert_eq!(murmur2(b"foobar") as i32, -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985_981_536);
        assert_eq!(
            murmur2(b"a-little-bit-longer-string") as i32,
            -1_486_304_829
        );
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32,
            -58_897_971
        );
        assert_eq!(murmur2(b"abc") as i32, 479_470_107);
    }

    #[test]
    fn partitions_are_in_range_and_stable() {
        for p in [Partitioner::ConsistentRandom, Partitioner::Murmur2] {
            let a = p.partition(b"agent07", 3);
            assert!((0..3).contains(&a));
            assert_eq!(a, p.partition(b"agent07", 3));
        }
    }
}
