//! Transactions: every operation applies, or none does.
//!
//! Operations run in order against the live tables while a [`Journal`]
//! remembers what each first touched; on any error the journal puts it back
//! and no watcher is woken.

use std::collections::{BTreeMap, BTreeSet};

use skein_types::txn::{CatalogVerb, KvVerb};
use skein_types::{
    Check, Index, KvEntry, Name, Node, ServiceInstance, Session, TxnError, TxnOp, TxnResult,
};

use crate::{Outcome, Store};

type CatalogCopy = (
    BTreeMap<Name, Node>,
    BTreeMap<Name, BTreeMap<Name, ServiceInstance>>,
    BTreeMap<Name, BTreeMap<Name, Check>>,
    Index,
    BTreeMap<String, Session>,
    Index,
    BTreeMap<String, u64>,
    BTreeMap<Name, Index>,
);

/// What a running transaction changed, to undo it.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    kv: Vec<(String, Option<KvEntry>, Option<Index>)>,
    seen: BTreeSet<String>,
    kv_index: Index,
    catalog: Option<Box<CatalogCopy>>,
}

// === impl Store: journal ===

impl Store {
    pub(crate) fn journal_kv(&mut self, key: &str) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        if j.seen.insert(key.to_owned()) {
            let old = self.data.kv.get(key).cloned();
            let tomb = self.data.tombstones.get(key).copied();
            j.kv.push((key.to_owned(), old, tomb));
        }
    }

    pub(crate) fn journal_catalog(&mut self) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        if j.catalog.is_none() {
            let d = &self.data;
            j.catalog = Some(Box::new((
                d.nodes.clone(),
                d.services.clone(),
                d.checks.clone(),
                d.catalog_index,
                d.sessions.clone(),
                d.sessions_index,
                d.lock_delays.clone(),
                d.service_indexes.clone(),
            )));
        }
    }

    fn rollback(&mut self, journal: Journal) {
        for (key, old, tomb) in journal.kv.into_iter().rev() {
            self.restore_key(&key, old, tomb);
        }
        self.data.kv_index = journal.kv_index;
        if let Some(c) = journal.catalog {
            let d = &mut self.data;
            (d.nodes, d.services, d.checks, d.catalog_index) = (c.0, c.1, c.2, c.3);
            (d.sessions, d.sessions_index, d.lock_delays) = (c.4, c.5, c.6);
            d.service_indexes = c.7;
            self.rebuild_service_index();
        }
        self.changed.clear();
    }

    fn restore_key(&mut self, key: &str, old: Option<KvEntry>, tomb: Option<Index>) {
        if let Some(s) = self.data.kv.get(key).and_then(|e| e.session.clone())
            && let Some(keys) = self.session_locks.get_mut(&s)
        {
            keys.remove(key);
        }
        match old {
            Some(e) => {
                if let Some(s) = &e.session {
                    self.session_locks
                        .entry(s.clone())
                        .or_default()
                        .insert(key.to_owned());
                }
                self.data.kv.insert(key.to_owned(), e);
            }
            None => {
                self.data.kv.remove(key);
            }
        }
        match tomb {
            Some(t) => self.data.tombstones.insert(key.to_owned(), t),
            None => self.data.tombstones.remove(key),
        };
    }
}

// === impl Store: transactions ===

impl Store {
    pub(crate) fn txn(&mut self, index: Index, at_ms: u64, ops: &[TxnOp]) -> Outcome {
        self.journal = Some(Journal {
            kv_index: self.data.kv_index,
            ..Journal::default()
        });
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (op_index, op) in ops.iter().enumerate() {
            match self.txn_op(index, at_ms, op) {
                Ok(mut r) => results.append(&mut r),
                Err(what) => errors.push(TxnError { op_index, what }),
            }
        }
        let journal = self.journal.take().unwrap_or_default();
        if errors.is_empty() {
            Outcome::Txn(Ok(results))
        } else {
            self.rollback(journal);
            Outcome::Txn(Err(errors))
        }
    }

    /// Runs a read-only transaction without the log.
    pub fn txn_read(&self, ops: &[TxnOp]) -> (Index, Result<Vec<TxnResult>, Vec<TxnError>>) {
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (op_index, op) in ops.iter().enumerate() {
            match self.txn_read_op(op) {
                Ok(mut r) => results.append(&mut r),
                Err(what) => errors.push(TxnError { op_index, what }),
            }
        }
        let outcome = if errors.is_empty() {
            Ok(results)
        } else {
            Err(errors)
        };
        (self.index().max(1), outcome)
    }

