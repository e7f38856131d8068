//! The configuration as users write it: one JSON/HCL file, the `-hcl`
//! snippets or the command-line flags. Every field is optional; the
//! [`Builder`](crate::Builder) merges several of these and fills in defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::duration::DurationValue;

/// A free-form JSON object (service definitions, telemetry, TLS, ...).
pub type Object = Map<String, Value>;

/// One configuration source, with Consul's key names.
///
/// Legacy keys (`acl_master_token`, `acl_datacenter`, `service`, `ui`, ...)
/// are separate fields here; they are folded into their modern equivalents
/// before sources are merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserConfig {
    pub datacenter: Option<String>,
    pub primary_datacenter: Option<String>,
    /// Legacy alias of `primary_datacenter`; also turns ACLs on.
    pub acl_datacenter: Option<String>,
    pub node_name: Option<String>,
    pub node_id: Option<String>,
    pub node_meta: Option<BTreeMap<String, String>>,
    pub server: Option<bool>,
    pub bootstrap: Option<bool>,
    pub bootstrap_expect: Option<u32>,
    pub bind_addr: Option<String>,
    pub advertise_addr: Option<String>,
    pub client_addr: Option<String>,
    pub addresses: Option<UserAddresses>,
    pub data_dir: Option<String>,
    pub log_level: Option<String>,
    pub log_json: Option<bool>,
    pub pid_file: Option<String>,
    pub domain: Option<String>,
    pub alt_domain: Option<String>,
    pub ports: Option<UserPorts>,
    pub performance: Option<UserPerformance>,
    pub enable_script_checks: Option<bool>,
    pub enable_local_script_checks: Option<bool>,
    pub acl: Option<UserAcl>,
    /// Legacy: `acl.tokens.initial_management`.
    pub acl_master_token: Option<String>,
    /// Legacy: `acl.tokens.default`.
    pub acl_token: Option<String>,
    /// Legacy: `acl.tokens.agent`.
    pub acl_agent_token: Option<String>,
    /// Legacy: `acl.tokens.agent_recovery`.
    pub acl_agent_master_token: Option<String>,
    /// Legacy: `acl.tokens.replication`.
    pub acl_replication_token: Option<String>,
    /// Legacy: `acl.default_policy`.
    pub acl_default_policy: Option<String>,
    /// Legacy: `acl.down_policy`.
    pub acl_down_policy: Option<String>,
    /// Legacy: `acl.token_ttl`.
    pub acl_ttl: Option<DurationValue>,
    /// Legacy and ignored (Consul only warns about it).
    pub acl_enforce_version_8: Option<bool>,
    pub limits: Option<UserLimits>,
    pub default_query_time: Option<DurationValue>,
    pub max_query_time: Option<DurationValue>,
    pub retry_join: Option<Vec<String>>,
    pub retry_join_wan: Option<Vec<String>>,
    pub start_join: Option<Vec<String>>,
    pub start_join_wan: Option<Vec<String>>,
    pub retry_interval: Option<DurationValue>,
    pub retry_interval_wan: Option<DurationValue>,
    pub retry_max: Option<u32>,
    pub retry_max_wan: Option<u32>,
    pub rejoin_after_leave: Option<bool>,
    pub leave_on_terminate: Option<bool>,
    pub skip_leave_on_interrupt: Option<bool>,
    pub disable_update_check: Option<bool>,
    pub disable_anonymous_signature: Option<bool>,
    pub disable_host_node_id: Option<bool>,
    pub disable_remote_exec: Option<bool>,
    pub default_intention_policy: Option<String>,
    pub disable_keyring_file: Option<bool>,
    pub encrypt: Option<String>,
    pub encrypt_verify_incoming: Option<bool>,
    pub encrypt_verify_outgoing: Option<bool>,
    pub recursors: Option<Vec<String>>,
    pub dns_config: Option<UserDns>,
    pub connect: Option<UserConnect>,
    pub peering: Option<UserPeering>,
    /// Legacy: `ui_config.enabled`.
    pub ui: Option<bool>,
    pub ui_config: Option<UserUi>,
    /// Network segments (Enterprise); free-form, may be `null`.
    pub segments: Option<Vec<Value>>,
    pub services: Option<Vec<Object>>,
    /// A single service; appended to `services`.
    pub service: Option<Object>,
    pub checks: Option<Vec<Object>>,
    /// A single check; appended to `checks`.
    pub check: Option<Object>,
    pub telemetry: Option<Object>,
    pub raft_snapshot_threshold: Option<u64>,
    pub raft_snapshot_interval: Option<DurationValue>,
    pub raft_trailing_logs: Option<u64>,
    pub autopilot: Option<UserAutopilot>,
    pub session_ttl_min: Option<DurationValue>,
    pub sync_coordinate_interval_min: Option<DurationValue>,
    pub check_update_interval: Option<DurationValue>,
    pub reconnect_timeout: Option<DurationValue>,
    pub reconnect_timeout_wan: Option<DurationValue>,
    pub enable_debug: Option<bool>,
    pub tls: Option<Object>,
    pub verify_incoming: Option<bool>,
    pub verify_outgoing: Option<bool>,
    pub verify_server_hostname: Option<bool>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    pub experiments: Option<Vec<String>>,
}

