//! Test fixtures: resource sets of real Envoy resources (feature `testing`).

use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::{
    Cluster,
    cluster::{ClusterDiscoveryType, DiscoveryType},
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, Listener, filter::ConfigType,
};
use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, Rds, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::google::protobuf::UInt32Value;
use envoy_types::util::pack_any;

use crate::ResourceSet;

/// Builds a [`ResourceSet`] of real resources; `rev` changes the content.
#[derive(Debug, Default)]
pub struct Snap(pub ResourceSet);

// === impl Snap ===

impl Snap {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An EDS cluster.
    pub fn cluster(mut self, name: &str, rev: u32) -> Self {
        let cluster = Cluster {
            name: name.into(),
            alt_stat_name: format!("rev{rev}"),
            cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
            ..Default::default()
        };
        self.0.insert(name, pack_any(cluster));
        self
    }

    /// The load assignment of cluster `name`.
    pub fn endpoints(mut self, name: &str, rev: u32) -> Self {
        let endpoint = LbEndpoint {
            load_balancing_weight: Some(UInt32Value { value: rev }),
            ..Default::default()
        };
        let cla = ClusterLoadAssignment {
            cluster_name: name.into(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![endpoint],
                ..Default::default()
            }],
            ..Default::default()
        };
        self.0.insert(name, pack_any(cla));
        self
    }

    /// A listener whose HTTP connection manager loads `route` over RDS.
    pub fn listener(mut self, name: &str, route: &str, rev: u32) -> Self {
        let hcm = HttpConnectionManager {
            stat_prefix: format!("rev{rev}"),
            route_specifier: Some(RouteSpecifier::Rds(Rds {
                route_config_name: route.into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let filter = Filter {
            name: "envoy.filters.network.http_connection_manager".into(),
            config_type: Some(ConfigType::TypedConfig(pack_any(hcm))),
        };
        let listener = Listener {
            name: name.into(),
            filter_chains: vec![FilterChain {
                filters: vec![filter],
                ..Default::default()
            }],
            ..Default::default()
        };
        self.0.insert(name, pack_any(listener));
        self
    }

    /// A route configuration.
    pub fn route(mut self, name: &str, rev: u32) -> Self {
        let route = RouteConfiguration {
            name: name.into(),
            virtual_hosts: vec![VirtualHost {
                name: format!("rev{rev}"),
                domains: vec!["*".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        self.0.insert(name, pack_any(route));
        self
    }

    /// Declares `type_url` complete even if empty.
    pub fn declare(mut self, type_url: &str) -> Self {
        self.0.declare(type_url);
        self
    }

    /// The finished set, shared.
    pub fn build(self) -> Arc<ResourceSet> {
        Arc::new(self.0)
    }
}
