//! The resolved, immutable agent configuration.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::defaults as d;
use crate::duration;
use crate::log_level::LogLevel;

/// The agent configuration after merging every source and applying
/// defaults. Build it with [`Builder::build`](crate::Builder::build) and
/// share it as `Arc<RuntimeConfig>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeConfig {
    /// `-dev` mode: in-memory server with dev defaults.
    pub dev: bool,
    /// Run as a server.
    pub server: bool,
    /// Bootstrap a single-server cluster.
    pub bootstrap: bool,
    /// Servers to wait for before bootstrapping (0 = not set).
    pub bootstrap_expect: u32,
    /// This node's name (default: the hostname).
    pub node_name: String,
    /// This node's ID (a lowercase UUID), if configured.
    pub node_id: Option<String>,
    /// Node metadata.
    pub node_meta: BTreeMap<String, String>,
    /// Do not derive the node ID from host information.
    pub disable_host_node_id: bool,
    /// This agent's datacenter.
    pub datacenter: String,
    /// The authoritative datacenter for ACLs and CA (default: `datacenter`).
    pub primary_datacenter: String,
    /// Address for cluster-internal listeners (Serf, server RPC).
    pub bind_addr: IpAddr,
    /// Address advertised to other nodes.
    pub advertise_addr: IpAddr,
    /// Addresses for client listeners (HTTP, DNS, gRPC).
    pub client_addrs: Vec<IpAddr>,
    /// Per-listener addresses (each defaults to `client_addrs`).
    pub addresses: Addresses,
    /// Where state is kept; `None` only in `-dev`.
    pub data_dir: Option<PathBuf>,
    /// Where to write the PID.
    pub pid_file: Option<PathBuf>,
    /// Log level.
    pub log_level: LogLevel,
    /// Log as JSON.
    pub log_json: bool,
    /// Listener ports.
    pub ports: Ports,
    /// `performance.raft_multiplier` (1..=10).
    pub raft_multiplier: u32,
    /// `performance.leave_drain_time`.
    #[serde(serialize_with = "duration::serialize")]
    pub leave_drain_time: Duration,
    /// `performance.rpc_hold_timeout`.
    #[serde(serialize_with = "duration::serialize")]
    pub rpc_hold_timeout: Duration,
    /// Allow script checks from any source.
    pub enable_script_checks: bool,
    /// Allow script checks from local config files only.
    pub enable_local_script_checks: bool,
    /// Enable debug endpoints.
    pub enable_debug: bool,
    /// ACL settings.
    pub acl: AclConfig,
    /// Request limits.
    pub limits: Limits,
    /// Blocking-query wait when none is given.
    #[serde(serialize_with = "duration::serialize")]
    pub default_query_time: Duration,
    /// Longest blocking-query wait.
    #[serde(serialize_with = "duration::serialize")]
    pub max_query_time: Duration,
    /// DNS domain (with trailing dot).
    pub domain: String,
    /// Alternate DNS domain.
    pub alt_domain: Option<String>,
    /// LAN addresses to join once at start (`start_join`, `-join`).
    pub start_join: Vec<String>,
    /// LAN addresses to join, retrying.
    pub retry_join: Vec<String>,
    /// WAN addresses to join once at start (`start_join_wan`, `-join-wan`).
    pub start_join_wan: Vec<String>,
    /// WAN addresses to join, retrying.
    pub retry_join_wan: Vec<String>,
    /// Wait between LAN join attempts.
    #[serde(serialize_with = "duration::serialize")]
    pub retry_interval: Duration,
    /// Wait between WAN join attempts.
    #[serde(serialize_with = "duration::serialize")]
    pub retry_interval_wan: Duration,
    /// Maximum LAN join attempts (0 = forever).
    pub retry_max: u32,
    /// Maximum WAN join attempts (0 = forever).
    pub retry_max_wan: u32,
    /// Rejoin the cluster after a graceful leave.
    pub rejoin_after_leave: bool,
    /// Leave gracefully on SIGTERM (default: true for clients).
    pub leave_on_terminate: bool,
    /// Do not leave on SIGINT (default: true for servers).
    pub skip_leave_on_interrupt: bool,
    /// Do not check for updates.
    pub disable_update_check: bool,
    /// Do not send an anonymous signature with update checks.
    pub disable_anonymous_signature: bool,
    /// Disable remote exec.
    pub disable_remote_exec: bool,
    /// `default_intention_policy`: `allow` or `deny` for connections no
    /// intention matches; `None` falls back to the ACL default policy.
    pub default_intention_policy: Option<String>,
    /// Do not persist gossip keys.
    pub disable_keyring_file: bool,
    /// Upstream DNS servers.
    pub recursors: Vec<String>,
    /// Gossip encryption key (base64).
    pub encrypt: Option<String>,
    /// Require incoming gossip to be encrypted.
    pub encrypt_verify_incoming: bool,
    /// Encrypt outgoing gossip.
    pub encrypt_verify_outgoing: bool,
    /// Service definitions from config, as written (JSON objects).
    pub services: Vec<Value>,
    /// Check definitions from config, as written (JSON objects).
    pub checks: Vec<Value>,
    /// `connect.enabled`.
    pub connect_enabled: bool,
    /// `connect.ca_provider`.
    pub connect_ca_provider: Option<String>,
    /// `connect.ca_config`.
    pub connect_ca_config: Map<String, Value>,
    /// `peering.enabled`.
    pub peering_enabled: bool,
    /// Shortest session TTL allowed.
    #[serde(serialize_with = "duration::serialize")]
    pub session_ttl_min: Duration,
    /// How often, at least, the agent sends its network coordinate to the
    /// servers.
    pub sync_coordinate_interval_min: Duration,
    /// How often unchanged check output is synced to servers.
    #[serde(serialize_with = "duration::serialize")]
    pub check_update_interval: Duration,
    /// How long a failed LAN node is kept before being reaped.
    #[serde(serialize_with = "duration::serialize")]
    pub reconnect_timeout: Duration,
    /// How long a failed WAN node is kept before being reaped.
    #[serde(serialize_with = "duration::serialize")]
    pub reconnect_timeout_wan: Duration,
    /// Raft log entries between snapshots.
    pub raft_snapshot_threshold: u64,
    /// How often Raft checks whether to snapshot.
    #[serde(serialize_with = "duration::serialize")]
    pub raft_snapshot_interval: Duration,
    /// Raft log entries kept after a snapshot.
    pub raft_trailing_logs: u64,
    /// Autopilot settings.
    pub autopilot: Autopilot,
    /// DNS settings.
    pub dns: DnsConfig,
    /// Serve the web UI.
    pub ui: bool,
    /// Serve the UI from this directory instead of the built-in one.
    pub ui_dir: Option<PathBuf>,
    /// URL path of the UI.
    pub ui_content_path: String,
    /// Network segments, as written.
    pub segments: Vec<Value>,
    /// `telemetry`, as written.
    pub telemetry: Map<String, Value>,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Experimental features switched on.
    pub experiments: Vec<String>,
}

