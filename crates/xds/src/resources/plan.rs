//! Which clusters the upstreams' discovery chains need: one per resolver
//! target, and for a resolver with failover an aggregate cluster over one
//! `failover-target~` cluster per target. Clusters and endpoints are both
//! built from this plan, so every EDS cluster gets its load assignment.

use skein_chain::{CompiledDiscoveryChain, DiscoveryGraphNode, DiscoveryResolver, DiscoveryTarget};
use skein_config_entry::LoadBalancer;
use skein_proxycfg::{ProxySnapshot, UpstreamSnapshot};

use super::names;
use crate::error::{Error, Result};

/// A cluster a chain needs.
#[derive(Debug)]
pub(crate) enum PlannedCluster<'a> {
    /// An EDS cluster for one target.
    Target(TargetCluster<'a>),
    /// An aggregate cluster trying its members in order.
    Aggregate(AggregateCluster<'a>),
}

/// An EDS cluster serving one chain target.
#[derive(Debug)]
pub(crate) struct TargetCluster<'a> {
    /// Cluster (and load assignment) name.
    pub(crate) name: String,
    /// The target whose instances it holds.
    pub(crate) target: &'a DiscoveryTarget,
    /// The upstream whose chain it comes from.
    pub(crate) upstream: &'a UpstreamSnapshot,
    /// The resolver that picked the target.
    pub(crate) resolver: &'a DiscoveryResolver,
    /// The resolver node's load balancer.
    pub(crate) load_balancer: Option<&'a LoadBalancer>,
}

/// An aggregate cluster over `failover-target~` clusters.
#[derive(Debug)]
pub(crate) struct AggregateCluster<'a> {
    /// Cluster name (the primary target's cluster name).
    pub(crate) name: String,
    /// Member clusters, in failover order.
    pub(crate) members: Vec<String>,
    /// The resolver with the failover.
    pub(crate) resolver: &'a DiscoveryResolver,
    /// The upstream whose chain it comes from.
    pub(crate) upstream: &'a UpstreamSnapshot,
}

/// Every cluster the upstreams need, upstream by upstream, resolver nodes
/// in key order.
pub(crate) fn clusters(s: &ProxySnapshot) -> Result<Vec<PlannedCluster<'_>>> {
    let mut out = Vec::new();
    for upstream in &s.upstreams {
        for node in upstream.chain.nodes.values().filter(|n| n.is_resolver()) {
            out.extend(resolver_clusters(upstream, node)?);
        }
    }
    Ok(out)
}

/// The clusters of one resolver node.
fn resolver_clusters<'a>(
    upstream: &'a UpstreamSnapshot,
    node: &'a DiscoveryGraphNode,
) -> Result<Vec<PlannedCluster<'a>>> {
    let Some(resolver) = node.resolver.as_ref() else {
        return Ok(Vec::new());
    };
    let chain = &upstream.chain;
    let primary = target(upstream, &resolver.target)?;
    let primary_name = names::target_cluster(chain, primary);
    let failover = resolver.failover.as_ref().map(|f| f.targets.as_slice());
    let lb = node.load_balancer.as_ref();
    let Some(failover) = failover.filter(|f| !f.is_empty()) else {
        let only = target_cluster(primary_name, primary, upstream, resolver, lb);
        return Ok(vec![only]);
    };
    let mut members = vec![primary];
    for id in failover {
        members.push(target(upstream, id)?);
    }
    let member_names: Vec<String> = members
        .iter()
        .map(|t| names::failover_target(&names::target_cluster(chain, t)))
        .collect();
    let mut out = vec![PlannedCluster::Aggregate(AggregateCluster {
        name: primary_name,
        members: member_names.clone(),
        resolver,
        upstream,
    })];
    for (name, t) in member_names.into_iter().zip(members) {
        out.push(target_cluster(name, t, upstream, resolver, lb));
    }
    Ok(out)
}

fn target_cluster<'a>(
    name: String,
    target: &'a DiscoveryTarget,
    upstream: &'a UpstreamSnapshot,
    resolver: &'a DiscoveryResolver,
    load_balancer: Option<&'a LoadBalancer>,
) -> PlannedCluster<'a> {
    PlannedCluster::Target(TargetCluster {
        name,
        target,
        upstream,
        resolver,
        load_balancer,
    })
}

/// The target `id` of the upstream's chain.
pub(crate) fn target<'a>(upstream: &'a UpstreamSnapshot, id: &str) -> Result<&'a DiscoveryTarget> {
    upstream
        .chain
        .targets
        .get(id)
        .ok_or_else(|| Error::MissingTarget {
            upstream: upstream.envoy_id.clone(),
            target: id.to_owned(),
        })
}

/// The node `key` of the upstream's chain.
pub(crate) fn node<'a>(
    upstream: &'a UpstreamSnapshot,
    key: &str,
) -> Result<&'a DiscoveryGraphNode> {
    upstream
        .chain
        .nodes
        .get(key)
        .ok_or_else(|| Error::MissingNode {
            upstream: upstream.envoy_id.clone(),
            node: key.to_owned(),
        })
}

/// The resolution of a resolver node (an error for any other node).
pub(crate) fn resolution<'a>(
    upstream: &UpstreamSnapshot,
    node: &'a DiscoveryGraphNode,
    place: &'static str,
) -> Result<&'a DiscoveryResolver> {
    node.resolver
        .as_ref()
        .filter(|_| node.is_resolver())
        .ok_or_else(|| Error::UnexpectedNode {
            upstream: upstream.envoy_id.clone(),
            node: node.map_key(),
            kind: node.r#type.clone(),
            place,
        })
}

/// The cluster a resolver node routes to (the aggregate one when it fails
/// over).
pub(crate) fn resolver_cluster(
    upstream: &UpstreamSnapshot,
    resolver: &DiscoveryResolver,
) -> Result<String> {
    let t = target(upstream, &resolver.target)?;
    Ok(names::target_cluster(&upstream.chain, t))
}

/// The single cluster of a chain that starts at a resolver: what a TCP
/// proxy or an inline route sends traffic to.
pub(crate) fn start_cluster(upstream: &UpstreamSnapshot) -> Result<String> {
    let chain: &CompiledDiscoveryChain = &upstream.chain;
    let start = node(upstream, &chain.start_node)?;
    let resolver = resolution(upstream, start, "as the start of a chain without routes")?;
    resolver_cluster(upstream, resolver)
}
