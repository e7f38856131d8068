//! Leaf certificates: the signing request a server answers and the
//! `IssuedCert` record it returns.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::time;

/// Consul's default `LeafCertTTL` (72h).
pub const DEFAULT_LEAF_CERT_TTL: Duration = Duration::from_secs(72 * 3600);

/// One CSR to sign, with everything that is not the CA itself.
#[derive(Clone, Copy, Debug)]
pub struct SignRequest<'a> {
    /// The CSR, PEM.
    pub csr_pem: &'a str,
    /// This server's datacenter; service and gateway CSRs must name it.
    pub datacenter: &'a str,
    /// Leaf lifetime, counted from the backdated NotBefore.
    pub leaf_ttl: Duration,
    /// Serial number (Consul takes it from a counter kept in Raft).
    pub serial: u64,
    /// The current time.
    pub now: SystemTime,
}

/// A signed leaf, with the fields and JSON names of Consul's `IssuedCert`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IssuedCert {
    /// Serial number, colon hex.
    pub serial_number: String,
    /// The leaf followed by the active root's intermediates, PEM.
    #[serde(rename = "CertPEM", skip_serializing_if = "String::is_empty", default)]
    pub cert_pem: String,
    /// The leaf's private key, PEM. Filled only by the agent, which made it.
    #[serde(
        rename = "PrivateKeyPEM",
        skip_serializing_if = "String::is_empty",
        default
    )]
    pub private_key_pem: String,
    /// Service name, for service leaves.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub service: String,
    /// The service's SPIFFE ID.
    #[serde(
        rename = "ServiceURI",
        skip_serializing_if = "String::is_empty",
        default
    )]
    pub service_uri: String,
    /// Node name, for agent leaves.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub agent: String,
    /// The agent's SPIFFE ID.
    #[serde(rename = "AgentURI", skip_serializing_if = "String::is_empty", default)]
    pub agent_uri: String,
    /// `"mesh-gateway"` for gateway leaves.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub kind: String,
    /// The gateway's SPIFFE ID.
    #[serde(rename = "KindURI", skip_serializing_if = "String::is_empty", default)]
    pub kind_uri: String,
    /// Start of validity (one minute before signing).
    #[serde(with = "time::rfc3339")]
    pub valid_after: SystemTime,
    /// End of validity.
    #[serde(with = "time::rfc3339")]
    pub valid_before: SystemTime,
    /// Raft index of creation.
    #[serde(default)]
    pub create_index: u64,
    /// Raft index of last change.
    #[serde(default)]
    pub modify_index: u64,
}

// === impl SignRequest ===

impl<'a> SignRequest<'a> {
    /// A request with the default 72h TTL.
    pub fn new(csr_pem: &'a str, datacenter: &'a str, serial: u64, now: SystemTime) -> Self {
        SignRequest {
            csr_pem,
            datacenter,
            leaf_ttl: DEFAULT_LEAF_CERT_TTL,
            serial,
            now,
        }
    }
}
