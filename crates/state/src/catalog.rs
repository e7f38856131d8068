//! The catalog tables: nodes, service instances and checks.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use skein_types::{Check, CheckStatus, Index, Name, Node, ServiceInstance};

use crate::{ApplyError, Outcome, Store, Topic};

/// A catalog registration: a node, optionally a service on it, and checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Registration {
    /// The node (created or updated).
    pub node: Node,
    /// Leave an existing node's fields alone.
    pub skip_node_update: bool,
    /// A service instance on the node.
    pub service: Option<ServiceInstance>,
    /// Checks of the node or of its services.
    pub checks: Vec<Check>,
}

/// Catalog counts (`/v1/operator/usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Index of the catalog tables.
    pub index: Index,
    /// Distinct service names.
    pub services: usize,
    /// Service instances.
    pub instances: usize,
    /// Instances of kind `connect-proxy`.
    pub connect_proxies: usize,
    /// Plain instances other than the servers' `consul` service.
    pub billable: usize,
    /// Nodes.
    pub nodes: usize,
}

/// A service instance, its node and its aggregated health, borrowed from
/// the store (no clones), for readers that only need the verdict (DNS).
#[derive(Debug, Clone, Copy)]
pub struct InstanceHealth<'a> {
    /// The node.
    pub node: &'a Node,
    /// The instance.
    pub service: &'a ServiceInstance,
    /// The worst status among the node's checks and the instance's own.
    pub status: CheckStatus,
}

/// One row of `/v1/health/service/:name`: an instance with its node and
/// checks (owned; see [`InstanceHealth`] for the borrowed summary).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthEntry {
    /// The node.
    pub node: Node,
    /// The instance.
    pub service: ServiceInstance,
    /// Node checks and the instance's checks.
    pub checks: Vec<Check>,
}

// === impl Store: catalog writes ===

impl Store {
    pub(crate) fn register(&mut self, index: Index, at_ms: u64, reg: &Registration) -> Outcome {
        let name = reg.node.node.clone();
        if let Err(e) = self.registration_ok(reg) {
            return Outcome::Refused(e);
        }
        self.upsert_node(index, &reg.node, reg.skip_node_update);
        if let Some(svc) = &reg.service {
            self.upsert_service(index, &name, svc);
        }
        for check in &reg.checks {
            self.upsert_check(index, at_ms, &name, check);
        }
        Outcome::Bool(true)
    }

