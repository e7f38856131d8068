//! openraft's own storage conformance suite against skein's redb log store
//! and state machine, on disk (fsync on) and in memory.

#![allow(clippy::result_large_err)]

use std::sync::{Arc, RwLock};

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use skein_raft::{LogStore, NodeId, StateMachine, TypeConfig, open_database};
use skein_state::Store;

struct OnDisk;
struct InMemory;

fn build(path: Option<&std::path::Path>) -> Result<(LogStore, StateMachine), StorageError<NodeId>> {
    let db = open_database(path).expect("open database");
    let log = LogStore::new(db.clone()).expect("log store");
    let sm = StateMachine::new(Arc::new(RwLock::new(Store::new())), db)?;
    Ok((log, sm))
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for OnDisk {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, sm) = build(Some(&dir.path().join("raft.db")))?;
        Ok((dir, log, sm))
    }
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, ()> for InMemory {
    async fn build(&self) -> Result<((), LogStore, StateMachine), StorageError<NodeId>> {
        let (log, sm) = build(None)?;
        Ok(((), log, sm))
    }
}

#[test]
fn openraft_suite_on_disk() {
    Suite::test_all(OnDisk).unwrap();
}

#[test]
fn openraft_suite_in_memory() {
    Suite::test_all(InMemory).unwrap();
}
