//! Makes appended log entries durable in the background.
//!
//! An append is one redb transaction committed without an fsync, readable at
//! once; the flusher thread then commits with `Durability::Immediate`, which
//! makes every earlier commit durable too, and reports each append's
//! callback. Appends that queue while an fsync runs share the next one. The
//! leader's openraft core (patched, `vendor/openraft/SKEIN-PATCH.md`) does not
//! wait for these reports before replicating, so its own fsync overlaps the
//! followers' round trip; followers still answer only once their append is
//! durable.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use openraft::storage::LogFlushed;
use redb::{Database, Durability};
use tracing::error;

use crate::TypeConfig;

/// The sending side; the thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Flusher {
    tx: Sender<LogFlushed<TypeConfig>>,
}

impl Flusher {
    /// Starts the flusher thread of `db`.
    pub(crate) fn spawn(db: Arc<Database>) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("raft-log-flush".into())
            .spawn(move || run(&db, &rx))?;
        Ok(Self { tx })
    }

    /// Reports `callback` once everything appended before it is durable.
    pub(crate) fn after_flush(&self, callback: LogFlushed<TypeConfig>) {
        if let Err(unsent) = self.tx.send(callback) {
            unsent
                .0
                .log_io_completed(Err(std::io::Error::other("the log flusher has stopped")));
        }
    }
}

fn run(db: &Database, rx: &Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let outcome = flush(db);
        if let Err(e) = &outcome {
            error!(error = %e, appends = batch.len(), "flushing the raft log");
        }
        for callback in batch {
            let result = match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            callback.log_io_completed(result);
        }
    }
}

/// An empty transaction committed with `Durability::Immediate`: redb then
/// fsyncs, and every commit before it is durable.
pub(crate) fn flush(db: &Database) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

    use super::*;

    const T: TableDefinition<u64, u64> = TableDefinition::new("t");

    fn write_unflushed(db: &Database, key: u64) {
        let mut txn = db.begin_write().expect("begin");
        txn.set_durability(Durability::None).expect("durability");
        txn.open_table(T)
            .expect("table")
            .insert(key, key)
            .expect("insert");
        txn.commit().expect("commit");
    }

    /// What a crash would leave: the file as written so far, opened afresh.
    fn keys_after_crash(dir: &std::path::Path, n: u32) -> Vec<u64> {
        let copy = dir.join(format!("crash-{n}.redb"));
        std::fs::copy(dir.join("log.redb"), &copy).expect("copy");
        let db = Database::create(&copy).expect("reopen");
        let txn = db.begin_read().expect("read");
        let Ok(table) = txn.open_table(T) else {
            return Vec::new();
        };
        table
            .iter()
            .expect("iter")
            .map(|r| r.expect("row").0.value())
            .collect()
    }

    #[test]
    fn an_append_is_durable_only_after_a_flush() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::create(dir.path().join("log.redb")).expect("db");
        write_unflushed(&db, 1);
        let visible = db
            .begin_read()
            .expect("read")
            .open_table(T)
            .expect("table")
            .len();
        assert_eq!(visible.expect("len"), 1, "readable before the flush");
        assert_eq!(keys_after_crash(dir.path(), 1), Vec::<u64>::new());
        flush(&db).expect("flush");
        assert_eq!(keys_after_crash(dir.path(), 2), vec![1]);
        write_unflushed(&db, 2);
        assert_eq!(keys_after_crash(dir.path(), 3), vec![1]);
        flush(&db).expect("flush");
        assert_eq!(keys_after_crash(dir.path(), 4), vec![1, 2]);
    }
}
