//! The agent's local state: the services and checks registered on this
//! agent, kept apart from the catalog and synced to it (see `sync`).

pub(crate) mod persist;
mod sync;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use skein_config::{CheckDefinition, CheckKind, ServiceDefinition};
use skein_http_api::LocalError;
use skein_types::{Check, CheckStatus, Name, ServiceInstance};

pub(crate) use sync::{Fixed, SyncSignal, spawn_sync};

use crate::checks::{self, Runner};

/// Id of the node maintenance check.
pub(crate) const NODE_MAINTENANCE: &str = "_node_maintenance";
const SERVICE_MAINTENANCE_PREFIX: &str = "_service_maintenance:";
const DEFAULT_MAINTENANCE_REASON: &str = "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.";

/// One local check.
#[derive(Debug)]
pub(crate) struct LocalCheck {
    pub(crate) check: Check,
    pub(crate) def: Option<CheckDefinition>,
    pub(crate) critical_since: Option<Instant>,
    runner: Option<Runner>,
}

#[derive(Debug, Default)]
struct Inner {
    services: BTreeMap<String, ServiceInstance>,
    checks: BTreeMap<String, LocalCheck>,
}

/// Services and checks of this agent.
#[derive(Debug)]
pub(crate) struct LocalState {
    node: String,
    ctx: checks::Context,
    /// Where TTL check statuses are saved, with a data dir.
    check_states: Option<persist::CheckStates>,
    inner: Mutex<Inner>,
    pub(crate) sync: SyncSignal,
}

// === impl LocalState ===

