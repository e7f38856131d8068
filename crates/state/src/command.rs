//! The commands of the Raft log and their outcomes.

use serde::{Deserialize, Serialize};
use skein_types::{Session, TxnError, TxnOp, TxnResult};

use crate::{ApplyError, Registration, StateData};

/// One entry of the Raft log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// The proposer's wall clock in milliseconds since the Unix epoch. The
    /// state machine never reads a clock; lock-delay uses this instead.
    pub at_ms: u64,
    /// What to do.
    pub op: Op,
}

/// The operations of the state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Does nothing (leader's first entry, barriers).
    Noop,
    /// Several independent commands proposed together (group commit): each
    /// applies on its own, in order, at the same index.
    Batch(Vec<Op>),
    /// `PUT /v1/kv/:key`.
    KvSet {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "skein_types::bytes")]
        value: Vec<u8>,
        /// Flags.
        flags: u64,
    },
    /// `PUT /v1/kv/:key?cas=N`.
    KvCas {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "skein_types::bytes")]
        value: Vec<u8>,
        /// Flags.
        flags: u64,
        /// Expected ModifyIndex (0: must not exist).
        index: u64,
    },
    /// `PUT /v1/kv/:key?acquire=S`.
    KvLock {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "skein_types::bytes")]
        value: Vec<u8>,
        /// Flags.
        flags: u64,
        /// Session.
        session: String,
    },
    /// `PUT /v1/kv/:key?release=S`.
    KvUnlock {
        /// Key.
        key: String,
        /// Value.
        #[serde(with = "skein_types::bytes")]
        value: Vec<u8>,
        /// Flags.
        flags: u64,
        /// Session.
        session: String,
    },
    /// `DELETE /v1/kv/:key`.
    KvDelete {
        /// Key.
        key: String,
    },
    /// `DELETE /v1/kv/:key?cas=N`.
    KvDeleteCas {
        /// Key.
        key: String,
        /// Expected ModifyIndex.
        index: u64,
    },
    /// `DELETE /v1/kv/:prefix?recurse`.
    KvDeleteTree {
        /// Prefix.
        prefix: String,
    },
    /// `PUT /v1/session/create` (the proposer picked the id).
    SessionCreate(Session),
    /// `PUT /v1/session/destroy/:id`, or a TTL expiry proposed by the leader.
    SessionDestroy {
        /// Session id.
        id: String,
    },
    /// `PUT /v1/catalog/register` and agent anti-entropy.
    Register(Box<Registration>),
    /// `PUT /v1/catalog/deregister`.
    Deregister {
        /// Node.
        node: String,
        /// Only this service.
        service_id: Option<String>,
        /// Only this check.
        check_id: Option<String>,
    },
    /// `PUT /v1/txn`.
    Txn(Vec<TxnOp>),
    /// `PUT /v1/snapshot`: replace every table with the snapshot's.
    Restore(Box<StateData>),
    /// `PUT /v1/coordinate/update` and agents' own coordinate updates.
    CoordinateUpdate {
        /// Node.
        node: String,
        /// `{Vec, Error, Adjustment, Height}` as the agent sent it.
        coord: serde_json::Value,
    },
    /// `PUT /v1/config[?cas=N]`: the entry's JSON, decoded and validated
    /// by the proposer.
    ConfigEntrySet {
        /// `Kind`.
        kind: String,
        /// `Name`.
        name: String,
        /// The entry as the API renders it (indexes are set on apply).
        entry: serde_json::Value,
        /// Apply only if the stored entry's ModifyIndex is this (0: absent).
        cas: Option<u64>,
    },
    /// `DELETE /v1/config/:kind/:name[?cas=N]`.
    ConfigEntryDelete {
        /// `Kind`.
        kind: String,
        /// `Name`.
        name: String,
        /// Apply only if the stored entry's ModifyIndex is this.
        cas: Option<u64>,
    },
    /// The Connect CA: created by the leader, replaced on rotation or a
    /// configuration change.
    ConnectCaSet {
        /// The whole CA state.
        ca: Box<crate::CaState>,
        /// Apply only if the stored CA's ModifyIndex is this (0: absent).
        cas: Option<u64>,
    },
    /// `PUT /v1/operator/autopilot/configuration[?cas=N]`.
    AutopilotSet {
        /// The whole configuration, in Consul's JSON shape.
        config: serde_json::Value,
        /// Apply only if the stored configuration's ModifyIndex is this.
        cas: Option<u64>,
    },
}

/// The result of applying a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Nothing to report.
    Unit,
    /// `true`/`false` answers (KV writes, CAS).
    Bool(bool),
    /// A transaction: results, or the errors that rolled it back.
    Txn(Result<Vec<TxnResult>, Vec<TxnError>>),
    /// The command was refused and changed nothing.
    Refused(ApplyError),
    /// The outcomes of a batch, in order.
    Batch(Vec<Outcome>),
}
