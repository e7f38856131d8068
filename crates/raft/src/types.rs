//! openraft's type configuration for skein.

use std::io::Cursor;
use std::sync::Arc;

use skein_state::{Command, Outcome};

/// Server ids in the Raft group.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// skein's Raft types: commands of the state machine in, outcomes out.
    pub TypeConfig:
        D = Command,
        R = Outcome,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = crate::runtime::SkeinRuntime,
);

/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;

/// Raft timing scaled like Consul's `raft_multiplier`, with log compaction
/// after `snapshot_threshold` entries keeping `trailing_logs` behind.
pub fn raft_config(
    multiplier: u32,
    snapshot_threshold: u64,
    trailing_logs: u64,
) -> crate::Result<Arc<openraft::Config>> {
    let m = u64::from(multiplier.max(1));
    let config = openraft::Config {
        cluster_name: "skein".to_owned(),
        heartbeat_interval: 50 * m,
        election_timeout_min: 150 * m,
        election_timeout_max: 300 * m,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(snapshot_threshold),
        max_in_snapshot_log_to_keep: trailing_logs,
        ..Default::default()
    };
    let config = config
        .validate()
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    Ok(Arc::new(config))
}
