//! Loading and validation: a bad value is refused at start with its field named; settings of retired
//! rules are named too.

use super::*;

impl Config {
    /// Reads `path`, applies `EXFILWATCH__A__B=value` overrides from `env`, and validates.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml_str(&text, env)
    }

    /// Parses TOML text, applies environment overrides, and validates.
    pub fn from_toml_str(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut doc: toml::Value =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        apply_env_overrides(&mut doc, env)?;
        let config: Config = serde_path_to_error::deserialize(doc).map_err(|e| {
            let field = e.path().to_string();
            ConfigError::invalid(field, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value a type cannot express; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        if k.bootstrap_servers.trim().is_empty() {
            return Err(ConfigError::invalid(
                "kafka.bootstrap_servers",
                "must not be empty",
            ));
        }
        if k.group_id.trim().is_empty() {
            return Err(ConfigError::invalid("kafka.group_id", "must not be empty"));
        }
        if k.input_topics.is_empty() || k.input_topics.iter().any(|t| t.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "kafka.input_topics",
                "must list at least one non-empty topic",
            ));
        }
        for (field, topic) in [
            ("kafka.alert_topic", &k.alert_topic),
            ("kafka.dead_letter_topic", &k.dead_letter_topic),
        ] {
            if topic.trim().is_empty() {
                return Err(ConfigError::invalid(field, "must not be empty"));
            }
            if k.input_topics.contains(topic) {
                return Err(ConfigError::invalid(
                    field,
                    "must differ from the input topics",
                ));
            }
        }
        if !["earliest", "latest"].contains(&k.auto_offset_reset.as_str()) {
            return Err(ConfigError::invalid(
                "kafka.auto_offset_reset",
                "must be \"earliest\" or \"latest\"",
            ));
        }
        if ![
            "cooperative-sticky",
            "range",
            "roundrobin",
            "range,roundrobin",
        ]
        .contains(&k.partition_assignment_strategy.as_str())
        {
            return Err(ConfigError::invalid(
                "kafka.partition_assignment_strategy",
                "must be cooperative-sticky, range, roundrobin or range,roundrobin",
            ));
        }
        if k.commit_interval.is_zero() {
            return Err(ConfigError::invalid("kafka.commit_interval", "must be > 0"));
        }
        if k.delivery_timeout < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "kafka.delivery_timeout",
                "must be at least 1s",
            ));
        }
        if k.max_in_flight == 0 {
            return Err(ConfigError::invalid("kafka.max_in_flight", "must be > 0"));
        }
        for (section, map) in [
            ("kafka.common", &k.common),
            ("kafka.consumer", &k.consumer),
            ("kafka.producer", &k.producer),
        ] {
            for key in map.keys() {
                if OWNED_KAFKA_KEYS.contains(&key.as_str()) {
                    return Err(ConfigError::invalid(
                        format!("{section}.{key}"),
                        "is set by exfilwatch itself (delivery guarantees depend on it); use the typed option",
                    ));
                }
            }
        }
        if self.input.max_event_bytes < 64 {
            return Err(ConfigError::invalid(
                "input.max_event_bytes",
                "must be at least 64",
            ));
        }
        if self.privacy.record_key_secret_env.trim().is_empty()
            && self.privacy.record_key_secret_file.is_none()
        {
            return Err(ConfigError::invalid(
                "privacy.record_key_secret_env",
                "name an environment variable or set privacy.record_key_secret_file",
            ));
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::invalid(
                "http.listen",
                "must be an address like 0.0.0.0:9477",
            ));
        }
        if self.state.max_accounts == 0 {
            return Err(ConfigError::invalid("state.max_accounts", "must be > 0"));
        }
        if self.state.idle_timeout.is_zero() {
            return Err(ConfigError::invalid("state.idle_timeout", "must be > 0"));
        }
        let a = &self.alerts;
        if !(a.escalation_factor > 1.0 && a.escalation_factor.is_finite()) {
            return Err(ConfigError::invalid(
                "alerts.escalation_factor",
                "must be a number > 1",
            ));
        }
        if a.framing == AlertFraming::Confluent && a.schema_id.is_none() {
            return Err(ConfigError::invalid(
                "alerts.schema_id",
                "is required when alerts.framing = \"confluent\"",
            ));
        }
        if self.data_classes.len() > 64 {
            return Err(ConfigError::invalid("data_classes", "at most 64 classes"));
        }
        for (i, class) in self.data_classes.iter().enumerate() {
            let field = format!("data_classes[{i}]");
            if class.name.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("{field}.name"),
                    "must not be empty",
                ));
            }
            if self.data_classes[..i].iter().any(|c| c.name == class.name) {
                return Err(ConfigError::invalid(
                    format!("{field}.name"),
                    "duplicate class name",
                ));
            }
            if class.tables.is_empty() || class.tables.iter().any(|t| t.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    format!("{field}.tables"),
                    "must list at least one non-empty pattern",
                ));
            }
            if !(class.weight > 0.0 && class.weight <= 10.0) {
                return Err(ConfigError::invalid(
                    format!("{field}.weight"),
                    "must be in (0, 10]",
                ));
            }
        }
        let r = &self.rules;
        let d = &self.detection;
        if !(d.false_alarm_budget > 0.0 && d.false_alarm_budget <= 1000.0) {
            return Err(ConfigError::invalid(
                "detection.false_alarm_budget",
                "must be in (0, 1000] alerts per 1,000 account-days",
            ));
        }
        if let Err(message) = d.day_start_ms() {
            return Err(ConfigError::invalid("detection.day_start", message));
        }
        if d.learning_period > Duration::from_secs(90 * 24 * 3600) {
            return Err(ConfigError::invalid(
                "detection.learning_period",
                "must be at most 90d",
            ));
        }
        if !(10..=16).contains(&r.distinct_records.precision) {
            return Err(ConfigError::invalid(
                "rules.distinct_records.precision",
                "must be in 10..=16",
            ));
        }
        if r.new_destination.retention < Duration::from_secs(3600) {
            return Err(ConfigError::invalid(
                "rules.new_destination.retention",
                "must be at least 1h",
            ));
        }
        for (i, cidr) in r.new_destination.internal_cidrs.iter().enumerate() {
            if cidr.parse::<ipnet::IpNet>().is_err() {
                return Err(ConfigError::invalid(
                    format!("rules.new_destination.internal_cidrs[{i}]"),
                    "must be a CIDR like 10.0.0.0/8",
                ));
            }
        }
        for (field, groups) in [
            ("detection.peer_groups", &d.peer_groups),
            ("rules.peer_deviation.groups", &r.peer_deviation.groups),
        ] {
            for (i, group) in groups.iter().enumerate() {
                if group.name.trim().is_empty() || group.accounts.is_empty() {
                    return Err(ConfigError::invalid(
                        format!("{field}[{i}]"),
                        "needs a name and at least one account pattern",
                    ));
                }
            }
        }
        if r.watchlist.min_records == 0 {
            return Err(ConfigError::invalid(
                "rules.watchlist.min_records",
                "must be > 0",
            ));
        }
        let bulk = &self.rules.bulk_read;
        if bulk.enabled && bulk.windows.is_empty() {
            return Err(ConfigError::invalid(
                "rules.bulk_read.windows",
                "an enabled rule needs at least one window",
            ));
        }
        validate_windows(
            "rules.bulk_read.windows",
            "rows",
            bulk.windows.iter().map(|w| (w.length, w.rows, w.buckets)),
        )?;
        // Idle accounts may only be dropped once nothing they hold can matter: every window and the
        // 28 days of daily history the baselines keep.
        let longest = bulk
            .windows
            .iter()
            .map(|w| w.length)
            .max()
            .unwrap_or_default()
            .max(Duration::from_secs(29 * 24 * 3600));
        if self.state.idle_timeout < longest + a.cooldown {
            return Err(ConfigError::invalid(
                "state.idle_timeout",
                "must be at least the longest window (and the 29 days of baseline history) plus alerts.cooldown, or evicting idle accounts would change alerts",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Settings of retired rules found in this config: accepted so that it still starts, but without
    /// effect. Logged at start and by `check-config`.
    pub fn retired_settings(&self) -> Vec<String> {
        let r = &self.rules;
        let mut found = Vec::new();
        let mut table = |name: &str, table: Option<&toml::Table>| {
            if let Some(table) = table {
                if table.is_empty() {
                    found.push(format!("rules.{name}"));
                }
                for key in table.keys() {
                    found.push(format!("rules.{name}.{key}"));
                }
            }
        };
        table("baseline_deviation", r.baseline_deviation.as_ref());
        table("egress_volume", r.egress_volume.as_ref());
        table("unusual_access", r.unusual_access.as_ref());
        table(
            "distinct_records",
            Some(&r.distinct_records.retired).filter(|t| !t.is_empty()),
        );
        table(
            "peer_deviation",
            Some(&r.peer_deviation.retired).filter(|t| !t.is_empty()),
        );
        found
    }

    /// Peer groups from account patterns: `detection.peer_groups`, then the retired
    /// `rules.peer_deviation.groups`.
    pub fn peer_groups(&self) -> Vec<PeerGroupConfig> {
        self.detection
            .peer_groups
            .iter()
            .chain(&self.rules.peer_deviation.groups)
            .cloned()
            .collect()
    }
}

fn validate_windows(
    field: &str,
    threshold_name: &str,
    windows: impl ExactSizeIterator<Item = (Duration, u64, u32)>,
) -> Result<(), ConfigError> {
    if windows.len() > 8 {
        return Err(ConfigError::invalid(field, "at most 8 windows"));
    }
    for (i, (length, threshold, buckets)) in windows.enumerate() {
        let here = format!("{field}[{i}]");
        if length < Duration::from_secs(1) || length > Duration::from_secs(90 * 24 * 3600) {
            return Err(ConfigError::invalid(
                format!("{here}.length"),
                "must be between 1s and 90 days",
            ));
        }
        if threshold == 0 {
            return Err(ConfigError::invalid(
                format!("{here}.{threshold_name}"),
                "must be > 0",
            ));
        }
        if !(1..=1024).contains(&buckets) {
            return Err(ConfigError::invalid(
                format!("{here}.buckets"),
                "must be in 1..=1024",
            ));
        }
        if length.as_millis() % u128::from(buckets) != 0 {
            return Err(ConfigError::invalid(
                format!("{here}.buckets"),
                "must divide the window length into whole milliseconds",
            ));
        }
    }
    Ok(())
}
