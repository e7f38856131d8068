//! `service-defaults`: per-service protocol and proxy settings.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::serde_util::{is_zero, nil_if_empty, null_as_empty};
use crate::shared::{
    EnvoyExtension, ExposeConfig, MeshGatewayConfig, PassiveHealthCheck, TransparentProxyConfig,
    UpstreamLimits, validate_connection_balance, validate_envoy_extensions, validate_meta,
    validate_mutual_tls_mode, validate_proxy_mode,
};

/// A `service-defaults` config entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceDefaults {
    /// The service this entry configures.
    #[serde(default)]
    pub name: String,
    /// `tcp`, `http`, `http2`, `grpc` (lower-cased on normalize).
    #[serde(default)]
    pub protocol: String,
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
    /// Mesh gateway mode for this service's upstreams.
    #[serde(default)]
    pub mesh_gateway: MeshGatewayConfig,
    /// Paths exposed without mTLS.
    #[serde(default)]
    pub expose: ExposeConfig,
    /// SNI of a service outside the mesh.
    #[serde(
        rename = "ExternalSNI",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub external_sni: String,
    /// Settings applied to this service's upstreams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_config: Option<UpstreamConfiguration>,
    /// Makes this a virtual service for an external destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<DestinationConfig>,
    /// Inbound connection limit per instance.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_inbound_connections: i64,
    /// Local app connect timeout, in milliseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub local_connect_timeout_ms: i64,
    /// Local app request timeout, in milliseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub local_request_timeout_ms: i64,
    /// `""` or `exact_balance`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub balance_inbound_connections: String,
    /// Inbound rate limits (an Enterprise feature; stored, not enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
    /// Envoy extensions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub envoy_extensions: Vec<EnvoyExtension>,
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

/// `UpstreamConfig` of service-defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpstreamConfiguration {
    /// Per-upstream settings; `Name` is required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<UpstreamConfig>,
    /// Settings for every upstream; `Name` must be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<UpstreamConfig>,
}

/// Settings for one upstream (or all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Upstream service name (overrides only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Cluster peer of the upstream (overrides only).
    #[serde(default)]
    pub peer: String,
    /// Escape hatch: complete listener JSON.
    #[serde(
        rename = "EnvoyListenerJSON",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub envoy_listener_json: String,
    /// Escape hatch: complete cluster JSON.
    #[serde(
        rename = "EnvoyClusterJSON",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub envoy_cluster_json: String,
    /// Upstream protocol.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Connect timeout in milliseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub connect_timeout_ms: i64,
    /// Connection limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<UpstreamLimits>,
    /// Outlier detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<PassiveHealthCheck>,
    /// Mesh gateway mode for this upstream.
    #[serde(default)]
    pub mesh_gateway: MeshGatewayConfig,
    /// `""` or `exact_balance`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub balance_outbound_connections: String,
}

/// An external destination served by terminating gateways.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DestinationConfig {
    /// Hostnames or IPs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub port: i64,
}

/// Inbound rate limiting (`RateLimits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RateLimits {
    /// Per-instance limits.
    #[serde(default)]
    pub instance_level: InstanceLevelRateLimits,
}

/// Per-instance rate limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceLevelRateLimits {
    /// Average requests per second.
    #[serde(default)]
    pub requests_per_second: i64,
    /// Burst size.
    #[serde(default)]
    pub requests_max_burst: i64,
    /// Per-route limits; the first match applies.
    #[serde(
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_as_empty"
    )]
    pub routes: Vec<InstanceLevelRouteRateLimits>,
}

/// Rate limit of one route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InstanceLevelRouteRateLimits {
    /// Exact path.
    #[serde(default)]
    pub path_exact: String,
    /// Path prefix.
    #[serde(default)]
    pub path_prefix: String,
    /// Path regex.
    #[serde(default)]
    pub path_regex: String,
    /// Average requests per second.
    #[serde(default)]
    pub requests_per_second: i64,
    /// Burst size.
    #[serde(default)]
    pub requests_max_burst: i64,
}

// === impl ServiceDefaults ===

