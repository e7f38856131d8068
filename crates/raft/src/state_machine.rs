//! openraft's state machine over `skein_state::Store`.
//!
//! The store lives in memory; snapshots (the whole store plus the Raft
//! membership) are kept in the same redb database as the log, so a restart
//! restores the last snapshot and replays the committed log after it.

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use redb::{Database, ReadableDatabase};
use serde::{Deserialize, Serialize};
use skein_state::{Command, Op, Outcome, StateData, Store};

use crate::log_store::META;
use crate::{NodeId, TypeConfig};

/// The state store shared between the state machine (writer) and readers.
pub type SharedStore = Arc<RwLock<Store>>;

type StorageResult<T> = Result<T, StorageError<NodeId>>;
type Membership = StoredMembership<NodeId, openraft::BasicNode>;

const SNAPSHOT: &str = "snapshot";

#[derive(Serialize, Deserialize)]
struct SnapshotBlob {
    meta: SnapshotMeta<NodeId, openraft::BasicNode>,
    state: StateData,
}

/// Applies committed entries to the store and builds snapshots of it.
#[derive(Debug, Clone)]
pub struct StateMachine {
    store: SharedStore,
    db: Arc<Database>,
    last_applied: Option<LogId<NodeId>>,
    membership: Membership,
    snapshot_seq: u64,
}

fn sm_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(&e).into()
}

// === impl StateMachine ===

impl StateMachine {
    /// A state machine over `store`, restored from the last snapshot in `db`.
    pub fn new(store: SharedStore, db: Arc<Database>) -> StorageResult<Self> {
        let mut sm = Self {
            store,
            db,
            last_applied: None,
            membership: Membership::default(),
            snapshot_seq: 0,
        };
        if let Some(blob) = sm.load_blob()? {
            sm.restore(blob);
        }
        Ok(sm)
    }

    /// The store this state machine applies to.
    pub fn store(&self) -> SharedStore {
        self.store.clone()
    }

    fn load_blob(&self) -> StorageResult<Option<SnapshotBlob>> {
        let txn = self.db.begin_read().map_err(sm_err)?;
        let table = txn.open_table(META).map_err(sm_err)?;
        match table.get(SNAPSHOT).map_err(sm_err)? {
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(sm_err),
            None => Ok(None),
        }
    }

    fn save_blob(&self, bytes: &[u8]) -> StorageResult<()> {
        let txn = self.db.begin_write().map_err(sm_err)?;
        {
            let mut table = txn.open_table(META).map_err(sm_err)?;
            table.insert(SNAPSHOT, bytes).map_err(sm_err)?;
        }
        txn.commit().map_err(sm_err)
    }

    fn restore(&mut self, blob: SnapshotBlob) {
        self.last_applied = blob.meta.last_log_id;
        self.membership = blob.meta.last_membership.clone();
        let mut store = self.store.write().unwrap_or_else(|p| p.into_inner());
        store.restore_data(blob.state);
    }

    fn apply_one(&mut self, entry: Entry<TypeConfig>) -> Outcome {
        let index = entry.log_id.index;
        self.last_applied = Some(entry.log_id);
        let noop = Command {
            at_ms: 0,
            op: Op::Noop,
        };
        let cmd = match &entry.payload {
            EntryPayload::Normal(cmd) => cmd,
            EntryPayload::Membership(m) => {
                self.membership = Membership::new(Some(entry.log_id), m.clone());
                &noop
            }
            EntryPayload::Blank => &noop,
        };
        let mut store = self.store.write().unwrap_or_else(|p| p.into_inner());
        store.apply(index, cmd)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let state = self
            .store
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot();
        self.snapshot_seq += 1;
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, self.snapshot_seq),
            None => format!("--{}", self.snapshot_seq),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let blob = SnapshotBlob {
            meta: meta.clone(),
            state,
        };
        let bytes = serde_json::to_vec(&blob).map_err(sm_err)?;
        self.save_blob(&bytes)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> StorageResult<(Option<LogId<NodeId>>, Membership)> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Outcome>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        Ok(entries.into_iter().map(|e| self.apply_one(e)).collect())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let bytes = snapshot.into_inner();
        let mut blob: SnapshotBlob = serde_json::from_slice(&bytes).map_err(sm_err)?;
        blob.meta = meta.clone();
        let bytes = serde_json::to_vec(&blob).map_err(sm_err)?;
        self.save_blob(&bytes)?;
        self.restore(blob);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let Some(blob) = self.load_blob()? else {
            return Ok(None);
        };
        let meta = blob.meta.clone();
        let bytes = serde_json::to_vec(&blob).map_err(sm_err)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