    fn registration_ok(&self, reg: &Registration) -> Result<(), ApplyError> {
        let name = &reg.node.node;
        let new_service = reg.service.as_ref().map(|s| s.id.as_str());
        for check in reg.checks.iter().filter(|c| !c.service_id.is_empty()) {
            let known = self
                .data
                .services
                .get(name)
                .is_some_and(|s| s.contains_key(&check.service_id));
            if !known && new_service != Some(check.service_id.as_str()) {
                return Err(ApplyError::MissingService {
                    service: check.service_id.to_string(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn upsert_node(&mut self, index: Index, node: &Node, skip_update: bool) {
        self.journal_catalog();
        let existing = self.data.nodes.get(&node.node);
        if skip_update && existing.is_some() {
            return;
        }
        let create_index = existing.map_or(index, |n| n.create_index);
        let unchanged = existing.is_some_and(|n| {
            Node {
                create_index: 0,
                modify_index: 0,
                ..n.clone()
            } == Node {
                create_index: 0,
                modify_index: 0,
                ..node.clone()
            }
        });
        if unchanged {
            return;
        }
        let node = Node {
            create_index,
            modify_index: index,
            ..node.clone()
        };
        let name = node.node.clone();
        self.data.nodes.insert(name.clone(), node);
        self.catalog_changed(index);
        self.node_services_changed(index, &name);
    }

    pub(crate) fn upsert_service(&mut self, index: Index, node: &str, svc: &ServiceInstance) {
        self.journal_catalog();
        let services = self.data.services.entry(Name::from(node)).or_default();
        let old = services.get(&svc.id);
        if old.is_some_and(|o| o.same_registration(svc)) {
            return;
        }
        let create_index = old.map_or(index, |o| o.create_index);
        let svc = ServiceInstance {
            create_index,
            modify_index: index,
            ..svc.clone()
        };
        let old = services.insert(svc.id.clone(), svc.clone());
        if let Some(old) = &old {
            self.unindex_service(node, old);
        }
        self.index_service(node, &svc);
        self.catalog_changed(index);
        self.instance_changed(index, &svc);
        if let Some(old) = &old {
            self.instance_changed(index, old);
        }
    }

    fn index_service(&mut self, node: &str, svc: &ServiceInstance) {
        let key = (Name::from(node), svc.id.clone());
        self.by_service
            .entry(svc.service.clone())
            .or_default()
            .insert(key.clone());
        if let Some(dest) = mesh_destination(svc) {
            self.by_connect
                .entry(Name::from(dest))
                .or_default()
                .insert(key);
        }
    }

    fn unindex_service(&mut self, node: &str, svc: &ServiceInstance) {
        let key = (Name::from(node), svc.id.clone());
        remove_from(&mut self.by_service, &svc.service, &key);
        if let Some(dest) = mesh_destination(svc) {
            remove_from(&mut self.by_connect, dest, &key);
        }
    }

    /// Rebuilds the service-name indexes from the tables (restore, rollback).
    pub(crate) fn rebuild_service_index(&mut self) {
        self.by_service.clear();
        self.by_connect.clear();
        let all: Vec<(Name, ServiceInstance)> = self
            .data
            .services
            .iter()
            .flat_map(|(node, svcs)| svcs.values().map(move |s| (node.clone(), s.clone())))
            .collect();
        for (node, svc) in &all {
            self.index_service(node, svc);
        }
    }

    /// Records that what a read of `name` returns changed at `index`, and
    /// wakes its watchers. A name with no instance and no mesh proxy left
    /// forgets its index (reads then report the catalog's).
    fn service_changed(&mut self, index: Index, name: &str) {
        if self.by_service.contains_key(name) || self.by_connect.contains_key(name) {
            self.data.service_indexes.insert(Name::from(name), index);
        } else {
            self.data.service_indexes.remove(name);
        }
        self.touch(Topic::Service(name.to_owned()));
    }

    /// An instance changed (or its checks or node did): its own name and,
    /// for a mesh instance, the service it fronts.
    fn instance_changed(&mut self, index: Index, svc: &ServiceInstance) {
        self.service_changed(index, &svc.service);
        if let Some(dest) = mesh_destination(svc).filter(|d| *d != svc.service) {
            let dest = dest.to_owned();
            self.service_changed(index, &dest);
        }
    }

    /// Every instance on `node` changed (a node record or node check).
    fn node_services_changed(&mut self, index: Index, node: &str) {
        let instances: Vec<ServiceInstance> = self
            .data
            .services
            .get(node)
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        for svc in &instances {
            self.instance_changed(index, svc);
        }
    }

    /// A check of `node` changed: its service's instance, or for a node
    /// check every instance on the node.
    fn check_changed(&mut self, index: Index, node: &str, service_id: &str) {
        if service_id.is_empty() {
            return self.node_services_changed(index, node);
        }
        let svc = self
            .data
            .services
            .get(node)
            .and_then(|s| s.get(service_id))
            .cloned();
        if let Some(svc) = svc {
            self.instance_changed(index, &svc);
        }
    }

    pub(crate) fn upsert_check(&mut self, index: Index, at_ms: u64, node: &str, check: &Check) {
        self.journal_catalog();
        let mut check = Check {
            node: Name::from(node),
            ..check.clone()
        };
        if let Some(svc) = self
            .data
            .services
            .get(node)
            .and_then(|s| s.get(&check.service_id))
        {
            check.service_name = svc.service.clone();
            check.service_tags = svc.tags.clone();
        }
        let checks = self.data.checks.entry(Name::from(node)).or_default();
        let old = checks.get(&check.check_id);
        if old.is_some_and(|o| o.same_registration(&check)) {
            return;
        }
        check.create_index = old.map_or(index, |o| o.create_index);
        check.modify_index = index;
        let critical = check.status == CheckStatus::Critical;
        let id = check.check_id.clone();
        let service_id = check.service_id.clone();
        checks.insert(id.clone(), check);
        self.catalog_changed(index);
        self.check_changed(index, node, &service_id);
        if critical {
            self.invalidate_sessions_of(index, at_ms, node, Some(&id));
        }
    }

    fn catalog_changed(&mut self, index: Index) {
        self.data.catalog_index = index;
        self.touch(Topic::Catalog);
    }

    pub(crate) fn deregister(
        &mut self,
        index: Index,
        at_ms: u64,
        node: &str,
        service_id: Option<&str>,
        check_id: Option<&str>,
    ) -> Outcome {
        match (service_id, check_id) {
            (Some(svc), _) => self.remove_service(index, node, svc),
            (None, Some(check)) => self.remove_check(index, at_ms, node, check),
            (None, None) => self.remove_node(index, at_ms, node),
        }
        Outcome::Bool(true)
    }

    pub(crate) fn remove_node(&mut self, index: Index, at_ms: u64, node: &str) {
        if !self.data.nodes.contains_key(node) {
            return;
        }
        self.journal_catalog();
        self.data.nodes.remove(node);
        let removed = self.data.services.remove(node).unwrap_or_default();
        for svc in removed.values() {
            self.unindex_service(node, svc);
        }
        self.data.checks.remove(node);
        self.catalog_changed(index);
        for svc in removed.values() {
            self.instance_changed(index, svc);
        }
        self.invalidate_sessions_of(index, at_ms, node, None);
    }

    pub(crate) fn remove_service(&mut self, index: Index, node: &str, id: &str) {
        self.journal_catalog();
        let Some(removed) = self.data.services.get_mut(node).and_then(|s| s.remove(id)) else {
            return;
        };
        self.unindex_service(node, &removed);
        if let Some(checks) = self.data.checks.get_mut(node) {
            checks.retain(|_, c| c.service_id != id);
        }
        self.catalog_changed(index);
        self.instance_changed(index, &removed);
    }

    pub(crate) fn remove_check(&mut self, index: Index, at_ms: u64, node: &str, id: &str) {
        self.journal_catalog();
        let removed = self.data.checks.get_mut(node).and_then(|c| c.remove(id));
        if let Some(check) = removed {
            self.catalog_changed(index);
            self.check_changed(index, node, &check.service_id);
            self.invalidate_sessions_of(index, at_ms, node, Some(id));
        }
    }
}

/// The service a mesh-capable instance serves: a `connect-proxy`'s
/// destination, or a Connect-native instance's own name.
fn mesh_destination(s: &ServiceInstance) -> Option<&str> {
    if s.kind == "connect-proxy" {
        return s
            .extra
            .get("Proxy")
            .and_then(|p| p.get("DestinationServiceName"))
            .and_then(|v| v.as_str());
    }
    let native = s
        .extra
        .get("Connect")
        .and_then(|c| c.get("Native"))
        .and_then(|v| v.as_bool())
        == Some(true);
    native.then_some(s.service.as_str())
}

fn remove_from(index: &mut BTreeMap<Name, BTreeSet<(Name, Name)>>, name: &str, key: &(Name, Name)) {
    if let Some(set) = index.get_mut(name) {
        set.remove(key);
        if set.is_empty() {
            index.remove(name);
        }
    }
}

// === impl Store: catalog reads ===

impl Store {
    /// Index of the catalog tables.
    pub fn catalog_index(&self) -> Index {
        self.data.catalog_index.max(1)
    }

    /// Index of the last change to what a read of service `name` returns
    /// (watch it with [`Topic::Service`]); the catalog's index for a name
    /// with no instance.
    pub fn service_index(&self, name: &str) -> Index {
        self.data
            .service_indexes
            .get(name)
            .copied()
            .unwrap_or(self.data.catalog_index)
            .max(1)
    }

    /// Every node.
    pub fn nodes(&self) -> (Index, Vec<Node>) {
        (
            self.catalog_index(),
            self.data.nodes.values().cloned().collect(),
        )
    }

    /// Catalog counts for `/v1/operator/usage`, without copying records.
    pub fn usage(&self) -> Usage {
        let instances = || self.data.services.values().flat_map(|s| s.values());
        Usage {
            index: self.catalog_index(),
            services: self.by_service.len(),
            instances: instances().count(),
            connect_proxies: instances().filter(|s| s.kind == "connect-proxy").count(),
            billable: instances()
                .filter(|s| s.kind.is_empty() && s.service != "consul")
                .count(),
            nodes: self.data.nodes.len(),
        }
    }

    /// One node's services by id and its checks by id, borrowed.
    #[allow(clippy::type_complexity)]
    pub fn node_entries(
        &self,
        node: &str,
    ) -> (
        Option<&BTreeMap<Name, ServiceInstance>>,
        Option<&BTreeMap<Name, Check>>,
    ) {
        (self.data.services.get(node), self.data.checks.get(node))
    }

    /// One node's record, borrowed; the name matches exactly, else
    /// ignoring ASCII case (as DNS names do).
    pub fn node_record(&self, name: &str) -> Option<&Node> {
        self.data.nodes.get(name).or_else(|| {
            self.data
                .nodes
                .values()
                .find(|n| n.node.eq_ignore_ascii_case(name))
        })
    }

    /// The registered spelling of a service name that matches `name`
    /// ignoring ASCII case (exact spelling first).
    pub fn service_name_folded(&self, name: &str) -> Option<&str> {
        if let Some((stored, _)) = self.by_service.get_key_value(name) {
            return Some(stored);
        }
        self.by_service
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .map(Name::as_str)
    }

    /// One node and its services.
    pub fn node(&self, name: &str) -> (Index, Option<(Node, Vec<ServiceInstance>)>) {
        let found = self.data.nodes.get(name).map(|n| {
            let services = self.data.services.get(name);
            (
                n.clone(),
                services
                    .map(|s| s.values().cloned().collect())
                    .unwrap_or_default(),
            )
        });
        (self.catalog_index(), found)
    }

    /// Service names with the union of their tags.
    pub fn services(&self) -> (Index, BTreeMap<String, Vec<String>>) {
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for svc in self.data.services.values().flat_map(|s| s.values()) {
            let tags = seen.entry(svc.service.as_str()).or_default();
            for t in &svc.tags {
                if !tags.contains(&t.as_str()) {
                    tags.push(t);
                }
            }
        }
        let out = seen
            .into_iter()
            .map(|(name, tags)| {
                (
                    name.to_owned(),
                    tags.into_iter().map(str::to_owned).collect(),
                )
            })
            .collect();
        (self.catalog_index(), out)
    }

    /// Every service instance, with its node.
    pub fn service_instances(&self) -> (Index, Vec<(Node, ServiceInstance)>) {
        let mut out = Vec::new();
        for (node, services) in &self.data.services {
            let Some(n) = self.data.nodes.get(node) else {
                continue;
            };
            out.extend(services.values().map(|s| (n.clone(), s.clone())));
        }
        (self.catalog_index(), out)
    }

    /// Instances of one service, with their node, at the service's index.
    pub fn service_nodes(&self, name: &str) -> (Index, Vec<(Node, ServiceInstance)>) {
        let out = self
            .instance_refs(name, false)
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        (self.service_index(name), out)
    }

    /// Mesh-capable instances for a service: its `connect-proxy`s and its
    /// Connect-native instances, at the service's index.
    pub fn connect_nodes(&self, name: &str) -> (Index, Vec<(Node, ServiceInstance)>) {
        let out = self
            .instance_refs(name, true)
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        (self.service_index(name), out)
    }

    /// Instances of `name` (with `mesh`, its mesh-capable instances) and
    /// their nodes, borrowed, through the name indexes.
    fn instance_refs(
        &self,
        name: &str,
        mesh: bool,
    ) -> impl Iterator<Item = (&Node, &ServiceInstance)> {
        let index = if mesh {
            &self.by_connect
        } else {
            &self.by_service
        };
        index
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|(node, id)| {
                let svc = self.data.services.get(node)?.get(id)?;
                Some((self.data.nodes.get(node)?, svc))
            })
    }

    /// Instances of `name` (with `mesh`, its mesh-capable instances), each
    /// with its worst check status, borrowed from the store.
    pub fn instance_health(&self, name: &str, mesh: bool) -> Vec<InstanceHealth<'_>> {
        let health = |node: &str, id: &str| {
            self.data
                .checks
                .get(node)
                .into_iter()
                .flat_map(|c| c.values())
                .filter(|c| c.service_id.is_empty() || c.service_id == id)
                .map(|c| c.status)
                .max()
                .unwrap_or(CheckStatus::Passing)
        };
        self.instance_refs(name, mesh)
            .map(|(node, service)| InstanceHealth {
                node,
                service,
                status: health(&node.node, &service.id),
            })
            .collect()
    }

    /// Like [`Store::health_service`] for the mesh-capable instances.
    pub fn health_connect(&self, name: &str) -> (Index, Vec<HealthEntry>) {
        let (index, instances) = self.connect_nodes(name);
        (index, self.with_checks(instances))
    }

    /// Instances of one service with their node and service checks.
    pub fn health_service(&self, name: &str) -> (Index, Vec<HealthEntry>) {
        let (index, instances) = self.service_nodes(name);
        (index, self.with_checks(instances))
    }

    fn with_checks(&self, instances: Vec<(Node, ServiceInstance)>) -> Vec<HealthEntry> {
        instances
            .into_iter()
            .map(|(node, service)| {
                let checks = self.instance_checks(&node.node, &service.id);
                HealthEntry {
                    node,
                    service,
                    checks,
                }
            })
            .collect()
    }

    fn instance_checks(&self, node: &str, service_id: &str) -> Vec<Check> {
        self.data
            .checks
            .get(node)
            .map(|c| {
                c.values()
                    .filter(|c| c.service_id.is_empty() || c.service_id == service_id)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every check of a node.
    pub fn node_checks(&self, node: &str) -> (Index, Vec<Check>) {
        let checks = self
            .data
            .checks
            .get(node)
            .map(|c| c.values().cloned().collect());
        (self.catalog_index(), checks.unwrap_or_default())
    }

    /// Every check of every instance of a service.
    pub fn service_checks(&self, name: &str) -> (Index, Vec<Check>) {
        let checks = self
            .data
            .checks
            .values()
            .flat_map(|c| c.values())
            .filter(|c| c.service_name == name && !c.service_id.is_empty())
            .cloned()
            .collect();
        (self.catalog_index(), checks)
    }

    /// Every check, optionally only those in one state.
    pub fn checks_in_state(&self, state: Option<CheckStatus>) -> (Index, Vec<Check>) {
        let checks = self
            .data
            .checks
            .values()
            .flat_map(|c| c.values())
            .filter(|c| state.is_none_or(|s| c.status == s))
            .cloned()
            .collect();
        (self.catalog_index(), checks)
    }
}
