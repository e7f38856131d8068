//! The config entries table: Consul's `/v1/config` store. Entries are kept
//! as the JSON the API renders (already decoded, normalized and validated
//! by the caller), keyed by kind and name; this layer owns only indexes and
//! check-and-set.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use skein_types::Index;

use crate::{Outcome, Store, Topic};

/// One stored config entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEntry {
    /// The entry's JSON without `CreateIndex`/`ModifyIndex`.
    pub body: Value,
    /// Index that created it.
    pub create_index: Index,
    /// Index that last changed it.
    pub modify_index: Index,
}

// === impl StoredEntry ===

impl StoredEntry {
    /// The entry as the API renders it, indexes included.
    pub fn to_json(&self) -> Value {
        let mut v = self.body.clone();
        if let Value::Object(m) = &mut v {
            m.insert("CreateIndex".into(), self.create_index.into());
            m.insert("ModifyIndex".into(), self.modify_index.into());
        }
        v
    }
}

// === impl Store: config entry writes ===

impl Store {
    /// Writes an entry. With `cas`, only if the stored entry's ModifyIndex
    /// is `cas` (0: only if there is none).
    pub(crate) fn config_entry_set(
        &mut self,
        index: Index,
        kind: &str,
        name: &str,
        body: &Value,
        cas: Option<Index>,
    ) -> Outcome {
        let current = self
            .config_entry(kind, name)
            .map(|e| (e.create_index, e.modify_index));
        if cas.is_some_and(|cas| current.map_or(0, |(_, modify)| modify) != cas) {
            return Outcome::Bool(false);
        }
        let create_index = current.map_or(index, |(create, _)| create);
        let mut body = body.clone();
        if let Value::Object(m) = &mut body {
            m.remove("CreateIndex");
            m.remove("ModifyIndex");
        }
        let entry = StoredEntry {
            body,
            create_index,
            modify_index: index,
        };
        self.data
            .config_entries
            .entry(kind.to_owned())
            .or_default()
            .insert(name.to_owned(), entry);
        self.data.config_entries_index = index;
        self.touch(Topic::ConfigEntries);
        Outcome::Bool(true)
    }

    /// Deletes an entry. With `cas`, only if its ModifyIndex is `cas`; a
    /// missing entry is already deleted.
    pub(crate) fn config_entry_delete(
        &mut self,
        index: Index,
        kind: &str,
        name: &str,
        cas: Option<Index>,
    ) -> Outcome {
        let Some(current) = self.config_entry(kind, name).map(|e| e.modify_index) else {
            return Outcome::Bool(cas.is_none_or(|c| c == 0));
        };
        if cas.is_some_and(|c| c != current) {
            return Outcome::Bool(false);
        }
        if let Some(by_name) = self.data.config_entries.get_mut(kind) {
            by_name.remove(name);
            if by_name.is_empty() {
                self.data.config_entries.remove(kind);
            }
        }
        self.data.config_entries_index = index;
        self.touch(Topic::ConfigEntries);
        Outcome::Bool(true)
    }
}

// === impl Store: config entry reads ===

impl Store {
    /// One entry.
    pub fn config_entry(&self, kind: &str, name: &str) -> Option<&StoredEntry> {
        self.data.config_entries.get(kind)?.get(name)
    }

    /// Every entry of `kind` (of every kind when `None`), ordered by kind
    /// then name.
    pub fn config_entries(&self, kind: Option<&str>) -> Vec<&StoredEntry> {
        match kind {
            Some(k) => self
                .data
                .config_entries
                .get(k)
                .map(|m| m.values().collect())
                .unwrap_or_default(),
            None => self
                .data
                .config_entries
                .values()
                .flat_map(|m| m.values())
                .collect(),
        }
    }

    /// Index of the last change to any config entry (at least 1).
    pub fn config_entries_index(&self) -> Index {
        self.data.config_entries_index.max(1)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{Command, Op, Outcome, Store};

    fn apply(s: &mut Store, index: u64, op: Op) -> Outcome {
        s.apply(index, &Command { at_ms: 0, op })
    }

    fn set(kind: &str, name: &str, cas: Option<u64>) -> Op {
        Op::ConfigEntrySet {
            kind: kind.into(),
            name: name.into(),
            entry: json!({"Kind": kind, "Name": name, "Protocol": "http"}),
            cas,
        }
    }

    #[test]
    fn set_get_and_indexes() {
        let mut s = Store::new();
        assert_eq!(
            apply(&mut s, 5, set("service-defaults", "web", None)),
            Outcome::Bool(true)
        );
        assert_eq!(
            apply(&mut s, 7, set("service-defaults", "web", None)),
            Outcome::Bool(true)
        );
        let e = s.config_entry("service-defaults", "web").expect("stored");
        assert_eq!((e.create_index, e.modify_index), (5, 7));
        assert_eq!(e.to_json()["ModifyIndex"], 7);
        assert_eq!(e.to_json()["Protocol"], "http");
        assert_eq!(s.config_entries_index(), 7);
        assert_eq!(s.config_entries(Some("service-defaults")).len(), 1);
        assert!(s.config_entries(Some("proxy-defaults")).is_empty());
    }

    #[test]
    fn cas_refuses_stale_writes_and_deletes() {
        let mut s = Store::new();
        assert_eq!(
            apply(&mut s, 3, set("service-defaults", "web", Some(1))),
            Outcome::Bool(false)
        );
        assert!(s.config_entry("service-defaults", "web").is_none());
        assert_eq!(
            apply(&mut s, 4, set("service-defaults", "web", Some(0))),
            Outcome::Bool(true)
        );
        assert_eq!(
            apply(&mut s, 5, set("service-defaults", "web", Some(0))),
            Outcome::Bool(false)
        );
        assert_eq!(
            apply(&mut s, 6, set("service-defaults", "web", Some(4))),
            Outcome::Bool(true)
        );
        let del = |cas| Op::ConfigEntryDelete {
            kind: "service-defaults".into(),
            name: "web".into(),
            cas,
        };
        assert_eq!(apply(&mut s, 7, del(Some(4))), Outcome::Bool(false));
        assert!(s.config_entry("service-defaults", "web").is_some());
        assert_eq!(apply(&mut s, 8, del(Some(6))), Outcome::Bool(true));
        assert!(s.config_entry("service-defaults", "web").is_none());
        assert_eq!(apply(&mut s, 9, del(None)), Outcome::Bool(true));
        assert_eq!(s.config_entries_index(), 8);
    }

    #[test]
    fn a_write_wakes_config_watchers() {
        let mut s = Store::new();
        let w = s.watch(&[crate::Topic::ConfigEntries]);
        apply(&mut s, 2, set("mesh", "mesh", None));
        assert!(w.is_fired());
    }
}
