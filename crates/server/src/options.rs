//! What the server role needs from the agent's configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Options of the server role, resolved from the runtime configuration.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// This server's node name.
    pub node_name: String,
    /// Stable id of this server in the Raft group.
    pub raft_id: u64,
    /// Address peers reach our Raft RPCs at (advertised).
    pub rpc_advertise: SocketAddr,
    /// Address to listen on for Raft RPCs; `None` disables the listener.
    pub rpc_bind: Option<SocketAddr>,
    /// Directory for the Raft database; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Become leader of a new one-server group if not initialized yet.
    pub bootstrap: bool,
    /// Consul's `raft_multiplier`.
    pub raft_multiplier: u32,
    /// Entries between snapshots.
    pub snapshot_threshold: u64,
    /// Entries kept behind a snapshot.
    pub trailing_logs: u64,
    /// How long to wait for leadership at start.
    pub ready_timeout: Duration,
    /// How long a leader-bound call is retried while no leader is known
    /// (`performance.rpc_hold_timeout`).
    pub rpc_hold_timeout: Duration,
    /// This server's datacenter (leaf certificates name it).
    pub datacenter: String,
    /// `connect.enabled`: the leader creates the Connect CA.
    pub connect_enabled: bool,
    /// `connect.ca_config`: settings over the built-in CA's defaults.
    pub ca_config: serde_json::Map<String, serde_json::Value>,
}

// === impl ServerOptions ===

impl ServerOptions {
    /// Options for an in-memory dev server.
    pub fn dev(node_name: &str, rpc: SocketAddr) -> Self {
        Self {
            node_name: node_name.to_owned(),
            raft_id: raft_id_for(node_name),
            rpc_advertise: rpc,
            rpc_bind: Some(rpc),
            data_dir: None,
            bootstrap: true,
            raft_multiplier: 1,
            snapshot_threshold: 16_384,
            trailing_logs: 10_240,
            ready_timeout: Duration::from_secs(10),
            rpc_hold_timeout: Duration::from_secs(7),
            datacenter: "dc1".to_owned(),
            connect_enabled: true,
            ca_config: serde_json::Map::new(),
        }
    }
}

/// A stable 64-bit Raft id from a node id or name (FNV-1a).
pub fn raft_id_for(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.max(1)
}
