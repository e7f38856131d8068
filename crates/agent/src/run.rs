//! Starting and stopping the agent.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use skein_config::RuntimeConfig;
use skein_dns::{DnsHandler, DnsServer, DnsSettings, GateFuture, ReadGate};
use skein_http_api::{
    AgentInfo, ApiConfig, ApiParts, ApiState, ClusterView, EventLog, LogFeed, StaticAuthorizer,
};
use skein_server::{Server, ServerOptions, raft_id_for};
use skein_types::read::Consistency;
use skein_types::{Check, CheckStatus, Node, ServiceInstance};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::backend::ServerBackend;
use crate::cluster::{Cluster, publish_coordinate};
use crate::local::{Fixed, LocalState, persist, spawn_sync};
use crate::local_agent::Agent as LocalAgentImpl;
pub use crate::local_agent::Reloader;
use crate::node_id::node_id;
use crate::{Error, Result};

/// Consul API version skein reports to clients that check it.
const CONSUL_API_VERSION: &str = "1.22.0";

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    /// Addresses the HTTP API listens on.
    pub http_addrs: Vec<SocketAddr>,
    /// The server RPC address (advertised).
    pub rpc_addr: SocketAddr,
    server: Arc<Server>,
    shutdown: Arc<Notify>,
    leave: Arc<Notify>,
    http_tasks: Vec<JoinHandle<()>>,
    sync: JoinHandle<()>,
    dns: Option<DnsServer>,
    /// Addresses the DNS interface serves (UDP and TCP).
    pub dns_addrs: Vec<SocketAddr>,
    /// Addresses the gRPC port (xDS for Envoy) listens on.
    pub grpc_addrs: Vec<SocketAddr>,
    grpc_tasks: Vec<JoinHandle<()>>,
    cluster: Cluster,
}

/// Why the agent stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// SIGINT or SIGTERM.
    Signal,
    /// `PUT /v1/agent/leave`: leave the cluster gracefully first.
    Leave,
}

