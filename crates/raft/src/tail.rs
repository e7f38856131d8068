//! The log's tail in memory: entries appended and not yet written to the
//! database, and the last ones written, kept for replication to read.
//!
//! An append only adds its entries here, so it returns at once and they are
//! readable from then on. A flush (the flusher thread's, or the simulation's
//! on simulated time) writes every unwritten entry, and the committed id
//! saved meanwhile, in one redb transaction committed with an fsync, and then
//! reports the appends it covered. Replication reads recent entries from here
//! rather than decoding them from the database.
//!
//! Truncation, purge and a vote first settle the tail (nothing unwritten, no
//! flush under way), so the database and the tail change together and every
//! storage write stays in the order openraft issued it.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use openraft::storage::LogFlushed;
use openraft::{Entry, LogId};
use redb::{Database, Durability};

use crate::{NodeId, TypeConfig};

/// Written entries kept beyond the unwritten ones: at most this many...
const KEEP_WRITTEN: usize = 256;
/// ...and about this many bytes of them (their encoded size).
const KEEP_WRITTEN_BYTES: usize = 2 << 20;

/// The shared tail of one log store.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    state: Mutex<State>,
    /// Signalled when a flush ends.
    flushed: Condvar,
}

#[derive(Default)]
struct State {
    /// Consecutive entries; the first `written` are in the database.
    entries: VecDeque<Entry<TypeConfig>>,
    /// Encoded sizes of the written entries, front first.
    written_sizes: VecDeque<usize>,
    written_bytes: usize,
    /// Appends whose entries are not durable yet.
    waiting: Vec<LogFlushed<TypeConfig>>,
    /// A committed id saved since the last flush.
    committed: Option<Option<LogId<NodeId>>>,
    /// A flush is writing.
    flushing: bool,
    /// Flushes finished so far, and the error of the last one if it failed.
    flushes: u64,
    failed: Option<String>,
}

/// What one flush writes.
pub(crate) struct Batch {
    entries: Vec<Entry<TypeConfig>>,
    committed: Option<Option<LogId<NodeId>>>,
    waiting: Vec<LogFlushed<TypeConfig>>,
}

/// Entries read from the tail, and where the database must take over.
pub(crate) struct TailRead {
    /// The tail's first index, if it has entries: everything below it is in
    /// the database.
    pub(crate) first: Option<u64>,
    /// The tail's entries within the range asked for.
    pub(crate) entries: Vec<Entry<TypeConfig>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("entries", &self.entries.len())
            .field("written", &self.written_sizes.len())
            .field("waiting", &self.waiting.len())
            .field("flushing", &self.flushing)
            .finish_non_exhaustive()
    }
}

// === impl State ===

impl State {
    fn unwritten(&self) -> usize {
        self.entries.len() - self.written_sizes.len()
    }

    fn has_work(&self) -> bool {
        self.unwritten() > 0 || !self.waiting.is_empty() || self.committed.is_some()
    }

    /// Drops written entries from the front beyond the budget.
    fn trim(&mut self) {
        while self.written_sizes.len() > KEEP_WRITTEN
            || (self.written_bytes > KEEP_WRITTEN_BYTES && !self.written_sizes.is_empty())
        {
            let size = self.written_sizes.pop_front().unwrap_or(0);
            self.written_bytes -= size;
            self.entries.pop_front();
        }
    }

    /// Forgets every entry (all written, the tail settled).
    fn clear(&mut self) {
        self.entries.clear();
        self.written_sizes.clear();
        self.written_bytes = 0;
    }
}

// === impl Tail ===

impl Tail {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `entries`, readable at once; `callback` is reported once they
    /// are durable.
    pub(crate) fn append(
        &self,
        entries: Vec<Entry<TypeConfig>>,
        callback: LogFlushed<TypeConfig>,
    ) -> crate::Result<()> {
        let mut state = self.lock();
        if let (Some(last), Some(first)) = (state.entries.back(), entries.first())
            && first.log_id.index != last.log_id.index + 1
        {
            return Err(crate::Error::NotConsecutive {
                got: first.log_id.index,
                last: last.log_id.index,
            });
        }
        state.entries.extend(entries);
        state.waiting.push(callback);
        Ok(())
    }

    /// Adds `entries` with no append to report (tests).
    #[cfg(test)]
    pub(crate) fn push(&self, entries: Vec<Entry<TypeConfig>>) {
        self.lock().entries.extend(entries);
    }

    /// Notes the committed id, written with the next flush.
    pub(crate) fn save_committed(&self, committed: Option<LogId<NodeId>>) {
        self.lock().committed = Some(committed);
    }

