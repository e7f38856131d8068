//! State shared between the pool handle and its driver task.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::table::Table;

/// The member table and the change counter readers watch.
pub(crate) struct Shared {
    table: Mutex<Table>,
    changes: watch::Sender<u64>,
}

// === impl Shared ===

impl Shared {
    pub(crate) fn new(table: Table) -> Self {
        let version = table.version();
        Self {
            table: Mutex::new(table),
            changes: watch::Sender::new(version),
        }
    }

    /// Locks the table. No code panics while holding it, so a poisoned lock
    /// still holds a consistent table.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells watchers about changes since the last call.
    pub(crate) fn publish(&self) {
        let version = self.lock().version();
        self.changes.send_if_modified(|seen| {
            let changed = *seen != version;
            *seen = version;
            changed
        });
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}
