//! `skein_http_api::LocalAgent`: the HTTP API's door to the local state.
//! Every change resolves once anti-entropy has written it to the catalog.

use std::sync::Arc;

use futures::future::BoxFuture;
use skein_config::{CheckDefinition, CheckKind, ServiceDefinition};
use skein_http_api::{LocalAgent, LocalError};
use skein_types::{Check, CheckStatus, ServiceInstance};

use crate::local::LocalState;

/// Where a registration comes from: script checks need different
/// permission from the API than from config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `/v1/agent/...`.
    Api,
    /// Config files.
    Local,
}

/// The agent's policy around its local state.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub(crate) state: Arc<LocalState>,
    pub(crate) enable_script_checks: bool,
    pub(crate) enable_local_script_checks: bool,
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
            CheckKind::Grpc { .. } | CheckKind::H2Ping { .. } | CheckKind::Alias { .. } => Err(LocalError::Invalid(format!(
                "{} checks are not supported by this skein version",
                def.type_name()
            ))),
            _ => Ok(()),
        }
    }

    /// Registers a service from any source.
    pub(crate) fn add_service(
        &self,
        def: ServiceDefinition,
        replace: bool,
        source: Source,
    ) -> Result<u64, LocalError> {
        def.checks
            .iter()
            .try_for_each(|c| self.allowed(c, source))?;
        self.state.add_service(def, replace);
        Ok(self.state.sync.request())
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
        let result = self.add_service(def, replace, Source::Api).map(|_| ());
        Box::pin(self.synced(result))
    }

    fn deregister_service(&self, id: String) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self.state.remove_service(&id);
        Box::pin(self.synced(result))
    }

    fn register_check(&self, def: CheckDefinition) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self
            .allowed(&def, Source::Api)
            .and_then(|()| self.state.add_check(def));
        Box::pin(self.synced(result))
    }

    fn deregister_check(&self, id: String) -> BoxFuture<'_, Result<(), LocalError>> {
        let result = self.state.remove_check(&id);
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
}
