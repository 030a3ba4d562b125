//! Configuration: one TOML file plus `EXFILWATCH__SECTION__KEY` environment overrides.
//!
//! Every struct is plain serde with `deny_unknown_fields` and a named default function per option, so the
//! example file (`config/exfilwatch.example.toml`) and this module document the same defaults. `validate()`
//! refuses a bad value at start and names the field, e.g. `rules.bulk_read.windows[1].rows: must be > 0`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A configuration problem, always naming the offending field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file is not valid TOML: {0}")]
    Syntax(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The whole service configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub input: InputConfig,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub alerts: AlertConfig,
    /// The accumulated, calibrated account risk: the main knob is `false_alarm_budget`.
    #[serde(default)]
    pub detection: DetectionConfig,
    /// Table patterns → data classes. Only tables of a class marked `sensitive` feed the read rules.
    #[serde(default = "default_data_classes")]
    pub data_classes: Vec<DataClassConfig>,
    #[serde(default)]
    pub rules: RulesConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kafka: KafkaConfig::default(),
            input: InputConfig::default(),
            privacy: PrivacyConfig::default(),
            http: HttpConfig::default(),
            state: StateConfig::default(),
            alerts: AlertConfig::default(),
            detection: DetectionConfig::default(),
            data_classes: default_data_classes(),
            rules: RulesConfig::default(),
        }
    }
}

mod detection;
use detection::default_data_classes;
mod env;
mod sections;
mod validate;

pub use detection::*;
pub use env::apply_env_overrides;
pub use sections::*;

#[cfg(test)]
mod tests;