/// Listener ports; `None` means the listener is disabled (`-1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct Ports {
    pub http: Option<u16>,
    pub https: Option<u16>,
    pub dns: Option<u16>,
    pub grpc: Option<u16>,
    pub grpc_tls: Option<u16>,
    pub serf_lan: Option<u16>,
    pub serf_wan: Option<u16>,
    pub server: Option<u16>,
    pub sidecar_min_port: Option<u16>,
    pub sidecar_max_port: Option<u16>,
    pub expose_min_port: Option<u16>,
    pub expose_max_port: Option<u16>,
}

/// Bind addresses of the client listeners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct Addresses {
    pub http: Vec<IpAddr>,
    pub https: Vec<IpAddr>,
    pub dns: Vec<IpAddr>,
    pub grpc: Vec<IpAddr>,
    pub grpc_tls: Vec<IpAddr>,
}

/// ACL settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclConfig {
    /// ACLs are enforced.
    pub enabled: bool,
    /// `allow` or `deny`.
    pub default_policy: String,
    /// `allow`, `deny`, `extend-cache` or `async-cache`.
    pub down_policy: String,
    /// Persist tokens set through the agent API.
    pub enable_token_persistence: bool,
    /// Replicate tokens from the primary datacenter.
    pub enable_token_replication: bool,
    /// Cache TTL of tokens.
    #[serde(serialize_with = "duration::serialize")]
    pub token_ttl: Duration,
    /// Cache TTL of policies.
    #[serde(serialize_with = "duration::serialize")]
    pub policy_ttl: Duration,
    /// Cache TTL of roles.
    #[serde(serialize_with = "duration::serialize")]
    pub role_ttl: Duration,
    /// Tokens from config.
    pub tokens: AclTokens,
}

/// ACL tokens set in config. Secrets: see [`RuntimeConfig::sanitized`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct AclTokens {
    pub initial_management: Option<String>,
    pub agent: Option<String>,
    pub agent_recovery: Option<String>,
    pub default: Option<String>,
    pub replication: Option<String>,
    pub dns: Option<String>,
    pub config_file_service_registration: Option<String>,
}

