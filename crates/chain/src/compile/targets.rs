//! Creating and rewriting targets (Consul's `newTarget` / `rewriteTarget`).

use super::{Compiler, DEFAULT_TENANCY};
use crate::chain::{DiscoveryTarget, TargetOpts, service_sni};

// === impl Compiler ===

impl Compiler<'_, '_> {
    /// Loads (or reuses) the target for `opts`, filling in the evaluation
    /// datacenter, namespace and partition; returns its ID.
    pub(super) fn new_target(&mut self, mut opts: TargetOpts) -> String {
        let req = self.req;
        if opts.peer.is_empty() {
            opts.datacenter = or(opts.datacenter, &req.evaluate_in_datacenter);
            opts.namespace = or(opts.namespace, &req.evaluate_in_namespace);
            opts.partition = or(opts.partition, &req.evaluate_in_partition);
        } else {
            // Peer targets only query the local catalog copy: no datacenter,
            // the local partition, and the namespace as named by the peer.
            opts.datacenter = String::new();
            opts.partition = or(req.evaluate_in_partition.clone(), DEFAULT_TENANCY);
            opts.namespace = or(opts.namespace, DEFAULT_TENANCY);
        }
        let mut target = DiscoveryTarget::new(&opts);
        if opts.peer.is_empty() {
            target.sni = service_sni(
                &target.service,
                &target.service_subset,
                &target.namespace,
                &target.partition,
                &target.datacenter,
                &req.evaluate_in_trust_domain,
            );
            target.name = target.sni.clone();
        }
        let id = target.id.clone();
        self.loaded_targets.entry(id.clone()).or_insert(target);
        id
    }

    /// The target `id` with the non-empty parts of `opts` applied; naming
    /// another service resets the subset.
    pub(super) fn rewrite_target(&mut self, id: &str, opts: &TargetOpts) -> String {
        let mut merged = self.target(id).opts();
        if !opts.service.is_empty() && opts.service != merged.service {
            merged.service = opts.service.clone();
            merged.service_subset = String::new();
        }
        if !opts.service_subset.is_empty() {
            merged.service_subset = opts.service_subset.clone();
        }
        if !opts.partition.is_empty() {
            merged.partition = opts.partition.clone();
        }
        if !opts.namespace.is_empty() || !opts.peer.is_empty() {
            merged.namespace = opts.namespace.clone();
        }
        if !opts.datacenter.is_empty() {
            merged.datacenter = opts.datacenter.clone();
        }
        merged.peer = opts.peer.clone();
        self.new_target(merged)
    }

    /// The loaded target `id` (always present: IDs come from `new_target`).
    pub(super) fn target(&self, id: &str) -> &DiscoveryTarget {
        self.loaded_targets
            .get(id)
            .expect("invariant: target IDs are only handed out by new_target")
    }

    pub(super) fn target_mut(&mut self, id: &str) -> &mut DiscoveryTarget {
        self.loaded_targets
            .get_mut(id)
            .expect("invariant: target IDs are only handed out by new_target")
    }
}

fn or(value: String, default: &str) -> String {
    if value.is_empty() {
        default.to_string()
    } else {
        value
    }
}

/// Options naming just `service` (other parts filled by `new_target`).
pub(super) fn service_opts(service: &str) -> TargetOpts {
    TargetOpts {
        service: service.to_string(),
        ..TargetOpts::default()
    }
}
