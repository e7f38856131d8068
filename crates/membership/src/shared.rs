//! State shared between the pool handle and its driver task.

use std::sync::{Mutex, MutexGuard, PoisonError};

use std::collections::HashMap;

use skein_types::Coordinate;
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
    coords: Mutex<Coords>,
    /// Lifeguard's Local Health Multiplier.
    health: std::sync::atomic::AtomicU32,
}

/// Network coordinates: ours and the latest heard from each member.
struct Coords {
    local: Coordinate,
    others: HashMap<String, Coordinate>,
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
            coords: Mutex::new(Coords {
                local: crate::vivaldi::Coord::origin().to_public(),
                others: HashMap::new(),
            }),
            health: std::sync::atomic::AtomicU32::new(0),
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

    fn coords(&self) -> MutexGuard<'_, Coords> {
        self.coords.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_health(&self, score: u32) {
        self.health
            .store(score, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn health(&self) -> u32 {
        self.health.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn set_local_coordinate(&self, coord: Coordinate) {
        self.coords().local = coord;
    }

    pub(crate) fn set_coordinate(&self, name: &str, coord: Coordinate) {
        self.coords().others.insert(name.to_owned(), coord);
    }

    pub(crate) fn local_coordinate(&self) -> Coordinate {
        self.coords().local.clone()
    }

    /// The latest coordinate of every alive member, ours included, by name.
    pub(crate) fn coordinates(&self) -> Vec<(String, Coordinate)> {
        let (members, local) = {
            let table = self.lock();
            (table.members(), table.local_name().to_owned())
        };
        let coords = self.coords();
        members
            .into_iter()
            .filter(|m| m.status == crate::member::MemberStatus::Alive)
            .filter_map(|m| {
                let coord = if m.name == local {
                    Some(coords.local.clone())
                } else {
                    coords.others.get(&m.name).cloned()
                };
                coord.map(|c| (m.name, c))
            })
            .collect()
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