/// Runs the agent until it is told to stop.
pub async fn run(config: Arc<RuntimeConfig>, reload: Reloader, logs: LogFeed) -> Result<()> {
    write_pid_file(&config)?;
    let agent = Agent::start(config.clone(), reload, logs).await?;
    ready_line(&agent);
    let why = agent.wait_for_shutdown().await;
    agent.stop(why).await;
    if let Some(p) = &config.pid_file {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

fn write_pid_file(config: &RuntimeConfig) -> Result<()> {
    let Some(path) = &config.pid_file else {
        return Ok(());
    };
    std::fs::write(path, std::process::id().to_string()).map_err(|source| Error::File {
        path: path.display().to_string(),
        source,
    })
}

#[allow(clippy::print_stdout)]
fn ready_line(agent: &Agent) {
    let http: Vec<String> = agent.http_addrs.iter().map(ToString::to_string).collect();
    let dns: Vec<String> = agent.dns_addrs.iter().map(ToString::to_string).collect();
    let grpc: Vec<String> = agent.grpc_addrs.iter().map(ToString::to_string).collect();
    let line = serde_json::json!({
        "ready": true,
        "http": http,
        "dns": dns,
        "grpc": grpc,
        "rpc": agent.rpc_addr.to_string(),
        "serf_lan": agent.serf_lan_addr().to_string(),
        "serf_wan": agent.serf_wan_addr().map(|a| a.to_string()),
    });
    println!("{line}");
}

// === impl Agent ===

impl Agent {
    /// Starts the server role, registers this node and serves HTTP.
    pub async fn start(
        config: Arc<RuntimeConfig>,
        reload: Reloader,
        logs: LogFeed,
    ) -> Result<Self> {
        let data_dir = if config.dev {
            None
        } else {
            config.data_dir.clone()
        };
        let node_id = node_id(config.node_id.as_deref(), data_dir.as_deref())?;
        let rpc_addr = rpc_address(&config)?;
        let server = Server::start(server_options(
            &config,
            &node_id,
            rpc_addr,
            data_dir.clone(),
        ))
        .await?;
        info!(node = %config.node_name, rpc = %rpc_addr, "server started");
        let shutdown = Arc::new(Notify::new());
        let leave = Arc::new(Notify::new());
        let mut info = agent_info(&config, &node_id, rpc_addr);
        let local = LocalAgentImpl {
            state: LocalState::new(
                &info.node_name,
                server.store().clone(),
                data_dir.as_deref().map(persist::CheckStates::new),
            ),
            enable_script_checks: config.enable_script_checks,
            enable_local_script_checks: config.enable_local_script_checks,
            sidecar_ports: sidecar_ports(&config),
            tokens: Arc::default(),
            persist: data_dir.as_deref().map(persist::Store::new),
            saved: Arc::default(),
            config_services: Arc::default(),
            reload: Arc::new(reload),
        };
        local
            .apply_config_services(&config.services)
            .map_err(|e| Error::Unsupported(format!("service definition in config: {e}")))?;
        local
            .restore_saved()
            .map_err(|e| Error::Unsupported(format!("restoring saved registrations: {e}")))?;
        let sync = spawn_sync(
            local.state.clone(),
            server.clone(),
            fixed_entries(&info, &config),
        );
        let mut cluster =
            Cluster::start(&config, &info, server.clone(), data_dir.as_deref()).await?;
        let first = cluster.coordinate();
        let published = if server.is_leader() {
            // A lone server answers at once; in a cluster the first sync
            // waits for a leader, so it happens in the background.
            local.state.sync.wait(local.state.sync.request()).await;
            publish_coordinate(&server, &info.node_name, &first)
                .await
                .then_some(first)
        } else {
            None
        };
        cluster.sync_coordinates(
            server.clone(),
            info.node_name.clone(),
            config.sync_coordinate_interval_min,
            published,
        );
        let events: Arc<EventLog> = Arc::default();
        let leaves = Arc::new(crate::leaf::LeafCache::new(
            server.clone(),
            config.datacenter.clone(),
        ));
        let (grpc_addrs, grpc_tasks) = serve_mesh(&config, &server, &local, &leaves).await?;
        info.grpc_port = grpc_addrs.first().map_or(-1, |a| i32::from(a.port()));
        let local = Arc::new(local);
        cluster.deliver_events(events.clone(), local.clone(), info.node_name.clone());
        let parts = Parts {
            local,
            leaves,
            logs,
            cluster: cluster.view(),
            events,
        };
        let state = api_state(&config, &server, &leave, info, parts);
        let (http_addrs, http_tasks) = serve_http(&config, state, &shutdown).await?;
        let dns = serve_dns(&config, &server).await?;
        let dns_addrs = dns
            .as_ref()
            .map(|d| d.local_addrs().to_vec())
            .unwrap_or_default();
        info!(http = ?http_addrs, dns = ?dns_addrs, "agent running");
        Ok(Self {
            http_addrs,
            rpc_addr,
            server,
            shutdown,
            leave,
            http_tasks,
            sync,
            dns,
            dns_addrs,
            grpc_addrs,
            grpc_tasks,
            cluster,
        })
    }

    /// The LAN gossip address.
    pub fn serf_lan_addr(&self) -> SocketAddr {
        self.cluster.addr()
    }

    /// The WAN gossip address, on servers.
    pub fn serf_wan_addr(&self) -> Option<SocketAddr> {
        self.cluster.wan_addr()
    }

    /// Resolves on SIGINT, SIGTERM or `PUT /v1/agent/leave`.
    pub async fn wait_for_shutdown(&self) -> Shutdown {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                info!("caught interrupt, shutting down");
                Shutdown::Signal
            }
            _ = terminate => {
                info!("caught terminate, shutting down");
                Shutdown::Signal
            }
            _ = self.leave.notified() => {
                info!("leave requested, shutting down");
                Shutdown::Leave
            }
        }
    }

    /// Stops serving and shuts Raft down; after a leave request, first
    /// tells the pool this node is leaving (so it is deregistered, not
    /// marked failed).
    pub async fn stop(self, why: Shutdown) {
        // Anti-entropy stops first: it would put this node back in the
        // catalog once the leader deregisters it.
        self.sync.abort();
        if why == Shutdown::Leave {
            self.cluster.leave().await;
        }
        self.shutdown.notify_waiters();
        for t in self.http_tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        for t in self.grpc_tasks {
            t.abort();
        }
        if let Some(dns) = self.dns {
            let _ = tokio::time::timeout(Duration::from_secs(2), dns.shutdown()).await;
        }
        self.cluster.stop().await;
        self.server.shutdown().await;
    }
}

fn rpc_address(config: &RuntimeConfig) -> Result<SocketAddr> {
    let port = match config.ports.server {
        Some(0) | None => free_port(config.bind_addr)?,
        Some(p) => p,
    };
    Ok(SocketAddr::new(config.advertise_addr, port))
}

fn free_port(ip: IpAddr) -> Result<u16> {
    let l = std::net::TcpListener::bind((ip, 0)).map_err(|source| Error::Bind {
        what: "server RPC",
        addr: ip.to_string(),
        source,
    })?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|source| Error::Bind {
            what: "server RPC",
            addr: ip.to_string(),
            source,
        })
}

