//! The agent's place in its datacenter: the LAN gossip pool, joining it,
//! forming the Raft group once `bootstrap_expect` servers have met, and
//! the leader's reconciliation of the pool into Raft and the catalog
//! (autopilot adds and removes voters, a failed member's `serfHealth`
//! turns critical, a member that left is deregistered).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skein_config::{Autopilot, RuntimeConfig};
use skein_http_api::{
    AgentInfo, ClusterView, EventLog, KeyringAnswer, KeyringRequest, LocalAgent, MemberInfo,
    UserEvent,
};
use skein_membership::{
    GossipPool, Keyring, KeyringOp, KeyringResponse, Member, MemberStatus, Membership, PoolConfig,
    Timing, UserEvent as GossipEvent,
};
use skein_server::{Server, raft_id_for};
use skein_state::{Op, Registration};
use skein_types::{Check, CheckStatus, Coordinate, Node};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::autopilot::{Action, Policy, Stability, View, plan};
use crate::{Error, Result};

/// Consul's default LAN gossip port, for join addresses without one.
const DEFAULT_SERF_LAN_PORT: u16 = 8301;
/// How often the leader reconciles even when nothing was announced.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(2);
/// `serfHealth` output for a live member, as Consul writes it.
const ALIVE_OUTPUT: &str = "Agent alive and reachable";
/// `serfHealth` output for a failed member.
const FAILED_OUTPUT: &str = "Agent not live or unreachable";

/// The gossip pool and the tasks that act on it.
pub(crate) struct Cluster {
    pool: Arc<GossipPool>,
    /// The WAN pool, on servers.
    wan: Option<Arc<GossipPool>>,
    dc: String,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("addr", &self.pool.addr())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Joins the LAN pool and starts forming and reconciling.
    pub(crate) async fn start(
        config: &RuntimeConfig,
        info: &AgentInfo,
        server: Arc<Server>,
        data_dir: Option<&Path>,
    ) -> Result<Self> {
        let port = config.ports.serf_lan.unwrap_or(DEFAULT_SERF_LAN_PORT);
        let lan = Pool {
            kind: "LAN",
            name: info.node_name.clone(),
            port,
            timing: Timing::lan(),
            keyring_file: "local.keyring",
            snapshot_file: "local.snapshot",
        };
        let pool = lan.start(config, info, data_dir).await?;
        let mut tasks = vec![tokio::spawn(join_all(
            pool.clone(),
            JoinPlan {
                start: config.start_join.clone(),
                retry: config.retry_join.clone(),
                interval: config.retry_interval,
                max: config.retry_max,
                default_port: DEFAULT_SERF_LAN_PORT,
            },
        ))];
        let wan = crate::wan::start(config, info, data_dir).await?;
        if let Some(wan) = &wan {
            tasks.push(tokio::spawn(join_all(
                wan.clone(),
                JoinPlan {
                    start: config.start_join_wan.clone(),
                    retry: config.retry_join_wan.clone(),
                    interval: config.retry_interval_wan,
                    max: config.retry_max_wan,
                    default_port: crate::wan::DEFAULT_PORT,
                },
            )));
        }
        let dc = config.datacenter.clone();
        if config.bootstrap_expect > 1 {
            tasks.push(tokio::spawn(form(
                pool.clone(),
                server.clone(),
                config.bootstrap_expect as usize,
                dc.clone(),
            )));
        }
        tasks.push(tokio::spawn(reconcile(
            pool.clone(),
            server,
            dc,
            config.autopilot.clone(),
        )));
        Ok(Self {
            pool,
            wan,
            dc: config.datacenter.clone(),
            tasks,
        })
    }

