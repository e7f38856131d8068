//! SPIFFE IDs: the URI SANs that name services, agents and the CA itself.
//!
//! ```text
//! spiffe://<td>[/ap/<p>]/ns/<ns>/dc/<dc>/svc/<svc>       service
//! spiffe://<td>[/ap/<p>]/agent/client/dc/<dc>/id/<node>  client agent
//! spiffe://<td>/agent/server/dc/<dc>                     server
//! spiffe://<td>[/ap/<p>]/gateway/mesh/dc/<dc>            mesh gateway
//! spiffe://<td>                                          the CA (roots)
//! ```
//!
//! The partition prefix is only written for a non-default partition; parsing
//! `/ap/default` gives `partition: None`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::trust_domain::TrustDomain;

/// The partition every community-edition ID lives in.
const DEFAULT_PARTITION: &str = "default";

/// A parsed SPIFFE ID of one of the shapes Consul issues.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpiffeId {
    /// A service instance's identity.
    Service {
        /// Trust domain.
        trust_domain: TrustDomain,
        /// Admin partition; `None` is the default partition.
        partition: Option<String>,
        /// Namespace (`default` in community edition).
        namespace: String,
        /// Datacenter.
        datacenter: String,
        /// Service name.
        service: String,
    },
    /// A client agent's identity (auto-encrypt / auto-config).
    Agent {
        /// Trust domain.
        trust_domain: TrustDomain,
        /// Admin partition; `None` is the default partition.
        partition: Option<String>,
        /// Datacenter.
        datacenter: String,
        /// Node name.
        node: String,
    },
    /// A server's identity.
    Server {
        /// Trust domain.
        trust_domain: TrustDomain,
        /// Datacenter.
        datacenter: String,
    },
    /// A mesh gateway's identity.
    MeshGateway {
        /// Trust domain.
        trust_domain: TrustDomain,
        /// Admin partition; `None` is the default partition.
        partition: Option<String>,
        /// Datacenter.
        datacenter: String,
    },
    /// The CA's own identity, carried by root and intermediate certificates.
    Signing {
        /// Trust domain.
        trust_domain: TrustDomain,
    },
}

// === impl SpiffeId ===

impl SpiffeId {
    /// A service ID in the default partition.
    pub fn service(td: &TrustDomain, namespace: &str, datacenter: &str, service: &str) -> Self {
        SpiffeId::Service {
            trust_domain: td.clone(),
            partition: None,
            namespace: namespace.to_owned(),
            datacenter: datacenter.to_owned(),
            service: service.to_owned(),
        }
    }

    /// A client agent ID in the default partition.
    pub fn agent(td: &TrustDomain, datacenter: &str, node: &str) -> Self {
        SpiffeId::Agent {
            trust_domain: td.clone(),
            partition: None,
            datacenter: datacenter.to_owned(),
            node: node.to_owned(),
        }
    }

    /// The CA's own ID, `spiffe://<td>`.
    pub fn signing(td: &TrustDomain) -> Self {
        SpiffeId::Signing {
            trust_domain: td.clone(),
        }
    }

    /// The trust domain of any ID.
    pub fn trust_domain(&self) -> &TrustDomain {
        match self {
            SpiffeId::Service { trust_domain, .. }
            | SpiffeId::Agent { trust_domain, .. }
            | SpiffeId::Server { trust_domain, .. }
            | SpiffeId::MeshGateway { trust_domain, .. }
            | SpiffeId::Signing { trust_domain } => trust_domain,
        }
    }

    /// The datacenter, for every kind but the CA's own ID.
    pub fn datacenter(&self) -> Option<&str> {
        match self {
            SpiffeId::Service { datacenter, .. }
            | SpiffeId::Agent { datacenter, .. }
            | SpiffeId::Server { datacenter, .. }
            | SpiffeId::MeshGateway { datacenter, .. } => Some(datacenter),
            SpiffeId::Signing { .. } => None,
        }
    }

