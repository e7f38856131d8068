//! The trust domain: the authority part of every SPIFFE ID the cluster issues.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The trust domain's fixed top-level label, whatever the DNS domain is.
const TLD: &str = ".consul";

/// A SPIFFE trust domain such as `11111111-2222-3333-4444-555555555555.consul`.
///
/// Stored lowercase; comparisons are therefore case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustDomain(String);

// === impl TrustDomain ===

impl TrustDomain {
    /// The trust domain of the cluster with this ID: `<cluster-id>.consul`.
    pub fn for_cluster(cluster_id: &str) -> Result<Self> {
        if uuid::Uuid::try_parse(cluster_id).is_err() {
            return Err(Error::InvalidClusterId {
                value: cluster_id.to_owned(),
            });
        }
        Self::new(&format!("{cluster_id}{TLD}"))
    }

    /// Checks any trust domain (for IDs issued elsewhere): a DNS name of
    /// letters, digits, `-` and `.`.
    pub fn new(value: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidTrustDomain {
            value: value.to_owned(),
            reason,
        };
        if value.is_empty() || value.len() > 255 {
            return Err(invalid("must be 1 to 255 characters"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
        if !value.chars().all(allowed) {
            return Err(invalid("only letters, digits, '-' and '.' are allowed"));
        }
        if value.split('.').any(str::is_empty) {
            return Err(invalid("empty DNS label"));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    /// The trust domain as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cluster ID this trust domain was made from, when it has the
    /// `<cluster-id>.consul` shape.
    pub fn cluster_id(&self) -> Option<&str> {
        self.0.strip_suffix(TLD)
    }

    /// The CA's own SPIFFE URI, `spiffe://<trust-domain>`, carried by roots.
    pub fn signing_uri(&self) -> String {
        format!("spiffe://{}", self.0)
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TrustDomain {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::new(&value)
    }
}

impl From<TrustDomain> for String {
    fn from(td: TrustDomain) -> String {
        td.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_cluster_appends_consul() {
        let td = TrustDomain::for_cluster("11111111-2222-3333-4444-555555555555").unwrap();
        assert_eq!(td.as_str(), "11111111-2222-3333-4444-555555555555.consul");
        assert_eq!(
            td.cluster_id(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(
            td.signing_uri(),
            "spiffe://11111111-2222-3333-4444-555555555555.consul"
        );
    }

    #[test]
    fn rejects_junk() {
        assert!(TrustDomain::for_cluster("not-a-uuid").is_err());
        for bad in ["", "a..b", ".a", "a/b", "a b", "a_b"] {
            assert!(TrustDomain::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            TrustDomain::new("Foo.Consul").unwrap().as_str(),
            "foo.consul"
        );
    }
}
