//! The opaque `Config` keys of proxies and upstreams that shape resources,
//! read leniently as Consul's weakly-typed decoder does (numbers or numeric
//! strings); values that do not parse fall back to the default.

use serde_json::{Map, Value};
use skein_proxycfg::{ProxySnapshot, UpstreamSnapshot};

/// Connect timeout of `local_app` when `local_connect_timeout_ms` is unset.
pub(crate) const DEFAULT_LOCAL_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Connect timeout of a target cluster when neither the upstream nor the
/// resolver sets one.
pub(crate) const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;

/// The protocol a listener or cluster speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Opaque TCP (also anything unknown).
    Tcp,
    /// HTTP/1.1.
    Http,
    /// HTTP/2.
    Http2,
    /// gRPC (HTTP/2).
    Grpc,
}

/// Circuit breaker limits of an upstream (`limits`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// `max_connections`.
    pub(crate) max_connections: Option<u32>,
    /// `max_pending_requests`.
    pub(crate) max_pending_requests: Option<u32>,
    /// `max_concurrent_requests` (Envoy's `max_requests`).
    pub(crate) max_concurrent_requests: Option<u32>,
}

// === impl Protocol ===

impl Protocol {
    /// Reads a protocol name; empty or unknown means TCP.
    pub(crate) fn parse(name: &str) -> Protocol {
        match name.to_ascii_lowercase().as_str() {
            "http" => Protocol::Http,
            "http2" => Protocol::Http2,
            "grpc" => Protocol::Grpc,
            _ => Protocol::Tcp,
        }
    }

    /// Whether listeners use the HTTP connection manager.
    pub(crate) fn is_http_like(self) -> bool {
        self != Protocol::Tcp
    }

    /// Whether upstream connections must be HTTP/2.
    pub(crate) fn is_http2(self) -> bool {
        matches!(self, Protocol::Http2 | Protocol::Grpc)
    }

    /// ALPN protocols offered in TLS contexts.
    pub(crate) fn alpn(self) -> Vec<String> {
        match self {
            Protocol::Tcp => Vec::new(),
            Protocol::Http => vec!["http/1.1".to_owned()],
            Protocol::Http2 | Protocol::Grpc => vec!["h2".to_owned(), "http/1.1".to_owned()],
        }
    }
}

/// The protocol of the proxy's destination service.
pub(crate) fn local_protocol(s: &ProxySnapshot) -> Protocol {
    Protocol::parse(&s.protocol)
}

/// `local_connect_timeout_ms`, default 5000.
pub(crate) fn local_connect_timeout_ms(s: &ProxySnapshot) -> u64 {
    positive_millis(&s.config, "local_connect_timeout_ms")
        .unwrap_or(DEFAULT_LOCAL_CONNECT_TIMEOUT_MS)
}

/// `local_request_timeout_ms`, if set (0 disables the timeout).
pub(crate) fn local_request_timeout_ms(s: &ProxySnapshot) -> Option<u64> {
    millis(&s.config, "local_request_timeout_ms")
}

/// `local_idle_timeout_ms`, if set (0 disables the timeout).
pub(crate) fn local_idle_timeout_ms(s: &ProxySnapshot) -> Option<u64> {
    millis(&s.config, "local_idle_timeout_ms")
}

/// The protocol of an upstream: the chain's for a customized chain,
/// otherwise the upstream's `protocol`, then the chain's, then TCP.
pub(crate) fn upstream_protocol(u: &UpstreamSnapshot) -> Protocol {
    let chain = &u.chain;
    let configured = string(&u.config, "protocol");
    let name = match (chain.default, configured) {
        (false, _) if !chain.protocol.is_empty() => chain.protocol.as_str(),
        (_, Some(p)) if !p.is_empty() => p,
        _ => chain.protocol.as_str(),
    };
    Protocol::parse(name)
}

/// Whether the upstream listener routes through RDS: HTTP-like with a
/// chain that routers, splitters or resolvers shaped.
pub(crate) fn uses_rds(u: &UpstreamSnapshot) -> bool {
    upstream_protocol(u).is_http_like() && !u.chain.default
}

/// `connect_timeout_ms` of an upstream, if set and positive.
pub(crate) fn upstream_connect_timeout_ms(u: &UpstreamSnapshot) -> Option<u64> {
    positive_millis(&u.config, "connect_timeout_ms")
}

/// `limits` of an upstream, if set.
pub(crate) fn upstream_limits(u: &UpstreamSnapshot) -> Option<Limits> {
    let limits = u.config.get("limits")?.as_object()?;
    Some(Limits {
        max_connections: count(limits, "max_connections"),
        max_pending_requests: count(limits, "max_pending_requests"),
        max_concurrent_requests: count(limits, "max_concurrent_requests"),
    })
}

fn string<'a>(config: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    config.get(key)?.as_str()
}

/// A non-negative integer given as a number or a numeric string.
fn millis(config: &Map<String, Value>, key: &str) -> Option<u64> {
    match config.get(key)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(float_to_u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn positive_millis(config: &Map<String, Value>, key: &str) -> Option<u64> {
    millis(config, key).filter(|ms| *ms > 0)
}

fn count(config: &Map<String, Value>, key: &str) -> Option<u32> {
    millis(config, key).and_then(|n| u32::try_from(n).ok())
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn float_to_u64(f: f64) -> u64 {
    f as u64
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn millis_accept_numbers_and_numeric_strings() {
        let m = map(json!({"a": 250, "b": "1000", "c": "x", "d": -1, "e": 2.0}));
        assert_eq!(millis(&m, "a"), Some(250));
        assert_eq!(millis(&m, "b"), Some(1000));
        assert_eq!(millis(&m, "c"), None);
        assert_eq!(millis(&m, "d"), None);
        assert_eq!(millis(&m, "e"), Some(2));
        assert_eq!(millis(&m, "missing"), None);
    }

    #[test]
    fn protocols_parse_leniently() {
        assert_eq!(Protocol::parse("GRPC"), Protocol::Grpc);
        assert_eq!(Protocol::parse(""), Protocol::Tcp);
        assert_eq!(Protocol::parse("redis"), Protocol::Tcp);
        assert!(Protocol::Http2.is_http2());
        assert!(!Protocol::Http.is_http2());
    }
}
