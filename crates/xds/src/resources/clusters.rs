//! Clusters (CDS): `local_app`, one EDS cluster per chain target (named by
//! SNI, mTLS to the target's identity), and aggregate clusters for
//! failover.

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, OutlierDetection, circuit_breakers, cluster,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use envoy_types::pb::envoy::extensions::clusters::aggregate::v3::ClusterConfig;
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::pb::google::protobuf::Duration;
use envoy_types::util::pack_any;
use skein_proxycfg::ProxySnapshot;

use super::config::{self, Limits};
use super::plan::{self, AggregateCluster, PlannedCluster, TargetCluster};
use super::{lb, names, proto, tls};
use crate::error::Result;

/// `local_app`, then the clusters of every upstream's chain.
pub(crate) fn build(s: &ProxySnapshot) -> Result<Vec<Cluster>> {
    let mut out = vec![local_app(s)];
    for planned in plan::clusters(s)? {
        out.push(match planned {
            PlannedCluster::Target(t) => target_cluster(s, &t)?,
            PlannedCluster::Aggregate(a) => aggregate_cluster(&a),
        });
    }
    Ok(out)
}

/// STATIC cluster to the local application.
fn local_app(s: &ProxySnapshot) -> Cluster {
    let endpoint = LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(proto::socket_address(
                &s.local_service_address,
                s.local_service_port,
            )),
            ..Endpoint::default()
        })),
        ..LbEndpoint::default()
    };
    let mut c = Cluster {
        name: names::LOCAL_APP.to_owned(),
        cluster_discovery_type: Some(discovery_type(cluster::DiscoveryType::Static)),
        connect_timeout: Some(proto::millis(config::local_connect_timeout_ms(s))),
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: names::LOCAL_APP.to_owned(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![endpoint],
                ..LocalityLbEndpoints::default()
            }],
            ..ClusterLoadAssignment::default()
        }),
        ..Cluster::default()
    };
    if config::local_protocol(s).is_http2() {
        c.typed_extension_protocol_options = proto::http2_protocol_options();
    }
    c
}

/// EDS cluster of one target: panic mode off, default outlier detection,
/// mTLS expecting the target service's SPIFFE ID.
fn target_cluster(s: &ProxySnapshot, t: &TargetCluster<'_>) -> Result<Cluster> {
    let protocol = config::upstream_protocol(t.upstream);
    let mut c = Cluster {
        name: t.name.clone(),
        alt_stat_name: t.name.clone(),
        cluster_discovery_type: Some(discovery_type(cluster::DiscoveryType::Eds)),
        eds_cluster_config: Some(cluster::EdsClusterConfig {
            eds_config: Some(proto::ads_config_source()),
            ..cluster::EdsClusterConfig::default()
        }),
        connect_timeout: Some(connect_timeout(t.upstream, t.resolver)),
        common_lb_config: Some(cluster::CommonLbConfig {
            healthy_panic_threshold: Some(Percent { value: 0.0 }),
            ..cluster::CommonLbConfig::default()
        }),
        circuit_breakers: Some(CircuitBreakers {
            thresholds: config::upstream_limits(t.upstream)
                .map(thresholds)
                .into_iter()
                .collect(),
            ..CircuitBreakers::default()
        }),
        outlier_detection: Some(OutlierDetection::default()),
        transport_socket: Some(tls::upstream(s, t.target, protocol)),
        ..Cluster::default()
    };
    if protocol.is_http2() {
        c.typed_extension_protocol_options = proto::http2_protocol_options();
    }
    lb::apply_to_cluster(t.load_balancer, &mut c)?;
    Ok(c)
}

/// `envoy.clusters.aggregate` over the failover members, in order.
fn aggregate_cluster(a: &AggregateCluster<'_>) -> Cluster {
    let config = ClusterConfig {
        clusters: a.members.clone(),
    };
    Cluster {
        name: a.name.clone(),
        alt_stat_name: a.name.clone(),
        connect_timeout: Some(connect_timeout(a.upstream, a.resolver)),
        lb_policy: cluster::LbPolicy::ClusterProvided as i32,
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::ClusterType(
            cluster::CustomClusterType {
                name: names::AGGREGATE_CLUSTER.to_owned(),
                typed_config: Some(pack_any(config)),
            },
        )),
        ..Cluster::default()
    }
}

/// The upstream's `connect_timeout_ms`, else the resolver's, else 5s.
fn connect_timeout(
    u: &skein_proxycfg::UpstreamSnapshot,
    resolver: &skein_chain::DiscoveryResolver,
) -> Duration {
    if let Some(ms) = config::upstream_connect_timeout_ms(u) {
        return proto::millis(ms);
    }
    if resolver.connect_timeout.as_nanos() > 0 {
        return proto::go_duration(resolver.connect_timeout);
    }
    proto::millis(config::DEFAULT_CONNECT_TIMEOUT_MS)
}

fn thresholds(limits: Limits) -> circuit_breakers::Thresholds {
    circuit_breakers::Thresholds {
        max_connections: limits.max_connections.map(proto::uint32),
        max_pending_requests: limits.max_pending_requests.map(proto::uint32),
        max_requests: limits.max_concurrent_requests.map(proto::uint32),
        ..circuit_breakers::Thresholds::default()
    }
}

fn discovery_type(t: cluster::DiscoveryType) -> cluster::ClusterDiscoveryType {
    cluster::ClusterDiscoveryType::Type(t as i32)
}