fn server_options(
    config: &RuntimeConfig,
    node_id: &str,
    rpc: SocketAddr,
    data_dir: Option<std::path::PathBuf>,
) -> ServerOptions {
    ServerOptions {
        node_name: config.node_name.clone(),
        raft_id: raft_id_for(node_id),
        rpc_advertise: rpc,
        rpc_bind: Some(SocketAddr::new(config.bind_addr, rpc.port())),
        data_dir: data_dir.map(|d| d.join("raft")),
        bootstrap: config.bootstrap || config.dev || config.bootstrap_expect == 1,
        raft_multiplier: config.raft_multiplier,
        snapshot_threshold: config.raft_snapshot_threshold,
        trailing_logs: config.raft_trailing_logs,
        ready_timeout: Duration::from_secs(30),
        rpc_hold_timeout: config.rpc_hold_timeout,
        datacenter: config.datacenter.clone(),
        connect_enabled: config.connect_enabled,
        ca_config: config.connect_ca_config.clone(),
    }
}

/// The ports sidecars get when registered without one (Consul's
/// `ports.sidecar_min_port` and `sidecar_max_port`, 21000-21255).
fn sidecar_ports(config: &RuntimeConfig) -> std::ops::RangeInclusive<u16> {
    let min = config.ports.sidecar_min_port.unwrap_or(21_000);
    let max = config.ports.sidecar_max_port.unwrap_or(21_255);
    min..=max
}

fn agent_info(config: &RuntimeConfig, node_id: &str, rpc: SocketAddr) -> AgentInfo {
    AgentInfo {
        node_name: config.node_name.clone(),
        node_id: node_id.to_owned(),
        datacenter: config.datacenter.clone(),
        primary_datacenter: config.primary_datacenter.clone(),
        address: config.advertise_addr.to_string(),
        server_port: rpc.port(),
        serf_lan_port: config.ports.serf_lan.unwrap_or(8301),
        grpc_port: -1,
        server: config.server,
        skein_version: env!("CARGO_PKG_VERSION").to_owned(),
        consul_version: CONSUL_API_VERSION.to_owned(),
    }
}

/// What the API serves besides the server: the agent's own state, its
/// logs, and the gossip pool with the events it delivered.
struct Parts {
    local: Arc<LocalAgentImpl>,
    leaves: Arc<crate::leaf::LeafCache>,
    logs: LogFeed,
    cluster: Arc<dyn ClusterView>,
    events: Arc<EventLog>,
}

fn api_state(
    config: &RuntimeConfig,
    server: &Arc<Server>,
    leave: &Arc<Notify>,
    info: AgentInfo,
    parts: Parts,
) -> ApiState {
    let Parts {
        local,
        leaves,
        logs,
        cluster,
        events,
    } = parts;
    let backend = ServerBackend {
        server: server.clone(),
        leave: leave.clone(),
    };
    let api = ApiConfig {
        kv_max_value_size: config.limits.kv_max_value_size,
        txn_max_req_len: config.limits.txn_max_req_len,
        txn_max_ops: config.limits.txn_max_ops,
        default_query_time: config.default_query_time,
        max_query_time: config.max_query_time,
        session_ttl_min: config.session_ttl_min,
        acl_enabled: config.acl.enabled,
        acl_default_policy: config.acl.default_policy.clone(),
        default_intention_policy: config.default_intention_policy.clone(),
        autopilot_defaults: autopilot_defaults(&config.autopilot),
    };
    let auth = StaticAuthorizer {
        enabled: config.acl.enabled,
        default_allow: config.acl.default_policy == "allow",
        management_token: config.acl.tokens.initial_management.clone(),
    };
    ApiState::new(ApiParts {
        leaves,
        backend: Arc::new(backend),
        agent: Arc::new(info),
        config: Arc::new(api),
        auth: Arc::new(auth),
        local,
        events,
        logs,
        cluster,
        answers: Arc::default(),
    })
}

