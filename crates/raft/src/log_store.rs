//! The Raft log, vote and committed index in redb.
//!
//! One database file per server; each append is one redb write transaction,
//! committed with `Durability::Immediate` (fsync) before openraft is told the
//! entries are durable. `-dev` uses redb's in-memory backend: same code, no
//! disk.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{NodeId, TypeConfig};

const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_logs");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// The database's page cache. redb's default (1 GiB) would keep the whole
/// log and the latest snapshot blob resident as they grow; appends and the
/// tail that followers fetch fit in far less.
const CACHE_BYTES: usize = 32 << 20;

/// Opens (or creates) the database at `path`, or an in-memory one.
pub fn open_database(path: Option<&Path>) -> crate::Result<Arc<Database>> {
    let db = match path {
        Some(p) => Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(p)
            .map_err(|e| crate::Error::Open {
                path: p.display().to_string(),
                source: e.into(),
            })?,
        None => Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| crate::Error::Open {
                path: "memory".into(),
                source: e.into(),
            })?,
    };
    Ok(Arc::new(db))
}

/// The Raft log storage. Cheap to clone: clones share the database.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

fn read_err(e: impl Into<redb::Error>) -> StorageError<NodeId> {
    StorageIOError::read_logs(&e.into()).into()
}

fn write_err(e: impl Into<redb::Error>) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e.into()).into()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> StorageResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StorageIOError::read_logs(&e).into())
}

fn encode<T: serde::Serialize>(value: &T) -> StorageResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StorageIOError::write_logs(&e).into())
}

// === impl LogStore ===

impl LogStore {
    /// A log store on `db`.
    pub fn new(db: Arc<Database>) -> crate::Result<Self> {
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(LOGS).map_err(redb::Error::from)?;
        txn.open_table(META).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        Ok(Self { db })
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> StorageResult<Option<T>> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let table = txn.open_table(META).map_err(read_err)?;
        match table.get(key).map_err(read_err)? {
            Some(v) => decode(v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        durability: Durability,
    ) -> StorageResult<()> {
        let bytes = encode(value)?;
        let mut txn = self.db.begin_write().map_err(write_err)?;
        txn.set_durability(durability)
            .map_err(|e| StorageError::from(StorageIOError::<NodeId>::write_logs(&e)))?;
        {
            let mut table = txn.open_table(META).map_err(write_err)?;
            table.insert(key, bytes.as_slice()).map_err(write_err)?;
        }
        txn.commit().map_err(write_err)
    }

    fn last_log_id(&self) -> StorageResult<Option<LogId<NodeId>>> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let table = txn.open_table(LOGS).map_err(read_err)?;
        match table.last().map_err(read_err)? {
            Some((_, v)) => Ok(Some(decode::<Entry<TypeConfig>>(v.value())?.log_id)),
            None => Ok(None),
        }
    }

    fn delete_range(&self, range: impl RangeBounds<u64>) -> StorageResult<()> {
        let txn = self.db.begin_write().map_err(write_err)?;
        {
            let mut table = txn.open_table(LOGS).map_err(write_err)?;
            let keys: Vec<u64> = table
                .range::<u64>((range.start_bound().cloned(), range.end_bound().cloned()))
                .map_err(write_err)?
                .map(|r| r.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()
                .map_err(write_err)?;
            for k in keys {
                table.remove(k).map_err(write_err)?;
            }
        }
        txn.commit().map_err(write_err)
    }
}

/// Runs a blocking storage call (a commit fsyncs) without stalling the
/// other tasks of a multi-threaded runtime: the worker hands its queue off
/// for the duration.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Appends `entries` in one redb transaction, durable when it returns.
fn write_entries(db: &Database, entries: &[Entry<TypeConfig>]) -> StorageResult<()> {
    let txn = db.begin_write().map_err(write_err)?;
    {
        let mut table = txn.open_table(LOGS).map_err(write_err)?;
        for entry in entries {
            let bytes = encode(entry)?;
            table
                .insert(entry.log_id.index, bytes.as_slice())
                .map_err(write_err)?;
        }
    }
    txn.commit().map_err(write_err)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let table = txn.open_table(LOGS).map_err(read_err)?;
        let bounds: (Bound<u64>, Bound<u64>) =
            (range.start_bound().cloned(), range.end_bound().cloned());
        let mut out = Vec::new();
        for item in table.range::<u64>(bounds).map_err(read_err)? {
            let (_, v) = item.map_err(read_err)?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged: Option<LogId<NodeId>> = self.get_meta(LAST_PURGED)?;
        let last = self.last_log_id()?.or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        self.put_meta(VOTE, vote, Durability::Immediate)
            .map_err(|_| StorageIOError::write_vote(&std::io::Error::other("save vote")).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.get_meta(VOTE)
    }

    /// The committed index is a hint for replay after restart (openraft
    /// recomputes it otherwise), so it rides along with the next fsync
    /// instead of costing one of its own.
    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        self.put_meta(COMMITTED, &committed, Durability::None)
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        Ok(self.get_meta::<Option<LogId<NodeId>>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        blocking(|| write_entries(&self.db, &entries))?;
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.delete_range(log_id.index..)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.put_meta(LAST_PURGED, &log_id, Durability::Immediate)?;
        self.delete_range(..=log_id.index)
    }
}
