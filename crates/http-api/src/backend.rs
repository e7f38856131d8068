//! What the HTTP layer needs from the agent: writes through Raft, read
//! barriers, the state store, and facts about the agent itself.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use skein_config::{CheckDefinition, ServiceDefinition};
use skein_state::{Op, Outcome, Store};
pub use skein_types::read::{Consistency, ReadMeta};
use skein_types::wire;
use skein_types::{Check, CheckStatus, ServiceInstance};

/// One server of the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Raft id.
    pub id: String,
    /// Node name.
    pub node: String,
    /// RPC address.
    pub address: String,
    /// Leads now.
    pub leader: bool,
    /// Votes.
    pub voter: bool,
}

/// Why the backend could not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// No leader is known.
    #[error("{}", wire::NO_LEADER)]
    NoLeader,
    /// Another server leads.
    #[error("not the leader; leader is {leader}")]
    NotLeader {
        /// Its RPC address.
        leader: String,
    },
    /// The request was refused as invalid.
    #[error("{0}")]
    Invalid(String),
    /// Anything else (an RPC or Raft failure).
    #[error("{0}")]
    Internal(String),
}

/// The agent's side of the HTTP API.
pub trait Backend: Send + Sync + 'static {
    /// Proposes a command; resolves with its outcome once applied.
    fn write(&self, op: Op) -> BoxFuture<'_, Result<Outcome, BackendError>>;
    /// Checks leadership as `consistency` requires before a read.
    fn read_barrier(
        &self,
        consistency: Consistency,
    ) -> BoxFuture<'_, Result<ReadMeta, BackendError>>;
    /// The state store to read from.
    fn store(&self) -> Arc<RwLock<Store>>;
    /// The leader's RPC address.
    fn leader(&self) -> Option<String>;
    /// The Raft configuration.
    fn peers(&self) -> Vec<Peer>;
    /// Index of the last Raft log entry.
    fn last_log_index(&self) -> u64;
    /// Restarts a session's TTL; `false` if unknown.
    fn session_renew(&self, id: &str) -> BoxFuture<'_, Result<bool, BackendError>>;
    /// Asks the agent to shut down (`PUT /v1/agent/leave`).
    fn leave(&self);
    /// Removes a server from the Raft configuration; `false` if unknown.
    fn remove_peer(&self, id: u64) -> BoxFuture<'_, Result<bool, BackendError>>;
    /// Hands leadership to voter `target` (any up-to-date voter when
    /// `None`); returns the new leader's id.
    fn transfer_leader(&self, target: Option<u64>) -> BoxFuture<'_, Result<u64, BackendError>>;
    /// The current Raft term.
    fn raft_term(&self) -> u64;
    /// Applies new Connect CA settings, rotating the root when the key
    /// settings change; `false` if the CA changed meanwhile.
    fn ca_set_config(
        &self,
        provider: String,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'_, Result<bool, BackendError>>;
    /// Raft's progress (`state`, `term`, `last_log_index`, `applied_index`,
    /// `last_snapshot_index`, ...), for `/v1/agent/self`.
    fn raft_stats(&self) -> std::collections::BTreeMap<String, String>;
}

/// The Connect leaf certificates the agent issues to its services.
pub trait LeafCerts: Send + Sync + 'static {
    /// `service`'s current certificate and its index (Consul's `IssuedCert`
    /// with the private key). With `min_index` > 0, waits up to `wait` for
    /// one newer than that index.
    fn leaf(
        &self,
        service: &str,
        min_index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(u64, serde_json::Value), LocalError>>;
}

/// Facts about this agent that the API reports.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    /// Node name.
    pub node_name: String,
    /// Node id (UUID).
    pub node_id: String,
    /// Datacenter.
    pub datacenter: String,
    /// Primary datacenter.
    pub primary_datacenter: String,
    /// Advertised address.
    pub address: String,
    /// Server RPC port.
    pub server_port: u16,
    /// LAN gossip port.
    pub serf_lan_port: u16,
    /// Plaintext gRPC (xDS) port, -1 when disabled.
    pub grpc_port: i32,
    /// Runs the server role.
    pub server: bool,
    /// skein's version.
    pub skein_version: String,
    /// The Consul version whose API skein speaks (reported as `Version`).
    pub consul_version: String,
}

/// Limits and defaults of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest KV value.
    pub kv_max_value_size: u64,
    /// Largest transaction body.
    pub txn_max_req_len: u64,
    /// Most operations in a transaction.
    pub txn_max_ops: usize,
    /// Blocking wait when `?wait` is absent.
    pub default_query_time: Duration,
    /// Longest blocking wait.
    pub max_query_time: Duration,
    /// Shortest session TTL.
    pub session_ttl_min: Duration,
    /// ACLs are enabled.
    pub acl_enabled: bool,
    /// ACL default policy (`allow` / `deny`).
    pub acl_default_policy: String,
    /// `default_intention_policy` (`allow`/`deny`), when set.
    pub default_intention_policy: Option<String>,
    /// The autopilot configuration from the agent's config, in Consul's
    /// JSON shape, until an operator sets one.
    pub autopilot_defaults: serde_json::Value,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            kv_max_value_size: 512 * 1024,
            txn_max_req_len: 512 * 1024,
            txn_max_ops: 128,
            default_query_time: Duration::from_secs(300),
            max_query_time: Duration::from_secs(600),
            session_ttl_min: Duration::from_secs(10),
            acl_enabled: false,
            acl_default_policy: "allow".into(),
            default_intention_policy: None,
            autopilot_defaults: serde_json::json!({
                "CleanupDeadServers": true,
                "LastContactThreshold": "200ms",
                "MaxTrailingLogs": 250,
                "MinQuorum": 0,
                "ServerStabilizationTime": "10s",
                "RedundancyZoneTag": "",
                "DisableUpgradeMigration": false,
                "UpgradeVersionTag": "",
            }),
        }
    }
}

