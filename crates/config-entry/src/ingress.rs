//! `ingress-gateway`: listeners of an ingress gateway and the services behind them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::serde_util::{is_zero, nil_if_empty, null_as_empty};
use crate::shared::{
    HttpHeaderModifiers, PassiveHealthCheck, is_protocol_http_like, validate_headers_for_protocol,
    validate_meta,
};
use crate::tls::validate_tls_config;

/// An `ingress-gateway` config entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IngressGateway {
    /// Name of the gateway service.
    #[serde(default)]
    pub name: String,
    /// Gateway-wide TLS (always rendered).
    #[serde(rename = "TLS", default)]
    pub tls: GatewayTlsConfig,
    /// Listeners.
    #[serde(
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_as_empty"
    )]
    pub listeners: Vec<IngressListener>,
    /// Defaults for every upstream service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<IngressServiceConfig>,
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

/// Default limits for the services of an ingress gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IngressServiceConfig {
    /// Most connections.
    #[serde(default)]
    pub max_connections: u32,
    /// Most queued requests.
    #[serde(default)]
    pub max_pending_requests: u32,
    /// Most concurrent requests.
    #[serde(default)]
    pub max_concurrent_requests: u32,
    /// Outlier detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<PassiveHealthCheck>,
}

/// One listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IngressListener {
    /// Port.
    #[serde(default)]
    pub port: i64,
    /// `tcp` (default), `http`, `http2` or `grpc`.
    #[serde(default)]
    pub protocol: String,
    /// Listener TLS.
    #[serde(rename = "TLS", default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<GatewayTlsConfig>,
    /// Services behind the listener.
    #[serde(
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_as_empty"
    )]
    pub services: Vec<IngressService>,
}

/// A service exposed on a listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IngressService {
    /// Service name, or `*` on HTTP listeners.
    #[serde(default)]
    pub name: String,
    /// Host names routed to the service (L7 only).
    #[serde(
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_as_empty"
    )]
    pub hosts: Vec<String>,
    /// Per-service certificate.
    #[serde(rename = "TLS", default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<GatewayServiceTlsConfig>,
    /// Request header edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<HttpHeaderModifiers>,
    /// Response header edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<HttpHeaderModifiers>,
    /// Most connections.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_connections: u32,
    /// Most queued requests.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_pending_requests: u32,
    /// Most concurrent requests.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_concurrent_requests: u32,
    /// Outlier detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<PassiveHealthCheck>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// TLS of a gateway or listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GatewayTlsConfig {
    /// TLS on.
    #[serde(default)]
    pub enabled: bool,
    /// Certificates from an SDS service.
    #[serde(rename = "SDS", default, skip_serializing_if = "Option::is_none")]
    pub sds: Option<GatewayTlsSdsConfig>,
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
    /// Allowed cipher suites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
}

/// TLS of one service on a listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GatewayServiceTlsConfig {
    /// Certificate from an SDS service.
    #[serde(rename = "SDS", default, skip_serializing_if = "Option::is_none")]
    pub sds: Option<GatewayTlsSdsConfig>,
}

/// SDS certificate reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GatewayTlsSdsConfig {
    /// SDS cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    /// Certificate resource name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_resource: String,
}

// === impl IngressGateway ===

