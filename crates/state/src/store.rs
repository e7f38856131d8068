//! The store: tables, the apply entry point, reads' shared plumbing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use skein_types::{Check, Index, KvEntry, Name, Node, ServiceInstance, Session};

use crate::config_entry::StoredEntry;
use crate::txn::Journal;
use crate::watch::WatchRegistry;
use crate::{Command, Op, Outcome, Topic, Watch};

/// Every replicated table. This is what a snapshot contains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateData {
    /// Index of the last applied command.
    pub index: Index,
    pub(crate) kv: BTreeMap<String, KvEntry>,
    /// Deleted keys and the index that deleted them, so a blocking read of a
    /// missing key or a prefix sees its index move.
    pub(crate) tombstones: BTreeMap<String, Index>,
    pub(crate) kv_index: Index,
    /// Key -> wall-clock millisecond until which it cannot be acquired.
    pub(crate) lock_delays: BTreeMap<String, u64>,
    pub(crate) sessions: BTreeMap<String, Session>,
    pub(crate) sessions_index: Index,
    pub(crate) nodes: BTreeMap<Name, Node>,
    /// node -> service id -> instance
    pub(crate) services: BTreeMap<Name, BTreeMap<Name, ServiceInstance>>,
    /// node -> check id -> check
    pub(crate) checks: BTreeMap<Name, BTreeMap<Name, Check>>,
    pub(crate) catalog_index: Index,
    /// Service name -> index of the last change to what a blocking read of
    /// that service returns (its instances, their checks and nodes, its
    /// mesh proxies). Names with no instance left are dropped.
    #[serde(default)]
    pub(crate) service_indexes: BTreeMap<Name, Index>,
    /// Network coordinates by node (Consul's Vivaldi coordinates, as sent).
    #[serde(default)]
    pub(crate) coordinates: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub(crate) coordinates_index: Index,
    /// The operator's autopilot configuration, once set.
    #[serde(default)]
    pub(crate) autopilot: Option<Autopilot>,
    /// Config entries by kind, then name.
    #[serde(default)]
    pub(crate) config_entries: BTreeMap<String, BTreeMap<String, StoredEntry>>,
    #[serde(default)]
    pub(crate) config_entries_index: Index,
    /// The Connect CA, once created.
    #[serde(default)]
    pub(crate) connect_ca: Option<crate::CaState>,
}

/// The stored autopilot configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Autopilot {
    /// The configuration, in Consul's JSON shape.
    pub config: serde_json::Value,
    /// Index that first set it.
    pub create_index: Index,
    /// Index that last changed it.
    pub modify_index: Index,
}

/// The state store: tables plus the watchers parked on them.
#[derive(Debug, Default)]
pub struct Store {
    pub(crate) data: StateData,
    /// Derived: session id -> keys it holds. Rebuilt on restore.
    pub(crate) session_locks: BTreeMap<String, BTreeSet<String>>,
    /// Derived: service name -> (node, instance id). Rebuilt on restore.
    pub(crate) by_service: BTreeMap<Name, BTreeSet<(Name, Name)>>,
    /// Derived: service name -> its mesh-capable instances (the proxies
    /// whose destination it is, and its Connect-native instances).
    pub(crate) by_connect: BTreeMap<Name, BTreeSet<(Name, Name)>>,
    pub(crate) changed: Vec<Topic>,
    pub(crate) journal: Option<Journal>,
    watches: Mutex<WatchRegistry>,
}

