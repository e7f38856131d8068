//! The flusher thread: makes the log's tail durable behind the appends.
//!
//! An append adds its entries to the tail (`tail.rs`) and nudges this
//! thread, which writes every unwritten entry in one redb transaction
//! committed with an fsync and then reports the appends it covered. Appends
//! that arrive while an fsync runs share the next one. The leader's openraft
//! core (patched, `vendor/openraft/SKEIN-PATCH.md`) does not wait for these
//! reports before replicating, so its own fsync overlaps the followers'
//! round trip; followers still answer only once their append is durable.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use redb::Database;

use crate::tail::Tail;

/// The sending side; the thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Flusher {
    tx: Sender<()>,
}

impl Flusher {
    /// Starts the flusher thread of `tail`, writing to `db`.
    pub(crate) fn spawn(db: Arc<Database>, tail: Arc<Tail>) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("raft-log-flush".into())
            .spawn(move || run(&db, &tail, &rx))?;
        Ok(Self { tx })
    }

    /// Asks for a flush of what the tail holds now.
    pub(crate) fn nudge(&self) {
        // The thread only stops once every sender is gone, this one included.
        let _ = self.tx.send(());
    }
}

fn run(db: &Database, tail: &Tail, rx: &Receiver<()>) {
    while rx.recv().is_ok() {
        rx.try_iter().for_each(drop);
        tail.flush_once(db);
    }
}