    /// Delivers the user events gossip brings to `events`, when this
    /// agent passes their node, service and tag filters.
    pub(crate) fn deliver_events(
        &mut self,
        events: Arc<EventLog>,
        local: Arc<dyn LocalAgent>,
        node: String,
    ) {
        let mut incoming = self.pool.subscribe_events();
        self.tasks.push(tokio::spawn(async move {
            loop {
                match incoming.recv().await {
                    Ok(e) => deliver(&events, local.as_ref(), &node, &e),
                    Err(RecvError::Lagged(missed)) => {
                        warn!(missed, "user events: fell behind the pool");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }));
    }

    /// This node's network coordinate as the pool has measured it.
    pub(crate) fn coordinate(&self) -> Coordinate {
        self.pool.coordinate()
    }

    /// Sends this node's coordinate to the servers whenever it changed,
    /// at most once per `every` (Consul's `sync_coordinate_interval_min`).
    pub(crate) fn sync_coordinates(
        &mut self,
        server: Arc<Server>,
        node: String,
        every: Duration,
        mut last: Option<Coordinate>,
    ) {
        let pool = self.pool.clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let now = pool.coordinate();
                if last.as_ref() != Some(&now) && publish_coordinate(&server, &node, &now).await {
                    last = Some(now);
                }
            }
        }));
    }

    /// The pool's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.pool.addr()
    }

    /// The WAN pool's address, on servers.
    pub(crate) fn wan_addr(&self) -> Option<SocketAddr> {
        self.wan.as_ref().map(|w| w.addr())
    }

    /// The pools, for the HTTP API.
    pub(crate) fn view(&self) -> Arc<dyn ClusterView> {
        Arc::new(PoolView {
            lan: self.pool.clone(),
            wan: self.wan.clone(),
            dc: self.dc.clone(),
        })
    }

    /// Leaves the pools gracefully, so others record a leave, not a
    /// failure.
    pub(crate) async fn leave(&self) {
        if let Some(wan) = &self.wan
            && let Err(e) = wan.leave().await
        {
            warn!(error = %e, "gossip: leaving the WAN pool");
        }
        if let Err(e) = self.pool.leave().await {
            warn!(error = %e, "gossip: leaving the pool");
        }
    }

    /// Stops the tasks and the pools.
    pub(crate) async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(wan) = &self.wan {
            wan.shutdown().await;
        }
        self.pool.shutdown().await;
    }
}

/// What differs between the LAN and the WAN pool.
pub(crate) struct Pool {
    /// `LAN` or `WAN`, for messages.
    pub(crate) kind: &'static str,
    /// The member name.
    pub(crate) name: String,
    pub(crate) port: u16,
    pub(crate) timing: Timing,
    /// The keyring file's name under `<data_dir>/serf`.
    pub(crate) keyring_file: &'static str,
    /// The snapshot file's name under `<data_dir>/serf`: the members to
    /// rejoin after a restart.
    pub(crate) snapshot_file: &'static str,
}

impl Pool {
    /// Starts the pool on the agent's bind address, with its tags and the
    /// `encrypt` key (or the keyring file, unless `disable_keyring_file`).
    pub(crate) async fn start(
        self,
        config: &RuntimeConfig,
        info: &AgentInfo,
        data_dir: Option<&Path>,
    ) -> Result<Arc<GossipPool>> {
        let pool_config = PoolConfig {
            name: self.name,
            bind: SocketAddr::new(config.bind_addr, self.port),
            advertise: Some(SocketAddr::new(config.advertise_addr, 0)),
            tags: tags(info, config),
            timing: self.timing,
            keyring: keyring(config)?,
            keyring_file: data_dir
                .filter(|_| !config.disable_keyring_file)
                .map(|d| d.join("serf").join(self.keyring_file)),
            snapshot_file: data_dir.map(|d| d.join("serf").join(self.snapshot_file)),
            rejoin_after_leave: config.rejoin_after_leave,
        };
        let kind = self.kind;
        let pool = GossipPool::start(pool_config)
            .await
            .map_err(|e| Error::Unsupported(format!("starting the {kind} gossip pool: {e}")))?;
        info!(addr = %pool.addr(), pool = kind, "gossip: pool started");
        Ok(pool)
    }
}