    /// The committed id saved since the last flush, if any.
    pub(crate) fn unwritten_committed(&self) -> Option<Option<LogId<NodeId>>> {
        self.lock().committed
    }

    /// The last entry's log id, if the tail has entries.
    pub(crate) fn last_log_id(&self) -> Option<LogId<NodeId>> {
        self.lock().entries.back().map(|e| e.log_id)
    }

    /// The tail's entries in `[start, end)`.
    pub(crate) fn read(&self, start: u64, end: u64) -> TailRead {
        let state = self.lock();
        let first = state.entries.front().map(|e| e.log_id.index);
        let entries = match first {
            Some(first) if start < end => {
                let skip = usize::try_from(start.saturating_sub(first)).unwrap_or(usize::MAX);
                let take =
                    usize::try_from(end.saturating_sub(start.max(first))).unwrap_or(usize::MAX);
                state
                    .entries
                    .iter()
                    .skip(skip)
                    .take(take)
                    .cloned()
                    .collect()
            }
            _ => Vec::new(),
        };
        TailRead { first, entries }
    }

    /// Takes what the next flush writes, or `None` if there is nothing; the
    /// flush must end with [`Tail::finish`].
    pub(crate) fn begin_flush(&self) -> Option<Batch> {
        let mut state = self.lock();
        if !state.has_work() || state.flushing {
            return None;
        }
        state.flushing = true;
        let written = state.written_sizes.len();
        Some(Batch {
            entries: state.entries.iter().skip(written).cloned().collect(),
            committed: state.committed.take(),
            waiting: std::mem::take(&mut state.waiting),
        })
    }

    /// Records a flush's entries as written (on success), reports its
    /// appends, and wakes whoever waits for the tail to settle.
    pub(crate) fn finish(&self, batch: Batch, outcome: crate::Result<Vec<usize>>) {
        {
            let mut state = self.lock();
            state.flushing = false;
            state.flushes += 1;
            state.failed = outcome.as_ref().err().map(ToString::to_string);
            if let Ok(sizes) = &outcome {
                state.written_bytes += sizes.iter().sum::<usize>();
                state.written_sizes.extend(sizes.iter().copied());
                state.trim();
            } else if batch.committed.is_some() && state.committed.is_none() {
                state.committed = batch.committed;
            }
        }
        self.flushed.notify_all();
        for callback in batch.waiting {
            let result = match &outcome {
                Ok(_) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            callback.log_io_completed(result);
        }
    }

    /// Runs one flush on this thread: writes the batch durably and reports.
    pub(crate) fn flush_once(&self, db: &Database) {
        let Some(batch) = self.begin_flush() else {
            return;
        };
        let outcome = write_batch(db, &batch);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, entries = batch.entries.len(), "flushing the raft log");
        }
        self.finish(batch, outcome);
    }

    /// Waits until no flush is under way and nothing is unwritten, running
    /// the flush itself with `flush_here` (the simulation), or waiting for
    /// the flusher thread's. Fails if a flush fails meanwhile.
    pub(crate) fn settle(&self, db: &Database, flush_here: bool) -> Result<(), String> {
        if flush_here {
            self.flush_once(db);
        }
        let mut state = self.lock();
        let before = state.flushes;
        while state.flushing || state.unwritten() > 0 || !state.waiting.is_empty() {
            if state.flushes > before
                && let Some(error) = &state.failed
            {
                return Err(error.clone());
            }
            if flush_here {
                // Only a failed flush leaves anything unwritten here.
                return Err(state.failed.clone().unwrap_or_default());
            }
            state = self.flushed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        Ok(())
    }

    /// After a settle: drops the entries from `index` on.
    pub(crate) fn truncate(&self, index: u64) {
        let mut state = self.lock();
        let Some(first) = state.entries.front().map(|e| e.log_id.index) else {
            return;
        };
        if index <= first {
            state.clear();
            return;
        }
        let keep = usize::try_from(index - first).unwrap_or(usize::MAX);
        state.entries.truncate(keep);
        while state.written_sizes.len() > state.entries.len() {
            let size = state.written_sizes.pop_back().unwrap_or(0);
            state.written_bytes -= size;
        }
    }

    /// After a settle: drops the entries up to `index`.
    pub(crate) fn purge(&self, index: u64) {
        let mut state = self.lock();
        while state
            .entries
            .front()
            .is_some_and(|e| e.log_id.index <= index)
        {
            state.entries.pop_front();
            let size = state.written_sizes.pop_front().unwrap_or(0);
            state.written_bytes -= size;
        }
    }

    /// What a crash leaves: the unwritten entries, the committed id saved
    /// since the last flush, and the appends waiting for it are gone.
    pub(crate) fn lose_unwritten(&self) {
        let mut state = self.lock();
        let written = state.written_sizes.len();
        state.entries.truncate(written);
        state.waiting.clear();
        state.committed = None;
    }
}

