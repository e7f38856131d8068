//! The top of the chain: extensions, service meta, and the router.

use skein_config_entry::{
    ServiceRoute, ServiceRouteDestination, ServiceRouteHttpMatch, ServiceRouteMatch, ServiceRouter,
};

use super::targets::service_opts;
use super::{Compiler, DEFAULT_TENANCY};
use crate::chain::{DiscoveryGraphNode, DiscoveryRoute, NODE_ROUTER, TargetOpts};
use crate::error::Result;

// === impl Compiler ===

impl Compiler<'_, '_> {
    /// Builds the graph from the top node down and sets the start node.
    pub(super) fn assemble(&mut self) -> Result<()> {
        let entries = self.req.entries;
        let service = self.req.service_name.clone();
        if let Some(pd) = entries.proxy_defaults() {
            self.envoy_extensions = pd.envoy_extensions.clone();
        }
        if let Some(sd) = entries.service_defaults(&service) {
            self.service_meta = sd.meta.clone();
            self.envoy_extensions
                .extend(sd.envoy_extensions.iter().cloned());
        }
        let mut router = entries.router(&service);
        if router.is_some() && self.disable_advanced_routing {
            router = None;
            self.customized.protocol = true;
        }
        self.start_node = match router {
            Some(router) => self.router_node(router)?,
            None => {
                let target = self.new_target(service_opts(&service));
                self.splitter_or_resolver_node(&target)?
            }
        };
        Ok(())
    }

    /// Compiles the router: one route per configured route, then the
    /// implicit catch-all to the router's own service.
    fn router_node(&mut self, router: &ServiceRouter) -> Result<String> {
        self.uses_advanced_routing = true;
        self.record_service_protocol(&router.name)?;
        let mut routes = Vec::with_capacity(router.routes.len() + 1);
        for route in &router.routes {
            let next_node = self.route_destination(route.destination.as_ref())?;
            routes.push(DiscoveryRoute {
                definition: Some(route.clone()),
                next_node,
            });
        }
        let target = self.new_target(service_opts(&router.name));
        routes.push(DiscoveryRoute {
            definition: Some(default_route(&router.name)),
            next_node: self.splitter_or_resolver_node(&target)?,
        });
        let node = DiscoveryGraphNode {
            r#type: NODE_ROUTER.to_string(),
            name: tenancy_name(&router.name),
            routes,
            ..DiscoveryGraphNode::default()
        };
        Ok(self.record_node(node))
    }

    /// The node a route leads to: a subset goes straight to its resolver,
    /// anything else may still be split.
    fn route_destination(&mut self, dest: Option<&ServiceRouteDestination>) -> Result<String> {
        let default_dest = ServiceRouteDestination::default();
        let dest = dest.unwrap_or(&default_dest);
        let opts = TargetOpts {
            service: or_default(&dest.service, &self.req.service_name),
            service_subset: dest.service_subset.clone(),
            namespace: or_default(&dest.namespace, DEFAULT_TENANCY),
            partition: or_default(&dest.partition, DEFAULT_TENANCY),
            ..TargetOpts::default()
        };
        let target = self.new_target(opts);
        if dest.service_subset.is_empty() {
            self.splitter_or_resolver_node(&target)
        } else {
            self.resolver_node(&target, false)
                .map(|id| resolver_key(&id))
        }
    }

    /// The splitter of the target's service if there is one, else its resolver.
    pub(super) fn splitter_or_resolver_node(&mut self, target_id: &str) -> Result<String> {
        let service = self.target(target_id).service.clone();
        if let Some(key) = self.splitter_node(&service)? {
            return Ok(key);
        }
        self.resolver_node(target_id, false)
            .map(|id| resolver_key(&id))
    }
}

/// The catch-all route Consul appends to every router.
fn default_route(service: &str) -> ServiceRoute {
    ServiceRoute {
        route_match: Some(ServiceRouteMatch {
            http: Some(ServiceRouteHttpMatch {
                path_prefix: "/".to_string(),
                ..ServiceRouteHttpMatch::default()
            }),
        }),
        destination: Some(ServiceRouteDestination {
            service: service.to_string(),
            namespace: DEFAULT_TENANCY.to_string(),
            partition: DEFAULT_TENANCY.to_string(),
            ..ServiceRouteDestination::default()
        }),
    }
}

/// `svc.namespace.partition`, the name of router and splitter nodes.
pub(super) fn tenancy_name(service: &str) -> String {
    format!("{service}.{DEFAULT_TENANCY}.{DEFAULT_TENANCY}")
}

/// The node key of the resolver of target `id`.
pub(super) fn resolver_key(id: &str) -> String {
    format!("{}:{id}", crate::chain::NODE_RESOLVER)
}

fn or_default(value: &str, default: &str) -> String {
    if value.is_empty() { default } else { value }.to_string()
}
