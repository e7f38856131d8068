//! Routes (RDS): one RouteConfiguration per HTTP-like upstream whose
//! discovery chain is not the default one, named by the upstream's Envoy
//! ID, built from the chain's start node:
//!
//! ```text
//!  router   ─► one route per chain route (catch-all last) ─► splitter | resolver
//!  splitter ─► one catch-all route to weighted clusters
//!  resolver ─► one catch-all route to the target's cluster (resolver request timeout)
//! ```

mod actions;
mod matches;

use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, RouteConfiguration, VirtualHost, route,
};
use envoy_types::pb::google::protobuf::BoolValue;
use skein_chain::{DiscoveryGraphNode, DiscoveryRoute};
use skein_proxycfg::{ProxySnapshot, UpstreamSnapshot};

use super::{config, plan, proto};
use crate::error::{Error, Result};

/// The route configurations of the upstreams that use RDS.
pub(crate) fn build(s: &ProxySnapshot) -> Result<Vec<RouteConfiguration>> {
    s.upstreams
        .iter()
        .filter(|u| config::uses_rds(u))
        .map(route_configuration)
        .collect()
}

/// `<envoy_id>`: one virtual host for every domain, clusters validated.
fn route_configuration(u: &UpstreamSnapshot) -> Result<RouteConfiguration> {
    Ok(RouteConfiguration {
        name: u.envoy_id.clone(),
        virtual_hosts: vec![VirtualHost {
            name: u.envoy_id.clone(),
            domains: vec!["*".to_owned()],
            routes: routes(u)?,
            ..VirtualHost::default()
        }],
        validate_clusters: Some(BoolValue { value: true }),
        ..RouteConfiguration::default()
    })
}

fn routes(u: &UpstreamSnapshot) -> Result<Vec<Route>> {
    let start = plan::node(u, &u.chain.start_node)?;
    if start.is_router() {
        return start.routes.iter().map(|r| router_route(u, r)).collect();
    }
    let mut action = node_action(u, start, "at the start of a chain")?;
    if start.is_resolver() {
        let resolver = plan::resolution(u, start, "at the start of a chain")?;
        if resolver.request_timeout.as_nanos() > 0 {
            action.timeout = Some(proto::go_duration(resolver.request_timeout));
        }
    }
    Ok(vec![route_to(proto::prefix_match("/"), action)])
}

/// One route of a router node, with its destination's options.
fn router_route(u: &UpstreamSnapshot, r: &DiscoveryRoute) -> Result<Route> {
    let next = plan::node(u, &r.next_node)?;
    let mut action = node_action(u, next, "after a route")?;
    let definition = r.definition.as_ref();
    let destination = definition.and_then(|d| d.destination.as_ref());
    let route_match = matches::route_match(definition.and_then(|d| d.route_match.as_ref()));
    let mut route = route_to(route_match, RouteAction::default());
    if let Some(dest) = destination {
        actions::apply_destination(dest, &mut action);
        actions::apply_headers(dest, &mut route);
    }
    route.action = Some(route::Action::Route(action));
    Ok(route)
}

/// Where a splitter or resolver node sends requests, with the node's hash
/// policies.
fn node_action(
    u: &UpstreamSnapshot,
    node: &DiscoveryGraphNode,
    place: &'static str,
) -> Result<RouteAction> {
    let mut action = if node.is_splitter() {
        actions::split(u, node)?
    } else if node.is_resolver() {
        let resolver = plan::resolution(u, node, place)?;
        actions::to_cluster(plan::resolver_cluster(u, resolver)?)
    } else {
        return Err(Error::UnexpectedNode {
            upstream: u.envoy_id.clone(),
            node: node.map_key(),
            kind: node.r#type.clone(),
            place,
        });
    };
    action.hash_policy = super::lb::hash_policies(node.load_balancer.as_ref())?;
    Ok(action)
}

fn route_to(
    route_match: envoy_types::pb::envoy::config::route::v3::RouteMatch,
    action: RouteAction,
) -> Route {
    Route {
        r#match: Some(route_match),
        action: Some(route::Action::Route(action)),
        ..Route::default()
    }
}
