//! Service names as intentions see them: a name inside a namespace inside a
//! partition, where `*` may stand for "any" (namespace and name only), and the
//! `[peer:<peer>/|<partition>/][<namespace>/]<name>` strings of the HTTP API.

use std::fmt;

use crate::error::{Error, Result};

/// The wildcard value for a namespace or a name.
pub const WILDCARD: &str = "*";
/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The partition used when none is given.
pub const DEFAULT_PARTITION: &str = "default";

/// A service in a namespace and partition, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceName {
    /// Admin partition (never empty; `default` unless set).
    pub partition: String,
    /// Namespace (never empty; `default` unless set; may be `*`).
    pub namespace: String,
    /// Service name (may be `*`).
    pub name: String,
}

/// A parsed `source`/`destination`/`name` query value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedName {
    /// Peer, from a `peer:<peer>/` prefix (empty if none).
    pub peer: String,
    /// Partition, from a three-part value (empty if none).
    pub partition: String,
    /// Namespace, from a two- or three-part value (empty if none).
    pub namespace: String,
    /// Service name.
    pub name: String,
}

// === impl ServiceName ===

impl ServiceName {
    /// A service, with empty partition or namespace replaced by `default`.
    pub fn new(partition: &str, namespace: &str, name: &str) -> Self {
        Self {
            partition: or_default(partition, DEFAULT_PARTITION).to_owned(),
            namespace: or_default(namespace, DEFAULT_NAMESPACE).to_owned(),
            name: name.to_owned(),
        }
    }

    /// A service in the default partition and namespace.
    pub fn local(name: &str) -> Self {
        Self::new("", "", name)
    }

    /// Whether namespace and partition are both `default` (Consul CE prints
    /// such a name without them).
    pub fn is_default_tenancy(&self) -> bool {
        self.partition == DEFAULT_PARTITION && self.namespace == DEFAULT_NAMESPACE
    }
}

impl fmt::Display for ServiceName {
    /// Consul CE prints just the name; other tenancies print
    /// `partition/namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_default_tenancy() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}/{}", self.partition, self.namespace, self.name)
        }
    }
}

// === impl ParsedName ===

impl ParsedName {
    /// The service this names, with defaults filled in (the peer is dropped).
    pub fn service(&self) -> ServiceName {
        ServiceName::new(&self.partition, &self.namespace, &self.name)
    }

    fn named(peer: &str, partition: &str, namespace: &str, name: &str) -> Self {
        Self {
            peer: peer.to_owned(),
            partition: partition.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// `value` unless empty, else `default`.
pub(crate) fn or_default<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

/// `value` unless it is the default, else empty: how CE keeps tenancy out of
/// stored entries.
pub(crate) fn empty_if_default(value: &str, default: &str) -> String {
    if value == default {
        String::new()
    } else {
        value.to_owned()
    }
}

/// Parses `name`, `ns/name`, `partition/ns/name`, `peer:p/name` or
/// `peer:p/ns/name`, as Consul's intention endpoints accept them. Peers are
/// only allowed where `allow_peer` says so (the GET `exact` source).
pub fn parse_name(input: &str, allow_peer: bool) -> Result<ParsedName> {
    let bad = |reason| Error::BadName { reason };
    if input.starts_with("peer:") && !allow_peer {
        return Err(bad("cannot specify a peer here"));
    }
    let parts: Vec<&str> = input.split('/').collect();
    let peer_of = |s: &str| s.strip_prefix("peer:").map(str::to_owned);
    let parsed = match parts.as_slice() {
        [name] if name.starts_with("peer:") => {
            return Err(bad("need to specify the service name as well"));
        }
        [name] => ParsedName::named("", "", "", name),
        [first, name] => match peer_of(first) {
            Some(peer) => ParsedName::named(&peer, "", "", name),
            None => ParsedName::named("", "", first, name),
        },
        [first, ns, name] => match peer_of(first) {
            Some(peer) => ParsedName::named(&peer, "", ns, name),
            None => ParsedName::named("", first, ns, name),
        },
        _ => return Err(bad("input can contain at most two '/'")),
    };
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let p = parse_name("web", false).unwrap();
        assert_eq!((p.namespace.as_str(), p.name.as_str()), ("", "web"));
        let p = parse_name("ns1/web", false).unwrap();
        assert_eq!((p.namespace.as_str(), p.name.as_str()), ("ns1", "web"));
        let p = parse_name("ap/ns1/web", false).unwrap();
        assert_eq!(p.partition, "ap");
        let p = parse_name("peer:east/web", true).unwrap();
        assert_eq!((p.peer.as_str(), p.name.as_str()), ("east", "web"));
        let p = parse_name("peer:east/ns/web", true).unwrap();
        assert_eq!((p.peer.as_str(), p.namespace.as_str()), ("east", "ns"));
    }

    #[test]
    fn rejects_with_consul_reasons() {
        let msg = |s, peer| parse_name(s, peer).unwrap_err().to_string();
        assert_eq!(msg("peer:east/web", false), "cannot specify a peer here");
        assert_eq!(
            msg("peer:east", true),
            "need to specify the service name as well"
        );
        assert_eq!(msg("a/b/c/d", false), "input can contain at most two '/'");
    }

    #[test]
    fn display_is_ce_style() {
        assert_eq!(ServiceName::local("web").to_string(), "web");
        assert_eq!(
            ServiceName::new("", "ns", "web").to_string(),
            "default/ns/web"
        );
    }
}
