//! The Raft log, vote and committed index in redb.
//!
//! One database file per server. An append adds its entries to the log's
//! tail in memory (`tail.rs`), readable at once; the flusher thread
//! (`flusher.rs`) writes them to the database with an fsync and only then
//! tells openraft so. `-dev` uses redb's in-memory backend: same code, no
//! disk.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tracing::warn;

use crate::flusher::Flusher;
use crate::tail::Tail;
use crate::{NodeId, TypeConfig};

pub(crate) const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_logs");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const VOTE: &str = "vote";
pub(crate) const COMMITTED: &str = "committed";
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

/// The Raft log storage. Cheap to clone: clones share the database and the
/// tail.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: Arc<Database>,
    tail: Arc<Tail>,
    /// Who flushes the tail.
    flush: Flush,
}

/// Who flushes the tail.
#[derive(Debug, Clone)]
enum Flush {
    /// The flusher thread, nudged by each append.
    Thread(Flusher),
    /// Whoever holds the [`DeferredFlush`].
    Deferred,
}

/// Flushes a log store's tail when its owner says so ([`DeferredFlush::flush_now`]),
/// for a simulation that flushes on simulated time and can lose what a crash
/// caught unflushed ([`DeferredFlush::lose_unflushed`]).
#[derive(Debug)]
pub struct DeferredFlush {
    db: Arc<Database>,
    tail: Arc<Tail>,
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
        let tail = Arc::new(Tail::default());
        let flusher = Flusher::spawn(db.clone(), tail.clone()).map_err(crate::Error::Flusher)?;
        Ok(Self {
            db,
            tail,
            flush: Flush::Thread(flusher),
        })
    }

    /// A log store on `db` whose appends become durable only when the
    /// returned [`DeferredFlush`] flushes them: for a deterministic
    /// simulation, where a thread would run outside simulated time.
    pub fn flushing_deferred(db: Arc<Database>) -> crate::Result<(Self, Arc<DeferredFlush>)> {
        create_tables(&db)?;
        let tail = Arc::new(Tail::default());
        let deferred = Arc::new(DeferredFlush {
            db: db.clone(),
            tail: tail.clone(),
        });
        let store = Self {
            db,
            tail,
            flush: Flush::Deferred,
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

    /// Stores a meta value durably, after everything appended before it.
    fn put_meta<T: serde::Serialize>(&self, key: &str, value: &T) -> StorageResult<()> {
        self.settle()?;
        let bytes = encode(value)?;
        let mut txn = self.db.begin_write().map_err(write_err)?;
        set_durability(&mut txn, Durability::Immediate)?;
        {
            let mut table = txn.open_table(META).map_err(write_err)?;
            table.insert(key, bytes.as_slice()).map_err(write_err)?;
        }
        txn.commit().map_err(write_err)
    }

    /// Waits until the tail has nothing unwritten and no flush under way
    /// (flushing it here in the simulation), so that a truncation, purge or
    /// vote follows every append before it.
    fn settle(&self) -> StorageResult<()> {
        let settled = match &self.flush {
            Flush::Thread(flusher) => {
                flusher.nudge();
                blocking(|| self.tail.settle(&self.db, false))
            }
            Flush::Deferred => self.tail.settle(&self.db, true),
        };
        settled.map_err(|e| StorageIOError::write_logs(&std::io::Error::other(e)).into())
    }

    /// The last entry in the database.
    fn last_written_log_id(&self) -> StorageResult<Option<LogId<NodeId>>> {
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

    /// The entries of `[start, end)` in order: from the database below the
    /// tail's first entry, then from the tail. Entries missing at the start
    /// are skipped unless `exact`; the run ends at the first gap.
    fn read_entries(
        &self,
        start: u64,
        end: u64,
        exact: bool,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        // Read the tail first: what it drops meanwhile is written, and so in
        // the database read after.
        let tail = self.tail.read(start, end);
        let db_end = tail.first.map_or(end, |first| first.min(end));
        let mut out = if start < db_end {
            let bounds = (Bound::Included(start), Bound::Excluded(db_end));
            read_run(&self.db, bounds, exact.then_some(start))?
        } else {
            Vec::new()
        };
        let mut next = match out.last() {
            Some(e) => Some(e.log_id.index + 1),
            None => exact.then_some(start),
        };
        for entry in tail.entries {
            if next.is_some_and(|n| n != entry.log_id.index) {
                warn!(
                    expected = next,
                    found = entry.log_id.index,
                    "log read stopped at a missing entry"
                );
                break;
            }
            next = Some(entry.log_id.index + 1);
            out.push(entry);
        }
        Ok(out)
    }
}

// === impl DeferredFlush ===

impl DeferredFlush {
    /// Makes every append so far durable and reports them (a failed flush
    /// reports its error to the appends it covered).
    pub fn flush_now(&self) {
        self.tail.flush_once(&self.db);
    }

    /// What a crash leaves: the entries appended since the last flush, and
    /// the committed id saved since, are gone.
    pub fn lose_unflushed(&self) {
        self.tail.lose_unwritten();
    }
}

/// Runs a blocking call (waiting for an fsync) without stalling the other
/// tasks of a multi-threaded runtime: the worker hands its queue off for
/// the duration.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
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

/// `range` as `[start, end)`.
fn half_open(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    /// Entries missing at the start of the range are skipped (openraft reads
    /// from below the first entry after a purge); the run ends at the first
    /// gap, so a hole is never handed out.
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let (start, end) = half_open(&range);
        self.read_entries(start, end, false)
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
        self.read_entries(start, end, true)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged: Option<LogId<NodeId>> = self.get_meta(LAST_PURGED)?;
        let last = match self.tail.last_log_id() {
            Some(last) => Some(last),
            None => self.last_written_log_id()?,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last.or(last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        self.put_meta(VOTE, vote)
            .map_err(|_| StorageIOError::write_vote(&std::io::Error::other("save vote")).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.get_meta(VOTE)
    }

    /// The committed index is a hint for replay after restart (openraft
    /// recomputes it otherwise), so it rides along with the next flush
    /// instead of costing a write of its own.
    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        self.tail.save_committed(committed);
        Ok(())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        if let Some(committed) = self.tail.unwritten_committed() {
            return Ok(committed);
        }
        Ok(self.get_meta::<Option<LogId<NodeId>>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.tail
            .append(entries.into_iter().collect(), callback)
            .map_err(|e| StorageError::from(StorageIOError::write_logs(&e)))?;
        if let Flush::Thread(flusher) = &self.flush {
            flusher.nudge();
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.settle()?;
        self.tail.truncate(log_id.index);
        self.delete_range(log_id.index..)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.put_meta(LAST_PURGED, &log_id)?;
        self.tail.purge(log_id.index);
        self.delete_range(..=log_id.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::tests::entry;

    /// A store whose database holds `indexes`.
    fn store_with(indexes: impl IntoIterator<Item = u64>) -> LogStore {
        let store = LogStore::new(open_database(None).expect("db")).expect("store");
        let txn = store.db.begin_write().expect("begin");
        {
            let mut logs = txn.open_table(LOGS).expect("table");
            for index in indexes {
                let bytes = serde_json::to_vec(&entry(index)).expect("encode");
                logs.insert(index, bytes.as_slice()).expect("insert");
            }
        }
        txn.commit().expect("commit");
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
        let upto = entry(5).log_id;
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

    #[tokio::test]
    async fn reads_join_the_database_and_the_unwritten_tail() {
        let mut store = store_with(1..=5);
        store.tail.push((6..=8).map(entry).collect());
        assert_eq!(read(&mut store, ..).await, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(read(&mut store, 4..7).await, vec![4, 5, 6]);
        assert_eq!(replicate(&mut store, 5, 20).await, vec![5, 6, 7, 8]);
        assert_eq!(replicate(&mut store, 7, 8).await, vec![7]);
        let state = store.get_log_state().await.expect("state");
        assert_eq!(state.last_log_id.map(|l| l.index), Some(8));
    }

    #[tokio::test]
    async fn a_tail_that_does_not_follow_the_database_is_not_bridged() {
        let mut store = store_with(1..=3);
        store.tail.push((6..=7).map(entry).collect());
        assert_eq!(read(&mut store, ..).await, vec![1, 2, 3]);
        assert_eq!(replicate(&mut store, 2, 9).await, vec![2, 3]);
        assert_eq!(replicate(&mut store, 6, 9).await, vec![6, 7]);
        assert_eq!(replicate(&mut store, 4, 9).await, Vec::<u64>::new());
    }

    #[tokio::test]
    async fn truncation_and_purge_reach_the_tail_once_it_is_written() {
        let (mut store, flush) =
            LogStore::flushing_deferred(open_database(None).expect("db")).expect("store");
        store.tail.push((1..=6).map(entry).collect());
        store.truncate(entry(5).log_id).await.expect("truncate");
        assert_eq!(read(&mut store, ..).await, vec![1, 2, 3, 4]);
        assert_eq!(
            read_run(&store.db, (Bound::Unbounded, Bound::Unbounded), None)
                .expect("db")
                .len(),
            4,
            "the truncation flushed what came before it"
        );
        store.purge(entry(2).log_id).await.expect("purge");
        assert_eq!(read(&mut store, ..).await, vec![3, 4]);
        store.tail.push((5..=5).map(entry).collect());
        flush.lose_unflushed();
        assert_eq!(read(&mut store, ..).await, vec![3, 4]);
        let state = store.get_log_state().await.expect("state");
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(2));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(4));
    }

    #[tokio::test]
    async fn the_committed_id_is_written_with_the_next_flush() {
        let (mut store, flush) =
            LogStore::flushing_deferred(open_database(None).expect("db")).expect("store");
        let committed = Some(entry(3).log_id);
        store.save_committed(committed).await.expect("save");
        assert_eq!(store.read_committed().await.expect("read"), committed);
        assert_eq!(
            store
                .get_meta::<Option<LogId<NodeId>>>(COMMITTED)
                .expect("meta"),
            None
        );
        flush.flush_now();
        assert_eq!(
            store
                .get_meta::<Option<LogId<NodeId>>>(COMMITTED)
                .expect("meta"),
            Some(committed)
        );
    }
}