/// Why the agent refused a change to its local services and checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The service or check does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is not acceptable (400).
    #[error("{0}")]
    Invalid(String),
    /// The request is acceptable but failed (500).
    #[error("{0}")]
    Failed(String),
    /// Over a rate limit; try again later (429).
    #[error("{}", wire::RATE_LIMITED)]
    RateLimited,
}

/// The agent's own services and checks (`/v1/agent/...`), kept apart from
/// the catalog and synced to it by anti-entropy.
pub trait LocalAgent: Send + Sync + 'static {
    /// Adds or replaces a service and its checks; resolves once the catalog has it.
    fn register_service(
        &self,
        def: ServiceDefinition,
        replace_checks: bool,
    ) -> BoxFuture<'_, Result<(), LocalError>>;
    /// Removes a service and its checks.
    fn deregister_service(&self, id: String) -> BoxFuture<'_, Result<(), LocalError>>;
    /// Adds or replaces a check.
    fn register_check(&self, def: CheckDefinition) -> BoxFuture<'_, Result<(), LocalError>>;
    /// Removes a check.
    fn deregister_check(&self, id: String) -> BoxFuture<'_, Result<(), LocalError>>;
    /// Sets a TTL check's status (`pass`/`warn`/`fail`/`update`).
    fn update_ttl(
        &self,
        id: String,
        status: CheckStatus,
        output: String,
    ) -> BoxFuture<'_, Result<(), LocalError>>;
    /// Puts a service into or out of maintenance.
    fn service_maintenance(
        &self,
        id: String,
        enable: bool,
        reason: String,
    ) -> BoxFuture<'_, Result<(), LocalError>>;
    /// Puts the node into or out of maintenance.
    fn node_maintenance(
        &self,
        enable: bool,
        reason: String,
    ) -> BoxFuture<'_, Result<(), LocalError>>;
    /// The local services.
    fn services(&self) -> Vec<ServiceInstance>;
    /// The local checks.
    fn checks(&self) -> Vec<Check>;
    /// Re-reads the configuration and applies what can change at run time
    /// (service definitions from config files).
    fn reload(&self) -> BoxFuture<'_, Result<(), LocalError>>;
    /// Sets one of the agent's ACL tokens (`default`, `agent`, ...).
    fn set_token(&self, kind: &str, token: String);
}

/// A member of the agent's gossip pool, as `/v1/agent/members` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Node name.
    pub name: String,
    /// Gossip address.
    pub addr: std::net::SocketAddr,
    /// Serf tags (`role`, `dc`, `port`, `id`, ...).
    pub tags: std::collections::BTreeMap<String, String>,
    /// Serf status: 1 alive, 2 leaving, 3 left, 4 failed.
    pub status: u8,
}

/// The agent's view of its gossip pools: the datacenter's LAN pool and,
/// on servers, the WAN pool of every datacenter's servers.
pub trait ClusterView: Send + Sync + 'static {
    /// Every member of the LAN pool, this agent included.
    fn members(&self) -> Vec<MemberInfo>;
    /// Every member of the WAN pool (named `<node>.<dc>`); empty on client
    /// agents.
    fn wan_members(&self) -> Vec<MemberInfo>;
    /// The datacenters the WAN pool knows, this one first, then by
    /// estimated round trip.
    fn datacenters(&self) -> Vec<String>;
    /// Joins the LAN (or WAN) pool through `addrs`; the number that
    /// answered.
    fn join(&self, addrs: Vec<String>, wan: bool) -> BoxFuture<'_, Result<usize, String>>;
    /// Marks a failed member as left (Consul's `force-leave`); with
    /// `prune`, forgets it at once instead of after the reap timeout.
    fn force_leave(&self, node: &str, prune: bool, wan: bool) -> Result<(), String>;
    /// Gossips a user event to every agent of the pool, this one included;
    /// returns its Lamport time.
    fn fire_event(&self, name: &str, payload: Vec<u8>) -> Result<u64, String>;
    /// Runs a keyring operation on every member of every pool this agent
    /// belongs to (WAN first on servers, then LAN).
    fn keyring(&self, op: KeyringRequest) -> BoxFuture<'_, Result<Vec<KeyringAnswer>, String>>;
}

/// A gossip keyring operation (`/v1/operator/keyring`); keys in base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringRequest {
    /// Which keys each member has.
    List,
    /// Add a key everywhere.
    Install(String),
    /// Make an installed key the one that encrypts.
    Use(String),
    /// Drop a key that is not the primary one.
    Remove(String),
}

/// What the members of one pool answered to a keyring operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyringAnswer {
    /// The WAN pool's answer (else the LAN pool's).
    pub wan: bool,
    /// Members asked.
    pub num_nodes: usize,
    /// Members that answered.
    pub num_resp: usize,
    /// Members that answered with an error.
    pub num_err: usize,
    /// Errors by member.
    pub messages: std::collections::BTreeMap<String, String>,
    /// Installed keys and how many members have each.
    pub keys: std::collections::BTreeMap<String, usize>,
    /// Primary keys and how many members use each.
    pub primary_keys: std::collections::BTreeMap<String, usize>,
    /// Serf's summary when some member failed or did not answer.
    pub failure: Option<String>,
}
