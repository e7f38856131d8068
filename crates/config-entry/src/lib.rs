//! Consul config entries: typed structs for each kind, decoding of request
//! bodies as Consul's `/v1/config` and `consul config write` accept them,
//! Consul's `Normalize()`/`Validate()` rules, and rendering in Consul's JSON.
//!
//! ```text
//!   PUT body (JSON, any key case) ──decode_request──▶ ConfigEntry
//!        ConfigEntry ──normalize()──▶ ──validate()──▶ (skein-chain: graph checks) ──▶ store
//!        store ──to_json() / Serialize──▶ GET body
//! ```
//!
//! Owns: the entry types and their single-entry rules. Does not own storage,
//! ACLs, CAS, or rules that span entries (discovery chain protocol and
//! subset checks live in `skein-chain::validate_proposed`).
//!
//! This is the community edition's view: entries live in the default
//! namespace and partition, and Consul's "requires Consul Enterprise" errors
//! are returned for Enterprise-only fields.

#![warn(clippy::print_stdout, clippy::dbg_macro)]

mod decode;
mod duration;
mod entry;
mod error;
mod ingress;
mod keys;
mod kind;
mod lb;
mod mesh;
mod proxy_defaults;
mod resolver;
mod router;
mod serde_util;
mod service_defaults;
mod shared;
mod splitter;
mod terminating;
mod tls;

pub use decode::{decode_request, parse_request};
pub use duration::{DurationError, GoDuration, serialize_nanos, serialize_opt_nanos};
pub use entry::ConfigEntry;
pub use error::{Error, Result};
pub use ingress::{
    GatewayServiceTlsConfig, GatewayTlsConfig, GatewayTlsSdsConfig, IngressGateway,
    IngressListener, IngressService, IngressServiceConfig,
};
pub use kind::{EntryKey, Kind};
pub use lb::{CookieConfig, HashPolicy, LeastRequestConfig, LoadBalancer, RingHashConfig};
pub use mesh::{
    MESH_NAME, MeshConfig, MeshDirectionalHttpConfig, MeshDirectionalTlsConfig, MeshHttpConfig,
    MeshTlsConfig, PeeringMeshConfig, RequestNormalizationMeshConfig, TransparentProxyMeshConfig,
};
pub use proxy_defaults::{PROXY_DEFAULTS_GLOBAL, ProxyDefaults};
pub use resolver::{
    FailoverPolicy, PrioritizeByLocality, ServiceResolver, ServiceResolverFailover,
    ServiceResolverFailoverTarget, ServiceResolverRedirect, ServiceResolverSubset,
};
pub use router::{
    HttpHeaderMatch, HttpQueryParamMatch, ServiceRoute, ServiceRouteDestination,
    ServiceRouteHttpMatch, ServiceRouteMatch, ServiceRouter,
};
pub use serde_util::serialize_weight;
pub use service_defaults::{
    DestinationConfig, InstanceLevelRateLimits, InstanceLevelRouteRateLimits, RateLimits,
    ServiceDefaults, UpstreamConfig, UpstreamConfiguration,
};
pub use shared::{
    AccessLogsConfig, EnvoyExtension, ExposeConfig, ExposePath, HttpHeaderModifiers,
    MeshGatewayConfig, PassiveHealthCheck, TransparentProxyConfig, UpstreamLimits,
    is_protocol_http_like, validate_mesh_gateway_mode,
};
pub use skein_intention::ServiceIntentions;
pub use splitter::{ServiceSplit, ServiceSplitter, normalize_split_weight, scale_weight};
pub use terminating::{LinkedService, TerminatingGateway};

#[cfg(test)]
mod tests;
