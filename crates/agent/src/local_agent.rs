//! `skein_http_api::LocalAgent`: the HTTP API's door to the local state.
//! Every change resolves once anti-entropy has written it to the catalog.

use std::sync::Arc;

use futures::future::BoxFuture;
use skein_config::{CheckDefinition, CheckKind, ServiceDefinition};
use skein_http_api::{LocalAgent, LocalError};
use skein_types::{Check, CheckStatus, ServiceInstance};

use crate::local::{LocalState, persist};

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
use crate::sidecar;

/// Where a registration comes from: script checks need different
/// permission from the API than from config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `/v1/agent/...`.
    Api,
    /// Config files.
    Local,
}

/// Re-reads the agent's configuration sources.
pub type Reloader = Box<dyn Fn() -> Result<skein_config::RuntimeConfig, String> + Send + Sync>;

/// The agent's policy around its local state.
#[derive(Clone)]
pub(crate) struct Agent {
    pub(crate) state: Arc<LocalState>,
    pub(crate) enable_script_checks: bool,
    pub(crate) enable_local_script_checks: bool,
    /// Ports handed to sidecars registered without one
    /// (`ports.sidecar_min_port`..=`ports.sidecar_max_port`).
    pub(crate) sidecar_ports: std::ops::RangeInclusive<u16>,
    /// Ids of the services that came from config files.
    pub(crate) config_services: Arc<std::sync::Mutex<Vec<String>>>,
    /// Rebuilds the configuration from its sources (`/v1/agent/reload`).
    pub(crate) reload: Arc<Reloader>,
    /// Tokens set through `/v1/agent/token/:kind`, held in memory.
    pub(crate) tokens: Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
    /// Where API registrations are saved, with a data dir.
    pub(crate) persist: Option<persist::Store>,
    /// The API registrations, as saved.
    pub(crate) saved: Arc<std::sync::Mutex<persist::Saved>>,
}

// === impl Agent ===

impl Agent {
    /// Refuses check kinds this agent will not run.
    pub(crate) fn allowed(&self, def: &CheckDefinition, source: Source) -> Result<(), LocalError> {
        match &def.kind {
            CheckKind::Script(_) if !(self.enable_script_checks || (source == Source::Local && self.enable_local_script_checks)) => {
                Err(LocalError::Invalid(
                    "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true".into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Registers a service from any source.
    pub(crate) fn add_service(
        &self,
        mut def: ServiceDefinition,
        replace: bool,
        source: Source,
    ) -> Result<u64, LocalError> {
        let sidecar_id = sidecar::sidecar_id(&def.id);
        let used = self
            .state
            .services()
            .iter()
            .filter(|s| s.id != sidecar_id)
            .map(|s| s.port)
            .collect();
        let sidecar =
            sidecar::split(&mut def, &used, &self.sidecar_ports).map_err(LocalError::Invalid)?;
        def.checks
            .iter()
            .chain(sidecar.iter().flat_map(|s| &s.checks))
            .try_for_each(|c| self.allowed(c, source))?;
        self.state.add_service(def, replace);
        if let Some(s) = sidecar {
            self.state.add_service(s, replace);
        }
        Ok(self.state.sync.request())
    }

    /// Registers the services of the config files and removes those that
    /// earlier config had and this one does not.
    pub(crate) fn apply_config_services(
        &self,
        raw: &[serde_json::Value],
    ) -> Result<(), LocalError> {
        let defs = raw
            .iter()
            .map(|v| ServiceDefinition::from_json(v).map_err(LocalError::Invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<String> = defs.iter().map(|d| d.id.clone()).collect();
        let previous = self
            .config_services
            .lock()
            .map(|mut p| std::mem::replace(&mut *p, ids.clone()))
            .unwrap_or_default();
        for gone in previous.iter().filter(|id| !ids.contains(id)) {
            let _ = self.state.remove_service(gone);
        }
        for def in defs {
            self.add_service(def, true, Source::Local)?;
        }
        Ok(())
    }

    /// Replays the registrations saved by an earlier run.
    pub(crate) fn restore_saved(&self) -> Result<(), LocalError> {
        let Some(store) = &self.persist else {
            return Ok(());
        };
        let saved = store.load().map_err(LocalError::Failed)?;
        for def in &saved.services {
            self.add_service(def.clone(), true, Source::Api)?;
        }
        for def in &saved.checks {
            self.allowed(def, Source::Api)
                .and_then(|()| self.state.add_check(def.clone()))?;
        }
        if let Ok(mut s) = self.saved.lock() {
            *s = saved;
        }
        self.state.restore_check_states();
        Ok(())
    }

    /// Applies `change` to the saved registrations and writes them out.
    fn save(&self, change: impl FnOnce(&mut persist::Saved)) {
        let Some(store) = &self.persist else { return };
        if let Ok(mut saved) = self.saved.lock() {
            change(&mut saved);
            store.save(&saved);
        }
    }

    async fn synced(&self, result: Result<(), LocalError>) -> Result<(), LocalError> {
        result?;
        let ticket = self.state.sync.request();
        self.state.sync.wait(ticket).await;
        Ok(())
    }
}

impl LocalAgent for Agent {
    fn register_service(
        &self,
        def: ServiceDefinition,
        replace: bool,
    ) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self
            .add_service(def.clone(), replace, Source::Api)
            .map(|_| ());
        if result.is_ok() {
            self.save(|s| {
                s.services.retain(|d| d.id != def.id);
                s.services.push(def);
            });
        }
        Box::pin(self.synced(result))
    }

    fn deregister_service(&self, id: String) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self.state.remove_service(&id);
        if result.is_ok() {
            let _ = self.state.remove_service(&sidecar::sidecar_id(&id));
            self.save(|s| {
                s.services.retain(|d| d.id != id);
                s.checks.retain(|c| c.service_id != id);
            });
        }
        Box::pin(self.synced(result))
    }

    fn register_check(&self, def: CheckDefinition) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self
            .allowed(&def, Source::Api)
            .and_then(|()| self.state.add_check(def.clone()));
        if result.is_ok() {
            self.save(|s| {
                s.checks.retain(|c| c.id != def.id);
                s.checks.push(def);
            });
        }
        Box::pin(self.synced(result))
    }

    fn deregister_check(&self, id: String) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self.state.remove_check(&id);
        if result.is_ok() {
            self.save(|s| s.checks.retain(|c| c.id != id));
        }
        Box::pin(self.synced(result))
    }

    fn update_ttl(
        &self,
        id: String,
        status: CheckStatus,
        output: String,
    ) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self.state.update_ttl(&id, status, output);
        Box::pin(self.synced(result))
    }

    fn service_maintenance(
        &self,
        id: String,
        enable: bool,
        reason: String,
    ) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self.state.set_maintenance(Some(&id), enable, &reason);
        Box::pin(self.synced(result))
    }

    fn node_maintenance(
        &self,
        enable: bool,
        reason: String,
    ) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self.state.set_maintenance(None, enable, &reason);
        Box::pin(self.synced(result))
    }

    fn services(&self) -> Vec<ServiceInstance> {
        self.state.services()
    }

    fn checks(&self) -> Vec<Check> {
        self.state.checks()
    }

    fn reload(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = (self.reload)()
            .map_err(LocalError::Invalid)
            .and_then(|c| self.apply_config_services(&c.services));
        if result.is_ok() {
            tracing::info!("configuration reloaded");
        }
        Box::pin(self.synced(result))
    }

    fn set_token(&self, kind: &str, token: String) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(kind.to_owned(), token);
        }
    }
}
