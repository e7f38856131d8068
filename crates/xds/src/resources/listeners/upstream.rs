//! Outbound listeners: one per explicit upstream, to its chain's cluster
//! (TCP, or HTTP with an inline route) or through RDS for HTTP chains that
//! routers, splitters or resolvers shaped.

use envoy_types::pb::envoy::config::core::v3::TrafficDirection;
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChain, Listener};
use skein_proxycfg::UpstreamSnapshot;

use super::Logs;
use super::http::{self, HcmOptions, RouteSpec};
use crate::error::Result;
use crate::resources::{config, names, plan, proto};

/// `<envoy_id>:<addr>:<port>`, outbound.
pub(crate) fn listener(u: &UpstreamSnapshot, logs: &Logs) -> Result<Listener> {
    let chain = FilterChain {
        filters: vec![filter(u, logs)?],
        ..FilterChain::default()
    };
    Ok(Listener {
        name: names::upstream_listener(&u.envoy_id, &u.local_bind_address, u.local_bind_port),
        address: Some(proto::socket_address(
            &u.local_bind_address,
            u.local_bind_port,
        )),
        traffic_direction: TrafficDirection::Outbound as i32,
        filter_chains: vec![chain],
        access_log: logs.listeners.clone(),
        ..Listener::default()
    })
}

fn filter(u: &UpstreamSnapshot, logs: &Logs) -> Result<Filter> {
    let protocol = config::upstream_protocol(u);
    let stat_prefix = names::upstream_stat_prefix(&u.chain);
    if !protocol.is_http_like() {
        return Ok(super::tcp_proxy(
            &stat_prefix,
            &plan::start_cluster(u)?,
            logs,
        ));
    }
    let route = if config::uses_rds(u) {
        RouteSpec::Rds {
            route_name: u.envoy_id.clone(),
        }
    } else {
        RouteSpec::Inline {
            route_name: u.envoy_id.clone(),
            virtual_host: names::chain_filter_name(&u.chain),
            cluster: plan::start_cluster(u)?,
            timeout_ms: None,
            idle_timeout_ms: None,
        }
    };
    Ok(http::connection_manager(HcmOptions {
        stat_prefix,
        route,
        protocol,
        authz: None,
        forward_client_cert: false,
        access_log: logs.filters.clone(),
    }))
}
