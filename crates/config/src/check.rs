//! Per-key value checks, shared by sources (to name the file), flags (to
//! name the flag) and the builder (to convert).

use std::net::IpAddr;

use crate::error::FieldError;
use crate::log_level::LogLevel;
use crate::user::{UserAcl, UserConfig, UserPorts};

/// A port value: `-1` disables the listener (`None`); `0` asks for any free
/// port (a skein extension, used by tests); otherwise 1..=65535.
pub(crate) fn port(key: &str, v: i64) -> Result<Option<u16>, FieldError> {
    if v == -1 {
        return Ok(None);
    }
    match u16::try_from(v) {
        Ok(p) => Ok(Some(p)),
        _ => Err(FieldError::new(
            key,
            v,
            "port must be between 0 and 65535, or -1 to disable",
        )),
    }
}

/// One IP address.
pub(crate) fn ip(key: &str, s: &str) -> Result<IpAddr, FieldError> {
    s.trim()
        .parse()
        .map_err(|_| FieldError::new(key, s, "expected an IP address"))
}

/// A space-separated list of IP addresses (Consul's `client_addr` form).
pub(crate) fn ips(key: &str, s: &str) -> Result<Vec<IpAddr>, FieldError> {
    let list = s
        .split_whitespace()
        .map(|part| ip(key, part).map_err(|_| FieldError::new(key, s, "expected IP addresses")))
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err(FieldError::new(key, s, "expected at least one IP address"));
    }
    Ok(list)
}

/// A log level name.
pub(crate) fn log_level(key: &str, s: &str) -> Result<LogLevel, FieldError> {
    s.parse()
        .map_err(|_| FieldError::new(key, s, "expected one of trace, debug, info, warn, err"))
}

/// A datacenter name: lowercased, then only `[a-z0-9_-]`.
pub(crate) fn datacenter(key: &str, s: &str) -> Result<String, FieldError> {
    let dc = s.to_ascii_lowercase();
    let valid = !dc.is_empty()
        && dc
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(dc)
    } else {
        Err(FieldError::new(key, s, "only [a-z0-9-_] are allowed"))
    }
}

/// A node ID: a UUID, lowercased.
pub(crate) fn node_id(key: &str, s: &str) -> Result<String, FieldError> {
    let id = s.to_ascii_lowercase();
    let groups: Vec<&str> = id.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups
        .iter()
        .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex && lens == [8, 4, 4, 4, 12] {
        Ok(id)
    } else {
        Err(FieldError::new(key, s, "expected a UUID"))
    }
}

/// `performance.raft_multiplier` must be 1..=10 (as in Consul).
pub(crate) fn raft_multiplier(v: u32) -> Result<u32, FieldError> {
    if (1..=10).contains(&v) {
        Ok(v)
    } else {
        Err(FieldError::new(
            "performance.raft_multiplier",
            v,
            "must be between 1 and 10",
        ))
    }
}

/// A gossip encryption key: standard base64 of 16, 24 or 32 bytes.
pub(crate) fn encrypt_key(s: &str) -> Result<(), FieldError> {
    let body = s.trim_end_matches('=');
    let alphabet_ok = body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    let padding_ok = s.len().is_multiple_of(4) && s.len() - body.len() <= 2;
    let bytes = body.len() * 3 / 4;
    if alphabet_ok && padding_ok && matches!(bytes, 16 | 24 | 32) {
        Ok(())
    } else {
        Err(FieldError::new(
            "encrypt",
            "(hidden)",
            "expected a base64-encoded 16, 24 or 32 byte key",
        ))
    }
}

fn one_of(key: &str, s: &str, allowed: &[&str]) -> Result<(), FieldError> {
    if allowed.contains(&s) {
        Ok(())
    } else {
        Err(FieldError::new(
            key,
            s,
            format!("expected one of {}", allowed.join(", ")),
        ))
    }
}

/// The allowed values of `acl.down_policy`.
pub(crate) const DOWN_POLICIES: &[&str] = &["allow", "deny", "extend-cache", "async-cache"];

