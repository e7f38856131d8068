//! `proxy-defaults`: global defaults for every proxy (name must be `global`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::resolver::{FailoverPolicy, PrioritizeByLocality};
use crate::shared::{
    AccessLogsConfig, EnvoyExtension, ExposeConfig, MeshGatewayConfig, TransparentProxyConfig,
    validate_envoy_extensions, validate_meta, validate_mutual_tls_mode, validate_proxy_mode,
};

/// The only name a `proxy-defaults` entry may have.
pub const PROXY_DEFAULTS_GLOBAL: &str = "global";

/// Longest `envoy_hcp_metrics_bind_socket_dir` Consul accepts.
const MAX_SOCKET_DIR_LEN: usize = 70;

/// A `proxy-defaults` config entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProxyDefaults {
    /// Always `global`.
    #[serde(default)]
    pub name: String,
    /// Opaque proxy configuration (`protocol`, `envoy_*` keys …), kept verbatim.
    #[serde(default)]
    pub config: Option<Map<String, Value>>,
    /// Proxy mode: `""`, `direct` or `transparent`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// Transparent proxy settings.
    #[serde(default)]
    pub transparent_proxy: TransparentProxyConfig,
    /// `""`, `strict` or `permissive`.
    #[serde(
        rename = "MutualTLSMode",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub mutual_tls_mode: String,
    /// Default mesh gateway mode.
    #[serde(default)]
    pub mesh_gateway: MeshGatewayConfig,
    /// Paths exposed without mTLS.
    #[serde(default)]
    pub expose: ExposeConfig,
    /// Envoy access logs.
    #[serde(default)]
    pub access_logs: AccessLogsConfig,
    /// Envoy extensions for every proxy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub envoy_extensions: Vec<EnvoyExtension>,
    /// Default failover policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_policy: Option<FailoverPolicy>,
    /// Locality-aware routing (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prioritize_by_locality: Option<PrioritizeByLocality>,
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

// === impl ProxyDefaults ===

impl ProxyDefaults {
    /// Consul's `Normalize`: an empty name becomes `global`, any other is refused.
    pub fn normalize(&mut self) -> Result<()> {
        check_global_name(&self.name, true)?;
        self.name = PROXY_DEFAULTS_GLOBAL.to_string();
        Ok(())
    }

    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        check_global_name(&self.name, false)?;
        self.access_logs.validate()?;
        validate_meta(&self.meta)?;
        self.validate_opaque_config()?;
        validate_envoy_extensions(&self.envoy_extensions)?;
        if let Some(policy) = &self.failover_policy {
            policy.validate()?;
        }
        if let Some(pbl) = &self.prioritize_by_locality {
            pbl.validate()?;
        }
        validate_proxy_mode(&self.mode)?;
        self.mesh_gateway.validate()?;
        validate_mutual_tls_mode(&self.mutual_tls_mode)
    }

    /// The `protocol` key of `Config`, as the discovery chain reads it
    /// (empty when unset or not a string).
    pub fn protocol(&self) -> String {
        match self.config.as_ref().and_then(|c| c.get("protocol")) {
            Some(Value::String(p)) => p.clone(),
            _ => String::new(),
        }
    }

    fn validate_opaque_config(&self) -> Result<()> {
        let dir = self
            .config
            .as_ref()
            .and_then(|c| c.get("envoy_hcp_metrics_bind_socket_dir"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if dir.len() > MAX_SOCKET_DIR_LEN {
            return Err(Error::invalid(format!(
                "Config: envoy_hcp_metrics_bind_socket_dir length {} exceeds max {MAX_SOCKET_DIR_LEN}",
                dir.len()
            )));
        }
        Ok(())
    }
}

fn check_global_name(name: &str, allow_empty: bool) -> Result<()> {
    if name == PROXY_DEFAULTS_GLOBAL || (allow_empty && name.is_empty()) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "invalid name ({name:?}), only {PROXY_DEFAULTS_GLOBAL:?} is supported"
    )))
}