/// What anti-entropy keeps in the catalog besides local registrations:
/// the node, and (on servers) the `serfHealth` check and `consul` service.
fn fixed_entries(info: &AgentInfo, config: &RuntimeConfig) -> Fixed {
    let node = Node {
        id: info.node_id.clone().into(),
        node: info.node_name.clone().into(),
        address: info.address.clone().into(),
        datacenter: info.datacenter.clone().into(),
        tagged_addresses: [("lan", &info.address), ("wan", &info.address)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect(),
        meta: config.node_meta.clone(),
        ..Node::default()
    };
    let serf = Check {
        node: info.node_name.clone().into(),
        check_id: "serfHealth".into(),
        name: "Serf Health Status".into(),
        status: CheckStatus::Passing,
        output: "Agent alive and reachable".into(),
        ..Check::default()
    };
    let consul = ServiceInstance {
        id: "consul".into(),
        service: "consul".into(),
        port: info.server_port,
        ..ServiceInstance::default()
    };
    Fixed {
        node,
        services: if info.server {
            vec![consul]
        } else {
            Vec::new()
        },
        checks: vec![serf],
    }
}

/// The configured autopilot settings in Consul's JSON shape.
fn autopilot_defaults(a: &skein_config::Autopilot) -> serde_json::Value {
    serde_json::json!({
        "CleanupDeadServers": a.cleanup_dead_servers,
        "LastContactThreshold": skein_config::format_go_duration(a.last_contact_threshold),
        "MaxTrailingLogs": a.max_trailing_logs,
        "MinQuorum": a.min_quorum,
        "ServerStabilizationTime": skein_config::format_go_duration(a.server_stabilization_time),
        "RedundancyZoneTag": a.redundancy_zone_tag.clone().unwrap_or_default(),
        "DisableUpgradeMigration": a.disable_upgrade_migration,
        "UpgradeVersionTag": a.upgrade_version_tag.clone().unwrap_or_default(),
    })
}

/// Serves DNS on `ports.dns` (unless -1) of each DNS address.
/// Whether traffic no intention matches is allowed: the agent's
/// `default_intention_policy`, else the ACL default policy.
fn default_intention_allow(config: &RuntimeConfig) -> bool {
    match &config.default_intention_policy {
        Some(policy) => policy == "allow",
        None => !config.acl.enabled || config.acl.default_policy != "deny",
    }
}

/// Starts proxycfg and serves xDS on the gRPC port, if one is set.
async fn serve_mesh(
    config: &RuntimeConfig,
    server: &Arc<Server>,
    local: &LocalAgentImpl,
    leaves: &Arc<crate::leaf::LeafCache>,
) -> Result<(Vec<SocketAddr>, Vec<JoinHandle<()>>)> {
    let Some(port) = config.ports.grpc else {
        return Ok((Vec::new(), Vec::new()));
    };
    let inputs = crate::mesh::Inputs {
        local: local.state.clone(),
        leaves: leaves.clone(),
    };
    let settings = skein_proxycfg::Settings {
        datacenter: config.datacenter.clone(),
        default_allow: default_intention_allow(config),
    };
    let manager = Arc::new(skein_proxycfg::Manager::new(
        Arc::new(inputs),
        server.store().clone(),
        settings,
    ));
    let source = Arc::new(crate::mesh::ProxyResources::new(manager));
    let addrs: Vec<SocketAddr> = config
        .addresses
        .grpc
        .iter()
        .map(|ip| SocketAddr::new(*ip, port))
        .collect();
    crate::mesh::serve_ads(&addrs, source).await
}

async fn serve_dns(config: &RuntimeConfig, server: &Arc<Server>) -> Result<Option<DnsServer>> {
    let Some(port) = config.ports.dns else {
        return Ok(None);
    };
    let settings = DnsSettings::from_runtime(config)?;
    let gate = Arc::new(LeaderGate(server.clone()));
    let handler = DnsHandler::new(settings, server.store().clone(), gate);
    Ok(Some(
        DnsServer::start(handler, &config.addresses.dns, port).await?,
    ))
}

/// `dns_config.allow_stale = false`: a default-consistency read first.
struct LeaderGate(Arc<Server>);

impl ReadGate for LeaderGate {
    fn confirm(&self) -> GateFuture<'_> {
        Box::pin(async move {
            self.0
                .read_barrier(Consistency::Default)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

async fn serve_http(
    config: &RuntimeConfig,
    state: ApiState,
    shutdown: &Arc<Notify>,
) -> Result<(Vec<SocketAddr>, Vec<JoinHandle<()>>)> {
    let Some(port) = config.ports.http else {
        return Ok((Vec::new(), Vec::new()));
    };
    let app = tower::make::Shared::new(skein_http_api::service(state));
    let mut addrs = Vec::new();
    let mut tasks = Vec::new();
    for ip in &config.addresses.http {
        let addr = SocketAddr::new(*ip, port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                what: "HTTP API",
                addr: addr.to_string(),
                source,
            })?;
        addrs.push(listener.local_addr().unwrap_or(addr));
        let app = app.clone();
        let stop = shutdown.clone();
        // Small answers go out at once instead of waiting for the
        // client's delayed ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                debug!(error = %e, "TCP_NODELAY on an HTTP connection");
            }
        });
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.notified().await });
            if let Err(e) = served.await {
                warn!(error = %e, "http listener stopped");
            }
        }));
    }
    Ok((addrs, tasks))
}