/// Request size and rate limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct Limits {
    pub kv_max_value_size: u64,
    pub txn_max_req_len: u64,
    pub txn_max_ops: usize,
    pub http_max_conns_per_client: u32,
    pub rpc_max_conns_per_client: u32,
    /// Requests per second (infinite by default).
    pub rpc_rate: f64,
    pub rpc_max_burst: u32,
}

/// DNS interface settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct DnsConfig {
    pub allow_stale: bool,
    #[serde(serialize_with = "duration::serialize")]
    pub max_stale: Duration,
    #[serde(serialize_with = "duration::serialize")]
    pub node_ttl: Duration,
    /// Per-service TTLs; the key `*` is the wildcard.
    #[serde(serialize_with = "duration::serialize_map")]
    pub service_ttl: BTreeMap<String, Duration>,
    pub udp_answer_limit: u32,
    pub a_record_limit: u32,
    pub enable_truncate: bool,
    pub only_passing: bool,
    #[serde(serialize_with = "duration::serialize")]
    pub recursor_timeout: Duration,
    pub recursor_strategy: String,
    pub enable_additional_node_meta_txt: bool,
    pub disable_compression: bool,
    pub use_cache: bool,
    #[serde(serialize_with = "duration::serialize")]
    pub cache_max_age: Duration,
    pub soa: Soa,
}

/// SOA record timers, in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct Soa {
    pub expire: u32,
    pub min_ttl: u32,
    pub refresh: u32,
    pub retry: u32,
}

/// Autopilot settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct Autopilot {
    pub cleanup_dead_servers: bool,
    #[serde(serialize_with = "duration::serialize")]
    pub last_contact_threshold: Duration,
    pub max_trailing_logs: u64,
    pub min_quorum: u32,
    #[serde(serialize_with = "duration::serialize")]
    pub server_stabilization_time: Duration,
    pub redundancy_zone_tag: Option<String>,
    pub disable_upgrade_migration: bool,
    pub upgrade_version_tag: Option<String>,
}

/// TLS settings: the legacy top-level keys plus the `tls` block as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct TlsConfig {
    pub verify_incoming: bool,
    pub verify_outgoing: bool,
    pub verify_server_hostname: bool,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    /// The `tls { defaults {...} internal_rpc {...} https {...} grpc {...} }` block.
    pub tls: Map<String, Value>,
}

impl RuntimeConfig {
    /// The configuration `skein agent -dev -node dev` produces: a dev-mode
    /// server in `dc1` on 127.0.0.1 with the default ports. For tests.
    pub fn dev_default() -> Self {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut c = Self::base();
        c.dev = true;
        c.server = true;
        c.bootstrap = true;
        c.node_name = "dev".to_string();
        c.bind_addr = lo;
        c.advertise_addr = lo;
        c.log_level = d::DEV_LOG_LEVEL;
        c.ports.grpc = u16::try_from(d::DEV_GRPC_PORT).ok();
        c.ports.grpc_tls = u16::try_from(d::DEV_GRPC_TLS_PORT).ok();
        c.addresses.grpc = vec![lo];
        c.addresses.grpc_tls = vec![lo];
        c.raft_multiplier = d::DEV_RAFT_MULTIPLIER;
        c.connect_enabled = true;
        c.ui = true;
        c.enable_debug = true;
        c.disable_anonymous_signature = true;
        c.disable_keyring_file = true;
        c.leave_on_terminate = false;
        c.skip_leave_on_interrupt = true;
        c
    }

    /// The whole configuration as JSON with secrets (ACL tokens, the gossip
    /// key, and any `*token`/`private_key` string in services, checks,
    /// telemetry or CA config) replaced by `"hidden"`.
    pub fn sanitized(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(tokens) = v.pointer_mut("/acl/tokens").and_then(Value::as_object_mut) {
            for t in tokens.values_mut().filter(|t| !t.is_null()) {
                *t = Value::from("hidden");
            }
        }
        if let Some(e) = v.get_mut("encrypt").filter(|e| !e.is_null()) {
            *e = Value::from("hidden");
        }
        redact_secret_keys(&mut v);
        v
    }
}

/// Replaces string values of keys that look like secrets with `"hidden"`.
fn redact_secret_keys(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            for (k, val) in obj.iter_mut() {
                let norm = k.to_ascii_lowercase().replace(['_', '-'], "");
                let secret = norm.ends_with("token") || norm == "privatekey";
                if secret && val.is_string() {
                    *val = Value::from("hidden");
                } else {
                    redact_secret_keys(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_secret_keys),
        _ => {}
    }
}
