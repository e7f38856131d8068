//! The KV table: writes (as `apply` runs them) and reads.

use skein_types::{Index, KvEntry};

use crate::{ApplyError, Outcome, Store, Topic};

// === impl Store: KV writes ===

impl Store {
    /// Inserts or replaces an entry, keeping derived indexes in step.
    pub(crate) fn kv_put(&mut self, index: Index, entry: KvEntry) {
        self.journal_kv(&entry.key);
        if let Some(old) = self.data.kv.get(&entry.key)
            && let Some(s) = &old.session
            && entry.session.as_ref() != Some(s)
            && let Some(keys) = self.session_locks.get_mut(s)
        {
            keys.remove(&entry.key);
        }
        if let Some(s) = &entry.session {
            self.session_locks
                .entry(s.clone())
                .or_default()
                .insert(entry.key.clone());
        }
        self.data.tombstones.remove(&entry.key);
        self.data.kv_index = index;
        self.touch(Topic::Kv(entry.key.clone()));
        self.data.kv.insert(entry.key.clone(), entry);
    }

    /// Removes a key, leaving a tombstone.
    pub(crate) fn kv_remove(&mut self, index: Index, key: &str) -> bool {
        if !self.data.kv.contains_key(key) {
            return false;
        }
        self.journal_kv(key);
        if let Some(old) = self.data.kv.remove(key)
            && let Some(s) = &old.session
            && let Some(keys) = self.session_locks.get_mut(s)
        {
            keys.remove(key);
        }
        self.data.tombstones.insert(key.to_owned(), index);
        self.data.kv_index = index;
        self.touch(Topic::Kv(key.to_owned()));
        true
    }

    fn new_entry(index: Index, key: &str, value: &[u8], flags: u64) -> KvEntry {
        KvEntry {
            key: key.to_owned(),
            flags,
            value: value.to_vec(),
            create_index: index,
            modify_index: index,
            lock_index: 0,
            session: None,
        }
    }

    /// Writes value and flags, keeping the lock state of an existing key.
    pub(crate) fn kv_write(&mut self, index: Index, key: &str, value: &[u8], flags: u64) {
        let entry = match self.data.kv.get(key) {
            Some(old) => KvEntry {
                value: value.to_vec(),
                flags,
                modify_index: index,
                ..old.clone()
            },
            None => Self::new_entry(index, key, value, flags),
        };
        self.kv_put(index, entry);
    }

    pub(crate) fn kv_set(&mut self, index: Index, key: &str, value: &[u8], flags: u64) -> Outcome {
        self.kv_write(index, key, value, flags);
        Outcome::Bool(true)
    }

    pub(crate) fn kv_cas_ok(&self, key: &str, cas: Index) -> bool {
        match self.data.kv.get(key) {
            None => cas == 0,
            Some(e) => cas != 0 && e.modify_index == cas,
        }
    }

    pub(crate) fn kv_cas(
        &mut self,
        index: Index,
        key: &str,
        value: &[u8],
        flags: u64,
        cas: Index,
    ) -> Outcome {
        if !self.kv_cas_ok(key, cas) {
            return Outcome::Bool(false);
        }
        self.kv_set(index, key, value, flags)
    }

    /// Acquire: `Err` for an unknown session, `Ok(false)` when the key is
    /// held by another session or still in its lock-delay.
    pub(crate) fn kv_try_lock(
        &mut self,
        index: Index,
        at_ms: u64,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
    ) -> Result<bool, ApplyError> {
        if !self.data.sessions.contains_key(session) {
            return Err(ApplyError::InvalidSession);
        }
        if self
            .data
            .lock_delays
            .get(key)
            .is_some_and(|until| *until > at_ms)
        {
            return Ok(false);
        }
        let entry = match self.data.kv.get(key) {
            Some(old) if old.session.as_deref() == Some(session) => KvEntry {
                value: value.to_vec(),
                flags,
                modify_index: index,
                ..old.clone()
            },
            Some(old) if old.session.is_some() => return Ok(false),
            Some(old) => KvEntry {
                value: value.to_vec(),
                flags,
                modify_index: index,
                lock_index: old.lock_index + 1,
                session: Some(session.to_owned()),
                ..old.clone()
            },
            None => KvEntry {
                lock_index: 1,
                session: Some(session.to_owned()),
                ..Self::new_entry(index, key, value, flags)
            },
        };
        self.kv_put(index, entry);
        Ok(true)
    }

