//! Transaction operations (`PUT /v1/txn`).

use serde::{Deserialize, Serialize};

use crate::{Check, KvEntry, Node, ServiceInstance};

/// A KV verb of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvVerb {
    /// Unconditional set.
    Set,
    /// Set if ModifyIndex matches.
    Cas,
    /// Acquire a lock with the session.
    Lock,
    /// Release a lock held by the session.
    Unlock,
    /// Read a key; fails if missing.
    Get,
    /// Read a key; no error if missing.
    GetOrEmpty,
    /// Read a prefix.
    GetTree,
    /// Fail unless ModifyIndex matches.
    CheckIndex,
    /// Fail unless the key is locked by the session.
    CheckSession,
    /// Fail if the key exists.
    CheckNotExists,
    /// Delete a key.
    Delete,
    /// Delete a prefix.
    DeleteTree,
    /// Delete if ModifyIndex matches.
    DeleteCas,
}

impl KvVerb {
    /// Parses Consul's verb names.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "set" => Self::Set,
            "cas" => Self::Cas,
            "lock" => Self::Lock,
            "unlock" => Self::Unlock,
            "get" => Self::Get,
            "get-or-empty" => Self::GetOrEmpty,
            "get-tree" => Self::GetTree,
            "check-index" => Self::CheckIndex,
            "check-session" => Self::CheckSession,
            "check-not-exists" => Self::CheckNotExists,
            "delete" => Self::Delete,
            "delete-tree" => Self::DeleteTree,
            "delete-cas" => Self::DeleteCas,
            _ => return None,
        })
    }

    /// True for verbs that only read.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Self::Get
                | Self::GetOrEmpty
                | Self::GetTree
                | Self::CheckIndex
                | Self::CheckSession
                | Self::CheckNotExists
        )
    }
}

/// A catalog verb of a transaction (nodes, services, checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogVerb {
    /// Create or replace.
    Set,
    /// Replace if ModifyIndex matches.
    Cas,
    /// Read.
    Get,
    /// Delete.
    Delete,
    /// Delete if ModifyIndex matches.
    DeleteCas,
}

impl CatalogVerb {
    /// Parses Consul's verb names.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "set" => Self::Set,
            "cas" => Self::Cas,
            "get" => Self::Get,
            "delete" => Self::Delete,
            "delete-cas" => Self::DeleteCas,
            _ => return None,
        })
    }
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TxnOp {
    /// A KV operation.
    Kv {
        /// Verb.
        verb: KvVerb,
        /// Key (prefix for tree verbs).
        key: String,
        /// Value to write.
        #[serde(with = "crate::bytes")]
        value: Vec<u8>,
        /// Flags to write.
        flags: u64,
        /// Index for cas/check-index/delete-cas.
        index: u64,
        /// Session for lock/unlock/check-session.
        session: String,
    },
    /// A node operation.
    Node {
        /// Verb.
        verb: CatalogVerb,
        /// The node (name is the key).
        node: Node,
    },
    /// A service operation.
    Service {
        /// Verb.
        verb: CatalogVerb,
        /// Node the service is on.
        node: String,
        /// The service (id is the key).
        service: ServiceInstance,
    },
    /// A check operation.
    Check {
        /// Verb.
        verb: CatalogVerb,
        /// The check (node + id are the key).
        check: Check,
    },
}

impl TxnOp {
    /// True when the operation only reads.
    pub fn is_read(&self) -> bool {
        match self {
            Self::Kv { verb, .. } => verb.is_read(),
            Self::Node { verb, .. } | Self::Service { verb, .. } | Self::Check { verb, .. } => {
                *verb == CatalogVerb::Get
            }
        }
    }
}

/// One result entry of a successful transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TxnResult {
    /// A KV entry (value present only for reads).
    Kv(KvEntry),
    /// A node.
    Node(Node),
    /// A service on a node.
    Service(String, ServiceInstance),
    /// A check.
    Check(Check),
}

/// Why an operation of a transaction failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnError {
    /// Position of the failing operation.
    pub op_index: usize,
    /// Consul's message.
    pub what: String,
}