/// `addresses { ... }`: per-listener bind addresses overriding `client_addr`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserAddresses {
    pub http: Option<String>,
    pub https: Option<String>,
    pub dns: Option<String>,
    pub grpc: Option<String>,
    pub grpc_tls: Option<String>,
}

/// `ports { ... }`; `-1` disables a listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserPorts {
    pub http: Option<i64>,
    pub https: Option<i64>,
    pub dns: Option<i64>,
    pub grpc: Option<i64>,
    pub grpc_tls: Option<i64>,
    pub serf_lan: Option<i64>,
    pub serf_wan: Option<i64>,
    pub server: Option<i64>,
    pub sidecar_min_port: Option<i64>,
    pub sidecar_max_port: Option<i64>,
    pub expose_min_port: Option<i64>,
    pub expose_max_port: Option<i64>,
}

/// `performance { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserPerformance {
    pub raft_multiplier: Option<u32>,
    pub leave_drain_time: Option<DurationValue>,
    pub rpc_hold_timeout: Option<DurationValue>,
}

/// `acl { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserAcl {
    pub enabled: Option<bool>,
    pub default_policy: Option<String>,
    pub down_policy: Option<String>,
    pub enable_token_persistence: Option<bool>,
    pub enable_token_replication: Option<bool>,
    pub enable_key_list_policy: Option<bool>,
    pub token_ttl: Option<DurationValue>,
    pub policy_ttl: Option<DurationValue>,
    pub role_ttl: Option<DurationValue>,
    pub tokens: Option<UserAclTokens>,
}

/// `acl { tokens { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserAclTokens {
    pub initial_management: Option<String>,
    /// Legacy alias of `initial_management`.
    pub master: Option<String>,
    pub agent: Option<String>,
    pub agent_recovery: Option<String>,
    /// Legacy alias of `agent_recovery`.
    pub agent_master: Option<String>,
    pub default: Option<String>,
    pub replication: Option<String>,
    pub dns: Option<String>,
    pub config_file_service_registration: Option<String>,
}

/// `limits { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserLimits {
    pub kv_max_value_size: Option<u64>,
    pub txn_max_req_len: Option<u64>,
    pub http_max_conns_per_client: Option<u32>,
    pub rpc_max_conns_per_client: Option<u32>,
    pub rpc_rate: Option<f64>,
    pub rpc_max_burst: Option<u32>,
    pub rpc_handshake_timeout: Option<DurationValue>,
    pub https_handshake_timeout: Option<DurationValue>,
}

/// `dns_config { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserDns {
    pub allow_stale: Option<bool>,
    pub max_stale: Option<DurationValue>,
    pub node_ttl: Option<DurationValue>,
    pub service_ttl: Option<BTreeMap<String, DurationValue>>,
    pub udp_answer_limit: Option<u32>,
    pub a_record_limit: Option<u32>,
    pub enable_truncate: Option<bool>,
    pub only_passing: Option<bool>,
    pub recursor_timeout: Option<DurationValue>,
    pub recursor_strategy: Option<String>,
    pub enable_additional_node_meta_txt: Option<bool>,
    pub disable_compression: Option<bool>,
    pub use_cache: Option<bool>,
    pub cache_max_age: Option<DurationValue>,
    pub soa: Option<UserSoa>,
}

/// `dns_config { soa { ... } }`, all in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserSoa {
    pub expire: Option<u32>,
    pub min_ttl: Option<u32>,
    pub refresh: Option<u32>,
    pub retry: Option<u32>,
}

/// `connect { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserConnect {
    pub enabled: Option<bool>,
    pub ca_provider: Option<String>,
    pub ca_config: Option<Object>,
    pub enable_mesh_gateway_wan_federation: Option<bool>,
}

/// `peering { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserPeering {
    pub enabled: Option<bool>,
}

/// `ui_config { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserUi {
    pub enabled: Option<bool>,
    pub dir: Option<String>,
    pub content_path: Option<String>,
    pub metrics_provider: Option<String>,
    pub metrics_provider_files: Option<Vec<String>>,
    pub metrics_provider_options_json: Option<String>,
    pub metrics_proxy: Option<Object>,
    pub dashboard_url_templates: Option<BTreeMap<String, String>>,
}

/// `autopilot { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct UserAutopilot {
    pub cleanup_dead_servers: Option<bool>,
    pub last_contact_threshold: Option<DurationValue>,
    pub max_trailing_logs: Option<u64>,
    pub min_quorum: Option<u32>,
    pub server_stabilization_time: Option<DurationValue>,
    pub redundancy_zone_tag: Option<String>,
    pub disable_upgrade_migration: Option<bool>,
    pub upgrade_version_tag: Option<String>,
}
