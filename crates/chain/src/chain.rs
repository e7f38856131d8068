//! The compiled discovery chain, in the JSON shape of Consul's
//! `structs.CompiledDiscoveryChain` (what `/v1/discovery-chain/:service`
//! answers inside `{"Chain": …}`).

use std::collections::BTreeMap;

use serde::Serialize;
use skein_config_entry::{
    EnvoyExtension, FailoverPolicy, GoDuration, LoadBalancer, MeshGatewayConfig, ServiceRoute,
    ServiceSplit, TransparentProxyConfig, serialize_nanos, serialize_weight,
};

/// Graph node type names.
pub const NODE_ROUTER: &str = "router";
/// Graph node type names.
pub const NODE_SPLITTER: &str = "splitter";
/// Graph node type names.
pub const NODE_RESOLVER: &str = "resolver";

/// The body of `GET /v1/discovery-chain/:service`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryChainResponse {
    /// The compiled chain.
    pub chain: CompiledDiscoveryChain,
}

/// A compiled discovery chain: a graph of router, splitter and resolver
/// nodes starting at `StartNode`, plus the targets the resolvers pick.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompiledDiscoveryChain {
    /// The service the chain was compiled for.
    pub service_name: String,
    /// Namespace it was compiled in.
    pub namespace: String,
    /// Partition it was compiled in.
    pub partition: String,
    /// Datacenter it was compiled in.
    pub datacenter: String,
    /// Set when overrides changed the result; prefixes load balancer names.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub customization_hash: String,
    /// No router, splitter or non-default resolver shaped this chain.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// The protocol shared by the whole chain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// `Meta` of the service's service-defaults.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_meta: BTreeMap<String, String>,
    /// Envoy extensions from proxy-defaults then service-defaults.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub envoy_extensions: Vec<EnvoyExtension>,
    /// Key of the first node in `Nodes`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start_node: String,
    /// Nodes by key (`router:…`, `splitter:…`, `resolver:…`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub nodes: BTreeMap<String, DiscoveryGraphNode>,
    /// Targets by ID.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, DiscoveryTarget>,
    /// Virtual IP assigned to the service (transparent proxy).
    #[serde(rename = "AutoVirtualIPs")]
    pub auto_virtual_ips: Option<Vec<String>>,
    /// Virtual IPs assigned by hand.
    #[serde(rename = "ManualVirtualIPs")]
    pub manual_virtual_ips: Option<Vec<String>>,
}

/// One node of the chain graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryGraphNode {
    /// `router`, `splitter` or `resolver`.
    pub r#type: String,
    /// `svc.ns.partition` for routers and splitters, the target ID for resolvers.
    pub name: String,
    /// Routes of a router, the implicit catch-all last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<DiscoveryRoute>,
    /// Splits of a splitter (nested splitters flattened).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<DiscoverySplit>,
    /// Resolution of a resolver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<DiscoveryResolver>,
    /// Load balancer of a resolver, or the first hash-based one below a splitter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancer>,
}

/// A compiled route.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryRoute {
    /// The route as configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<ServiceRoute>,
    /// Key of the node the route leads to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_node: String,
}

/// A compiled split leg.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverySplit {
    /// The split as configured (merged with parents when flattened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<ServiceSplit>,
    /// Effective weight after flattening.
    #[serde(
        skip_serializing_if = "is_zero_weight",
        serialize_with = "serialize_weight"
    )]
    pub weight: f32,
    /// Key of the node the leg leads to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_node: String,
}

/// Compiled form of a service-resolver.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryResolver {
    /// The resolver entry is absent or configures nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Connect timeout (Go duration string).
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub connect_timeout: GoDuration,
    /// Request timeout (integer nanoseconds, as Consul renders it here).
    #[serde(
        skip_serializing_if = "GoDuration::is_zero",
        serialize_with = "serialize_nanos"
    )]
    pub request_timeout: GoDuration,
    /// ID of the target resolved.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Failover targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<DiscoveryFailover>,
}

