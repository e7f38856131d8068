//! `skein_http_api::Backend` over the local server role.

use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use skein_http_api::{Backend, BackendError, Consistency, Peer, ReadMeta};
use skein_server::Server;
use skein_state::{Op, Outcome, Store};
use tokio::sync::Notify;

/// The HTTP API's view of a server agent.
#[derive(Debug, Clone)]
pub(crate) struct ServerBackend {
    pub(crate) server: Arc<Server>,
    /// Wakes the agent's main loop for `PUT /v1/agent/leave`; only it
    /// waits here, so the permit cannot be taken by another waiter.
    pub(crate) leave: Arc<Notify>,
}

fn map_err(e: skein_server::Error) -> BackendError {
    match e {
        skein_server::Error::NoLeader => BackendError::NoLeader,
        skein_server::Error::NotLeader {
            leader: Some(leader),
        } => BackendError::NotLeader { leader },
        skein_server::Error::NotLeader { leader: None } => BackendError::NoLeader,
        skein_server::Error::Invalid(m) => BackendError::Invalid(m),
        other => BackendError::Internal(other.to_string()),
    }
}

impl Backend for ServerBackend {
    fn write(&self, op: Op) -> BoxFuture<'_, Result<Outcome, BackendError>> {
        Box::pin(async move { self.server.write(op).await.map_err(map_err) })
    }

    fn read_barrier(&self, c: Consistency) -> BoxFuture<'_, Result<ReadMeta, BackendError>> {
        Box::pin(async move { self.server.read_barrier(c).await.map_err(map_err) })
    }

    fn store(&self) -> Arc<RwLock<Store>> {
        self.server.store().clone()
    }

    fn leader(&self) -> Option<String> {
        self.server.leader_addr()
    }

    fn peers(&self) -> Vec<Peer> {
        let me = self.server.options();
        self.server
            .peers()
            .into_iter()
            .map(|p| Peer {
                id: p.id.to_string(),
                node: if p.id == me.raft_id {
                    me.node_name.clone()
                } else {
                    p.address.clone()
                },
                address: p.address,
                leader: p.leader,
                voter: p.voter,
            })
            .collect()
    }

    fn last_log_index(&self) -> u64 {
        self.server.last_log_index()
    }

    fn session_renew(&self, id: &str) -> BoxFuture<'_, Result<bool, BackendError>> {
        let id = id.to_owned();
        Box::pin(async move { self.server.session_renew(&id).await.map_err(map_err) })
    }

    fn leave(&self) {
        self.leave.notify_one();
    }

    fn remove_peer(&self, id: u64) -> BoxFuture<'_, Result<bool, BackendError>> {
        Box::pin(async move { self.server.remove_peer(id).await.map_err(map_err) })
    }

    fn transfer_leader(&self, target: Option<u64>) -> BoxFuture<'_, Result<u64, BackendError>> {
        Box::pin(async move { self.server.transfer_leader(target).await.map_err(map_err) })
    }

    fn raft_term(&self) -> u64 {
        self.server.term()
    }

    fn ca_set_config(
        &self,
        provider: String,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'_, Result<bool, BackendError>> {
        Box::pin(async move {
            self.server
                .ca_set_config(&provider, &config)
                .await
                .map_err(map_err)
        })
    }

    fn raft_stats(&self) -> std::collections::BTreeMap<String, String> {
        self.server.raft_stats()
    }
}
