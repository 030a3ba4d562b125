//! Dead letters: an input message that cannot be used goes, byte for byte, to the dead-letter topic with
//! headers saying where it came from and why, so nothing is lost and an operator can fix and replay it.
//!
//! The dead-letter topic holds the same data as the input topic: give it the same ACLs and retention.

use crate::io::decode::DecodeError;

pub const HEADER_REASON: &str = "exfilwatch.error.reason";
pub const HEADER_ERROR: &str = "exfilwatch.error.message";
pub const HEADER_TOPIC: &str = "exfilwatch.source.topic";
pub const HEADER_PARTITION: &str = "exfilwatch.source.partition";
pub const HEADER_OFFSET: &str = "exfilwatch.source.offset";
pub const HEADER_TIMESTAMP: &str = "exfilwatch.source.timestamp";

/// Where a dead letter came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// The Kafka message timestamp, if it had one.
    pub timestamp_ms: Option<i64>,
}

/// The headers added to a dead letter (the original headers are kept before them).
pub fn headers(origin: &Origin<'_>, error: &DecodeError) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = vec![
        (HEADER_REASON, error.reason().as_bytes().to_vec()),
        (HEADER_ERROR, error.to_string().into_bytes()),
        (HEADER_TOPIC, origin.topic.as_bytes().to_vec()),
        (HEADER_PARTITION, origin.partition.to_string().into_bytes()),
        (HEADER_OFFSET, origin.offset.to_string().into_bytes()),
    ];
    if let Some(ts) = origin.timestamp_ms {
        out.push((HEADER_TIMESTAMP, ts.to_string().into_bytes()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_origin_and_reason() {
        let origin = Origin {
            topic: "db-activity",
            partition: 2,
            offset: 41,
            timestamp_ms: Some(5),
        };
        let h = headers(&origin, &DecodeError::MissingField("account"));
        let get = |k: &str| {
            h.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| String::from_utf8_lossy(v).to_string())
        };
        assert_eq!(get(HEADER_REASON).as_deref(), Some("missing_field"));
        assert_eq!(
            get(HEADER_ERROR).as_deref(),
            Some("missing required field `account`")
        );
        assert_eq!(get(HEADER_TOPIC).as_deref(), Some("db-activity"));
        assert_eq!(get(HEADER_PARTITION).as_deref(), Some("2"));
        assert_eq!(get(HEADER_OFFSET).as_deref(), Some("41"));
        assert_eq!(get(HEADER_TIMESTAMP).as_deref(), Some("5"));
    }
}