/// Compiled failover: target IDs tried in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryFailover {
    /// Target IDs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Ordering policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<FailoverPolicy>,
    /// Regions (locality ordering).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// Everything needed to query the catalog for one set of instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryTarget {
    /// `[subset.]service.namespace.partition.datacenter`.
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Subset.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Datacenter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Cluster peer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peer: String,
    /// Mesh gateway mode for this target.
    pub mesh_gateway: MeshGatewayConfig,
    /// The subset definition (filter, only-passing).
    pub subset: skein_config_entry::ServiceResolverSubset,
    /// Transparent proxy settings (`DialedDirectly`).
    pub transparent_proxy: TransparentProxyConfig,
    /// Connect timeout (Go duration string).
    #[serde(skip_serializing_if = "GoDuration::is_zero")]
    pub connect_timeout: GoDuration,
    /// Outside the mesh (service-defaults `ExternalSNI`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// SNI used to reach the target.
    #[serde(rename = "SNI", skip_serializing_if = "String::is_empty")]
    pub sni: String,
    /// Load balancer object name (the SNI before customizations).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// The identity of a target, before defaults are filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TargetOpts {
    pub(crate) service: String,
    pub(crate) service_subset: String,
    pub(crate) namespace: String,
    pub(crate) partition: String,
    pub(crate) datacenter: String,
    pub(crate) peer: String,
}

fn is_zero_weight(w: &f32) -> bool {
    *w == 0.0
}

// === impl DiscoveryGraphNode ===

impl DiscoveryGraphNode {
    /// `type:name`, the key of the node in `Nodes`.
    pub fn map_key(&self) -> String {
        format!("{}:{}", self.r#type, self.name)
    }

    /// Whether this is a router node.
    pub fn is_router(&self) -> bool {
        self.r#type == NODE_ROUTER
    }

    /// Whether this is a splitter node.
    pub fn is_splitter(&self) -> bool {
        self.r#type == NODE_SPLITTER
    }

    /// Whether this is a resolver node.
    pub fn is_resolver(&self) -> bool {
        self.r#type == NODE_RESOLVER
    }

    /// The keys of the nodes this one leads to.
    pub fn next_nodes(&self) -> Vec<&str> {
        let routes = self.routes.iter().map(|r| r.next_node.as_str());
        let splits = self.splits.iter().map(|s| s.next_node.as_str());
        routes.chain(splits).collect()
    }
}

// === impl DiscoveryTarget ===

impl DiscoveryTarget {
    pub(crate) fn new(opts: &TargetOpts) -> DiscoveryTarget {
        DiscoveryTarget {
            id: chain_id(opts),
            service: opts.service.clone(),
            service_subset: opts.service_subset.clone(),
            namespace: opts.namespace.clone(),
            partition: opts.partition.clone(),
            datacenter: opts.datacenter.clone(),
            peer: opts.peer.clone(),
            ..DiscoveryTarget::default()
        }
    }

    pub(crate) fn opts(&self) -> TargetOpts {
        TargetOpts {
            service: self.service.clone(),
            service_subset: self.service_subset.clone(),
            namespace: self.namespace.clone(),
            partition: self.partition.clone(),
            datacenter: self.datacenter.clone(),
            peer: self.peer.clone(),
        }
    }
}

/// Consul's `ChainID`: the target ID format, close to the SNI format.
pub(crate) fn chain_id(o: &TargetOpts) -> String {
    if !o.peer.is_empty() {
        return format!(
            "{}.{}.{}.external.{}",
            o.service, o.namespace, o.partition, o.peer
        );
    }
    if o.service_subset.is_empty() {
        return format!(
            "{}.{}.{}.{}",
            o.service, o.namespace, o.partition, o.datacenter
        );
    }
    format!(
        "{}.{}.{}.{}.{}",
        o.service_subset, o.service, o.namespace, o.partition, o.datacenter
    )
}

/// Consul's `connect.ServiceSNI`: `[subset.]svc.ns.dc.internal.<td>` in the
/// default partition, `[subset.]svc.ns.partition.dc.internal-v1.<td>` elsewhere.
pub fn service_sni(
    service: &str,
    subset: &str,
    namespace: &str,
    partition: &str,
    datacenter: &str,
    trust_domain: &str,
) -> String {
    let namespace = if namespace.is_empty() {
        "default"
    } else {
        namespace
    };
    let prefix = if subset.is_empty() {
        String::new()
    } else {
        format!("{subset}.")
    };
    match partition {
        "" | "default" => {
            format!("{prefix}{service}.{namespace}.{datacenter}.internal.{trust_domain}")
        }
        _ => format!(
            "{prefix}{service}.{namespace}.{partition}.{datacenter}.internal-v1.{trust_domain}"
        ),
    }
}
