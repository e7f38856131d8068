//! Resolver nodes (Consul's `getResolverNode`): redirects, default subsets,
//! timeouts, external SNI, mesh gateway modes and failover.

use std::borrow::Cow;
use std::collections::BTreeSet;

use skein_config_entry::{
    ServiceResolver, ServiceResolverFailover, ServiceResolverFailoverTarget,
    ServiceResolverRedirect,
};

use super::assemble::resolver_key;
use super::{Compiler, DEFAULT_CONNECT_TIMEOUT};
use crate::chain::{
    DiscoveryFailover, DiscoveryGraphNode, DiscoveryResolver, NODE_RESOLVER, TargetOpts,
};
use crate::error::{Error, Result};

/// Where following redirects ended.
enum Resolved<'a> {
    /// The chain already has a resolver node for this target ID.
    Existing(String),
    /// A new target ID and the resolver entry that applies to it.
    New(String, Box<Cow<'a, ServiceResolver>>),
}

// === impl Compiler ===

impl<'a> Compiler<'_, 'a> {
    /// The resolver node for `target_id` after redirects and default
    /// subsets; returns the ID of the target finally resolved. With
    /// `for_failover` the node is built but not recorded, and its own
    /// failover is not followed.
    pub(super) fn resolver_node(&mut self, target_id: &str, for_failover: bool) -> Result<String> {
        match self.resolve_redirects(target_id)? {
            Resolved::Existing(id) => Ok(id),
            Resolved::New(id, resolver) => self.build_resolver_node(&id, &resolver, for_failover),
        }
    }

    /// Follows redirects and default subsets to the target finally resolved.
    fn resolve_redirects(&mut self, start: &str) -> Result<Resolved<'a>> {
        let mut id = start.to_string();
        let mut history = BTreeSet::new();
        let mut order: Vec<String> = Vec::new();
        loop {
            if self.nodes.contains_key(&resolver_key(&id)) {
                return Ok(Resolved::Existing(id));
            }
            let target = self.target(&id).clone();
            if target.peer.is_empty() {
                self.record_service_protocol(&target.service)?;
            }
            let resolver = self.resolver_for(&target.service);
            order.push(id.clone());
            if !history.insert(id.clone()) {
                return Err(Error::graph(format!(
                    "detected circular resolver redirect: [{}]",
                    order.join(" -> ")
                )));
            }
            if let Some(redirect) = &resolver.redirect {
                let next = self.rewrite_target(&id, &redirect_opts(redirect));
                if next != id {
                    id = next;
                    continue;
                }
            }
            if target.service_subset.is_empty() && !resolver.default_subset.is_empty() {
                let opts = TargetOpts {
                    service_subset: resolver.default_subset.clone(),
                    ..TargetOpts::default()
                };
                id = self.rewrite_target(&id, &opts);
                continue;
            }
            if !resolver.subset_exists(&target.service_subset) {
                return Err(Error::graph(format!(
                    "service {:?} does not have a subset named {:?}",
                    target.service, target.service_subset
                )));
            }
            return Ok(Resolved::New(id, Box::new(resolver)));
        }
    }

    /// The service's resolver entry, or an empty default one.
    fn resolver_for(&self, service: &str) -> Cow<'a, ServiceResolver> {
        match self.req.entries.resolver(service) {
            Some(r) => Cow::Borrowed(r),
            None => Cow::Owned(ServiceResolver::default_for(service)),
        }
    }

    fn build_resolver_node(
        &mut self,
        id: &str,
        resolver: &ServiceResolver,
        for_failover: bool,
    ) -> Result<String> {
        let connect_timeout = self.connect_timeout(resolver);
        let subset = resolver
            .subsets
            .get(&self.target(id).service_subset)
            .cloned()
            .unwrap_or_default();
        let target = self.target_mut(id);
        target.connect_timeout = connect_timeout;
        target.subset = subset;
        self.apply_external_sni(id, resolver)?;
        self.apply_mesh_gateway(id);
        self.retained_targets.insert(id.to_string());
        let node = DiscoveryGraphNode {
            r#type: NODE_RESOLVER.to_string(),
            name: id.to_string(),
            resolver: Some(DiscoveryResolver {
                default: resolver.is_default(),
                connect_timeout,
                request_timeout: resolver.request_timeout,
                target: id.to_string(),
                failover: None,
            }),
            load_balancer: resolver.load_balancer.clone(),
            ..DiscoveryGraphNode::default()
        };
        if for_failover {
            return Ok(id.to_string());
        }
        let key = self.record_node(node);
        if let Some(failover) = self.failover(id, resolver)?
            && let Some(r) = self.nodes.get_mut(&key).and_then(|n| n.resolver.as_mut())
        {
            r.failover = Some(failover);
        }
        Ok(id.to_string())
    }

    /// The resolver's connect timeout (5s if unset), or the override.
    fn connect_timeout(&mut self, resolver: &ServiceResolver) -> skein_config_entry::GoDuration {
        let mut timeout = resolver.connect_timeout;
        if timeout.as_nanos() < 1 {
            timeout = DEFAULT_CONNECT_TIMEOUT;
        }
        let wanted = self.req.overrides.connect_timeout;
        if wanted.as_nanos() > 0 && wanted != timeout {
            timeout = wanted;
            self.customized.connect_timeout = true;
        }
        timeout
    }

    /// A service-defaults `ExternalSNI` makes the target external: its SNI is
    /// used verbatim, and redirects, subsets and failover are refused.
    fn apply_external_sni(&mut self, id: &str, resolver: &ServiceResolver) -> Result<()> {
        let service = self.target(id).service.clone();
        if let Some(sd) = self.req.entries.service_defaults(&service)
            && !sd.external_sni.is_empty()
        {
            let target = self.target_mut(id);
            target.sni = sd.external_sni.clone();
            target.external = true;
        }
        if !self.target(id).external {
            return Ok(());
        }
        let what = if resolver.redirect.is_some() {
            "cannot define redirects for external services"
        } else if !resolver.subsets.is_empty() {
            "cannot define subsets for external services"
        } else if !resolver.failover.is_empty() {
            "cannot define failover for external services"
        } else {
            return Ok(());
        };
        Err(Error::graph(format!(
            "service {service:?} has an external SNI set; {what}"
        )))
    }

    /// Mesh gateway mode and `DialedDirectly`: service-defaults, then
    /// proxy-defaults, then the request override.
    fn apply_mesh_gateway(&mut self, id: &str) {
        let entries = self.req.entries;
        let wanted = self.req.overrides.mesh_gateway.mode.clone();
        let service = self.target(id).service.clone();
        let target = self.target_mut(id);
        if target.external {
            target.mesh_gateway.mode = String::new();
            return;
        }
        if let Some(sd) = entries.service_defaults(&service) {
            target.mesh_gateway = sd.mesh_gateway.clone();
            target.transparent_proxy.dialed_directly = sd.transparent_proxy.dialed_directly;
        }
        if let Some(pd) = entries.proxy_defaults() {
            if target.mesh_gateway.mode.is_empty() {
                target.mesh_gateway.mode = pd.mesh_gateway.mode.clone();
            }
            if !target.transparent_proxy.dialed_directly {
                target.transparent_proxy.dialed_directly = pd.transparent_proxy.dialed_directly;
            }
        }
        if !wanted.is_empty() && target.mesh_gateway.mode != wanted {
            target.mesh_gateway.mode = wanted;
            self.customized.mesh_gateway = true;
        }
    }

    /// The failover section for the target's subset (or `*`), compiled.
    fn failover(
        &mut self,
        id: &str,
        resolver: &ServiceResolver,
    ) -> Result<Option<DiscoveryFailover>> {
        let subset = self.target(id).service_subset.clone();
        let Some(section) = resolver
            .failover
            .get(&subset)
            .or_else(|| resolver.failover.get("*"))
        else {
            return Ok(None);
        };
        let candidates: Vec<String> = failover_opts(section)
            .iter()
            .map(|opts| self.rewrite_target(id, opts))
            .filter(|t| t != id)
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let mut targets = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            targets.push(self.resolver_node(&candidate, true)?);
        }
        Ok(Some(DiscoveryFailover {
            targets,
            policy: self.failover_policy(section),
            regions: Vec::new(),
        }))
    }

    fn failover_policy(
        &self,
        section: &ServiceResolverFailover,
    ) -> Option<skein_config_entry::FailoverPolicy> {
        match &section.policy {
            Some(p) if !p.mode.is_empty() => Some(p.clone()),
            _ => self
                .req
                .entries
                .proxy_defaults()
                .and_then(|pd| pd.failover_policy.clone()),
        }
    }
}

