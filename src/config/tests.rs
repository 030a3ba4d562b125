use super::*;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn empty_file_gives_documented_defaults() {
    let config = Config::from_toml_str("", no_env()).expect("defaults are valid");
    assert_eq!(config.kafka.group_id, "exfilwatch");
    assert_eq!(config.rules.bulk_read.windows.len(), 3);
    assert_eq!(config.http.listen, "0.0.0.0:9477");
}

#[test]
fn unknown_field_is_refused_with_its_path() {
    let err = Config::from_toml_str("[kafka]\nbootstrap = \"x\"\n", no_env()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("kafka"), "{text}");
    assert!(text.contains("bootstrap"), "{text}");
}

#[test]
fn bad_value_names_the_field() {
    let text = "[[rules.bulk_read.windows]]\nlength = \"10m\"\nrows = 0\n";
    let err = Config::from_toml_str(text, no_env()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rules.bulk_read.windows[0].rows: must be > 0"
    );
}

#[test]
fn the_false_alarm_budget_must_be_a_rate() {
    let err = Config::from_toml_str("[detection]\nfalse_alarm_budget = 0\n", no_env()).unwrap_err();
    assert!(
        err.to_string().starts_with("detection.false_alarm_budget"),
        "{err}"
    );
    let config = Config::from_toml_str("", no_env()).expect("defaults are valid");
    assert_eq!(config.detection.false_alarm_budget, 0.1);
    assert_eq!(config.alerts.cooldown, Duration::from_secs(86_400));
}

#[test]
fn a_version_one_config_still_starts_and_its_retired_settings_are_named() {
    let text = "[rules.baseline_deviation]\nmultiple = 3.0\n\n[rules.distinct_records]\nprecision = 12\n\n\
                [[rules.distinct_records.windows]]\nlength = \"24h\"\nthreshold = 3000\n\n\
                [[rules.peer_deviation.groups]]\nname = \"fraud\"\naccounts = [\"fraud-*\"]\n";
    let config = Config::from_toml_str(text, no_env()).expect("accepted");
    assert_eq!(config.rules.distinct_records.precision, 12);
    assert_eq!(config.peer_groups().len(), 1);
    assert_eq!(
        config.retired_settings(),
        vec![
            "rules.baseline_deviation.multiple".to_string(),
            "rules.distinct_records.windows".to_string()
        ]
    );
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/exfilwatch.example.toml");
    let example = Config::load(&shipped, no_env()).expect("valid");
    assert!(example.retired_settings().is_empty());
}

#[test]
fn mistyped_duration_names_the_field() {
    let err =
        Config::from_toml_str("[input]\nallowed_lateness = \"soon\"\n", no_env()).unwrap_err();
    assert!(
        err.to_string().starts_with("input.allowed_lateness"),
        "{err}"
    );
}

#[test]
fn owned_librdkafka_key_is_refused() {
    let text = "[kafka.consumer]\n\"enable.auto.commit\" = \"false\"\n";
    let err = Config::from_toml_str(text, no_env()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("kafka.consumer.enable.auto.commit"),
        "{err}"
    );
}

#[test]
fn environment_overrides_typed_and_passthrough_values() {
    let env = vec![
        (
            "EXFILWATCH__KAFKA__BOOTSTRAP_SERVERS".to_string(),
            "broker:9093".to_string(),
        ),
        (
            "EXFILWATCH__STATE__MAX_ACCOUNTS".to_string(),
            "42".to_string(),
        ),
        (
            "EXFILWATCH__KAFKA__COMMON__SECURITY_PROTOCOL".to_string(),
            "SASL_SSL".to_string(),
        ),
        ("UNRELATED".to_string(), "x".to_string()),
    ];
    let config = Config::from_toml_str("", env).expect("valid");
    assert_eq!(config.kafka.bootstrap_servers, "broker:9093");
    assert_eq!(config.state.max_accounts, 42);
    assert_eq!(
        config
            .kafka
            .common
            .get("security.protocol")
            .map(String::as_str),
        Some("SASL_SSL")
    );
}

#[test]
fn confluent_framing_requires_schema_id() {
    let err = Config::from_toml_str("[alerts]\nframing = \"confluent\"\n", no_env()).unwrap_err();
    assert!(err.to_string().starts_with("alerts.schema_id"), "{err}");
}

#[test]
fn idle_timeout_must_outlast_the_baseline_history() {
    let err = Config::from_toml_str("[state]\nidle_timeout = \"10d\"\n", no_env()).unwrap_err();
    assert!(err.to_string().starts_with("state.idle_timeout"), "{err}");
}

#[test]
fn shipped_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/exfilwatch.example.toml");
    Config::load(&path, no_env()).expect("example config must be valid");
}

#[test]
fn the_day_start_is_auto_or_a_utc_time() {
    let mut config = Config::default();
    assert_eq!(config.detection.day_start_ms(), Ok(None));
    config.detection.day_start = "14:30".into();
    assert_eq!(
        config.detection.day_start_ms(),
        Ok(Some((14 * 60 + 30) * 60_000))
    );
    for bad in ["24:00", "9:00", "noon", "12:60"] {
        config.detection.day_start = bad.into();
        let err = config.validate().expect_err(bad).to_string();
        assert!(err.starts_with("detection.day_start: "), "{err}");
    }
}
