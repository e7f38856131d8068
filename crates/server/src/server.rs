//! The running server: Raft, the store, and the RPC listener.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::error::RaftError;
use openraft::{BasicNode, ServerState};
use skein_raft::{LogStore, NetworkFactory, Raft, RaftService, SharedStore, StateMachine};
use skein_state::{Op, Outcome, Store};
use skein_types::read::{Consistency, ReadMeta};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::proposer::Proposer;
use crate::sessions::SessionTimers;
use crate::{Error, Result, ServerOptions};

/// One server of the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Raft id.
    pub id: u64,
    /// RPC address.
    pub address: String,
    /// Leads now.
    pub leader: bool,
    /// Votes.
    pub voter: bool,
}

/// A running server.
pub struct Server {
    raft: Raft,
    store: SharedStore,
    options: ServerOptions,
    sessions: Arc<SessionTimers>,
    proposer: Proposer,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("node", &self.options.node_name)
            .finish()
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// === impl Server ===

impl Server {
    /// Opens storage, starts Raft and the RPC listener, bootstraps if asked,
    /// and waits until a leader is known.
    pub async fn start(options: ServerOptions) -> Result<Arc<Self>> {
        let db_path = options.data_dir.as_ref().map(|d| d.join("raft.db"));
        if let Some(dir) = &options.data_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Start(format!("{}: {e}", dir.display())))?;
        }
        let db = skein_raft::open_database(db_path.as_deref())?;
        let log = LogStore::new(db.clone())?;
        let store: SharedStore = Arc::new(RwLock::new(Store::new()));
        let sm = StateMachine::new(store.clone(), db).map_err(|e| Error::Start(e.to_string()))?;
        let config = skein_raft::raft_config(
            options.raft_multiplier,
            options.snapshot_threshold,
            options.trailing_logs,
        )?;
        let raft = Raft::new(options.raft_id, config, NetworkFactory, log, sm)
            .await
            .map_err(|e| Error::Start(e.to_string()))?;
        let mut tasks = Vec::new();
        if let Some(bind) = options.rpc_bind {
            tasks.push(spawn_rpc(bind, raft.clone()).await?);
        }
        let sessions = Arc::new(SessionTimers::default());
        let (proposer, task) = Proposer::spawn(raft.clone());
        tasks.push(task);
        let mut server = Self {
            raft,
            store,
            options,
            sessions,
            proposer,
            tasks,
        };
        server.bootstrap().await?;
        server.wait_for_leader().await?;
        server.tasks.push(
            server
                .sessions
                .clone()
                .spawn_reaper(server.raft.clone(), server.store.clone()),
        );
        Ok(Arc::new(server))
    }

    async fn bootstrap(&self) -> Result<()> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| Error::Fatal(e.to_string()))?;
        if initialized || !self.options.bootstrap {
            return Ok(());
        }
        let node = BasicNode {
            addr: self.options.rpc_advertise.to_string(),
        };
        let members = BTreeMap::from([(self.options.raft_id, node)]);
        self.raft
            .initialize(members)
            .await
            .map_err(|e| Error::Start(format!("bootstrap: {e}")))?;
        info!(node = %self.options.node_name, "bootstrapped a new raft group");
        Ok(())
    }

    async fn wait_for_leader(&self) -> Result<()> {
        self.raft
            .wait(Some(self.options.ready_timeout))
            .metrics(
                |m| m.current_leader.is_some() && m.last_applied.is_some(),
                "leader known",
            )
            .await
            .map_err(|e| Error::Start(format!("no leader: {e}")))?;
        Ok(())
    }

    /// The store, for reads. Hold its read lock only briefly.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// This server's options.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Proposes `op` and returns its outcome once applied. Concurrent
    /// writes share one Raft entry (see `proposer`).
    pub async fn write(&self, op: Op) -> Result<Outcome> {
        self.proposer.write(op).await
    }

    /// Prepares a read at `consistency`: checks leadership as the mode asks.
    pub async fn read_barrier(&self, consistency: Consistency) -> Result<ReadMeta> {
        let m = self.raft.metrics().borrow().clone();
        let leader = m.current_leader;
        let is_leader = m.state == ServerState::Leader;
        match consistency {
            Consistency::Stale => {}
            Consistency::Default if is_leader => {}
            Consistency::Default => return Err(self.not_leader(leader)),
            Consistency::Consistent => {
                self.raft.ensure_linearizable().await.map_err(|e| match e {
                    RaftError::APIError(_) => self.not_leader(leader),
                    RaftError::Fatal(f) => Error::Fatal(f.to_string()),
                })?;
            }
        }
        let last_contact_ms = if is_leader {
            0
        } else {
            m.millis_since_quorum_ack.unwrap_or(0)
        };
        Ok(ReadMeta {
            known_leader: leader.is_some(),
            last_contact_ms,
        })
    }

    fn not_leader(&self, leader: Option<u64>) -> Error {
        match leader.and_then(|id| self.peer_addr(id)) {
            Some(addr) => Error::NotLeader { leader: Some(addr) },
            None => Error::NoLeader,
        }
    }

    fn peer_addr(&self, id: u64) -> Option<String> {
        let m = self.raft.metrics().borrow().clone();
        m.membership_config
            .nodes()
            .find(|(n, _)| **n == id)
            .map(|(_, node)| node.addr.clone())
    }

    /// The leader's RPC address, if one is known.
    pub fn leader_addr(&self) -> Option<String> {
        let leader = self.raft.metrics().borrow().current_leader;
        leader.and_then(|id| self.peer_addr(id))
    }

    /// True while this server leads.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The servers of the Raft configuration.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let m = self.raft.metrics().borrow().clone();
        let voters: Vec<u64> = m.membership_config.voter_ids().collect();
        m.membership_config
            .nodes()
            .map(|(id, node)| PeerInfo {
                id: *id,
                address: node.addr.clone(),
                leader: m.current_leader == Some(*id),
                voter: voters.contains(id),
            })
            .collect()
    }

    /// Index of the last entry in the Raft log.
    pub fn last_log_index(&self) -> u64 {
        self.raft.metrics().borrow().last_log_index.unwrap_or(0)
    }

    /// Current Raft term.
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// Restarts the TTL of a session; `false` if it does not exist.
    pub fn session_renew(&self, id: &str) -> bool {
        let exists = self
            .store
            .read()
            .map(|s| s.session_get(id).1.is_some())
            .unwrap_or(false);
        if exists {
            self.sessions.renew(id);
        }
        exists
    }

    /// Stops Raft and the background tasks.
    pub async fn shutdown(&self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Err(e) = self.raft.shutdown().await {
            warn!(error = %e, "raft shutdown");
        }
    }
}

async fn spawn_rpc(bind: SocketAddr, raft: Raft) -> Result<JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Error::Start(format!("binding server RPC {bind}: {e}")))?;
    let incoming = tokio_stream_listener(listener);
    let router =
        tonic::transport::Server::builder().add_service(RaftService::new(raft).into_server());
    Ok(tokio::spawn(async move {
        if let Err(e) = router.serve_with_incoming(incoming).await {
            warn!(error = %e, "server RPC listener stopped");
        }
    }))
}

fn tokio_stream_listener(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let next = l.accept().await.map(|(s, _)| s);
        Some((next, l))
    })
}
