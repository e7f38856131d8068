//! Parent → child links between resource types: a cluster owns the load
//! assignment of the same name, a listener owns the route configurations
//! its HTTP connection managers load over RDS.

use envoy_types::pb::envoy::config::cluster::v3::{
    Cluster,
    cluster::{ClusterDiscoveryType, DiscoveryType},
};
use envoy_types::pb::envoy::config::listener::v3::{FilterChain, Listener, filter::ConfigType};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};

use crate::{CLUSTER, ENDPOINT, LISTENER, ROUTE};

/// The child type of `type_url`, if Envoy stores that child inside it.
pub(crate) fn child_type(type_url: &str) -> Option<&'static str> {
    match type_url {
        CLUSTER => Some(ENDPOINT),
        LISTENER => Some(ROUTE),
        _ => None,
    }
}

/// Names of the child resources `body` (of type `type_url`) refers to.
pub(crate) fn children_of(type_url: &str, name: &str, body: &Any) -> Vec<String> {
    match type_url {
        CLUSTER => vec![eds_name(body).unwrap_or_else(|| name.to_owned())],
        LISTENER => route_names(body),
        _ => Vec::new(),
    }
}

/// The RDS route configuration names a packed [`Listener`] refers to, in
/// order of first appearance. Empty if `listener` is not a listener.
pub fn route_names(listener: &Any) -> Vec<String> {
    let Ok(listener) = Listener::decode(listener.value.as_slice()) else {
        return Vec::new();
    };
    let chains = listener
        .filter_chains
        .iter()
        .chain(listener.default_filter_chain.iter());
    let mut names: Vec<String> = Vec::new();
    for name in chains.flat_map(chain_route_names) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The EDS service name of a packed [`Cluster`] of type EDS (its
/// `eds_cluster_config.service_name`, else its own name); `None` for other
/// clusters.
pub fn eds_name(cluster: &Any) -> Option<String> {
    let cluster = Cluster::decode(cluster.value.as_slice()).ok()?;
    let eds = DiscoveryType::Eds as i32;
    if cluster.cluster_discovery_type != Some(ClusterDiscoveryType::Type(eds)) {
        return None;
    }
    let service = cluster
        .eds_cluster_config
        .map(|c| c.service_name)
        .unwrap_or_default();
    Some(if service.is_empty() {
        cluster.name
    } else {
        service
    })
}

fn chain_route_names(chain: &FilterChain) -> impl Iterator<Item = String> + '_ {
    chain
        .filters
        .iter()
        .filter_map(|filter| match &filter.config_type {
            Some(ConfigType::TypedConfig(any)) => hcm_route_name(any),
            _ => None,
        })
}

fn hcm_route_name(any: &Any) -> Option<String> {
    if any.type_url != HttpConnectionManager::type_url() {
        return None;
    }
    let hcm = HttpConnectionManager::decode(any.value.as_slice()).ok()?;
    match hcm.route_specifier? {
        RouteSpecifier::Rds(rds) => Some(rds.route_config_name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::cluster::v3::cluster::EdsClusterConfig;
    use envoy_types::pb::envoy::config::listener::v3::Filter;
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::Rds;
    use envoy_types::util::pack_any;

    use super::*;

    fn hcm_filter(route: &str) -> Filter {
        let hcm = HttpConnectionManager {
            route_specifier: Some(RouteSpecifier::Rds(Rds {
                route_config_name: route.into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        Filter {
            name: "envoy.filters.network.http_connection_manager".into(),
            config_type: Some(ConfigType::TypedConfig(pack_any(hcm))),
        }
    }

    #[test]
    fn listener_route_names() {
        let listener = Listener {
            name: "db:127.0.0.1:9191".into(),
            filter_chains: vec![
                FilterChain {
                    filters: vec![hcm_filter("db"), hcm_filter("db")],
                    ..Default::default()
                },
                FilterChain {
                    filters: vec![hcm_filter("api")],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(route_names(&pack_any(listener)), ["db", "api"]);
        assert!(route_names(&pack_any(Cluster::default())).is_empty());
    }

    #[test]
    fn cluster_eds_names() {
        let eds = |service: &str| Cluster {
            name: "db.default.dc1".into(),
            cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
            eds_cluster_config: Some(EdsClusterConfig {
                service_name: service.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            eds_name(&pack_any(eds(""))).as_deref(),
            Some("db.default.dc1")
        );
        assert_eq!(eds_name(&pack_any(eds("svc"))).as_deref(), Some("svc"));
        let local = Cluster {
            name: "local_app".into(),
            ..Default::default()
        };
        assert_eq!(eds_name(&pack_any(local)), None);
    }
}