/// The `encrypt` key, if one is configured.
fn keyring(config: &RuntimeConfig) -> Result<Option<Keyring>> {
    let Some(key) = config.encrypt.as_deref().filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    Keyring::from_base64(&[key])
        .map(Some)
        .map_err(|e| Error::Unsupported(format!("Failed to configure keyring: {e}")))
}

/// Records `e` if it is a user event this agent takes.
fn deliver(events: &EventLog, local: &dyn LocalAgent, node: &str, e: &GossipEvent) {
    let Some(event) = UserEvent::decode(&e.name, e.ltime, &e.payload) else {
        debug!(name = %e.name, "user events: not an event this agent understands");
        return;
    };
    let services = local.services();
    let offered = services
        .iter()
        .map(|s| (s.service.as_str(), s.tags.as_slice()));
    if event.accepted_by(node, offered) {
        debug!(name = %event.name, ltime = event.ltime, "user event");
        events.record(event);
    }
}

/// Writes `coord` as `node`'s coordinate; whether it was stored.
pub(crate) async fn publish_coordinate(server: &Server, node: &str, coord: &Coordinate) -> bool {
    let Ok(coord) = serde_json::to_value(coord) else {
        return false;
    };
    let op = Op::CoordinateUpdate {
        node: node.to_owned(),
        coord,
    };
    match server.write(op).await {
        Ok(_) => true,
        Err(e) => {
            debug!(error = %e, "publishing the node's coordinate");
            false
        }
    }
}

/// The Serf tags Consul agents carry.
fn tags(info: &AgentInfo, config: &RuntimeConfig) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = [
        (
            "role",
            if info.server { "consul" } else { "node" }.to_owned(),
        ),
        ("dc", info.datacenter.clone()),
        ("id", info.node_id.clone()),
        ("build", format!("{}:skein", info.consul_version)),
        ("vsn", "2".to_owned()),
        ("vsn_min", "2".to_owned()),
        ("vsn_max", "3".to_owned()),
        ("segment", String::new()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // Clients listen for Raft too: they follow the log as learners.
    tags.insert("port".into(), info.server_port.to_string());
    if info.server {
        tags.insert("raft_vsn".into(), "3".into());
        tags.insert("expect".into(), config.bootstrap_expect.to_string());
    }
    tags
}

/// Where and how a pool joins at start.
struct JoinPlan {
    /// `start_join`: tried once.
    start: Vec<String>,
    /// `retry_join`: tried every `interval` until one answers.
    retry: Vec<String>,
    interval: Duration,
    /// Attempts before giving up (0: forever).
    max: u32,
    /// The port of addresses given without one.
    default_port: u16,
}

/// `start` once, then `retry` every `interval` until one address answers
/// or `max` attempts (0: forever) have failed.
async fn join_all(pool: Arc<GossipPool>, plan: JoinPlan) {
    if !plan.start.is_empty() {
        match join(&pool, &plan.start, plan.default_port).await {
            Ok(n) => info!(joined = n, "gossip: joined"),
            Err(e) => warn!(error = %e, "gossip: join failed"),
        }
    }
    if plan.retry.is_empty() {
        return;
    }
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match join(&pool, &plan.retry, plan.default_port).await {
            Ok(n) => {
                info!(joined = n, attempt, "gossip: retry-join succeeded");
                return;
            }
            Err(e) if plan.max != 0 && attempt >= plan.max => {
                warn!(error = %e, attempt, "gossip: retry-join gave up");
                return;
            }
            Err(e) => debug!(error = %e, attempt, "gossip: retry-join failed; retrying"),
        }
        tokio::time::sleep(plan.interval).await;
    }
}