/// Writes `batch` in one transaction committed with an fsync; the encoded
/// size of each entry written.
fn write_batch(db: &Database, batch: &Batch) -> crate::Result<Vec<usize>> {
    let mut txn = db.begin_write().map_err(redb::Error::from)?;
    txn.set_durability(Durability::Immediate)
        .map_err(redb::Error::from)?;
    let mut sizes = Vec::with_capacity(batch.entries.len());
    {
        let mut logs = txn
            .open_table(crate::log_store::LOGS)
            .map_err(redb::Error::from)?;
        for entry in &batch.entries {
            let bytes = serde_json::to_vec(entry)?;
            logs.insert(entry.log_id.index, bytes.as_slice())
                .map_err(redb::Error::from)?;
            sizes.push(bytes.len());
        }
        if let Some(committed) = &batch.committed {
            let bytes = serde_json::to_vec(committed)?;
            let mut meta = txn
                .open_table(crate::log_store::META)
                .map_err(redb::Error::from)?;
            meta.insert(crate::log_store::COMMITTED, bytes.as_slice())
                .map_err(redb::Error::from)?;
        }
    }
    txn.commit().map_err(redb::Error::from)?;
    Ok(sizes)
}

#[cfg(test)]
pub(crate) mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};
    use redb::{ReadableDatabase, ReadableTableMetadata};

    use super::*;

    /// A blank entry at `index` of leader T1-N1.
    pub(crate) fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    /// The entries a crash would leave: the file as written so far, opened
    /// afresh.
    fn entries_after_crash(dir: &std::path::Path, n: u32) -> u64 {
        let copy = dir.join(format!("crash-{n}.redb"));
        std::fs::copy(dir.join("log.redb"), &copy).expect("copy");
        let db = Database::create(&copy).expect("reopen");
        let txn = db.begin_read().expect("read");
        match txn.open_table(crate::log_store::LOGS) {
            Ok(table) => table.len().expect("len"),
            Err(_) => 0,
        }
    }

    #[test]
    fn an_append_is_readable_at_once_and_durable_only_after_a_flush() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::create(dir.path().join("log.redb")).expect("db");
        let tail = Tail::default();
        tail.push(vec![entry(1), entry(2)]);
        assert_eq!(
            tail.read(1, 3).entries.len(),
            2,
            "readable before the flush"
        );
        assert_eq!(entries_after_crash(dir.path(), 1), 0);
        tail.flush_once(&db);
        assert_eq!(entries_after_crash(dir.path(), 2), 2);
        tail.push(vec![entry(3)]);
        assert_eq!(entries_after_crash(dir.path(), 3), 2);
        tail.flush_once(&db);
        assert_eq!(entries_after_crash(dir.path(), 4), 3);
        assert_eq!(
            tail.read(1, 4).entries.len(),
            3,
            "written entries stay readable"
        );
    }

    #[test]
    fn a_read_outside_the_tail_gets_only_where_it_starts() {
        let tail = Tail::default();
        assert_eq!(tail.read(1, 5).first, None);
        tail.push((10..=12).map(entry).collect());
        let below = tail.read(1, 5);
        assert_eq!((below.first, below.entries.len()), (Some(10), 0));
        let above = tail.read(13, 20);
        assert_eq!((above.first, above.entries.len()), (Some(10), 0));
        assert_eq!(tail.read(0, u64::MAX).entries.len(), 3);
    }

    #[test]
    fn written_entries_beyond_the_budget_leave_the_tail() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::create(dir.path().join("log.redb")).expect("db");
        let tail = Tail::default();
        let n = u64::try_from(KEEP_WRITTEN).expect("fits") + 10;
        tail.push((1..=n).map(entry).collect());
        tail.flush_once(&db);
        let read = tail.read(1, n + 1);
        assert_eq!(read.first, Some(11));
        assert_eq!(read.entries.len(), KEEP_WRITTEN);
    }

    #[test]
    fn a_crash_loses_only_what_was_not_flushed() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::create(dir.path().join("log.redb")).expect("db");
        let tail = Tail::default();
        tail.push(vec![entry(1)]);
        tail.flush_once(&db);
        tail.push(vec![entry(2)]);
        tail.save_committed(Some(entry(2).log_id));
        tail.lose_unwritten();
        assert_eq!(tail.last_log_id().map(|l| l.index), Some(1));
        assert_eq!(tail.unwritten_committed(), None);
    }
}
