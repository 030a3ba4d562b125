//! Keyed hashing of record identifiers, applied the moment an event is decoded.
//!
//! The detector must not become a second copy of the customer data it protects: the raw keys a proxy saw
//! are turned into HMAC-SHA256 digests (truncated to 64 bits, plenty for distinct counting) and dropped.
//! Without the secret a digest cannot be matched back to a guessed key, so state, logs and alerts stay
//! useless to whoever steals them.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::PrivacyConfig;

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted; a short key makes the digests guessable.
pub const MIN_SECRET_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("privacy.record_key_secret_file: cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("privacy.record_key_secret_env: environment variable {0} is not set (and no secret file is configured)")]
    Missing(String),
    #[error("{0}: the record-key secret must be at least {MIN_SECRET_BYTES} bytes")]
    TooShort(&'static str),
}

/// Hashes record identifiers with the deployment's secret key.
#[derive(Clone)]
pub struct RecordKeyHasher {
    /// A keyed MAC prepared once; cloning it per key skips re-deriving the key pads.
    prepared: HmacSha256,
}

impl std::fmt::Debug for RecordKeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKeyHasher(<secret>)")
    }
}

impl RecordKeyHasher {
    pub fn new(secret: &[u8]) -> Result<Self, SecretError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort("record-key secret"));
        }
        // HMAC accepts keys of any length, so this cannot fail after the length check.
        let prepared = HmacSha256::new_from_slice(secret)
            .map_err(|_| SecretError::TooShort("record-key secret"))?;
        Ok(RecordKeyHasher { prepared })
    }

    /// Loads the secret from the configured file, or else from the configured environment variable.
    pub fn from_config(
        config: &PrivacyConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SecretError> {
        if let Some(path) = &config.record_key_secret_file {
            let secret = read_secret_file(path)?;
            return RecordKeyHasher::new(&secret)
                .map_err(|_| SecretError::TooShort("privacy.record_key_secret_file"));
        }
        let value = env(&config.record_key_secret_env)
            .ok_or_else(|| SecretError::Missing(config.record_key_secret_env.clone()))?;
        RecordKeyHasher::new(value.trim().as_bytes())
            .map_err(|_| SecretError::TooShort("privacy.record_key_secret_env"))
    }

    /// Four 64-bit seeds derived from the secret, for a fast keyed hash of lower-value names
    /// (destinations, client addresses) that are hashed on every event.
    pub fn derive_seeds(&self) -> [u64; 4] {
        let mut mac = self.prepared.clone();
        mac.update(b"exfilwatch.v1.fast-hash-seeds");
        let digest = mac.finalize().into_bytes();
        let mut seeds = [0u64; 4];
        for (i, seed) in seeds.iter_mut().enumerate() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&digest[i * 8..i * 8 + 8]);
            *seed = u64::from_le_bytes(word);
        }
        seeds
    }

    /// The 64-bit keyed digest of one record identifier.
    pub fn hash(&self, record_key: &str) -> u64 {
        let mut mac = self.prepared.clone();
        mac.update(record_key.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}

fn read_secret_file(path: &Path) -> Result<Vec<u8>, SecretError> {
    let bytes = std::fs::read(path).map_err(|source| SecretError::File {
        path: path.display().to_string(),
        source,
    })?;
    // Secrets mounted from Kubernetes often end in a newline that is not part of the key.
    let trimmed = bytes.trim_ascii_end();
    Ok(trimmed.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_digest_different_secret_different_digest() {
        let a = RecordKeyHasher::new(b"0123456789abcdef-secret-a").expect("valid");
        let b = RecordKeyHasher::new(b"0123456789abcdef-secret-b").expect("valid");
        assert_eq!(a.hash("customer-42"), a.hash("customer-42"));
        assert_ne!(a.hash("customer-42"), a.hash("customer-43"));
        assert_ne!(a.hash("customer-42"), b.hash("customer-42"));
    }

    #[test]
    fn short_secret_is_refused() {
        assert!(RecordKeyHasher::new(b"short").is_err());
    }

    #[test]
    fn missing_environment_secret_names_the_variable() {
        let config = PrivacyConfig::default();
        let err = RecordKeyHasher::from_config(&config, |_| None).unwrap_err();
        assert!(
            err.to_string().contains("EXFILWATCH_RECORD_KEY_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn secret_file_trailing_newline_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, b"0123456789abcdef-file\n").expect("write");
        let config = PrivacyConfig {
            record_key_secret_env: String::new(),
            record_key_secret_file: Some(path),
        };
        let from_file = RecordKeyHasher::from_config(&config, |_| None).expect("loads");
        let direct = RecordKeyHasher::new(b"0123456789abcdef-file").expect("valid");
        assert_eq!(from_file.hash("k"), direct.hash("k"));
    }
}
