//! The data one proxy's Envoy configuration is built from.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use skein_chain::CompiledDiscoveryChain;
use skein_config_entry::AccessLogsConfig;
use skein_intention::Intention;

/// What kind of proxy a snapshot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyKind {
    /// A sidecar (`Kind: connect-proxy`).
    ConnectProxy,
}

/// Everything an Envoy sidecar's resources are made from, at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxySnapshot {
    /// The proxy kind.
    pub kind: ProxyKind,
    /// Service ID of the proxy registration (Envoy's `node.id`).
    pub proxy_id: String,
    /// Service name of the proxy registration.
    pub proxy_service: String,
    /// `Proxy.DestinationServiceName`: the service this sidecar fronts.
    pub destination: String,
    /// `Proxy.DestinationServiceID`.
    pub destination_id: String,
    /// Address the public listener binds (the proxy's `Address`, else
    /// `bind_address` from the proxy config, else `0.0.0.0`).
    pub bind_address: String,
    /// Port the public listener binds (the proxy's `Port`, else `bind_port`).
    pub bind_port: u16,
    /// `Proxy.LocalServiceAddress` (default `127.0.0.1`).
    pub local_service_address: String,
    /// `Proxy.LocalServicePort`.
    pub local_service_port: u16,
    /// `Proxy.Config` merged over `proxy-defaults` (opaque keys such as
    /// `protocol`, `local_connect_timeout_ms`, `bind_address`).
    pub config: Map<String, Value>,
    /// Protocol of the destination service (`tcp`, `http`, `http2`,
    /// `grpc`): service-defaults, else proxy-defaults, else `tcp`.
    pub protocol: String,
    /// Local datacenter.
    pub datacenter: String,
    /// SPIFFE trust domain (`<cluster-id>.consul`).
    pub trust_domain: String,
    /// This proxy's leaf certificate (for its destination service).
    pub leaf: LeafCert,
    /// PEMs of the CA roots to trust (every root, active first).
    pub roots: Vec<String>,
    /// Intentions whose destination covers `destination`, highest
    /// precedence first (as `skein_intention::matches` orders them).
    pub intentions: Vec<Intention>,
    /// What traffic no intention matches gets: allowed or denied.
    pub default_allow: bool,
    /// `AccessLogs` of `proxy-defaults` (off by default).
    pub access_logs: AccessLogsConfig,
    /// Explicit upstreams, in registration order.
    pub upstreams: Vec<UpstreamSnapshot>,
    /// Endpoints of every chain target, by target ID
    /// (`[subset.]service.namespace.partition.datacenter`).
    pub endpoints: BTreeMap<String, Vec<Endpoint>>,
}

/// A leaf certificate and its private key, as PEM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeafCert {
    /// Certificate chain (leaf first, then intermediates).
    pub cert_pem: String,
    /// PKCS#8 private key.
    pub key_pem: String,
}

/// One explicit upstream of the proxy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpstreamSnapshot {
    /// Envoy's name for the upstream: the destination name, with
    /// `?dc=<dc>` when a datacenter is given (Consul's `EnvoyID`).
    pub envoy_id: String,
    /// `DestinationName`.
    pub destination_name: String,
    /// `Datacenter`, empty for the local one.
    pub datacenter: String,
    /// `LocalBindAddress` (default `127.0.0.1`).
    pub local_bind_address: String,
    /// `LocalBindPort`.
    pub local_bind_port: u16,
    /// `Config` of the upstream (opaque keys such as `protocol`,
    /// `connect_timeout_ms`).
    pub config: Map<String, Value>,
    /// The compiled discovery chain for `destination_name`.
    pub chain: CompiledDiscoveryChain,
}

/// One instance of a chain target, as Envoy should see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Address to connect to (the sidecar proxy's address of the instance).
    pub address: String,
    /// Port (the instance's sidecar proxy port).
    pub port: u16,
    /// Health as Envoy should treat it.
    pub health: EndpointHealth,
    /// Load-balancing weight (at least 1).
    pub weight: u32,
    /// Node the instance runs on.
    pub node: String,
    /// Service ID of the instance's proxy.
    pub service_id: String,
}

/// Health of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EndpointHealth {
    /// No check is critical.
    Healthy,
    /// Some check is critical.
    Unhealthy,
}