    fn txn_op(&mut self, index: Index, at_ms: u64, op: &TxnOp) -> Result<Vec<TxnResult>, String> {
        match op {
            TxnOp::Kv {
                verb,
                key,
                value,
                flags,
                index: cas,
                session,
            } => {
                let w = KvWrite {
                    key,
                    value,
                    flags: *flags,
                    cas: *cas,
                    session,
                };
                self.txn_kv(index, at_ms, *verb, w)
            }
            TxnOp::Node { verb, node } => self.txn_node(index, at_ms, *verb, node),
            TxnOp::Service {
                verb,
                node,
                service,
            } => self.txn_service(index, *verb, node, service),
            TxnOp::Check { verb, check } => self.txn_check(index, at_ms, *verb, check),
        }
    }

    fn txn_read_op(&self, op: &TxnOp) -> Result<Vec<TxnResult>, String> {
        match op {
            TxnOp::Kv {
                verb,
                key,
                index: cas,
                session,
                ..
            } => self.txn_kv_read(*verb, key, *cas, session),
            TxnOp::Node { node, .. } => self.txn_node_get(&node.node),
            TxnOp::Service { node, service, .. } => self.txn_service_get(node, &service.id),
            TxnOp::Check { check, .. } => self.txn_check_get(&check.node, &check.check_id),
        }
    }
}

struct KvWrite<'a> {
    key: &'a str,
    value: &'a [u8],
    flags: u64,
    cas: Index,
    session: &'a str,
}

fn stripped(e: &KvEntry) -> TxnResult {
    TxnResult::Kv(KvEntry {
        value: Vec::new(),
        ..e.clone()
    })
}

// === impl Store: KV operations of a transaction ===

impl Store {
    fn txn_kv(
        &mut self,
        index: Index,
        at_ms: u64,
        verb: KvVerb,
        w: KvWrite<'_>,
    ) -> Result<Vec<TxnResult>, String> {
        let key = w.key;
        match verb {
            KvVerb::Set => self.kv_write(index, key, w.value, w.flags),
            KvVerb::Cas if !self.kv_cas_ok(key, w.cas) => {
                return Err(format!("failed to set key {key:?}, index is stale"));
            }
            KvVerb::Cas => self.kv_write(index, key, w.value, w.flags),
            KvVerb::Lock => {
                match self.kv_try_lock(index, at_ms, key, w.value, w.flags, w.session) {
                    Ok(true) => {}
                    Ok(false) => {
                        return Err(format!("failed to lock key {key:?}, lock is already held"));
                    }
                    Err(e) => return Err(format!("failed to lock key {key:?}: {e}")),
                }
            }
            KvVerb::Unlock => {
                if !self.kv_try_unlock(index, key, w.value, w.flags, w.session) {
                    return Err(format!(
                        "failed to unlock key {key:?}, lock isn't held, or is held by another session"
                    ));
                }
            }
            KvVerb::Delete => {
                self.kv_remove(index, key);
                return Ok(Vec::new());
            }
            KvVerb::DeleteTree => {
                self.kv_delete_tree(index, key);
                return Ok(Vec::new());
            }
            KvVerb::DeleteCas if !self.kv_delete_cas_ok(key, w.cas) => {
                return Err(format!("failed to delete key {key:?}, index is stale"));
            }
            KvVerb::DeleteCas => {
                self.kv_remove(index, key);
                return Ok(Vec::new());
            }
            read => return self.txn_kv_read(read, key, w.cas, w.session),
        }
        Ok(self.data.kv.get(key).map(stripped).into_iter().collect())
    }

    fn txn_kv_read(
        &self,
        verb: KvVerb,
        key: &str,
        cas: Index,
        session: &str,
    ) -> Result<Vec<TxnResult>, String> {
        let entry = self.data.kv.get(key);
        match verb {
            KvVerb::Get => entry
                .map(|e| vec![TxnResult::Kv(e.clone())])
                .ok_or_else(|| format!("key {key:?} doesn't exist")),
            KvVerb::GetOrEmpty => Ok(entry
                .map(|e| TxnResult::Kv(e.clone()))
                .into_iter()
                .collect()),
            KvVerb::GetTree => Ok(self.kv_list(key).1.into_iter().map(TxnResult::Kv).collect()),
            KvVerb::CheckIndex => match entry {
                Some(e) if e.modify_index == cas => Ok(vec![stripped(e)]),
                Some(e) => Err(format!("current modify index {} != {cas}", e.modify_index)),
                None => Err(format!("key {key:?} doesn't exist")),
            },
            KvVerb::CheckSession => match entry {
                Some(e) if e.session.as_deref() == Some(session) => Ok(vec![stripped(e)]),
                Some(_) => Err(format!("lock not held by session {session:?}")),
                None => Err(format!("key {key:?} doesn't exist")),
            },
            KvVerb::CheckNotExists => match entry {
                Some(_) => Err(format!("key {key:?} exists")),
                None => Ok(Vec::new()),
            },
            other => Err(format!("verb {other:?} is not a read")),
        }
    }
}