impl UserConfig {
    /// Checks every key whose value has constraints beyond its type.
    pub(crate) fn check(&self) -> Result<(), FieldError> {
        self.check_names()?;
        self.check_addresses()?;
        if let Some(p) = &self.ports {
            p.check()?;
        }
        if let Some(acl) = &self.acl {
            acl.check()?;
        }
        if let Some(p) = &self.acl_default_policy {
            one_of("acl_default_policy", p, &["allow", "deny"])?;
        }
        if let Some(p) = &self.acl_down_policy {
            one_of("acl_down_policy", p, DOWN_POLICIES)?;
        }
        if let Some(m) = self.performance.as_ref().and_then(|p| p.raft_multiplier) {
            raft_multiplier(m)?;
        }
        if let Some(l) = &self.log_level {
            log_level("log_level", l)?;
        }
        if let Some(e) = &self.encrypt {
            encrypt_key(e)?;
        }
        Ok(())
    }

    fn check_names(&self) -> Result<(), FieldError> {
        for (key, v) in [
            ("datacenter", &self.datacenter),
            ("primary_datacenter", &self.primary_datacenter),
            ("acl_datacenter", &self.acl_datacenter),
        ] {
            if let Some(v) = v {
                datacenter(key, v)?;
            }
        }
        if let Some(id) = &self.node_id {
            node_id("node_id", id)?;
        }
        Ok(())
    }

    fn check_addresses(&self) -> Result<(), FieldError> {
        if let Some(v) = &self.bind_addr {
            ip("bind_addr", v)?;
        }
        if let Some(v) = &self.advertise_addr {
            ip("advertise_addr", v)?;
        }
        if let Some(v) = &self.client_addr {
            ips("client_addr", v)?;
        }
        let Some(a) = &self.addresses else {
            return Ok(());
        };
        for (key, v) in [
            ("addresses.http", &a.http),
            ("addresses.https", &a.https),
            ("addresses.dns", &a.dns),
            ("addresses.grpc", &a.grpc),
            ("addresses.grpc_tls", &a.grpc_tls),
        ] {
            if let Some(v) = v {
                ips(key, v)?;
            }
        }
        Ok(())
    }
}

impl UserPorts {
    /// `(key, value)` for every port that is set.
    pub(crate) fn entries(&self) -> Vec<(&'static str, i64)> {
        [
            ("ports.http", self.http),
            ("ports.https", self.https),
            ("ports.dns", self.dns),
            ("ports.grpc", self.grpc),
            ("ports.grpc_tls", self.grpc_tls),
            ("ports.serf_lan", self.serf_lan),
            ("ports.serf_wan", self.serf_wan),
            ("ports.server", self.server),
            ("ports.sidecar_min_port", self.sidecar_min_port),
            ("ports.sidecar_max_port", self.sidecar_max_port),
            ("ports.expose_min_port", self.expose_min_port),
            ("ports.expose_max_port", self.expose_max_port),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }

    fn check(&self) -> Result<(), FieldError> {
        for (key, v) in self.entries() {
            port(key, v)?;
        }
        Ok(())
    }
}

impl UserAcl {
    fn check(&self) -> Result<(), FieldError> {
        if let Some(p) = &self.default_policy {
            one_of("acl.default_policy", p, &["allow", "deny"])?;
        }
        if let Some(p) = &self.down_policy {
            one_of("acl.down_policy", p, DOWN_POLICIES)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_checks() {
        assert_eq!(port("p", -1), Ok(None));
        assert_eq!(port("p", 8500), Ok(Some(8500)));
        assert_eq!(port("p", 0), Ok(Some(0)));
        assert!(port("p", 65536).is_err());
        assert!(port("p", -2).is_err());
        assert_eq!(datacenter("d", "DC-1_a").as_deref(), Ok("dc-1_a"));
        assert!(datacenter("d", "dc.1").is_err());
        assert!(node_id("n", "4E1B1B3C-1A1B-4C1D-8E1F-1A2B3C4D5E6F").is_ok());
        assert!(node_id("n", "not-a-uuid").is_err());
        assert!(encrypt_key("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=").is_ok());
        assert!(encrypt_key("pUqJrVyVRj5jsiYEkM/tFQ==").is_ok());
        assert!(encrypt_key("short").is_err());
        assert_eq!(ips("c", "127.0.0.1 ::1").map(|v| v.len()), Ok(2));
        assert!(ips("c", "").is_err());
    }
}
