//! The catalog tables: nodes, service instances and checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use skein_types::{Check, CheckStatus, Index, Node, ServiceInstance};

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
                    service: check.service_id.clone(),
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
        self.data.nodes.insert(node.node.clone(), node);
        self.catalog_changed(index);
    }

    pub(crate) fn upsert_service(&mut self, index: Index, node: &str, svc: &ServiceInstance) {
        self.journal_catalog();
        let services = self.data.services.entry(node.to_owned()).or_default();
        let old = services.get(&svc.id);
        if old.is_some_and(|o| same_service(o, svc)) {
            return;
        }
        let create_index = old.map_or(index, |o| o.create_index);
        let svc = ServiceInstance {
            create_index,
            modify_index: index,
            ..svc.clone()
        };
        if let Some(old) = services.insert(svc.id.clone(), svc.clone()) {
            self.unindex_service(node, &old);
        }
        self.by_service
            .entry(svc.service.clone())
            .or_default()
            .insert((node.to_owned(), svc.id.clone()));
        self.catalog_changed(index);
    }

    fn unindex_service(&mut self, node: &str, svc: &ServiceInstance) {
        if let Some(set) = self.by_service.get_mut(&svc.service) {
            set.remove(&(node.to_owned(), svc.id.clone()));
            if set.is_empty() {
                self.by_service.remove(&svc.service);
            }
        }
    }

    /// Rebuilds the service-name index from the tables (restore, rollback).
    pub(crate) fn rebuild_service_index(&mut self) {
        self.by_service.clear();
        for (node, services) in &self.data.services {
            for svc in services.values() {
                self.by_service
                    .entry(svc.service.clone())
                    .or_default()
                    .insert((node.clone(), svc.id.clone()));
            }
        }
    }

    pub(crate) fn upsert_check(&mut self, index: Index, at_ms: u64, node: &str, check: &Check) {
        self.journal_catalog();
        let mut check = Check {
            node: node.to_owned(),
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
        let checks = self.data.checks.entry(node.to_owned()).or_default();
        let old = checks.get(&check.check_id);
        if old.is_some_and(|o| same_check(o, &check)) {
            return;
        }
        check.create_index = old.map_or(index, |o| o.create_index);
        check.modify_index = index;
        let critical = check.status == CheckStatus::Critical;
        let id = check.check_id.clone();
        checks.insert(id.clone(), check);
        self.catalog_changed(index);
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
        for svc in self
            .data
            .services
            .remove(node)
            .unwrap_or_default()
            .into_values()
        {
            self.unindex_service(node, &svc);
        }
        self.data.checks.remove(node);
        self.catalog_changed(index);
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
    }

    pub(crate) fn remove_check(&mut self, index: Index, at_ms: u64, node: &str, id: &str) {
        self.journal_catalog();
        let removed = self.data.checks.get_mut(node).and_then(|c| c.remove(id));
        if removed.is_some() {
            self.catalog_changed(index);
            self.invalidate_sessions_of(index, at_ms, node, Some(id));
        }
    }
}

fn connect_capable(s: &ServiceInstance, name: &str) -> bool {
    let proxy_for = s
        .extra
        .get("Proxy")
        .and_then(|p| p.get("DestinationServiceName"))
        .and_then(|v| v.as_str());
    let native = s
        .extra
        .get("Connect")
        .and_then(|c| c.get("Native"))
        .and_then(|v| v.as_bool())
        == Some(true);
    (s.kind == "connect-proxy" && proxy_for == Some(name)) || (s.service == name && native)
}

fn same_service(a: &ServiceInstance, b: &ServiceInstance) -> bool {
    let strip = |s: &ServiceInstance| ServiceInstance {
        create_index: 0,
        modify_index: 0,
        ..s.clone()
    };
    strip(a) == strip(b)
}

fn same_check(a: &Check, b: &Check) -> bool {
    let strip = |c: &Check| Check {
        create_index: 0,
        modify_index: 0,
        ..c.clone()
    };
    strip(a) == strip(b)
}

// === impl Store: catalog reads ===

impl Store {
    /// Index of the catalog tables.
    pub fn catalog_index(&self) -> Index {
        self.data.catalog_index.max(1)
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
            .map(String::as_str)
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
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for svc in self.data.services.values().flat_map(|s| s.values()) {
            let tags = out.entry(svc.service.clone()).or_default();
            for t in &svc.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
        }
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

    /// Instances of one service, with their node.
    pub fn service_nodes(&self, name: &str) -> (Index, Vec<(Node, ServiceInstance)>) {
        let out = self
            .by_service
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|(node, id)| {
                let n = self.data.nodes.get(node)?;
                let svc = self.data.services.get(node)?.get(id)?;
                Some((n.clone(), svc.clone()))
            })
            .collect();
        (self.catalog_index(), out)
    }

    /// Mesh-capable instances for a service: its `connect-proxy`s and its
    /// Connect-native instances.
    pub fn connect_nodes(&self, name: &str) -> (Index, Vec<(Node, ServiceInstance)>) {
        let (i, all) = self.service_instances();
        let capable = all
            .into_iter()
            .filter(|(_, s)| connect_capable(s, name))
            .collect();
        (i, capable)
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
        let pairs: Vec<(&Node, &ServiceInstance)> = if mesh {
            self.data
                .services
                .iter()
                .flat_map(|(node, svcs)| svcs.values().map(move |s| (node, s)))
                .filter(|(_, s)| connect_capable(s, name))
                .filter_map(|(node, s)| Some((self.data.nodes.get(node)?, s)))
                .collect()
        } else {
            self.by_service
                .get(name)
                .into_iter()
                .flatten()
                .filter_map(|(node, id)| {
                    let svc = self.data.services.get(node)?.get(id)?;
                    Some((self.data.nodes.get(node)?, svc))
                })
                .collect()
        };
        pairs
            .into_iter()
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
