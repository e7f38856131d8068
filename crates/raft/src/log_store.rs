//! The Raft log, vote and committed index in redb.
//!
//! One database file per server. Each append is one redb write transaction,
//! committed without an fsync so that it is readable at once; the flusher
//! thread (`flusher.rs`) then makes it durable and only then tells openraft
//! so. `-dev` uses redb's in-memory backend: same code, no disk.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tracing::warn;

use crate::flusher::Flusher;
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
    /// How appends become durable.
    flush: Flush,
}

/// How appends become durable.
#[derive(Debug, Clone)]
enum Flush {
    /// The flusher thread makes appends durable behind them.
    Thread(Flusher),
    /// Whoever holds the [`DeferredFlush`] makes them durable.
    Deferred(Arc<DeferredFlush>),
}

/// Appends waiting for a flush that the owner runs ([`DeferredFlush::flush_now`]),
/// for a simulation that flushes on simulated time and can lose what a crash
/// caught unflushed ([`DeferredFlush::lose_unflushed`]).
#[derive(Debug)]
pub struct DeferredFlush {
    db: Arc<Database>,
    state: std::sync::Mutex<Deferred>,
}

#[derive(Default)]
struct Deferred {
    waiting: Vec<LogFlushed<TypeConfig>>,
    /// The last log index and the stored committed id at the last flush.
    durable_last: Option<u64>,
    durable_committed: Option<Vec<u8>>,
}

/// Creates the log's tables if the database lacks them.
fn create_tables(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(LOGS)?;
    txn.open_table(META)?;
    txn.commit()?;
    Ok(())
}

fn set_durability(txn: &mut redb::WriteTransaction, durability: Durability) -> StorageResult<()> {
    txn.set_durability(durability)
        .map_err(|e| StorageIOError::<NodeId>::write_logs(&e).into())
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
    /// A log store on `db`, with a flusher thread that makes appends durable
    /// behind them.
    pub fn new(db: Arc<Database>) -> crate::Result<Self> {
        create_tables(&db)?;
        let flusher = Flusher::spawn(db.clone()).map_err(crate::Error::Flusher)?;
        Ok(Self {
            db,
            flush: Flush::Thread(flusher),
        })
    }

    /// A log store on `db` whose appends become durable only when the
    /// returned [`DeferredFlush`] flushes them: for a deterministic
    /// simulation, where a thread would run outside simulated time.
    pub fn flushing_deferred(db: Arc<Database>) -> crate::Result<(Self, Arc<DeferredFlush>)> {
        create_tables(&db)?;
        let deferred = Arc::new(DeferredFlush {
            db: db.clone(),
            state: std::sync::Mutex::new(Deferred::default()),
        });
        deferred.mark_durable()?;
        let store = Self {
            db,
            flush: Flush::Deferred(deferred.clone()),
        };
        Ok((store, deferred))
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
        set_durability(&mut txn, durability)?;
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

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("waiting", &self.waiting.len())
            .field("durable_last", &self.durable_last)
            .finish_non_exhaustive()
    }
}

// === impl DeferredFlush ===

impl DeferredFlush {
    fn lock(&self) -> std::sync::MutexGuard<'_, Deferred> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records what is durable now: the last log index and the committed id.
    fn mark_durable(&self) -> Result<(), redb::Error> {
        let txn = self.db.begin_read()?;
        let last = txn.open_table(LOGS)?.last()?.map(|(k, _)| k.value());
        let committed = txn
            .open_table(META)?
            .get(COMMITTED)?
            .map(|v| v.value().to_vec());
        let mut state = self.lock();
        state.durable_last = last;
        state.durable_committed = committed;
        Ok(())
    }

    /// Makes every append so far durable and reports them.
    pub fn flush_now(&self) -> StorageResult<()> {
        let waiting = std::mem::take(&mut self.lock().waiting);
        crate::flusher::flush(&self.db).map_err(write_err)?;
        self.mark_durable().map_err(write_err)?;
        for callback in waiting {
            callback.log_io_completed(Ok(()));
        }
        Ok(())
    }

