//! `EXFILWATCH__SECTION__KEY=value` environment overrides.

use super::ConfigError;

/// Applies `EXFILWATCH__KAFKA__BOOTSTRAP_SERVERS=host:9092`-style overrides onto the parsed document.
///
/// Section and key names are lower-cased; a value is read as TOML when it parses (numbers, booleans,
/// arrays) and as a plain string otherwise. `EXFILWATCH__KAFKA__COMMON__SASL_MECHANISM` style keys under a
/// passthrough map keep `_` → `.` so librdkafka keys can be written in an environment variable.
pub fn apply_env_overrides(
    doc: &mut toml::Value,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    const PREFIX: &str = "EXFILWATCH__";
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let mut path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::invalid(
                name,
                "empty path segment in environment override",
            ));
        }
        let passthrough = path.len() == 3
            && path[0] == "kafka"
            && ["common", "consumer", "producer"].contains(&path[1].as_str());
        if passthrough {
            path[2] = path[2].replace('_', ".");
        }
        let value = parse_env_value(&raw);
        let mut node = &mut *doc;
        for (i, segment) in path.iter().enumerate() {
            let table = node
                .as_table_mut()
                .ok_or_else(|| ConfigError::invalid(path[..i].join("."), "is not a table"))?;
            if i + 1 == path.len() {
                let value = if passthrough {
                    toml::Value::String(raw.clone())
                } else {
                    value.clone()
                };
                table.insert(segment.clone(), value);
                break;
            }
            node = table
                .entry(segment.clone())
                .or_insert_with(|| toml::Value::Table(toml::map::Map::new()));
        }
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}
