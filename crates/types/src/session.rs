//! Sessions: the lease that KV locks hang on.

use serde::{Deserialize, Serialize};

use crate::Index;

/// What happens to a session's locks when it is invalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SessionBehavior {
    /// Locks are released, values kept.
    #[default]
    #[serde(rename = "release")]
    Release,
    /// Keys held are deleted.
    #[serde(rename = "delete")]
    Delete,
}

/// A session as stored in the replicated state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// UUID chosen by the proposer.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The node the session is bound to.
    pub node: String,
    /// Lock delay in nanoseconds.
    pub lock_delay_ns: u64,
    /// Invalidation behaviour.
    pub behavior: SessionBehavior,
    /// TTL as the client wrote it (`"10s"`), empty for none.
    pub ttl: String,
    /// Node checks bound to the session.
    pub node_checks: Vec<String>,
    /// Service checks bound to the session (check ids).
    pub service_checks: Vec<String>,
    /// Index of creation.
    pub create_index: Index,
    /// Index of the last change.
    pub modify_index: Index,
}
