//! `LoadBalancer` of service-resolver (also copied onto chain nodes).

use serde::{Deserialize, Serialize};

use crate::duration::{self, GoDuration};
use crate::error::{Error, Result};
use crate::serde_util::{is_false, is_zero};

/// Load-balancing policies Envoy supports through Consul.
const POLICIES: [&str; 6] = [
    "",
    "random",
    "round_robin",
    "least_request",
    "ring_hash",
    "maglev",
];

/// Fields a hash policy may hash.
const HASH_FIELDS: [&str; 3] = ["header", "cookie", "query_parameter"];

/// Load-balancing policy and its settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LoadBalancer {
    /// Policy name (see Consul's docs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy: String,
    /// Settings of `ring_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_hash_config: Option<RingHashConfig>,
    /// Settings of `least_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub least_request_config: Option<LeastRequestConfig>,
    /// What hash-based policies hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hash_policies: Vec<HashPolicy>,
}

/// `ring_hash` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RingHashConfig {
    /// Minimum ring size.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minimum_ring_size: u64,
    /// Maximum ring size.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub maximum_ring_size: u64,
}

/// `least_request` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LeastRequestConfig {
    /// Hosts sampled per pick.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub choice_count: u32,
}

/// One hash input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HashPolicy {
    /// `header`, `cookie` or `query_parameter`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// Name of the header, cookie or parameter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_value: String,
    /// Cookie generation settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_config: Option<CookieConfig>,
    /// Hash the source IP instead of a field.
    #[serde(rename = "SourceIP", default, skip_serializing_if = "is_false")]
    pub source_ip: bool,
    /// Stop at this policy when it yields a hash.
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminal: bool,
}

/// Settings of a generated cookie.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CookieConfig {
    /// A session cookie (no expiry).
    #[serde(default, skip_serializing_if = "is_false")]
    pub session: bool,
    /// Cookie lifetime (rendered as nanoseconds, like Go).
    #[serde(
        rename = "TTL",
        default,
        skip_serializing_if = "GoDuration::is_zero",
        serialize_with = "duration::serialize_nanos"
    )]
    pub ttl: GoDuration,
    /// Cookie path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

// === impl LoadBalancer ===

impl LoadBalancer {
    /// Whether the policy hashes requests (`ring_hash`, `maglev`).
    pub fn is_hash_based(&self) -> bool {
        matches!(self.policy.as_str(), "ring_hash" | "maglev")
    }

    /// The load-balancer rules of Consul's resolver `Validate`.
    pub fn validate(&self) -> Result<()> {
        let policy = &self.policy;
        if !POLICIES.contains(&policy.as_str()) {
            return Err(Error::invalid(format!(
                "Bad LoadBalancer policy: {policy:?} is not supported"
            )));
        }
        if policy != "ring_hash" && self.ring_hash_config.is_some() {
            return Err(Error::invalid(format!(
                "Bad LoadBalancer configuration. RingHashConfig specified for incompatible load balancing policy {policy:?}"
            )));
        }
        if policy != "least_request" && self.least_request_config.is_some() {
            return Err(Error::invalid(format!(
                "Bad LoadBalancer configuration. LeastRequestConfig specified for incompatible load balancing policy {policy:?}"
            )));
        }
        if !self.is_hash_based() && !self.hash_policies.is_empty() {
            return Err(Error::invalid(format!(
                "Bad LoadBalancer configuration: HashPolicies specified for non-hash-based Policy: {policy:?}"
            )));
        }
        for (i, hp) in self.hash_policies.iter().enumerate() {
            hp.validate()
                .map_err(|e| Error::invalid(format!("Bad LoadBalancer HashPolicy[{i}]: {e}")))?;
        }
        Ok(())
    }
}

// === impl HashPolicy ===

impl HashPolicy {
    fn validate(&self) -> std::result::Result<(), String> {
        let field = &self.field;
        if !field.is_empty() && !HASH_FIELDS.contains(&field.as_str()) {
            return Err(format!("{field:?} is not a supported field"));
        }
        if self.source_ip && !field.is_empty() {
            return Err(format!(
                "A single hash policy cannot hash both a source address and a {field:?}"
            ));
        }
        if self.source_ip && !self.field_value.is_empty() {
            return Err("A FieldValue cannot be specified when hashing SourceIP".into());
        }
        if !field.is_empty() && self.field_value.is_empty() {
            return Err(format!(
                "Field {field:?} was specified without a FieldValue"
            ));
        }
        if !self.field_value.is_empty() && field.is_empty() {
            return Err("FieldValue requires a Field to apply to".into());
        }
        if let Some(cookie) = &self.cookie_config {
            if field != "cookie" {
                return Err(format!("cookie_config provided for {field:?}"));
            }
            if cookie.session && !cookie.ttl.is_zero() {
                return Err("a session cookie cannot have an associated TTL".into());
            }
        }
        Ok(())
    }
}
