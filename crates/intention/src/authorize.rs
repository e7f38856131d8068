//! `POST /v1/agent/connect/authorize`: may the holder of a client
//! certificate (a SPIFFE service identity) connect to a target service? The
//! highest-precedence intention for the target whose source covers the client
//! decides; an L7 intention denies (it needs a request to judge); with no
//! match the default policy applies.

use serde::Serialize;

use crate::Action;
use crate::entry::ServiceIntentions;
use crate::name::{DEFAULT_PARTITION, ServiceName};
use crate::query::{MatchBy, Target, intention_covers, matches};

/// Where the default verdict comes from; it shows in the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultPolicy {
    /// The agent's `default_intention_policy` is set (`allow` = true).
    Intention {
        /// Whether the policy is `allow`.
        allow: bool,
    },
    /// Fall back to the ACL default policy (allow when ACLs are off).
    Acl {
        /// Whether the ACL default allows intentions.
        allow: bool,
    },
}

/// The authorize endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Authorization {
    /// Whether the connection is allowed.
    pub authorized: bool,
    /// Why, in Consul's words.
    pub reason: String,
}

/// A service identity from a certificate URI:
/// `spiffe://<trust-domain>[/ap/<partition>]/ns/<ns>/dc/<dc>/svc/<service>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiffeService {
    /// The trust domain (URI host); the caller checks it is the local one.
    pub trust_domain: String,
    /// Partition (`default` when the URI has none).
    pub partition: String,
    /// Namespace.
    pub namespace: String,
    /// Datacenter (never used in decisions).
    pub datacenter: String,
    /// Service name.
    pub service: String,
}

/// Decides whether `client` may connect to `target`.
pub fn authorize<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    client: &ServiceName,
    target: &ServiceName,
    default: DefaultPolicy,
) -> Authorization {
    let candidates = matches(entries, MatchBy::Destination, target);
    let who = Target {
        service: client,
        peer: "",
        by: MatchBy::Source,
    };
    match candidates.iter().find(|i| intention_covers(i, &who)) {
        Some(ixn) if ixn.permissions.is_empty() => Authorization {
            authorized: ixn.action == Some(Action::Allow),
            reason: format!("Matched L4 intention: {ixn}"),
        },
        Some(ixn) => Authorization {
            authorized: false,
            reason: format!("Matched L7 intention: {ixn}"),
        },
        None => default.authorization(),
    }
}

// === impl DefaultPolicy ===

impl DefaultPolicy {
    /// The verdict.
    pub fn allow(self) -> bool {
        match self {
            Self::Intention { allow } | Self::Acl { allow } => allow,
        }
    }

    fn authorization(self) -> Authorization {
        let reason = match self {
            Self::Intention { .. } => "Default intention policy",
            Self::Acl { .. } => "Default behavior configured by ACLs",
        };
        Authorization {
            authorized: self.allow(),
            reason: reason.to_owned(),
        }
    }
}

// === impl SpiffeService ===

impl SpiffeService {
    /// Parses a service SPIFFE ID; `None` for anything else (agents, gateways,
    /// signing IDs, malformed URIs).
    pub fn parse(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("spiffe://")?;
        let (host, path) = rest.split_once('/')?;
        let segs: Vec<&str> = path.split('/').collect();
        let (partition, tail) = match segs.as_slice() {
            ["ap", ap, tail @ ..] => (*ap, tail),
            tail => (DEFAULT_PARTITION, tail),
        };
        let ["ns", ns, "dc", dc, "svc", svc] = tail else {
            return None;
        };
        if host.is_empty() || [partition, ns, dc, svc].iter().any(|s| s.is_empty()) {
            return None;
        }
        Some(Self {
            trust_domain: host.to_owned(),
            partition: partition.to_owned(),
            namespace: (*ns).to_owned(),
            datacenter: (*dc).to_owned(),
            service: (*svc).to_owned(),
        })
    }

    /// The identity as a service name.
    pub fn service_name(&self) -> ServiceName {
        ServiceName::new(&self.partition, &self.namespace, &self.service)
    }
}
