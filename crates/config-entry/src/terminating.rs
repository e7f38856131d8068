//! `terminating-gateway`: services reached through a terminating gateway.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::serde_util::{nil_if_empty, null_as_empty};
use crate::shared::validate_meta;

/// A `terminating-gateway` config entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TerminatingGateway {
    /// Name of the gateway service.
    #[serde(default)]
    pub name: String,
    /// Linked services.
    #[serde(
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_as_empty"
    )]
    pub services: Vec<LinkedService>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// Raft index of creation.
    #[serde(default)]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default)]
    pub modify_index: u64,
}

/// A service behind a terminating gateway, with optional TLS origination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LinkedService {
    /// Service name (`*` links every service).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// CA file for TLS to the service.
    #[serde(rename = "CAFile", default, skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    /// Client certificate file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// Client key file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// SNI sent to the service.
    #[serde(rename = "SNI", default, skip_serializing_if = "String::is_empty")]
    pub sni: String,
}

// === impl TerminatingGateway ===

impl TerminatingGateway {
    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("Name is required"));
        }
        validate_meta(&self.meta)?;
        let mut seen = BTreeSet::new();
        for svc in &self.services {
            if svc.name.is_empty() {
                return Err(Error::invalid("Service name cannot be blank."));
            }
            if !seen.insert(&svc.name) {
                return Err(Error::invalid(format!(
                    "Service {:?} was specified more than once within a namespace",
                    svc.name
                )));
            }
            let client_cert = !svc.cert_file.is_empty() || !svc.key_file.is_empty();
            let all_three =
                !svc.ca_file.is_empty() && !svc.cert_file.is_empty() && !svc.key_file.is_empty();
            if client_cert && !all_three {
                return Err(Error::invalid(format!(
                    "Service {:?} must have a CertFile, CAFile, and KeyFile specified for TLS origination",
                    svc.name
                )));
            }
        }
        Ok(())
    }

    /// Consul's `Warnings`: TLS without SNI.
    pub fn warnings(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|s| {
                (!s.ca_file.is_empty() || !s.cert_file.is_empty() || !s.key_file.is_empty())
                    && s.sni.is_empty()
            })
            .map(|s| {
                format!(
                    "TLS is configured but SNI is not set for service {:?}. Enabling SNI is strongly recommended when using TLS.",
                    s.name
                )
            })
            .collect()
    }
}