impl ServiceDefaults {
    /// Consul's `Normalize`: lower-cases protocols, clamps negative timeouts.
    pub fn normalize(&mut self) {
        self.protocol = self.protocol.to_lowercase();
        if let Some(upstreams) = &mut self.upstream_config {
            upstreams
                .overrides
                .iter_mut()
                .chain(upstreams.defaults.as_mut())
                .for_each(UpstreamConfig::normalize);
        }
    }

    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("Name is required"));
        }
        if self.name == "*" {
            return Err(Error::invalid(
                "service-defaults name must be the name of a service, and not a wildcard",
            ));
        }
        validate_meta(&self.meta)?;
        validate_connection_balance(
            "balance_inbound_connections",
            &self.balance_inbound_connections,
        )?;
        validate_proxy_mode(&self.mode)?;
        self.mesh_gateway.validate()?;
        self.validate_upstreams()?;
        if let Some(dest) = &self.destination {
            dest.validate()?;
        }
        if let Some(limits) = &self.rate_limits {
            limits.validate()?;
        }
        validate_envoy_extensions(&self.envoy_extensions)?;
        validate_mutual_tls_mode(&self.mutual_tls_mode)
    }

    fn validate_upstreams(&self) -> Result<()> {
        let Some(upstreams) = &self.upstream_config else {
            return Ok(());
        };
        if self.destination.is_some() {
            return Err(Error::invalid(
                "UpstreamConfig and Destination are mutually exclusive for service defaults",
            ));
        }
        for o in &upstreams.overrides {
            o.validate(true).map_err(|e| {
                Error::invalid(format!("error in upstream override for {}: {e}", o.name))
            })?;
        }
        if let Some(d) = &upstreams.defaults {
            d.validate(false)
                .map_err(|e| Error::invalid(format!("error in upstream defaults: {e}")))?;
        }
        Ok(())
    }
}

// === impl UpstreamConfig ===

impl UpstreamConfig {
    fn normalize(&mut self) {
        self.protocol = self.protocol.to_lowercase();
        self.connect_timeout_ms = self.connect_timeout_ms.max(0);
    }

    fn validate(&self, named: bool) -> Result<()> {
        if named && self.name.is_empty() {
            return Err(Error::invalid("Name is required"));
        }
        if named && self.name == "*" {
            return Err(Error::invalid("Wildcard name is not supported"));
        }
        if !named && !self.name.is_empty() {
            return Err(Error::invalid("Name must be empty"));
        }
        if let Some(check) = &self.passive_health_check {
            check.validate()?;
        }
        if let Some(limits) = &self.limits {
            limits.validate()?;
        }
        self.mesh_gateway.validate()?;
        validate_connection_balance(
            "balance_outbound_connections",
            &self.balance_outbound_connections,
        )
    }
}

// === impl DestinationConfig ===

impl DestinationConfig {
    fn validate(&self) -> Result<()> {
        if self.addresses.is_empty() {
            return Err(Error::invalid(
                "Destination must contain at least one valid address",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for address in &self.addresses {
            if !seen.insert(address) {
                return Err(Error::invalid(format!(
                    "Duplicate address '{address}' is not allowed"
                )));
            }
            if !is_ip_or_hostname(address) {
                return Err(Error::invalid(format!(
                    "Destination address '{address}' is invalid Could not validate address {address} as an IP or Hostname"
                )));
            }
        }
        if !(1..=65535).contains(&self.port) {
            return Err(Error::invalid(format!("Invalid Port number {}", self.port)));
        }
        Ok(())
    }
}

/// An IP address, or a DNS name without wildcards.
fn is_ip_or_hostname(address: &str) -> bool {
    if address.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = address.strip_suffix('.').unwrap_or(address);
    !name.is_empty()
        && name.len() <= 253
        && !name.contains('*')
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
}

// === impl RateLimits ===

impl RateLimits {
    fn validate(&self) -> Result<()> {
        let limits = &self.instance_level;
        if limits.requests_per_second < 0 {
            return Err(Error::invalid("RequestsPerSecond must be positive"));
        }
        if limits.requests_max_burst < 0 {
            return Err(Error::invalid("RequestsMaxBurst must be positive"));
        }
        for (i, route) in limits.routes.iter().enumerate() {
            let paths = [&route.path_exact, &route.path_prefix, &route.path_regex];
            if paths.iter().filter(|p| !p.is_empty()).count() != 1 {
                return Err(Error::invalid(format!(
                    "Route {i} should only contain either a PathExact, PathPrefix or PathRegex"
                )));
            }
            if route.requests_per_second <= 0 {
                return Err(Error::invalid(format!(
                    "Route {i} RequestsPerSecond must be greater than 0"
                )));
            }
        }
        Ok(())
    }
}