// === impl Store ===

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one committed command at `index`. Deterministic: the result
    /// depends only on the current tables, `index` and `cmd`.
    pub fn apply(&mut self, index: Index, cmd: &Command) -> Outcome {
        self.data.index = self.data.index.max(index);
        let outcome = self.dispatch(index, cmd.at_ms, &cmd.op);
        self.fire_changed();
        outcome
    }

    fn dispatch(&mut self, index: Index, at: u64, op: &Op) -> Outcome {
        match op {
            Op::Noop => Outcome::Unit,
            Op::Batch(ops) => {
                Outcome::Batch(ops.iter().map(|op| self.dispatch(index, at, op)).collect())
            }
            Op::KvSet { key, value, flags } => self.kv_set(index, key, value, *flags),
            Op::KvCas {
                key,
                value,
                flags,
                index: cas,
            } => self.kv_cas(index, key, value, *flags, *cas),
            Op::KvLock {
                key,
                value,
                flags,
                session,
            } => self.kv_lock(index, at, key, value, *flags, session),
            Op::KvUnlock {
                key,
                value,
                flags,
                session,
            } => self.kv_unlock(index, key, value, *flags, session),
            Op::KvDelete { key } => self.kv_delete(index, key),
            Op::KvDeleteCas { key, index: cas } => self.kv_delete_cas(index, key, *cas),
            Op::KvDeleteTree { prefix } => self.kv_delete_tree(index, prefix),
            Op::SessionCreate(s) => self.session_create(index, s),
            Op::SessionDestroy { id } => self.session_destroy(index, at, id),
            Op::Register(reg) => self.register(index, at, reg),
            Op::Deregister {
                node,
                service_id,
                check_id,
            } => self.deregister(index, at, node, service_id.as_deref(), check_id.as_deref()),
            Op::Txn(ops) => self.txn(index, at, ops),
            Op::Restore(data) => self.restore(index, data),
            Op::CoordinateUpdate { node, coord } => self.coordinate_update(index, node, coord),
            Op::AutopilotSet { config, cas } => self.autopilot_set(index, config, *cas),
            Op::ConfigEntrySet {
                kind,
                name,
                entry,
                cas,
            } => self.config_entry_set(index, kind, name, entry, *cas),
            Op::ConnectCaSet { ca, cas } => self.connect_ca_set(index, ca, *cas),
            Op::ConfigEntryDelete { kind, name, cas } => {
                self.config_entry_delete(index, kind, name, *cas)
            }
        }
    }

    fn restore(&mut self, index: Index, data: &StateData) -> Outcome {
        let mut data = data.clone();
        data.index = index;
        self.restore_data(data);
        Outcome::Unit
    }

    /// Replaces every table (snapshot install) and wakes every watcher.
    pub fn restore_data(&mut self, data: StateData) {
        self.data = data;
        self.session_locks.clear();
        let held: Vec<(String, String)> = self
            .data
            .kv
            .values()
            .filter_map(|e| e.session.clone().map(|s| (s, e.key.clone())))
            .collect();
        for (s, k) in held {
            self.session_locks.entry(s).or_default().insert(k);
        }
        self.rebuild_service_index();
        self.changed.clear();
        if let Ok(mut w) = self.watches.lock() {
            w.fire_all();
        }
    }

    /// A copy of every table, for a snapshot.
    pub fn snapshot(&self) -> StateData {
        self.data.clone()
    }

    /// Index of the last applied command.
    pub fn index(&self) -> Index {
        self.data.index
    }

    /// Parks a watch on `topics`. Call it while still holding the read view
    /// the answer came from.
    pub fn watch(&self, topics: &[Topic]) -> Watch {
        match self.watches.lock() {
            Ok(mut w) => w.register(topics),
            Err(poisoned) => poisoned.into_inner().register(topics),
        }
    }

    /// Number of parked watch registrations.
    pub fn parked_watches(&self) -> usize {
        self.watches.lock().map(|w| w.parked()).unwrap_or(0)
    }

    pub(crate) fn touch(&mut self, topic: Topic) {
        self.changed.push(topic);
    }

    fn fire_changed(&mut self) {
        let changed = std::mem::take(&mut self.changed);
        if changed.is_empty() {
            return;
        }
        let mut w = match self.watches.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        for topic in &changed {
            w.fire(topic);
        }
    }
}

// === impl StateData ===

impl StateData {
    /// Number of KV keys.
    pub fn kv_len(&self) -> usize {
        self.kv.len()
    }
}

// === impl Store: autopilot ===

impl Store {
    fn autopilot_set(
        &mut self,
        index: Index,
        config: &serde_json::Value,
        cas: Option<u64>,
    ) -> Outcome {
        let current = self.data.autopilot.as_ref().map_or(0, |a| a.modify_index);
        if cas.is_some_and(|c| c != current) {
            return Outcome::Bool(false);
        }
        let create_index = self
            .data
            .autopilot
            .as_ref()
            .map_or(index, |a| a.create_index);
        self.data.autopilot = Some(Autopilot {
            config: config.clone(),
            create_index,
            modify_index: index,
        });
        Outcome::Bool(true)
    }

    /// The operator's autopilot configuration, if one was set.
    pub fn autopilot(&self) -> Option<&Autopilot> {
        self.data.autopilot.as_ref()
    }
}

// === impl Store: coordinates ===

impl Store {
    fn coordinate_update(
        &mut self,
        index: Index,
        node: &str,
        coord: &serde_json::Value,
    ) -> Outcome {
        self.data.coordinates.insert(node.to_owned(), coord.clone());
        self.data.coordinates_index = index;
        self.touch(Topic::Coordinates);
        Outcome::Bool(true)
    }

    /// One node's coordinate, as stored.
    pub fn coordinate(&self, node: &str) -> Option<&serde_json::Value> {
        self.data.coordinates.get(node)
    }

    /// Every node's coordinate, with the coordinates table's index.
    pub fn coordinates(&self) -> (Index, Vec<(String, serde_json::Value)>) {
        let all = self
            .data
            .coordinates
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        (self.data.coordinates_index.max(1), all)
    }
}