    /// The same ID moved to another trust domain.
    pub fn with_trust_domain(mut self, td: &TrustDomain) -> Self {
        match &mut self {
            SpiffeId::Service { trust_domain, .. }
            | SpiffeId::Agent { trust_domain, .. }
            | SpiffeId::Server { trust_domain, .. }
            | SpiffeId::MeshGateway { trust_domain, .. }
            | SpiffeId::Signing { trust_domain } => *trust_domain = td.clone(),
        }
        self
    }

    /// Parses a SPIFFE URI.
    pub fn parse(uri: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidSpiffeId {
            uri: uri.to_owned(),
            reason,
        };
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        if !scheme.eq_ignore_ascii_case("spiffe") {
            return Err(invalid("scheme is not spiffe"));
        }
        if rest.contains(['?', '#']) {
            return Err(invalid("query and fragment are not allowed"));
        }
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let td = TrustDomain::new(host).map_err(|_| invalid("bad trust domain"))?;
        if path.is_empty() || path == "/" {
            return Ok(SpiffeId::signing(&td));
        }
        let segments = split_path(path).ok_or_else(|| invalid("bad path segment"))?;
        from_segments(td, &segments).ok_or_else(|| invalid("unknown path shape"))
    }

    /// The path part of the URI (empty for the CA's own ID).
    fn path(&self) -> String {
        match self {
            SpiffeId::Service {
                partition,
                namespace,
                datacenter,
                service,
                ..
            } => join(
                partition,
                &["ns", namespace, "dc", datacenter, "svc", service],
            ),
            SpiffeId::Agent {
                partition,
                datacenter,
                node,
                ..
            } => join(
                partition,
                &["agent", "client", "dc", datacenter, "id", node],
            ),
            SpiffeId::Server { datacenter, .. } => {
                join(&None, &["agent", "server", "dc", datacenter])
            }
            SpiffeId::MeshGateway {
                partition,
                datacenter,
                ..
            } => join(partition, &["gateway", "mesh", "dc", datacenter]),
            SpiffeId::Signing { .. } => String::new(),
        }
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spiffe://{}{}", self.trust_domain(), self.path())
    }
}

impl FromStr for SpiffeId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Splits `/a/b/c` into decoded, non-empty segments.
fn split_path(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    rest.split('/')
        .map(|seg| percent_decode(seg).filter(|s| !s.is_empty()))
        .collect()
}

/// Matches decoded segments against the known shapes.
fn from_segments(trust_domain: TrustDomain, segments: &[String]) -> Option<SpiffeId> {
    let (partition, rest) = match segments {
        [ap, p, rest @ ..] if ap == "ap" => (normalize_partition(p), rest),
        _ => (None, segments),
    };
    let owned = |s: &String| s.clone();
    let strs: Vec<&str> = rest.iter().map(String::as_str).collect();
    match strs.as_slice() {
        ["ns", _, "dc", _, "svc", _] => Some(SpiffeId::Service {
            trust_domain,
            partition,
            namespace: owned(&rest[1]),
            datacenter: owned(&rest[3]),
            service: owned(&rest[5]),
        }),
        ["agent", "client", "dc", _, "id", _] => Some(SpiffeId::Agent {
            trust_domain,
            partition,
            datacenter: owned(&rest[3]),
            node: owned(&rest[5]),
        }),
        ["agent", "server", "dc", _] if partition.is_none() && rest.len() == segments.len() => {
            Some(SpiffeId::Server {
                trust_domain,
                datacenter: owned(&rest[3]),
            })
        }
        ["gateway", "mesh", "dc", _] => Some(SpiffeId::MeshGateway {
            trust_domain,
            partition,
            datacenter: owned(&rest[3]),
        }),
        _ => None,
    }
}

fn normalize_partition(p: &str) -> Option<String> {
    (p != DEFAULT_PARTITION).then(|| p.to_owned())
}

