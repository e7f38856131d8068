//! Envoy resources from a proxy snapshot: [`build`] and one module per
//! resource type.

mod access_log;
mod clusters;
mod config;
mod endpoints;
mod lb;
mod listeners;
mod names;
mod plan;
mod proto;
mod rbac;
mod routes;
mod tls;

use envoy_types::util::pack_any;
use skein_ads::ResourceSet;
use skein_proxycfg::{ProxyKind, ProxySnapshot};

use crate::error::Result;

/// Every Envoy resource of the proxy `snapshot` describes: listeners,
/// clusters, cluster load assignments and route configurations, keyed by
/// name. The same snapshot always gives byte-identical resources.
pub fn build(snapshot: &ProxySnapshot) -> Result<ResourceSet> {
    match snapshot.kind {
        ProxyKind::ConnectProxy => connect_proxy(snapshot),
    }
}

/// The resources of a sidecar (`Kind: connect-proxy`).
fn connect_proxy(s: &ProxySnapshot) -> Result<ResourceSet> {
    let mut set = ResourceSet::default();
    for listener in listeners::build(s)? {
        set.insert(listener.name.clone(), pack_any(listener));
    }
    for cluster in clusters::build(s)? {
        set.insert(cluster.name.clone(), pack_any(cluster));
    }
    for assignment in endpoints::build(s)? {
        set.insert(assignment.cluster_name.clone(), pack_any(assignment));
    }
    for route in routes::build(s)? {
        set.insert(route.name.clone(), pack_any(route));
    }
    Ok(set)
}
