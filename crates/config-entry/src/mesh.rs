//! `mesh`: mesh-wide settings (the single entry is named `mesh`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::serde_util::is_false;
use crate::shared::validate_meta;
use crate::tls::validate_tls_config;

/// The name of the one `mesh` entry.
pub const MESH_NAME: &str = "mesh";

const ESCAPED_SLASHES_ACTIONS: [&str; 5] = [
    "IMPLEMENTATION_SPECIFIC_DEFAULT",
    "KEEP_UNCHANGED",
    "REJECT_REQUEST",
    "UNESCAPE_AND_REDIRECT",
    "UNESCAPE_AND_FORWARD",
];

const UNDERSCORES_ACTIONS: [&str; 3] = ["ALLOW", "REJECT_REQUEST", "DROP_HEADER"];

/// The `mesh` config entry. Consul renders it without a `Name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MeshConfig {
    /// Transparent-proxy settings for the whole mesh.
    #[serde(default)]
    pub transparent_proxy: TransparentProxyMeshConfig,
    /// Allows `MutualTLSMode = "permissive"` elsewhere.
    #[serde(
        rename = "AllowEnablingPermissiveMutualTLS",
        default,
        skip_serializing_if = "is_false"
    )]
    pub allow_enabling_permissive_mutual_tls: bool,
    /// Envoy's `validate_clusters` on route tables.
    #[serde(default, skip_serializing_if = "is_false")]
    pub validate_clusters: bool,
    /// Mesh-wide TLS parameters.
    #[serde(rename = "TLS", default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<MeshTlsConfig>,
    /// Mesh-wide HTTP settings.
    #[serde(rename = "HTTP", default, skip_serializing_if = "Option::is_none")]
    pub http: Option<MeshHttpConfig>,
    /// Peering settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering: Option<PeeringMeshConfig>,
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

/// `TransparentProxy` of the mesh entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TransparentProxyMeshConfig {
    /// Only allow traffic to destinations inside the mesh.
    #[serde(default)]
    pub mesh_destinations_only: bool,
}

/// `TLS` of the mesh entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MeshTlsConfig {
    /// Inbound TLS parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<MeshDirectionalTlsConfig>,
    /// Outbound TLS parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<MeshDirectionalTlsConfig>,
}

/// TLS parameters of one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MeshDirectionalTlsConfig {
    /// Lowest TLS version.
    #[serde(
        rename = "TLSMinVersion",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub tls_min_version: String,
    /// Highest TLS version.
    #[serde(
        rename = "TLSMaxVersion",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub tls_max_version: String,
    /// Allowed cipher suites (TLS ≤ 1.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
}

/// `HTTP` of the mesh entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MeshHttpConfig {
    /// Sanitize `X-Forwarded-Client-Cert`.
    #[serde(default)]
    pub sanitize_x_forwarded_client_cert: bool,
    /// Settings for incoming HTTP traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<MeshDirectionalHttpConfig>,
}

/// Incoming HTTP settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MeshDirectionalHttpConfig {
    /// Path and header normalization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_normalization: Option<RequestNormalizationMeshConfig>,
}

/// Request normalization of inbound HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RequestNormalizationMeshConfig {
    /// Turn off RFC 3986 path normalization.
    #[serde(default)]
    pub insecure_disable_path_normalization: bool,
    /// Merge repeated slashes.
    #[serde(default)]
    pub merge_slashes: bool,
    /// Envoy's `path_with_escaped_slashes_action`.
    #[serde(default)]
    pub path_with_escaped_slashes_action: String,
    /// Envoy's `headers_with_underscores_action`.
    #[serde(default)]
    pub headers_with_underscores_action: String,
}

/// `Peering` of the mesh entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PeeringMeshConfig {
    /// Route peering control-plane traffic through mesh gateways.
    #[serde(default)]
    pub peer_through_mesh_gateways: bool,
}

// === impl MeshConfig ===

impl MeshConfig {
    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        validate_meta(&self.meta)?;
        if let Some(tls) = &self.tls {
            for (direction, cfg) in [("incoming", &tls.incoming), ("outgoing", &tls.outgoing)] {
                if let Some(cfg) = cfg {
                    validate_tls_config(
                        &cfg.tls_min_version,
                        &cfg.tls_max_version,
                        &cfg.cipher_suites,
                    )
                    .map_err(|e| {
                        Error::invalid(format!("error in {direction} TLS configuration: {e}"))
                    })?;
                }
            }
        }
        let normalization = self
            .http
            .as_ref()
            .and_then(|h| h.incoming.as_ref())
            .and_then(|i| i.request_normalization.as_ref());
        if let Some(rn) = normalization {
            rn.validate().map_err(|e| {
                Error::invalid(format!(
                    "error in HTTP incoming request normalization configuration: {e}"
                ))
            })?;
        }
        Ok(())
    }
}

// === impl RequestNormalizationMeshConfig ===

impl RequestNormalizationMeshConfig {
    fn validate(&self) -> std::result::Result<(), String> {
        check_enum(
            "PathWithEscapedSlashesAction",
            &self.path_with_escaped_slashes_action,
            &ESCAPED_SLASHES_ACTIONS,
        )?;
        check_enum(
            "HeadersWithUnderscoresAction",
            &self.headers_with_underscores_action,
            &UNDERSCORES_ACTIONS,
        )
    }
}

fn check_enum(field: &str, value: &str, allowed: &[&str]) -> std::result::Result<(), String> {
    if value.is_empty() || allowed.contains(&value) {
        return Ok(());
    }
    Err(format!(
        "no matching {field} value found for {value}, please specify one of [{}]",
        allowed.join(", ")
    ))
}
