//! Where an export goes: which destinations the configuration allows or calls internal, and what
//! identifies a destination for novelty (scheme and host).

use crate::config::NewDestinationConfig;

/// Which destinations are allowed and which are internal.
#[derive(Debug)]
pub(super) struct DestinationPolicy {
    allow: Vec<String>,
    internal_nets: Vec<ipnet::IpNet>,
    internal_suffixes: Vec<String>,
}

impl DestinationPolicy {
    pub(super) fn new(config: &NewDestinationConfig) -> Self {
        DestinationPolicy {
            allow: config
                .allow
                .iter()
                .map(|a| a.to_ascii_lowercase())
                .collect(),
            internal_nets: config
                .internal_cidrs
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect(),
            internal_suffixes: config
                .internal_suffixes
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
        }
    }

    pub(super) fn allowed(&self, destination: &str) -> bool {
        let lowered = destination.to_ascii_lowercase();
        self.allow
            .iter()
            .any(|p| crate::detect::classify::glob_match(p.as_bytes(), lowered.as_bytes()))
    }

    /// Internal when the host is an address in an internal network or ends in an internal suffix.
    pub(super) fn internal(&self, destination: &str) -> bool {
        let host = destination_host(destination).to_ascii_lowercase();
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return self.internal_nets.iter().any(|net| net.contains(&ip));
        }
        self.internal_suffixes
            .iter()
            .any(|suffix| host.ends_with(suffix.as_str()))
    }
}

/// What identifies a destination for novelty: scheme and host (a new path in a known bucket or on a
/// known server is not a new destination), lower-cased.
pub fn destination_identity(destination: &str) -> String {
    let host = destination_host(destination).to_ascii_lowercase();
    match destination.split_once("://") {
        Some((scheme, _)) => format!("{}://{host}", scheme.to_ascii_lowercase()),
        None => host,
    }
}

/// The host of `scheme://host:port/path`, `host:/path` or a bare host.
fn destination_host(destination: &str) -> &str {
    let rest = destination
        .split_once("://")
        .map_or(destination, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next().unwrap_or(rest);
    let without_user = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    if without_user.starts_with('[') {
        return without_user
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or(without_user);
    }
    if without_user.matches(':').count() > 1 {
        return without_user; // a bare IPv6 address
    }
    without_user.split(':').next().unwrap_or(without_user)
}
