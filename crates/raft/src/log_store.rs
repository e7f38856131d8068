//! The Raft log, vote and committed index in redb.
//!
//! One database file per server; each append is one redb write transaction.
//! By default it commits with `Durability::Immediate` (fsync) before openraft
//! is told the entries are durable. A store built with
//! [`LogStore::with_background_flush`] commits appends without an fsync and
//! hands the durability callback to a flusher thread, which makes everything
//! appended so far durable with one fsync (group commit); the leader's Raft
//! task meanwhile sends the entries to its followers. `-dev` uses redb's
//! in-memory backend: same code, no disk.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

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

/// Opens (or creates) the database at `path`, or an in-memory one.
pub fn open_database(path: Option<&Path>) -> crate::Result<Arc<Database>> {
    let db = match path {
        Some(p) => Database::create(p).map_err(|e| crate::Error::Open {
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
    /// Where appends send their durability callbacks, when a flusher runs.
    flusher: Option<mpsc::Sender<LogFlushed<TypeConfig>>>,
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
        Ok(Self { db, flusher: None })
    }

    /// A log store on `db` whose appends are made durable by a flusher
    /// thread. The thread exits when the last clone of the store is dropped.
    pub fn with_background_flush(db: Arc<Database>) -> crate::Result<Self> {
        let mut store = Self::new(db)?;
        let (tx, rx) = mpsc::channel();
        let db = store.db.clone();
        std::thread::Builder::new()
            .name("raft-log-flush".into())
            .spawn(move || run_flusher(&db, &rx))
            .map_err(|e| crate::Error::Open {
                path: "raft log flusher".into(),
                source: redb::Error::Io(e),
            })?;
        store.flusher = Some(tx);
        Ok(store)
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

/// Makes every commit so far durable, one fsync per batch of callbacks
/// queued meanwhile, and reports the outcome to each of them.
fn run_flusher(db: &Database, rx: &mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let result = sync_to_disk(db);
        if let Err(e) = &result {
            tracing::error!(error = %e, "raft log fsync failed");
        }
        for callback in batch {
            let outcome = result
                .as_ref()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string()));
            callback.log_io_completed(outcome);
        }
    }
}

/// An empty durable commit: redb then persists every earlier commit.
fn sync_to_disk(db: &Database) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| redb::Error::Io(std::io::Error::other(e.to_string())))?;
    txn.commit()?;
    Ok(())
}

/// Appends `entries` in one redb transaction with the given durability.
fn write_entries(
    db: &Database,
    entries: &[Entry<TypeConfig>],
    durability: Durability,
) -> StorageResult<()> {
    let mut txn = db.begin_write().map_err(write_err)?;
    txn.set_durability(durability)
        .map_err(|e| StorageError::from(StorageIOError::<NodeId>::write_logs(&e)))?;
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
        let Some(flusher) = &self.flusher else {
            blocking(|| write_entries(&self.db, &entries, Durability::Immediate))?;
            callback.log_io_completed(Ok(()));
            return Ok(());
        };
        blocking(|| write_entries(&self.db, &entries, Durability::None))?;
        flusher.send(callback).map_err(|_| {
            StorageError::from(StorageIOError::<NodeId>::write_logs(
                &std::io::Error::other("raft log flusher stopped"),
            ))
        })
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.delete_range(log_id.index..)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.put_meta(LAST_PURGED, &log_id, Durability::Immediate)?;
        self.delete_range(..=log_id.index)
    }
}