impl LocalState {
    pub(crate) fn new(
        node: &str,
        store: skein_raft::SharedStore,
        check_states: Option<persist::CheckStates>,
    ) -> Arc<Self> {
        Arc::new(Self {
            node: node.to_owned(),
            check_states,
            ctx: checks::Context {
                node: node.to_owned(),
                store,
            },
            inner: Mutex::new(Inner::default()),
            sync: SyncSignal::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Snapshot of the services.
    pub(crate) fn services(&self) -> Vec<ServiceInstance> {
        self.lock().services.values().cloned().collect()
    }

    /// One service, by ID.
    pub(crate) fn service(&self, id: &str) -> Option<ServiceInstance> {
        self.lock().services.get(id).cloned()
    }

    /// Snapshot of the checks.
    pub(crate) fn checks(&self) -> Vec<Check> {
        self.lock()
            .checks
            .values()
            .map(|c| c.check.clone())
            .collect()
    }

    /// Adds or replaces a service and starts its checks.
    pub(crate) fn add_service(self: &Arc<Self>, def: ServiceDefinition, replace_checks: bool) {
        let svc = instance(&def);
        let mut inner = self.lock();
        if replace_checks {
            let keep: Vec<&str> = def.checks.iter().map(|c| c.id.as_str()).collect();
            inner.checks.retain(|id, c| {
                c.check.service_id != svc.id
                    || keep.contains(&id.as_str())
                    || id.starts_with(SERVICE_MAINTENANCE_PREFIX)
            });
        }
        inner.services.insert(svc.id.to_string(), svc.clone());
        for check in def.checks {
            let local = self.new_check(check, &svc);
            inner.checks.insert(local.check.check_id.to_string(), local);
        }
        drop(inner);
        self.sync.request();
    }

    /// Removes a service and its checks.
    pub(crate) fn remove_service(&self, id: &str) -> Result<(), LocalError> {
        let mut inner = self.lock();
        if inner.services.remove(id).is_none() {
            return Err(LocalError::NotFound(format!(
                "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
            )));
        }
        inner.checks.retain(|_, c| c.check.service_id != id);
        drop(inner);
        self.sync.request();
        Ok(())
    }

    /// Adds or replaces a check.
    pub(crate) fn add_check(self: &Arc<Self>, def: CheckDefinition) -> Result<(), LocalError> {
        let mut inner = self.lock();
        let svc =
            match def.service_id.as_str() {
                "" => ServiceInstance::default(),
                id => inner.services.get(id).cloned().ok_or_else(|| {
                    LocalError::NotFound(format!("ServiceID {id:?} does not exist"))
                })?,
            };
        let local = self.new_check(def, &svc);
        inner.checks.insert(local.check.check_id.to_string(), local);
        drop(inner);
        self.sync.request();
        Ok(())
    }

    fn new_check(self: &Arc<Self>, def: CheckDefinition, svc: &ServiceInstance) -> LocalCheck {
        let status = def
            .status
            .as_deref()
            .and_then(CheckStatus::parse)
            .unwrap_or(CheckStatus::Critical);
        let check = Check {
            node: self.node.clone().into(),
            check_id: def.id.clone().into(),
            name: if def.name.is_empty() {
                format!("Service '{}' check", svc.service).into()
            } else {
                def.name.clone().into()
            },
            status,
            notes: def.notes.clone().into(),
            service_id: svc.id.clone(),
            service_name: svc.service.clone(),
            service_tags: svc.tags.clone(),
            check_type: def.type_name().to_owned().into(),
            interval: def.interval_text.clone().into(),
            timeout: def.timeout_text.clone().into(),
            ..Check::default()
        };
        let runner = checks::start(&def, Arc::downgrade(self), &self.ctx);
        let critical_since = (status == CheckStatus::Critical).then(Instant::now);
        LocalCheck {
            check,
            def: Some(def),
            critical_since,
            runner,
        }
    }

    /// Removes a check.
    pub(crate) fn remove_check(&self, id: &str) -> Result<(), LocalError> {
        if self.lock().checks.remove(id).is_none() {
            return Err(LocalError::NotFound(format!(
                "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
            )));
        }
        self.sync.request();
        Ok(())
    }

    /// A TTL update from the API: sets the status and restarts the TTL.
    pub(crate) fn update_ttl(
        &self,
        id: &str,
        status: CheckStatus,
        output: String,
    ) -> Result<(), LocalError> {
        let reset = {
            let inner = self.lock();
            let check = inner
                .checks
                .get(id)
                .ok_or_else(|| LocalError::NotFound(format!("Unknown check ID {id:?}")))?;
            match check.def.as_ref().map(|d| &d.kind) {
                Some(CheckKind::Ttl(_)) => check.runner.as_ref().and_then(|r| r.ttl_reset.clone()),
                _ => {
                    return Err(LocalError::Failed(format!(
                        "CheckID {id:?} does not have associated TTL"
                    )));
                }
            }
        };
        self.set_check_status(id, status, output);
        if let Some(r) = reset {
            r.notify_one();
        }
        Ok(())
    }

    /// Records a check result; syncs if it changed anything.
    pub(crate) fn set_check_status(&self, id: &str, status: CheckStatus, output: String) {
        let mut inner = self.lock();
        let Some(c) = inner.checks.get_mut(id) else {
            return;
        };
        if c.check.status == status && c.check.output == output {
            return;
        }
        c.critical_since = match (status, c.critical_since) {
            (CheckStatus::Critical, Some(t)) => Some(t),
            (CheckStatus::Critical, None) => Some(Instant::now()),
            _ => None,
        };
        c.check.status = status;
        c.check.output = output.into();
        let is_ttl = matches!(c.def.as_ref().map(|d| &d.kind), Some(CheckKind::Ttl(_)));
        if is_ttl && let Some(states) = &self.check_states {
            states.save(&ttl_states(&inner));
        }
        drop(inner);
        self.sync.request();
    }

    /// Puts back the TTL statuses saved by an earlier run.
    pub(crate) fn restore_check_states(&self) {
        let Some(states) = &self.check_states else {
            return;
        };
        for (id, saved) in states.load() {
            let is_ttl = matches!(
                self.lock()
                    .checks
                    .get(&id)
                    .and_then(|c| c.def.as_ref())
                    .map(|d| &d.kind),
                Some(CheckKind::Ttl(_))
            );
            if let (true, Some(status)) = (is_ttl, CheckStatus::parse(&saved.status)) {
                self.set_check_status(&id, status, saved.output);
            }
        }
    }

    /// Adds or removes a maintenance check (node or service).
    pub(crate) fn set_maintenance(
        &self,
        service: Option<&str>,
        enable: bool,
        reason: &str,
    ) -> Result<(), LocalError> {
        let mut inner = self.lock();
        let (id, svc) = match service {
            None => (NODE_MAINTENANCE.to_owned(), ServiceInstance::default()),
            Some(s) => {
                let svc = inner.services.get(s).cloned().ok_or_else(|| {
                    LocalError::NotFound(format!("No service registered with ID {s:?}"))
                })?;
                (format!("{SERVICE_MAINTENANCE_PREFIX}{s}"), svc)
            }
        };
        if enable {
            let check = maintenance_check(&self.node, &id, &svc, reason);
            inner.checks.insert(
                id,
                LocalCheck {
                    check,
                    def: None,
                    critical_since: None,
                    runner: None,
                },
            );
        } else {
            inner.checks.remove(&id);
        }
        drop(inner);
        self.sync.request();
        Ok(())
    }

    /// Services whose checks have been critical longer than their
    /// `deregister_critical_service_after`.
    pub(crate) fn services_to_reap(&self, now: Instant) -> Vec<String> {
        let inner = self.lock();
        inner
            .checks
            .values()
            .filter(|c| !c.check.service_id.is_empty())
            .filter_map(|c| {
                let after = c.def.as_ref()?.deregister_critical_service_after?;
                let since = c.critical_since?;
                (now.duration_since(since) >= after).then(|| c.check.service_id.to_string())
            })
            .collect()
    }
}

fn ttl_states(inner: &Inner) -> std::collections::BTreeMap<String, persist::SavedStatus> {
    inner
        .checks
        .iter()
        .filter(|(_, c)| matches!(c.def.as_ref().map(|d| &d.kind), Some(CheckKind::Ttl(_))))
        .map(|(id, c)| {
            (
                id.clone(),
                persist::SavedStatus {
                    status: c.check.status.as_str().to_owned(),
                    output: c.check.output.to_string(),
                },
            )
        })
        .collect()
}

fn maintenance_check(node: &str, id: &str, svc: &ServiceInstance, reason: &str) -> Check {
    let node_level = svc.id.is_empty();
    Check {
        node: node.to_owned().into(),
        check_id: id.to_owned().into(),
        name: if node_level {
            "Node Maintenance Mode".into()
        } else {
            "Service Maintenance Mode".into()
        },
        status: CheckStatus::Critical,
        notes: if reason.is_empty() {
            DEFAULT_MAINTENANCE_REASON.into()
        } else {
            reason.to_owned().into()
        },
        service_id: svc.id.clone(),
        service_name: svc.service.clone(),
        service_tags: svc.tags.clone(),
        check_type: "maintenance".into(),
        ..Check::default()
    }
}

fn instance(def: &ServiceDefinition) -> ServiceInstance {
    ServiceInstance {
        id: def.id.clone().into(),
        service: def.name.clone().into(),
        tags: def.tags.iter().map(Name::from).collect(),
        address: def.address.clone().into(),
        port: def.port,
        meta: def.meta.clone(),
        kind: def.kind.clone().into(),
        extra: def.extra.clone(),
        create_index: 0,
        modify_index: 0,
    }
}
