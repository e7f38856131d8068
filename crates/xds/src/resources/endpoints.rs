//! Endpoints (EDS): one load assignment per EDS cluster, from the
//! snapshot's instances of the cluster's target. Every instance is listed
//! with its health (Envoy skips unhealthy ones); a target with no known
//! instances gets an empty assignment, so its cluster warms and fails fast.

use envoy_types::pb::envoy::config::core::v3::HealthStatus;
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint as EnvoyEndpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use skein_proxycfg::{Endpoint, EndpointHealth, ProxySnapshot};

use super::plan::{self, PlannedCluster};
use super::proto;
use crate::error::Result;

/// One assignment per planned EDS cluster.
pub(crate) fn build(s: &ProxySnapshot) -> Result<Vec<ClusterLoadAssignment>> {
    let mut out = Vec::new();
    for planned in plan::clusters(s)? {
        if let PlannedCluster::Target(t) = planned {
            let instances = s.endpoints.get(&t.target.id).map_or(&[][..], Vec::as_slice);
            out.push(assignment(&t.name, instances));
        }
    }
    Ok(out)
}

/// The assignment of `cluster`: one locality, instances sorted.
fn assignment(cluster: &str, instances: &[Endpoint]) -> ClusterLoadAssignment {
    let mut sorted: Vec<&Endpoint> = instances.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.address, a.port, &a.node, &a.service_id).cmp(&(
            &b.address,
            b.port,
            &b.node,
            &b.service_id,
        ))
    });
    let endpoints = if sorted.is_empty() {
        Vec::new()
    } else {
        vec![LocalityLbEndpoints {
            lb_endpoints: sorted.into_iter().map(lb_endpoint).collect(),
            ..LocalityLbEndpoints::default()
        }]
    };
    ClusterLoadAssignment {
        cluster_name: cluster.to_owned(),
        endpoints,
        ..ClusterLoadAssignment::default()
    }
}

fn lb_endpoint(e: &Endpoint) -> LbEndpoint {
    let health = match e.health {
        EndpointHealth::Healthy => HealthStatus::Healthy,
        EndpointHealth::Unhealthy => HealthStatus::Unhealthy,
    };
    LbEndpoint {
        health_status: health as i32,
        load_balancing_weight: Some(proto::uint32(e.weight.max(1))),
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(EnvoyEndpoint {
            address: Some(proto::socket_address(&e.address, e.port)),
            ..EnvoyEndpoint::default()
        })),
        ..LbEndpoint::default()
    }
}
