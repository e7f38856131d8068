//! State shared between the pool handle and its driver task.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{broadcast, watch};

use crate::event::{EventLog, UserEvent};
use crate::table::Table;

/// How many delivered user events a slow subscriber may lag behind
/// (Consul's `/v1/event/list` keeps the last 256).
const EVENT_CHANNEL: usize = 256;

/// The member table, the change counter readers watch, and the user
/// event log and its subscribers.
pub(crate) struct Shared {
    table: Mutex<Table>,
    changes: watch::Sender<u64>,
    events: Mutex<EventLog>,
    delivered: broadcast::Sender<UserEvent>,
}

// === impl Shared ===

impl Shared {
    pub(crate) fn new(table: Table) -> Self {
        let version = table.version();
        Self {
            table: Mutex::new(table),
            changes: watch::Sender::new(version),
            events: Mutex::new(EventLog::default()),
            delivered: broadcast::Sender::new(EVENT_CHANNEL),
        }
    }

    /// Locks the table. No code panics while holding it, so a poisoned lock
    /// still holds a consistent table.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the event log (consistent even if poisoned, as the table).
    pub(crate) fn events(&self) -> MutexGuard<'_, EventLog> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a new user event to the subscribers (none is fine).
    pub(crate) fn deliver(&self, event: UserEvent) {
        let _ = self.delivered.send(event);
    }

    pub(crate) fn subscribe_events(&self) -> broadcast::Receiver<UserEvent> {
        self.delivered.subscribe()
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
