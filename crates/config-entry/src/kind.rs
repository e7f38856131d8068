//! Config entry kinds and the `(kind, name)` storage key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// The config entry kinds this crate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `proxy-defaults`
    ProxyDefaults,
    /// `service-defaults`
    ServiceDefaults,
    /// `service-router`
    ServiceRouter,
    /// `service-splitter`
    ServiceSplitter,
    /// `service-resolver`
    ServiceResolver,
    /// `service-intentions`
    ServiceIntentions,
    /// `mesh`
    Mesh,
    /// `ingress-gateway`
    IngressGateway,
    /// `terminating-gateway`
    TerminatingGateway,
}

/// Identifies one stored entry: its kind and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryKey {
    /// The kind.
    pub kind: Kind,
    /// The name (`global` for proxy-defaults, `mesh` for mesh).
    pub name: String,
}

// === impl Kind ===

impl Kind {
    /// Every kind, in Consul's listing order.
    pub const ALL: [Kind; 9] = [
        Kind::ServiceDefaults,
        Kind::ProxyDefaults,
        Kind::ServiceRouter,
        Kind::ServiceSplitter,
        Kind::ServiceResolver,
        Kind::IngressGateway,
        Kind::TerminatingGateway,
        Kind::ServiceIntentions,
        Kind::Mesh,
    ];

    /// The kind as Consul spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::ProxyDefaults => "proxy-defaults",
            Kind::ServiceDefaults => "service-defaults",
            Kind::ServiceRouter => "service-router",
            Kind::ServiceSplitter => "service-splitter",
            Kind::ServiceResolver => "service-resolver",
            Kind::ServiceIntentions => "service-intentions",
            Kind::Mesh => "mesh",
            Kind::IngressGateway => "ingress-gateway",
            Kind::TerminatingGateway => "terminating-gateway",
        }
    }

    /// Whether entries of this kind shape discovery chains.
    pub const fn is_discovery_chain(self) -> bool {
        matches!(
            self,
            Kind::ServiceRouter | Kind::ServiceSplitter | Kind::ServiceResolver
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;

    /// Parses Consul's spelling; anything else is `invalid config entry kind: …`.
    fn from_str(s: &str) -> Result<Kind, Error> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownKind {
                kind: s.to_string(),
            })
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// === impl EntryKey ===

impl EntryKey {
    /// A key for `kind`/`name`.
    pub fn new(kind: Kind, name: impl Into<String>) -> EntryKey {
        EntryKey {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}
