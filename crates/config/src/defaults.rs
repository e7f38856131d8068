//! Consul's default values, as typed constants. `DEV_*` apply with `-dev`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::log_level::LogLevel;

/// `datacenter`.
pub const DATACENTER: &str = "dc1";
/// `domain`.
pub const DOMAIN: &str = "consul.";
/// `client_addr`.
pub const CLIENT_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// `bind_addr`.
pub const BIND_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
/// `bind_addr` (and thus `advertise_addr`) in `-dev`.
pub const DEV_BIND_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// `log_level`.
pub const LOG_LEVEL: LogLevel = LogLevel::Info;
/// `log_level` in `-dev`.
pub const DEV_LOG_LEVEL: LogLevel = LogLevel::Debug;

/// `ports.http`.
pub const HTTP_PORT: i64 = 8500;
/// `ports.https` (disabled).
pub const HTTPS_PORT: i64 = -1;
/// `ports.dns`.
pub const DNS_PORT: i64 = 8600;
/// `ports.grpc` (disabled outside `-dev`).
pub const GRPC_PORT: i64 = -1;
/// `ports.grpc` in `-dev`.
pub const DEV_GRPC_PORT: i64 = 8502;
/// `ports.grpc_tls` (disabled outside `-dev`; Consul enables 8503 on servers with TLS).
pub const GRPC_TLS_PORT: i64 = -1;
/// `ports.grpc_tls` in `-dev`.
pub const DEV_GRPC_TLS_PORT: i64 = 8503;
/// `ports.serf_lan`.
pub const SERF_LAN_PORT: i64 = 8301;
/// `ports.serf_wan`.
pub const SERF_WAN_PORT: i64 = 8302;
/// `ports.server`.
pub const SERVER_PORT: i64 = 8300;
/// `ports.sidecar_min_port`.
pub const SIDECAR_MIN_PORT: u16 = 21000;
/// `ports.sidecar_max_port`.
pub const SIDECAR_MAX_PORT: u16 = 21255;
/// `ports.expose_min_port`.
pub const EXPOSE_MIN_PORT: u16 = 21500;
/// `ports.expose_max_port`.
pub const EXPOSE_MAX_PORT: u16 = 21755;

/// `performance.raft_multiplier`.
pub const RAFT_MULTIPLIER: u32 = 5;
/// `performance.raft_multiplier` in `-dev`.
pub const DEV_RAFT_MULTIPLIER: u32 = 1;
/// `performance.leave_drain_time`.
pub const LEAVE_DRAIN_TIME: Duration = Duration::from_secs(5);
/// `performance.rpc_hold_timeout`.
pub const RPC_HOLD_TIMEOUT: Duration = Duration::from_secs(7);

/// `acl.default_policy`.
pub const ACL_DEFAULT_POLICY: &str = "allow";
/// `acl.down_policy`.
pub const ACL_DOWN_POLICY: &str = "extend-cache";
/// `acl.token_ttl`, `acl.policy_ttl` and `acl.role_ttl`.
pub const ACL_TTL: Duration = Duration::from_secs(30);

/// `limits.kv_max_value_size`.
pub const KV_MAX_VALUE_SIZE: u64 = 512 * 1024;
/// `limits.txn_max_req_len`.
pub const TXN_MAX_REQ_LEN: u64 = 512 * 1024;
/// Operations allowed in one transaction.
pub const TXN_MAX_OPS: usize = 128;
/// `limits.http_max_conns_per_client`.
pub const HTTP_MAX_CONNS_PER_CLIENT: u32 = 200;
/// `limits.rpc_max_conns_per_client`.
pub const RPC_MAX_CONNS_PER_CLIENT: u32 = 100;
/// `limits.rpc_rate` (unlimited).
pub const RPC_RATE: f64 = f64::INFINITY;
/// `limits.rpc_max_burst`.
pub const RPC_MAX_BURST: u32 = 1000;

/// `default_query_time`.
pub const DEFAULT_QUERY_TIME: Duration = Duration::from_secs(300);
/// `max_query_time`.
pub const MAX_QUERY_TIME: Duration = Duration::from_secs(600);
/// `retry_interval` and `retry_interval_wan`.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(30);
/// `session_ttl_min`.
pub const SESSION_TTL_MIN: Duration = Duration::from_secs(10);
/// `sync_coordinate_interval_min`.
pub const SYNC_COORDINATE_INTERVAL_MIN: Duration = Duration::from_secs(15);
/// `check_update_interval`.
pub const CHECK_UPDATE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// `reconnect_timeout` and `reconnect_timeout_wan`.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(72 * 3600);

/// `raft_snapshot_threshold`.
pub const RAFT_SNAPSHOT_THRESHOLD: u64 = 16384;
/// `raft_snapshot_interval`.
pub const RAFT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(30);
/// `raft_trailing_logs`.
pub const RAFT_TRAILING_LOGS: u64 = 10240;

/// `autopilot.last_contact_threshold`.
pub const AUTOPILOT_LAST_CONTACT_THRESHOLD: Duration = Duration::from_millis(200);
/// `autopilot.max_trailing_logs`.
pub const AUTOPILOT_MAX_TRAILING_LOGS: u64 = 250;
/// `autopilot.server_stabilization_time`.
pub const AUTOPILOT_SERVER_STABILIZATION_TIME: Duration = Duration::from_secs(10);

/// `dns_config.max_stale`.
pub const DNS_MAX_STALE: Duration = Duration::from_secs(87600 * 3600);
/// `dns_config.udp_answer_limit`.
pub const DNS_UDP_ANSWER_LIMIT: u32 = 3;
/// `dns_config.recursor_timeout`.
pub const DNS_RECURSOR_TIMEOUT: Duration = Duration::from_secs(2);
/// `dns_config.recursor_strategy`.
pub const DNS_RECURSOR_STRATEGY: &str = "sequential";
/// `dns_config.soa.expire` (seconds).
pub const DNS_SOA_EXPIRE: u32 = 86400;
/// `dns_config.soa.min_ttl` (seconds).
pub const DNS_SOA_MIN_TTL: u32 = 0;
/// `dns_config.soa.refresh` (seconds).
pub const DNS_SOA_REFRESH: u32 = 3600;
/// `dns_config.soa.retry` (seconds).
pub const DNS_SOA_RETRY: u32 = 600;

/// `ui_config.content_path`.
pub const UI_CONTENT_PATH: &str = "/ui/";
/// `peering.enabled`.
pub const PEERING_ENABLED: bool = true;
/// `encrypt_verify_incoming` and `encrypt_verify_outgoing`.
pub const ENCRYPT_VERIFY: bool = true;