/// Resolves `host[:port]` join addresses and joins through them.
async fn join(
    pool: &GossipPool,
    addrs: &[String],
    default_port: u16,
) -> std::result::Result<usize, String> {
    let mut resolved = Vec::new();
    for addr in addrs {
        let with_port = if addr.parse::<SocketAddr>().is_ok() || has_port(addr) {
            addr.clone()
        } else {
            format!("{}:{default_port}", addr.trim_matches(['[', ']']))
        };
        match tokio::net::lookup_host(with_port.as_str()).await {
            Ok(found) => resolved.extend(found),
            Err(e) => debug!(%addr, error = %e, "gossip: cannot resolve join address"),
        }
    }
    if resolved.is_empty() {
        return Err(format!("no join address could be resolved: {addrs:?}"));
    }
    pool.join(resolved).await.map_err(|e| e.to_string())
}

/// `host:port` (not a bare IPv6 address).
fn has_port(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => !host.contains(':') && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// Consul's `role` tag of servers.
const SERVER: &str = "consul";
/// Consul's `role` tag of client agents.
const CLIENT: &str = "node";

/// The alive members of `dc` with `role`: raft id → RPC address.
fn alive(members: &[Member], dc: &str, role: &str) -> BTreeMap<u64, String> {
    members
        .iter()
        .filter(|m| m.status == MemberStatus::Alive && has_role(m, dc, role))
        .filter_map(|m| Some((raft_id(m)?, rpc_addr(m)?)))
        .collect()
}

fn has_role(m: &Member, dc: &str, role: &str) -> bool {
    m.tags.get("role").map(String::as_str) == Some(role)
        && m.tags.get("dc").map(String::as_str) == Some(dc)
}

fn raft_id(m: &Member) -> Option<u64> {
    m.tags.get("id").map(|id| raft_id_for(id))
}

fn rpc_addr(m: &Member) -> Option<String> {
    let port: u16 = m.tags.get("port")?.parse().ok()?;
    Some(SocketAddr::new(m.addr.ip(), port).to_string())
}

/// Waits until `expect` servers are alive in the pool; then the one with
/// the lowest Raft id forms the group with all of them. Ends once this
/// server belongs to a group (formed here, by another server, or earlier).
async fn form(pool: Arc<GossipPool>, server: Arc<Server>, expect: usize, dc: String) {
    let mut changes = pool.changes();
    loop {
        if server.is_initialized().await {
            return;
        }
        let servers = alive(&pool.members(), &dc, SERVER);
        let me = server.options().raft_id;
        if servers.len() >= expect && servers.keys().next() == Some(&me) {
            match server.initialize_cluster(servers).await {
                Ok(_) => return,
                Err(e) => warn!(error = %e, "forming the cluster"),
            }
        } else {
            debug!(
                known = servers.len(),
                expect, "waiting for servers to bootstrap"
            );
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
        }
    }
}

/// On the leader: autopilot decides which servers vote, client agents
/// become learners, members that left are removed, and every member's
/// `serfHealth` follows its gossip status.
async fn reconcile(pool: Arc<GossipPool>, server: Arc<Server>, dc: String, autopilot: Autopilot) {
    let mut changes = pool.changes();
    let mut stability = Stability::default();
    loop {
        if server.is_leader() {
            run_autopilot(&pool.members(), &server, &dc, &autopilot, &mut stability).await;
            reconcile_once(&pool, &server, &dc).await;
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
        }
    }
}

/// Applies what autopilot plans for the servers of `dc`.
async fn run_autopilot(
    members: &[Member],
    server: &Server,
    dc: &str,
    configured: &Autopilot,
    stability: &mut Stability,
) {
    let voters: BTreeSet<u64> = server.peers().iter().map(|p| p.id).collect();
    let mut nodes = server.learner_ids();
    nodes.extend(voters.iter().copied());
    let view = View {
        alive: alive(members, dc, SERVER),
        failed: members
            .iter()
            .filter(|m| m.status == MemberStatus::Failed && has_role(m, dc, SERVER))
            .filter_map(raft_id)
            .collect(),
        voters,
        nodes,
        me: server.options().raft_id,
    };
    let now = Instant::now();
    stability.observe(&view.alive, now);
    let stored = server
        .store()
        .read()
        .ok()
        .and_then(|s| s.autopilot().map(|a| a.config.clone()));
    let policy = Policy::effective(configured, stored.as_ref());
    for action in plan(&view, &policy, stability, now) {
        let result = match &action {
            Action::AddNonVoter { id, addr } => server.add_learner(*id, addr).await,
            Action::Promote { id, addr } => server.add_voter(*id, addr).await,
            Action::RemoveDead { id } => server.remove_peer(*id).await.map(|_| ()),
        };
        match result {
            Ok(()) => info!(?action, "autopilot"),
            Err(e) => warn!(?action, error = %e, "autopilot"),
        }
    }
}

async fn reconcile_once(pool: &GossipPool, server: &Server, dc: &str) {
    let members = pool.members();
    let peers = server.peers();
    let learners = server.learner_ids();
    for (id, addr) in alive(&members, dc, CLIENT) {
        if !learners.contains(&id)
            && let Err(e) = server.add_learner(id, &addr).await
        {
            warn!(learner = id, %addr, error = %e, "adding a client agent as a learner");
        }
    }
    for m in &members {
        if m.status == MemberStatus::Left
            && (has_role(m, dc, CLIENT) || has_role(m, dc, SERVER))
            && let Some(id) = raft_id(m)
            && learners.contains(&id)
            && let Err(e) = server.remove_learner(id).await
        {
            warn!(learner = id, error = %e, "removing a client agent that left");
        }
        if m.status == MemberStatus::Left
            && has_role(m, dc, SERVER)
            && let Some(id) = raft_id(m)
            && id != server.options().raft_id
            && peers.iter().any(|p| p.id == id)
            && let Err(e) = server.remove_peer(id).await
        {
            warn!(peer = id, error = %e, "removing a server that left");
        }
        if let Some(op) = catalog_change(server, m) {
            debug!(node = %m.name, status = %m.status, "reconciling a member into the catalog");
            if let Err(e) = server.write(op).await {
                warn!(node = %m.name, error = %e, "reconciling a member into the catalog");
            }
        }
    }
}

/// The catalog write that brings `m`'s node in line with its gossip
/// status, if any is needed.
fn catalog_change(server: &Server, m: &Member) -> Option<Op> {
    let store = server.store().read().ok()?;
    let node = store.node_record(&m.name).filter(|n| n.node == m.name);
    let serf = store
        .node_checks(&m.name)
        .1
        .into_iter()
        .find(|c| c.check_id == "serfHealth");
    match m.status {
        MemberStatus::Left => node.is_some().then(|| Op::Deregister {
            node: m.name.clone(),
            service_id: None,
            check_id: None,
        }),
        MemberStatus::Alive | MemberStatus::Failed => {
            let (status, output) = if m.status == MemberStatus::Alive {
                (CheckStatus::Passing, ALIVE_OUTPUT)
            } else {
                (CheckStatus::Critical, FAILED_OUTPUT)
            };
            if serf.as_ref().is_some_and(|c| c.status == status) {
                return None;
            }
            Some(Op::Register(Box::new(Registration {
                node: Node {
                    node: m.name.clone().into(),
                    id: m.tags.get("id").cloned().unwrap_or_default().into(),
                    address: m.addr.ip().to_string().into(),
                    datacenter: m.tags.get("dc").cloned().unwrap_or_default().into(),
                    ..Node::default()
                },
                skip_node_update: node.is_some(),
                service: None,
                checks: vec![Check {
                    node: m.name.clone().into(),
                    check_id: "serfHealth".into(),
                    name: "Serf Health Status".into(),
                    status,
                    output: output.into(),
                    ..Check::default()
                }],
            })))
        }
        MemberStatus::Leaving => None,
    }
}

/// The pools as the HTTP API sees them.
struct PoolView {
    lan: Arc<GossipPool>,
    wan: Option<Arc<GossipPool>>,
    dc: String,
}

impl PoolView {
    fn pool(&self, wan: bool) -> std::result::Result<&Arc<GossipPool>, String> {
        if !wan {
            return Ok(&self.lan);
        }
        self.wan
            .as_ref()
            .ok_or_else(|| "WAN gossip is only available on servers".to_owned())
    }
}

fn member_info(m: Member) -> MemberInfo {
    MemberInfo {
        status: m.status.code(),
        name: m.name,
        addr: m.addr,
        tags: m.tags,
    }
}

fn keyring_answer(wan: bool, r: KeyringResponse) -> KeyringAnswer {
    KeyringAnswer {
        wan,
        failure: r.failure(),
        num_nodes: r.num_nodes,
        num_resp: r.num_resp,
        num_err: r.num_err,
        messages: r.messages,
        keys: r.keys,
        primary_keys: r.primary_keys,
    }
}

impl ClusterView for PoolView {
    fn members(&self) -> Vec<MemberInfo> {
        self.lan.members().into_iter().map(member_info).collect()
    }

    fn wan_members(&self) -> Vec<MemberInfo> {
        self.wan
            .as_ref()
            .map(|w| w.members().into_iter().map(member_info).collect())
            .unwrap_or_default()
    }

    fn datacenters(&self) -> Vec<String> {
        match &self.wan {
            Some(wan) => crate::wan::datacenters(wan, &self.dc),
            None => vec![self.dc.clone()],
        }
    }

    fn join(
        &self,
        addrs: Vec<String>,
        wan: bool,
    ) -> futures::future::BoxFuture<'_, std::result::Result<usize, String>> {
        Box::pin(async move {
            let pool = self.pool(wan)?;
            let port = if wan {
                crate::wan::DEFAULT_PORT
            } else {
                DEFAULT_SERF_LAN_PORT
            };
            join(pool, &addrs, port).await
        })
    }

    fn fire_event(&self, name: &str, payload: Vec<u8>) -> std::result::Result<u64, String> {
        self.lan
            .fire_event(name.to_owned(), payload)
            .map_err(|e| e.to_string())
    }

    fn keyring(
        &self,
        op: KeyringRequest,
    ) -> futures::future::BoxFuture<'_, std::result::Result<Vec<KeyringAnswer>, String>> {
        let op = match op {
            KeyringRequest::List => KeyringOp::List,
            KeyringRequest::Install(k) => KeyringOp::Install(k),
            KeyringRequest::Use(k) => KeyringOp::Use(k),
            KeyringRequest::Remove(k) => KeyringOp::Remove(k),
        };
        Box::pin(async move {
            let mut answers = Vec::new();
            if let Some(wan) = &self.wan {
                let r = wan.keyring(op.clone()).await.map_err(|e| e.to_string())?;
                answers.push(keyring_answer(true, r));
            }
            let r = self.lan.keyring(op).await.map_err(|e| e.to_string())?;
            answers.push(keyring_answer(false, r));
            Ok(answers)
        })
    }

    fn force_leave(&self, node: &str, prune: bool, wan: bool) -> std::result::Result<(), String> {
        let pool = self.pool(wan)?;
        let result = if prune {
            pool.force_leave_prune(node)
        } else {
            pool.force_leave(node)
        };
        result.map_err(|e| match e {
            skein_membership::MembershipError::UnknownMember { .. } => {
                format!("No node found with name '{node}'")
            }
            other => other.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_addresses_get_the_default_port() {
        assert!(has_port("10.0.0.1:8301"));
        assert!(!has_port("10.0.0.1"));
        assert!(!has_port("::1"));
        assert!(has_port("consul.example:8301"));
    }
}
