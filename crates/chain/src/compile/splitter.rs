//! Splitter nodes (Consul's `getSplitterNode`).

use skein_config_entry::ServiceSplit;

use super::assemble::{resolver_key, tenancy_name};
use super::{Compiler, DEFAULT_TENANCY};
use crate::chain::{DiscoveryGraphNode, DiscoverySplit, NODE_SPLITTER, TargetOpts};
use crate::error::Result;

// === impl Compiler ===

impl Compiler<'_, '_> {
    /// The splitter node of `service`, compiling it on first use; `None`
    /// when the service has no splitter (or splitters are disabled).
    pub(super) fn splitter_node(&mut self, service: &str) -> Result<Option<String>> {
        let name = tenancy_name(service);
        let key = format!("{NODE_SPLITTER}:{name}");
        if self.nodes.contains_key(&key) {
            return Ok(Some(key));
        }
        let Some(splitter) = self.req.entries.splitter(service) else {
            return Ok(None);
        };
        if self.disable_advanced_routing {
            self.customized.protocol = true;
            return Ok(None);
        }
        // Record before descending so a loop back here terminates (and is
        // reported by the cycle check).
        self.record_node(DiscoveryGraphNode {
            r#type: NODE_SPLITTER.to_string(),
            name,
            ..DiscoveryGraphNode::default()
        });
        let mut splits = Vec::with_capacity(splitter.splits.len());
        let mut load_balancer = None;
        for split in &splitter.splits {
            let next_node = self.split_destination(service, split)?;
            if load_balancer.is_none() {
                load_balancer = self.hash_based_lb(&next_node);
            }
            splits.push(DiscoverySplit {
                definition: Some(split.clone()),
                weight: split.weight,
                next_node,
            });
        }
        self.uses_advanced_routing = true;
        if let Some(node) = self.nodes.get_mut(&key) {
            node.splits = splits;
            node.load_balancer = load_balancer;
        }
        Ok(Some(key))
    }

    /// Where one leg goes: another service's splitter if it has one and no
    /// subset is named, else a resolver.
    fn split_destination(&mut self, service: &str, split: &ServiceSplit) -> Result<String> {
        let target_service = if split.service.is_empty() {
            service
        } else {
            split.service.as_str()
        };
        if target_service != service
            && split.service_subset.is_empty()
            && let Some(next) = self.splitter_node(target_service)?
        {
            return Ok(next);
        }
        let target = self.new_target(TargetOpts {
            service: target_service.to_string(),
            service_subset: split.service_subset.clone(),
            namespace: DEFAULT_TENANCY.to_string(),
            partition: DEFAULT_TENANCY.to_string(),
            ..TargetOpts::default()
        });
        self.resolver_node(&target, false)
            .map(|id| resolver_key(&id))
    }

    /// A splitter carries the first hash-based load balancer of its
    /// resolvers: a route can apply only one set of hash policies.
    fn hash_based_lb(&self, node_key: &str) -> Option<skein_config_entry::LoadBalancer> {
        let node = self.nodes.get(node_key).filter(|n| n.is_resolver())?;
        node.load_balancer
            .as_ref()
            .filter(|lb| lb.is_hash_based())
            .cloned()
    }
}