impl IngressGateway {
    /// Consul's `Normalize`: listener protocols default to `tcp`, lower-cased.
    pub fn normalize(&mut self) {
        for listener in &mut self.listeners {
            if listener.protocol.is_empty() {
                listener.protocol = "tcp".to_string();
            }
            listener.protocol = listener.protocol.to_lowercase();
        }
    }

    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("Name is required"));
        }
        validate_meta(&self.meta)?;
        self.tls.validate()?;
        let mut ports = BTreeSet::new();
        for listener in &self.listeners {
            if !ports.insert(listener.port) {
                return Err(Error::invalid(format!(
                    "port {} declared on two listeners",
                    listener.port
                )));
            }
            self.validate_listener(listener)?;
        }
        Ok(())
    }

    /// Services named by the listeners (wildcards excluded).
    pub fn related_services(&self) -> BTreeSet<String> {
        self.listeners
            .iter()
            .flat_map(|l| &l.services)
            .filter(|s| s.name != "*")
            .map(|s| s.name.clone())
            .collect()
    }

    fn validate_listener(&self, l: &IngressListener) -> Result<()> {
        let port = l.port;
        if !matches!(l.protocol.as_str(), "tcp" | "http" | "http2" | "grpc") {
            return Err(Error::invalid(format!(
                "protocol must be 'tcp', 'http', 'http2', or 'grpc'. '{}' is an unsupported protocol",
                l.protocol
            )));
        }
        if l.services.is_empty() {
            return Err(Error::invalid(format!(
                "No service declared for listener with port {port}"
            )));
        }
        if !is_protocol_http_like(&l.protocol) && l.services.len() > 1 {
            return Err(Error::invalid(format!(
                "Multiple services per listener are only supported for L7 protocols, 'http', 'grpc' and 'http2' (listener on port {port})"
            )));
        }
        if let Some(tls) = &l.tls {
            tls.validate()?;
        }
        let mut hosts = BTreeSet::new();
        let mut names = BTreeSet::new();
        for svc in &l.services {
            self.validate_service(l, svc)?;
            if !names.insert(&svc.name) {
                return Err(Error::invalid(format!(
                    "Service {} cannot be added multiple times (listener on port {port})",
                    svc.name
                )));
            }
            self.validate_service_sds(l, svc)?;
            for host in &svc.hosts {
                if !hosts.insert(host) {
                    return Err(Error::invalid(format!(
                        "Hosts must be unique within a specific listener (listener on port {port})"
                    )));
                }
                validate_host(self.tls.enabled, host)?;
            }
        }
        Ok(())
    }

    fn validate_service(&self, l: &IngressListener, s: &IngressService) -> Result<()> {
        let port = l.port;
        for (which, mods) in [
            ("request", &s.request_headers),
            ("response", &s.response_headers),
        ] {
            if let Err(e) = validate_headers_for_protocol(mods.as_ref(), &l.protocol) {
                return Err(Error::invalid(format!(
                    "{which} headers {e} (service {:?} on listener on port {port})",
                    s.name
                )));
            }
        }
        let message = match () {
            _ if l.protocol == "tcp" && s.name == "*" => format!(
                "Wildcard service name is only valid for protocol = 'http' (listener on port {port})"
            ),
            _ if l.protocol == "tcp" && !s.hosts.is_empty() => format!(
                "Associating hosts to a service is not supported for the {} protocol (listener on port {port})",
                l.protocol
            ),
            _ if s.name.is_empty() => {
                format!("Service name cannot be blank (listener on port {port})")
            }
            _ if s.name == "*" && !s.hosts.is_empty() => format!(
                "Associating hosts to a wildcard service is not supported (listener on port {port})"
            ),
            _ => return Ok(()),
        };
        Err(Error::invalid(message))
    }

    /// Consul's `validateServiceSDS`: certificates need a cluster at some level.
    fn validate_service_sds(&self, l: &IngressListener, s: &IngressService) -> Result<()> {
        let port = l.port;
        let (gw_cluster, gw_cert) = sds_parts(self.tls.sds.as_ref());
        if let Some(sds) = &self.tls.sds
            && sds.cluster_name.is_empty()
            && !sds.cert_resource.is_empty()
        {
            return Err(Error::invalid(
                "TLS.SDS.ClusterName is required if CertResource is set",
            ));
        }
        let (lis_cluster, lis_cert) = sds_parts(l.tls.as_ref().and_then(|t| t.sds.as_ref()));
        let message = if gw_cluster && !gw_cert && !lis_cert {
            format!(
                "TLS.SDS.CertResource is required if ClusterName is set for gateway (listener on port {port})"
            )
        } else if lis_cluster && !lis_cert {
            format!(
                "TLS.SDS.CertResource is required if ClusterName is set for listener (listener on port {port})"
            )
        } else if lis_cert && !lis_cluster && !gw_cluster {
            format!(
                "TLS.SDS.ClusterName is required if CertResource is set (listener on port {port})"
            )
        } else {
            return validate_service_cert(s, port, lis_cluster || gw_cluster);
        };
        Err(Error::invalid(message))
    }
}

/// (cluster set, cert set) of an SDS block.
fn sds_parts(sds: Option<&GatewayTlsSdsConfig>) -> (bool, bool) {
    sds.map_or((false, false), |s| {
        (!s.cluster_name.is_empty(), !s.cert_resource.is_empty())
    })
}

fn validate_service_cert(s: &IngressService, port: i64, cluster_above: bool) -> Result<()> {
    let Some(sds) = s.tls.as_ref().and_then(|t| t.sds.as_ref()) else {
        return Ok(());
    };
    if sds.cert_resource.is_empty() {
        return Ok(());
    }
    if s.hosts.is_empty() {
        return Err(Error::invalid(format!(
            "A service specifying TLS.SDS.CertResource must have at least one item in Hosts (service {:?} on listener on port {port})",
            s.name
        )));
    }
    if sds.cluster_name.is_empty() && !cluster_above {
        return Err(Error::invalid(format!(
            "TLS.SDS.ClusterName is required if CertResource is set (service {:?} on listener on port {port})",
            s.name
        )));
    }
    Ok(())
}

/// Consul's `validateHost`.
fn validate_host(tls_enabled: bool, host: &str) -> Result<()> {
    if host == "*" {
        if tls_enabled {
            return Err(Error::invalid(
                "Host '*' is not allowed when TLS is enabled, all hosts must be valid DNS records to add as a DNSSAN",
            ));
        }
        return Ok(());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let valid_dns = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63);
    if !valid_dns {
        return Err(Error::invalid(format!(
            "Host {host:?} must be a valid DNS hostname"
        )));
    }
    if name.strip_prefix("*.").unwrap_or(name).contains('*') {
        return Err(Error::invalid(format!(
            "Host {host:?} is not valid, a wildcard specifier is only allowed as the leftmost label"
        )));
    }
    Ok(())
}

// === impl GatewayTlsConfig ===

impl GatewayTlsConfig {
    fn validate(&self) -> Result<()> {
        validate_tls_config(
            &self.tls_min_version,
            &self.tls_max_version,
            &self.cipher_suites,
        )
    }
}