    /// What a crash leaves: the entries appended since the last flush, and
    /// the committed id stored since, are gone.
    pub fn lose_unflushed(&self) -> StorageResult<()> {
        let (last, committed) = {
            let mut state = self.lock();
            state.waiting.clear();
            (state.durable_last, state.durable_committed.clone())
        };
        let txn = self.db.begin_write().map_err(write_err)?;
        {
            let mut logs = txn.open_table(LOGS).map_err(write_err)?;
            let from = last.map_or(0, |l| l.saturating_add(1));
            logs.retain_in(from.., |_, _| false).map_err(write_err)?;
            let mut meta = txn.open_table(META).map_err(write_err)?;
            match committed {
                Some(bytes) => meta.insert(COMMITTED, bytes.as_slice()).map(drop),
                None => meta.remove(COMMITTED).map(drop),
            }
            .map_err(write_err)?;
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

/// Appends `entries` in one redb transaction, readable when it returns and
/// durable too with `Durability::Immediate`.
fn write_entries(
    db: &Database,
    entries: &[Entry<TypeConfig>],
    durability: Durability,
) -> StorageResult<()> {
    let mut txn = db.begin_write().map_err(write_err)?;
    set_durability(&mut txn, durability)?;
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

/// Reads the entries of `bounds` in order, stopping at the first gap after
/// the first entry found. With `from` set, the run must start exactly there,
/// or nothing is returned.
fn read_run(
    db: &Database,
    bounds: (Bound<u64>, Bound<u64>),
    from: Option<u64>,
) -> StorageResult<Vec<Entry<TypeConfig>>> {
    let txn = db.begin_read().map_err(read_err)?;
    let table = txn.open_table(LOGS).map_err(read_err)?;
    let mut next = from;
    let mut out = Vec::new();
    for item in table.range::<u64>(bounds).map_err(read_err)? {
        let (k, v) = item.map_err(read_err)?;
        let index = k.value();
        if next.is_some_and(|n| n != index) {
            warn!(
                expected = next,
                found = index,
                "log read stopped at a missing entry"
            );
            break;
        }
        next = Some(index.saturating_add(1));
        out.push(decode(v.value())?);
    }
    Ok(out)
}

impl RaftLogReader<TypeConfig> for LogStore {
    /// Entries missing at the start of the range are skipped (openraft reads
    /// from below the first entry after a purge); the run ends at the first
    /// gap, so a hole is never handed out.
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let bounds = (range.start_bound().cloned(), range.end_bound().cloned());
        read_run(&self.db, bounds, None)
    }

    /// What replication sends after `prev_log_id = start - 1`: the entries
    /// from `start` on, or none at all if `start` is gone. A replication
    /// stream that outlived its leadership can ask for entries this server
    /// has since purged as a follower; sending the entries after the purged
    /// ones behind that `prev_log_id` would put a hole in the receiver's log.
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let bounds = (Bound::Included(start), Bound::Excluded(end));
        read_run(&self.db, bounds, Some(start))
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
        match &self.flush {
            Flush::Thread(flusher) => {
                blocking(|| write_entries(&self.db, &entries, Durability::None))?;
                flusher.after_flush(callback);
            }
            Flush::Deferred(deferred) => {
                write_entries(&self.db, &entries, Durability::None)?;
                deferred.lock().waiting.push(callback);
            }
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.delete_range(log_id.index..)?;
        if let Flush::Deferred(deferred) = &self.flush {
            let mut state = deferred.lock();
            let below = log_id.index.checked_sub(1);
            state.durable_last = state.durable_last.min(below);
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.put_meta(LAST_PURGED, &log_id, Durability::Immediate)?;
        self.delete_range(..=log_id.index)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn store_with(indexes: impl IntoIterator<Item = u64>) -> LogStore {
        let store = LogStore::new(open_database(None).expect("db")).expect("store");
        let entries: Vec<_> = indexes.into_iter().map(entry).collect();
        write_entries(&store.db, &entries, Durability::Immediate).expect("append");
        store
    }

    async fn read(
        store: &mut LogStore,
        range: impl RangeBounds<u64> + Clone + Debug + OptionalSend,
    ) -> Vec<u64> {
        store
            .try_get_log_entries(range)
            .await
            .expect("read")
            .iter()
            .map(|e| e.log_id.index)
            .collect()
    }

    async fn replicate(store: &mut LogStore, start: u64, end: u64) -> Vec<u64> {
        store
            .limited_get_log_entries(start, end)
            .await
            .expect("read")
            .iter()
            .map(|e| e.log_id.index)
            .collect()
    }

    #[tokio::test]
    async fn replication_gets_nothing_from_a_purged_start() {
        let mut store = store_with(1..=10);
        let upto = LogId::new(CommittedLeaderId::new(1, 1), 5);
        store.purge(upto).await.expect("purge");
        assert_eq!(replicate(&mut store, 3, 8).await, Vec::<u64>::new());
        assert_eq!(replicate(&mut store, 6, 8).await, vec![6, 7]);
        assert_eq!(replicate(&mut store, 8, 20).await, vec![8, 9, 10]);
        // Other readers may start below the first entry, as openraft does.
        assert_eq!(read(&mut store, 3..8).await, vec![6, 7]);
        assert_eq!(read(&mut store, ..).await, vec![6, 7, 8, 9, 10]);
    }

    #[tokio::test]
    async fn no_read_hands_out_a_hole() {
        let mut store = store_with((1..=4).chain(7..=9));
        assert_eq!(read(&mut store, 2..9).await, vec![2, 3, 4]);
        assert_eq!(read(&mut store, 5..).await, vec![7, 8, 9]);
        assert_eq!(replicate(&mut store, 2, 9).await, vec![2, 3, 4]);
        assert_eq!(replicate(&mut store, 5, 9).await, Vec::<u64>::new());
    }
}