    pub(crate) fn kv_lock(
        &mut self,
        index: Index,
        at_ms: u64,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
    ) -> Outcome {
        match self.kv_try_lock(index, at_ms, key, value, flags, session) {
            Ok(ok) => Outcome::Bool(ok),
            Err(e) => Outcome::Refused(e),
        }
    }

    /// Release: only the holder may release; the value is written too.
    pub(crate) fn kv_try_unlock(
        &mut self,
        index: Index,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
    ) -> bool {
        let Some(old) = self.data.kv.get(key) else {
            return false;
        };
        if old.session.as_deref() != Some(session) {
            return false;
        }
        let entry = KvEntry {
            value: value.to_vec(),
            flags,
            modify_index: index,
            session: None,
            ..old.clone()
        };
        self.kv_put(index, entry);
        true
    }

    pub(crate) fn kv_unlock(
        &mut self,
        index: Index,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
    ) -> Outcome {
        Outcome::Bool(self.kv_try_unlock(index, key, value, flags, session))
    }

    pub(crate) fn kv_delete(&mut self, index: Index, key: &str) -> Outcome {
        self.kv_remove(index, key);
        Outcome::Bool(true)
    }

    /// Delete-CAS: a missing key counts as deleted; an index mismatch fails.
    pub(crate) fn kv_delete_cas_ok(&self, key: &str, cas: Index) -> bool {
        self.data.kv.get(key).is_none_or(|e| e.modify_index == cas)
    }

    pub(crate) fn kv_delete_cas(&mut self, index: Index, key: &str, cas: Index) -> Outcome {
        if !self.kv_delete_cas_ok(key, cas) {
            return Outcome::Bool(false);
        }
        self.kv_remove(index, key);
        Outcome::Bool(true)
    }

    pub(crate) fn kv_delete_tree(&mut self, index: Index, prefix: &str) -> Outcome {
        let keys: Vec<String> = self.kv_range(prefix).map(|e| e.key.clone()).collect();
        for key in keys {
            self.kv_remove(index, &key);
        }
        Outcome::Bool(true)
    }

    fn kv_range<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a KvEntry> + 'a {
        self.data
            .kv
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e)
    }
}

// === impl Store: KV reads ===

impl Store {
    fn kv_table_index(&self) -> Index {
        self.data.kv_index.max(1)
    }

    /// One key, with the index a blocking read of it should report.
    pub fn kv_get(&self, key: &str) -> (Index, Option<KvEntry>) {
        match self.data.kv.get(key) {
            Some(e) => (e.modify_index, Some(e.clone())),
            None => (self.kv_table_index(), None),
        }
    }

    /// Every key under a prefix, sorted, with the prefix's index (the highest
    /// ModifyIndex or tombstone under it).
    pub fn kv_list(&self, prefix: &str) -> (Index, Vec<KvEntry>) {
        let entries: Vec<KvEntry> = self.kv_range(prefix).cloned().collect();
        (self.kv_prefix_index(prefix, &entries), entries)
    }

    fn kv_prefix_index(&self, prefix: &str, entries: &[KvEntry]) -> Index {
        let live = entries.iter().map(|e| e.modify_index).max().unwrap_or(0);
        let dead = self
            .data
            .tombstones
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0);
        match live.max(dead) {
            0 => self.kv_table_index(),
            i => i,
        }
    }

    /// Keys under a prefix, rolled up at the first `separator` after it.
    pub fn kv_keys(&self, prefix: &str, separator: &str) -> (Index, Vec<String>) {
        let (index, entries) = self.kv_list(prefix);
        let mut keys: Vec<String> = Vec::new();
        for e in &entries {
            let rest = &e.key[prefix.len()..];
            let key = match (separator.is_empty(), rest.find(separator)) {
                (false, Some(pos)) => format!("{prefix}{}", &rest[..pos + separator.len()]),
                _ => e.key.clone(),
            };
            if keys.last() != Some(&key) {
                keys.push(key);
            }
        }
        (index, keys)
    }
}