fn redirect_opts(r: &ServiceResolverRedirect) -> TargetOpts {
    TargetOpts {
        service: r.service.clone(),
        service_subset: r.service_subset.clone(),
        namespace: r.namespace.clone(),
        partition: r.partition.clone(),
        datacenter: r.datacenter.clone(),
        peer: r.peer.clone(),
    }
}

/// The rewrites a failover section asks for, in order.
fn failover_opts(f: &ServiceResolverFailover) -> Vec<TargetOpts> {
    let base = TargetOpts {
        service: f.service.clone(),
        service_subset: f.service_subset.clone(),
        namespace: f.namespace.clone(),
        ..TargetOpts::default()
    };
    if !f.datacenters.is_empty() {
        return f
            .datacenters
            .iter()
            .map(|dc| TargetOpts {
                datacenter: dc.clone(),
                ..base.clone()
            })
            .collect();
    }
    if !f.targets.is_empty() {
        return f.targets.iter().map(target_opts).collect();
    }
    vec![base]
}

fn target_opts(t: &ServiceResolverFailoverTarget) -> TargetOpts {
    TargetOpts {
        service: t.service.clone(),
        service_subset: t.service_subset.clone(),
        namespace: t.namespace.clone(),
        partition: t.partition.clone(),
        datacenter: t.datacenter.clone(),
        peer: t.peer.clone(),
    }
}
