//! Key/value entries.

use serde::{Deserialize, Serialize};

use crate::Index;

/// One key of the KV store, as the state machine keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    /// The full key.
    pub key: String,
    /// Opaque client flags.
    pub flags: u64,
    /// The raw value (empty means Consul's `Value: null`).
    #[serde(with = "crate::bytes")]
    pub value: Vec<u8>,
    /// Index of the write that created the key.
    pub create_index: Index,
    /// Index of the last write to the key.
    pub modify_index: Index,
    /// Number of successful lock acquisitions.
    pub lock_index: u64,
    /// The session holding the lock, if any.
    pub session: Option<String>,
}