// === impl Store: catalog operations of a transaction ===

impl Store {
    fn txn_node(
        &mut self,
        index: Index,
        at_ms: u64,
        verb: CatalogVerb,
        node: &Node,
    ) -> Result<Vec<TxnResult>, String> {
        let name = node.node.as_str();
        let current = self.data.nodes.get(name).map(|n| n.modify_index);
        match verb {
            CatalogVerb::Get => return self.txn_node_get(name),
            CatalogVerb::Cas if current != Some(node.modify_index) => {
                return Err(format!("failed to set node {name:?}, index is stale"));
            }
            CatalogVerb::Set | CatalogVerb::Cas => self.upsert_node(index, node, false),
            CatalogVerb::DeleteCas if current.is_some_and(|m| m != node.modify_index) => {
                return Err(format!("failed to delete node {name:?}, index is stale"));
            }
            CatalogVerb::Delete | CatalogVerb::DeleteCas => {
                self.remove_node(index, at_ms, name);
                return Ok(Vec::new());
            }
        }
        self.txn_node_get(name)
    }

    fn txn_node_get(&self, name: &str) -> Result<Vec<TxnResult>, String> {
        self.data
            .nodes
            .get(name)
            .map(|n| vec![TxnResult::Node(n.clone())])
            .ok_or_else(|| format!("node {name:?} doesn't exist"))
    }

    fn txn_service(
        &mut self,
        index: Index,
        verb: CatalogVerb,
        node: &str,
        svc: &ServiceInstance,
    ) -> Result<Vec<TxnResult>, String> {
        if verb != CatalogVerb::Get && !self.data.nodes.contains_key(node) {
            return Err(format!("node {node:?} doesn't exist"));
        }
        let current = self
            .data
            .services
            .get(node)
            .and_then(|s| s.get(&svc.id))
            .map(|s| s.modify_index);
        match verb {
            CatalogVerb::Get => return self.txn_service_get(node, &svc.id),
            CatalogVerb::Cas if current != Some(svc.modify_index) => {
                return Err(format!(
                    "failed to set service {:?}, index is stale",
                    svc.id
                ));
            }
            CatalogVerb::Set | CatalogVerb::Cas => self.upsert_service(index, node, svc),
            CatalogVerb::DeleteCas if current.is_some_and(|m| m != svc.modify_index) => {
                return Err(format!(
                    "failed to delete service {:?}, index is stale",
                    svc.id
                ));
            }
            CatalogVerb::Delete | CatalogVerb::DeleteCas => {
                self.remove_service(index, node, &svc.id);
                return Ok(Vec::new());
            }
        }
        self.txn_service_get(node, &svc.id)
    }

    fn txn_service_get(&self, node: &str, id: &str) -> Result<Vec<TxnResult>, String> {
        self.data
            .services
            .get(node)
            .and_then(|s| s.get(id))
            .map(|s| vec![TxnResult::Service(node.to_owned(), s.clone())])
            .ok_or_else(|| format!("service {id:?} on node {node:?} doesn't exist"))
    }

    fn txn_check(
        &mut self,
        index: Index,
        at_ms: u64,
        verb: CatalogVerb,
        check: &Check,
    ) -> Result<Vec<TxnResult>, String> {
        let (node, id) = (check.node.as_str(), check.check_id.as_str());
        if verb != CatalogVerb::Get && !self.data.nodes.contains_key(node) {
            return Err(format!("node {node:?} doesn't exist"));
        }
        let current = self
            .data
            .checks
            .get(node)
            .and_then(|c| c.get(id))
            .map(|c| c.modify_index);
        match verb {
            CatalogVerb::Get => return self.txn_check_get(node, id),
            CatalogVerb::Cas if current != Some(check.modify_index) => {
                return Err(format!("failed to set check {id:?}, index is stale"));
            }
            CatalogVerb::Set | CatalogVerb::Cas => self.upsert_check(index, at_ms, node, check),
            CatalogVerb::DeleteCas if current.is_some_and(|m| m != check.modify_index) => {
                return Err(format!("failed to delete check {id:?}, index is stale"));
            }
            CatalogVerb::Delete | CatalogVerb::DeleteCas => {
                self.remove_check(index, at_ms, node, id);
                return Ok(Vec::new());
            }
        }
        self.txn_check_get(node, id)
    }

    fn txn_check_get(&self, node: &str, id: &str) -> Result<Vec<TxnResult>, String> {
        self.data
            .checks
            .get(node)
            .and_then(|c| c.get(id))
            .map(|c| vec![TxnResult::Check(c.clone())])
            .ok_or_else(|| format!("check {id:?} on node {node:?} doesn't exist"))
    }
}