/// Renders segments as a path, with the partition prefix when not default.
fn join(partition: &Option<String>, segments: &[&str]) -> String {
    let mut out = String::new();
    if let Some(p) = partition {
        out.push_str("/ap/");
        out.push_str(&percent_encode(p));
    }
    for seg in segments {
        out.push('/');
        out.push_str(&percent_encode(seg));
    }
    out
}

/// Bytes a path segment may carry unescaped (RFC 3986 `pchar`, minus `%`).
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

fn percent_encode(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for b in seg.bytes() {
        if is_pchar(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; `None` for malformed escapes, non-UTF-8 results or
/// raw characters that must have been escaped.
fn percent_decode(seg: &str) -> Option<String> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if is_pchar(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TD: &str = "11111111-2222-3333-4444-555555555555.consul";

    fn td() -> TrustDomain {
        TrustDomain::new(TD).unwrap()
    }

    #[test]
    fn round_trips() {
        let cases = [
            format!("spiffe://{TD}/ns/default/dc/dc1/svc/web"),
            format!("spiffe://{TD}/ap/team-a/ns/billing/dc/dc2/svc/db"),
            format!("spiffe://{TD}/agent/client/dc/dc1/id/node-1"),
            format!("spiffe://{TD}/ap/team-a/agent/client/dc/dc1/id/node-1"),
            format!("spiffe://{TD}/agent/server/dc/dc1"),
            format!("spiffe://{TD}/gateway/mesh/dc/dc1"),
            format!("spiffe://{TD}"),
            format!("spiffe://{TD}/ns/default/dc/dc1/svc/a%20b"),
        ];
        for uri in cases {
            let id = SpiffeId::parse(&uri).unwrap();
            assert_eq!(id.to_string(), uri);
        }
    }

    #[test]
    fn builders_render_consul_shapes() {
        let svc = SpiffeId::service(&td(), "default", "dc1", "web");
        assert_eq!(
            svc.to_string(),
            format!("spiffe://{TD}/ns/default/dc/dc1/svc/web")
        );
        let agent = SpiffeId::agent(&td(), "dc1", "3f2a");
        assert_eq!(
            agent.to_string(),
            format!("spiffe://{TD}/agent/client/dc/dc1/id/3f2a")
        );
        assert_eq!(
            SpiffeId::signing(&td()).to_string(),
            format!("spiffe://{TD}")
        );
        assert_eq!(svc.datacenter(), Some("dc1"));
    }

    #[test]
    fn default_partition_is_normalised() {
        let id = SpiffeId::parse(&format!(
            "spiffe://{TD}/ap/default/ns/default/dc/dc1/svc/web"
        ))
        .unwrap();
        assert_eq!(id, SpiffeId::service(&td(), "default", "dc1", "web"));
    }

    #[test]
    fn rejects_junk() {
        let bad = [
            "",
            "web",
            "https://x.consul/ns/default/dc/dc1/svc/web",
            "spiffe://",
            "spiffe://bad_host/ns/default/dc/dc1/svc/web",
            "spiffe://x.consul/ns/default/dc/dc1/svc",
            "spiffe://x.consul/ns/default/dc/dc1/svc/web/extra",
            "spiffe://x.consul/ns//dc/dc1/svc/web",
            "spiffe://x.consul/ns/default/dc/dc1/svc/web?x=1",
            "spiffe://x.consul/ns/default/dc/dc1/svc/w%zz",
            "spiffe://x.consul/ap/p/agent/server/dc/dc1",
            "spiffe://x.consul/agent/client/dc/dc1",
            "spiffe://x.consul/ns/default/dc/dc1/svc/a b",
        ];
        for uri in bad {
            assert!(SpiffeId::parse(uri).is_err(), "{uri:?} should be rejected");
        }
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let id = SpiffeId::parse(&format!("SPIFFE://{TD}/agent/server/dc/dc1")).unwrap();
        assert!(matches!(id, SpiffeId::Server { .. }));
    }
}
