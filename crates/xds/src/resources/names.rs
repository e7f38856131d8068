//! Resource, filter and stat names as Consul gives them to Envoy.

use skein_chain::{CompiledDiscoveryChain, DiscoveryTarget};

/// The cluster of the local application behind the sidecar.
pub(crate) const LOCAL_APP: &str = "local_app";
/// Name and stat prefix of the inbound listener (and its inline route).
pub(crate) const PUBLIC_LISTENER: &str = "public_listener";
/// Stat prefix of the inbound RBAC network filter.
pub(crate) const CONNECT_AUTHZ: &str = "connect_authz";
/// Prefix of the per-target clusters an aggregate (failover) cluster lists.
pub(crate) const FAILOVER_TARGET_PREFIX: &str = "failover-target~";

/// Network filter: RBAC.
pub(crate) const NETWORK_RBAC: &str = "envoy.filters.network.rbac";
/// Network filter: TCP proxy.
pub(crate) const TCP_PROXY: &str = "envoy.filters.network.tcp_proxy";
/// Network filter: HTTP connection manager.
pub(crate) const HTTP_CONNECTION_MANAGER: &str = "envoy.filters.network.http_connection_manager";
/// HTTP filter: RBAC.
pub(crate) const HTTP_RBAC: &str = "envoy.filters.http.rbac";
/// HTTP filter: router.
pub(crate) const HTTP_ROUTER: &str = "envoy.filters.http.router";
/// HTTP filter: gRPC statistics.
pub(crate) const HTTP_GRPC_STATS: &str = "envoy.filters.http.grpc_stats";
/// HTTP filter: gRPC-HTTP/1.1 bridge.
pub(crate) const HTTP_GRPC_HTTP1_BRIDGE: &str = "envoy.filters.http.grpc_http1_bridge";
/// Transport socket name of every TLS context.
pub(crate) const TLS_TRANSPORT_SOCKET: &str = "tls";
/// Custom cluster type of failover clusters.
pub(crate) const AGGREGATE_CLUSTER: &str = "envoy.clusters.aggregate";
/// Key of upstream HTTP protocol options in `typed_extension_protocol_options`.
pub(crate) const HTTP_PROTOCOL_OPTIONS: &str =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// `public_listener:<addr>:<port>`.
pub(crate) fn public_listener(address: &str, port: u16) -> String {
    format!("{PUBLIC_LISTENER}:{address}:{port}")
}

/// `<envoy_id>:<addr>:<port>`, the listener of one upstream.
pub(crate) fn upstream_listener(envoy_id: &str, address: &str, port: u16) -> String {
    format!("{envoy_id}:{address}:{port}")
}

/// `<svc>.<ns>.<partition>.<dc>`: the chain part of upstream stat
/// prefixes and the virtual host of an inline upstream route.
pub(crate) fn chain_filter_name(chain: &CompiledDiscoveryChain) -> String {
    format!(
        "{}.{}.{}.{}",
        chain.service_name,
        or_default(&chain.namespace),
        or_default(&chain.partition),
        chain.datacenter
    )
}

/// `upstream.<svc>.<ns>.<partition>.<dc>`, colons replaced by `_`.
pub(crate) fn upstream_stat_prefix(chain: &CompiledDiscoveryChain) -> String {
    format!("upstream.{}", chain_filter_name(chain)).replace(':', "_")
}

/// The cluster that serves `target`: its SNI-shaped name, behind the
/// chain's customization hash when overrides shaped the chain.
pub(crate) fn target_cluster(chain: &CompiledDiscoveryChain, target: &DiscoveryTarget) -> String {
    let base = if target.name.is_empty() {
        &target.sni
    } else {
        &target.name
    };
    if chain.customization_hash.is_empty() {
        base.clone()
    } else {
        format!("{}~{base}", chain.customization_hash)
    }
}

/// `failover-target~<cluster>`: the member of an aggregate cluster.
pub(crate) fn failover_target(cluster: &str) -> String {
    format!("{FAILOVER_TARGET_PREFIX}{cluster}")
}

/// The SPIFFE ID of a service: `spiffe://<td>[/ap/<p>]/ns/<ns>/dc/<dc>/svc/<svc>`.
pub(crate) fn spiffe_service(
    trust_domain: &str,
    partition: &str,
    namespace: &str,
    datacenter: &str,
    service: &str,
) -> String {
    format!(
        "spiffe://{trust_domain}{}/ns/{}/dc/{datacenter}/svc/{service}",
        partition_segment(partition),
        or_default(namespace)
    )
}

/// `/ap/<partition>` outside the default partition, else nothing.
pub(crate) fn partition_segment(partition: &str) -> String {
    match partition {
        "" | "default" => String::new(),
        p => format!("/ap/{p}"),
    }
}

/// `value`, or `default` when empty.
pub(crate) fn or_default(value: &str) -> &str {
    if value.is_empty() { "default" } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids_add_the_partition_only_outside_default() {
        let td = "td.consul";
        assert_eq!(
            spiffe_service(td, "", "", "dc1", "db"),
            "spiffe://td.consul/ns/default/dc/dc1/svc/db"
        );
        assert_eq!(
            spiffe_service(td, "eng", "ns1", "dc2", "db"),
            "spiffe://td.consul/ap/eng/ns/ns1/dc/dc2/svc/db"
        );
    }

    #[test]
    fn cluster_names_carry_the_customization_hash() {
        let target = DiscoveryTarget {
            sni: "db.default.dc1.internal.td.consul".into(),
            name: "db.default.dc1.internal.td.consul".into(),
            ..DiscoveryTarget::default()
        };
        let mut chain = CompiledDiscoveryChain::default();
        assert_eq!(target_cluster(&chain, &target), target.sni);
        chain.customization_hash = "abc".into();
        assert_eq!(
            target_cluster(&chain, &target),
            "abc~db.default.dc1.internal.td.consul"
        );
    }
}
