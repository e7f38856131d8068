//! The running server: Raft, the store, and the RPC listener.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openraft::error::RaftError;
use openraft::{BasicNode, ServerState};
use skein_raft::{LogStore, NetworkFactory, Raft, RaftService, SharedStore, StateMachine};
use skein_state::{Op, Outcome, Store};
use skein_types::read::{Consistency, ReadMeta};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::ca::{CaKeys, ConnectCa};
use crate::proposer::Proposer;
use crate::rpc::{RpcClients, RpcService};
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
    rpc: Arc<RpcClients>,
    ca: Arc<ConnectCa>,
    tasks: Vec<JoinHandle<()>>,
}

/// Shortest wait of a restarted server for a leader before it campaigns.
const ELECTION_GRACE_FLOOR: Duration = Duration::from_secs(5);

/// Pause between attempts while a leader is elected or a call is retried.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

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
    /// Opens storage, starts Raft and the RPC listener, and bootstraps if
    /// asked. A bootstrapping server waits until it leads; one that joins a
    /// cluster returns at once (see [`Server::initialize_cluster`]).
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
        let local = options
            .rpc_bind
            .map(|b| b.ip())
            .filter(|ip| !ip.is_unspecified());
        let raft = Raft::new(options.raft_id, config, NetworkFactory::new(local), log, sm)
            .await
            .map_err(|e| Error::Start(e.to_string()))?;
        let mut tasks = Vec::new();
        let sessions = Arc::new(SessionTimers::default());
        let (proposer, task) = Proposer::spawn(raft.clone());
        tasks.push(task);
        let rpc = Arc::new(RpcClients::new(local));
        let ca = Arc::new(ConnectCa::new(
            raft.clone(),
            store.clone(),
            proposer.clone(),
            rpc.clone(),
            CaKeys::open(options.data_dir.as_deref())?,
            options.datacenter.clone(),
            options.raft_id,
        ));
        if let Some(bind) = options.rpc_bind {
            let service = RpcService {
                proposer: proposer.clone(),
                raft: raft.clone(),
                sessions: sessions.clone(),
                store: store.clone(),
                clients: rpc.clone(),
                ca: ca.clone(),
            };
            tasks.push(spawn_rpc(bind, raft.clone(), service).await?);
        }
        let mut server = Self {
            raft,
            store,
            options,
            sessions,
            proposer,
            rpc,
            ca,
            tasks,
        };
        server.bootstrap().await?;
        if let Some(task) = server.hold_elections_until_heard().await {
            server.tasks.push(task);
        }
        if server.options.bootstrap {
            server.wait_for_leader().await?;
        }
        server.tasks.push(
            server
                .sessions
                .clone()
                .spawn_reaper(server.raft.clone(), server.store.clone()),
        );
        if server.options.connect_enabled {
            // A bootstrapped server answers with its CA in place.
            let leader = server.is_leader();
            if let Err(e) = server.ca.ensure(leader, &server.options.ca_config).await {
                tracing::warn!(error = %e, "cannot create the Connect CA");
            }
            server.tasks.push(crate::ca::spawn_initializer(
                server.ca.clone(),
                server.options.ca_config.clone(),
            ));
        }
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

    /// A server restarting into an existing group does not campaign until
    /// it has heard from a leader, or nobody has led for a grace period.
    ///
    /// Its own log may still list it as a voter after the others removed
    /// it (autopilot's dead-server cleanup, `remove-peer`). Without a
    /// pre-vote phase its campaigns would raise its term past the leader's,
    /// and every time the leader contacts it to add it back the leader
    /// would step down. Once a leader has reached it, it knows the current
    /// configuration and campaigns only if that makes it a voter.
    async fn hold_elections_until_heard(&self) -> Option<JoinHandle<()>> {
        let initialized = self.raft.is_initialized().await.unwrap_or(false);
        let voters = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .voter_ids()
            .count();
        if !initialized || voters < 2 {
            return None;
        }
        let max = Duration::from_millis(self.raft.config().election_timeout_max);
        let grace = (max * 4).max(ELECTION_GRACE_FLOOR);
        self.raft.runtime_config().elect(false);
        let raft = self.raft.clone();
        let me = self.options.raft_id;
        // The leader remembered from before the restart proves nothing; a
        // newer term or new log entries do.
        let (term, index) = {
            let m = self.raft.metrics().borrow().clone();
            (m.current_term, m.last_log_index)
        };
        Some(tokio::spawn(async move {
            let heard = raft
                .wait(Some(grace))
                .metrics(
                    |m| {
                        m.current_leader.is_some_and(|l| l != me)
                            && (m.current_term > term || m.last_log_index > index)
                    },
                    "a leader's contact",
                )
                .await
                .is_ok();
            info!(heard, "restarted server: elections enabled");
            raft.runtime_config().elect(true);
        }))
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
    /// writes share one Raft entry (see `proposer`). On a follower the
    /// write is forwarded to the leader; while no leader is known, or the
    /// leader changes under the call, it is retried for up to
    /// `rpc_hold_timeout`.
    pub async fn write(&self, op: Op) -> Result<Outcome> {
        let deadline = Instant::now() + self.options.rpc_hold_timeout;
        loop {
            let attempt = match self.leader_route() {
                Route::Local => self.proposer.write(op.clone()).await,
                Route::Remote(addr) => self.rpc.write(&addr, &op).await,
                Route::Unknown => Err(Error::NoLeader),
            };
            match attempt {
                // Neither was applied: safe to try again.
                Err(Error::NotLeader { .. } | Error::NoLeader) if Instant::now() < deadline => {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(Error::NotLeader { .. }) => return Err(Error::NoLeader),
                other => return other,
            }
        }
    }

    /// Where a leader-bound call goes now.
    fn leader_route(&self) -> Route {
        let m = self.raft.metrics().borrow().clone();
        match m.current_leader {
            Some(id) if id == self.options.raft_id && m.state == ServerState::Leader => {
                Route::Local
            }
            Some(id) => self.peer_addr(id).map_or(Route::Unknown, Route::Remote),
            None => Route::Unknown,
        }
    }

    /// Prepares a read at `consistency`. `?stale` reads the local store as
    /// it is. The default mode reads the leader's state: on the leader at
    /// once, on a follower once it has applied the leader's read index.
    /// `?consistent` confirms leadership with a quorum first (read index),
    /// on the leader or through it.
    pub async fn read_barrier(&self, consistency: Consistency) -> Result<ReadMeta> {
        let m = self.raft.metrics().borrow().clone();
        let leader = m.current_leader;
        let is_leader = m.state == ServerState::Leader;
        match consistency {
            Consistency::Stale => {}
            Consistency::Default if is_leader => {}
            Consistency::Default | Consistency::Consistent => self.linearizable_barrier().await?,
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

    /// Confirms leadership with a heartbeat round, then waits until this
    /// leader has applied everything committed before the read.
    async fn leader_read_barrier(&self) -> Result<()> {
        self.raft.ensure_linearizable().await.map_err(|e| match e {
            RaftError::APIError(_) => {
                let leader = self.raft.metrics().borrow().current_leader;
                self.not_leader(leader)
            }
            RaftError::Fatal(f) => Error::Fatal(f.to_string()),
        })?;
        Ok(())
    }

    /// The barrier of a consistent read (and of a default read on a
    /// follower): this server has applied everything the leader had
    /// committed when the read began. Retried through leader changes until
    /// `rpc_hold_timeout`, like writes.
    async fn linearizable_barrier(&self) -> Result<()> {
        let deadline = Instant::now() + self.options.rpc_hold_timeout;
        loop {
            let attempt = match self.leader_route() {
                // Including a server elected since the read began: it may
                // not have applied its predecessor's commits yet.
                Route::Local => self.leader_read_barrier().await,
                Route::Remote(addr) => self.follower_read_index(&addr, deadline).await,
                Route::Unknown => Err(Error::NoLeader),
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(e @ Error::Fatal(_)) => return Err(e),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(RETRY_PAUSE).await,
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the leader at `addr` for its read index and waits until this
    /// follower has applied it.
    async fn follower_read_index(&self, addr: &str, deadline: Instant) -> Result<()> {
        let index = self.rpc.read_index(addr).await?;
        let wait = deadline.saturating_duration_since(Instant::now());
        self.raft
            .wait(Some(wait))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map_err(|_| Error::NoLeader)?;
        Ok(())
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

    /// The servers of the Raft configuration (its voters; the learners
    /// are client agents).
    pub fn peers(&self) -> Vec<PeerInfo> {
        let m = self.raft.metrics().borrow().clone();
        let voters: Vec<u64> = m.membership_config.voter_ids().collect();
        m.membership_config
            .nodes()
            .filter(|(id, _)| voters.contains(id))
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

    /// Raft's progress as `/v1/agent/self` reports it under `Stats.raft`.
    pub fn raft_stats(&self) -> BTreeMap<String, String> {
        let m = self.raft.metrics().borrow().clone();
        let index = |l: Option<openraft::LogId<u64>>| l.map_or(0, |l| l.index).to_string();
        let state = match m.state {
            ServerState::Leader => "Leader",
            ServerState::Candidate => "Candidate",
            ServerState::Learner => "Learner",
            ServerState::Shutdown => "Shutdown",
            ServerState::Follower => "Follower",
        };
        [
            ("state", state.to_owned()),
            ("term", m.current_term.to_string()),
            ("last_log_index", m.last_log_index.unwrap_or(0).to_string()),
            ("applied_index", index(m.last_applied)),
            ("last_snapshot_index", index(m.snapshot)),
            ("purged_index", index(m.purged)),
            (
                "num_peers",
                m.membership_config
                    .voter_ids()
                    .count()
                    .saturating_sub(1)
                    .to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Current Raft term.
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// Restarts the TTL of a session (the leader's timer); `false` if it
    /// does not exist.
    pub async fn session_renew(&self, id: &str) -> Result<bool> {
        match self.leader_route() {
            Route::Local => {
                let exists = self
                    .store
                    .read()
                    .map(|s| s.session_get(id).1.is_some())
                    .unwrap_or(false);
                if exists {
                    self.sessions.renew(id);
                }
                Ok(exists)
            }
            Route::Remote(addr) => self.rpc.session_renew(&addr, id).await,
            Route::Unknown => Err(Error::NoLeader),
        }
    }

    /// Signs a Connect leaf CSR with the active root (on the leader).
    pub async fn sign_csr(&self, csr_pem: &str) -> Result<skein_ca::IssuedCert> {
        match self.leader_route() {
            Route::Local => self.ca.sign(csr_pem).await.map_err(Error::from),
            Route::Remote(addr) => self.rpc.sign_csr(&addr, csr_pem).await,
            Route::Unknown => Err(Error::NoLeader),
        }
    }

    /// Applies new Connect CA settings (`PUT /v1/connect/ca/configuration`),
    /// rotating the root when the key settings change.
    pub async fn ca_set_config(
        &self,
        provider: &str,
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool> {
        match self.leader_route() {
            Route::Local => self.ca.set_config(provider, config).await,
            Route::Remote(addr) => self.rpc.ca_set_config(&addr, provider, config).await,
            Route::Unknown => Err(Error::NoLeader),
        }
    }

    /// Forms a new Raft group of `servers` (raft id → RPC address), this
    /// one included, unless this server already belongs to one. One server
    /// calls this once `bootstrap_expect` servers have met.
    pub async fn initialize_cluster(&self, servers: BTreeMap<u64, String>) -> Result<bool> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| Error::Fatal(e.to_string()))?;
        if initialized {
            return Ok(false);
        }
        let members: BTreeMap<u64, BasicNode> = servers
            .into_iter()
            .map(|(id, addr)| (id, BasicNode { addr }))
            .collect();
        let ids: Vec<u64> = members.keys().copied().collect();
        self.raft
            .initialize(members)
            .await
            .map_err(|e| Error::Start(format!("forming the cluster: {e}")))?;
        info!(node = %self.options.node_name, servers = ?ids, "formed a new raft group");
        Ok(true)
    }

    /// Whether this server belongs to a Raft group yet.
    pub async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(false)
    }

    /// On the leader: makes `id` at `addr` a voter (it first catches up as a
    /// learner). A no-op if it already votes.
    pub async fn add_voter(&self, id: u64, addr: &str) -> Result<()> {
        let m = self.raft.metrics().borrow().clone();
        let mut voters: BTreeSet<u64> = m.membership_config.voter_ids().collect();
        if voters.contains(&id) {
            return Ok(());
        }
        let node = BasicNode {
            addr: addr.to_owned(),
        };
        self.raft
            .add_learner(id, node, true)
            .await
            .map_err(|e| self.membership_error(e))?;
        voters.insert(id);
        self.raft
            .change_membership(voters, false)
            .await
            .map_err(|e| self.membership_error(e))?;
        info!(peer = id, %addr, "added a voter");
        Ok(())
    }

    /// On the leader: replicates the log to a client agent at `addr` as a
    /// non-voting learner, so it can serve stale reads and DNS locally.
    pub async fn add_learner(&self, id: u64, addr: &str) -> Result<()> {
        let node = BasicNode {
            addr: addr.to_owned(),
        };
        self.raft
            .add_learner(id, node, false)
            .await
            .map_err(|e| self.membership_error(e))?;
        info!(learner = id, %addr, "added a learner");
        Ok(())
    }

    /// On the leader: stops replicating to a learner.
    pub async fn remove_learner(&self, id: u64) -> Result<()> {
        let change = openraft::ChangeMembers::RemoveNodes(BTreeSet::from([id]));
        self.raft
            .change_membership(change, false)
            .await
            .map_err(|e| self.membership_error(e))?;
        info!(learner = id, "removed a learner");
        Ok(())
    }

    /// The learners (client agents) of the Raft configuration.
    pub fn learner_ids(&self) -> BTreeSet<u64> {
        let m = self.raft.metrics().borrow().clone();
        let voters: BTreeSet<u64> = m.membership_config.voter_ids().collect();
        m.membership_config
            .nodes()
            .map(|(id, _)| *id)
            .filter(|id| !voters.contains(id))
            .collect()
    }

    /// Removes `id` from the Raft configuration, through the leader;
    /// `false` if it is not part of it.
    pub async fn remove_peer(&self, id: u64) -> Result<bool> {
        match self.leader_route() {
            Route::Local => remove_peer_local(&self.raft, id).await,
            Route::Remote(addr) => self.rpc.remove_peer(&addr, id).await,
            Route::Unknown => Err(Error::NoLeader),
        }
    }

    /// Hands leadership to voter `target` (any up-to-date voter when
    /// `None`), through the leader. Returns the new leader's id.
    pub async fn transfer_leader(&self, target: Option<u64>) -> Result<u64> {
        match self.leader_route() {
            Route::Local => {
                crate::transfer::transfer_local(&self.raft, &self.proposer, &self.rpc, target).await
            }
            Route::Remote(addr) => self.rpc.transfer_leader(&addr, target).await,
            Route::Unknown => Err(Error::NoLeader),
        }
    }

    fn membership_error<E: std::fmt::Display>(&self, e: RaftError<u64, E>) -> Error {
        match e {
            RaftError::APIError(api) => {
                let leader = self.raft.metrics().borrow().current_leader;
                match leader {
                    Some(l) if l != self.options.raft_id => self.not_leader(Some(l)),
                    _ => Error::Rpc(api.to_string()),
                }
            }
            RaftError::Fatal(f) => Error::Fatal(f.to_string()),
        }
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

/// On the leader: removes `id` from the Raft configuration.
pub(crate) async fn remove_peer_local(raft: &Raft, id: u64) -> Result<bool> {
    let m = raft.metrics().borrow().clone();
    let known = m.membership_config.nodes().any(|(n, _)| *n == id);
    if !known {
        return Ok(false);
    }
    let mut voters: BTreeSet<u64> = m.membership_config.voter_ids().collect();
    voters.remove(&id);
    if voters.is_empty() {
        return Err(Error::Rpc("cannot remove the last voter".into()));
    }
    raft.change_membership(voters, false)
        .await
        .map_err(|e| match e {
            RaftError::APIError(api) => Error::Rpc(api.to_string()),
            RaftError::Fatal(f) => Error::Fatal(f.to_string()),
        })?;
    info!(peer = id, "removed a peer");
    Ok(true)
}

/// Where a leader-bound call goes.
enum Route {
    Local,
    Remote(String),
    Unknown,
}

async fn spawn_rpc(bind: SocketAddr, raft: Raft, rpc: RpcService) -> Result<JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Error::Start(format!("binding server RPC {bind}: {e}")))?;
    let incoming = tokio_stream_listener(listener);
    let router = tonic::transport::Server::builder()
        .add_service(RaftService::new(raft).into_server())
        .add_service(rpc.into_server());
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
        // Raft and RPC answers are small frames: without TCP_NODELAY the
        // kernel holds them back for the peer's delayed ACK (about 40 ms).
        let next = l.accept().await.and_then(|(s, _)| {
            s.set_nodelay(true)?;
            Ok(s)
        });
        Some((next, l))
    })
}
