//! The sessions table: create, destroy, invalidation of held locks.

use skein_types::{CheckStatus, Index, KvEntry, Session, SessionBehavior};

use crate::{ApplyError, Outcome, Store, Topic};

// === impl Store: session writes ===

impl Store {
    pub(crate) fn session_create(&mut self, index: Index, s: &Session) -> Outcome {
        if let Err(e) = self.session_checks_ok(s) {
            return Outcome::Refused(e);
        }
        let session = Session {
            create_index: index,
            modify_index: index,
            ..s.clone()
        };
        self.data.sessions.insert(session.id.clone(), session);
        self.data.sessions_index = index;
        self.touch(Topic::Sessions);
        Outcome::Unit
    }

    fn session_checks_ok(&self, s: &Session) -> Result<(), ApplyError> {
        if !self.data.nodes.contains_key(s.node.as_str()) {
            return Err(ApplyError::MissingNode);
        }
        let checks = self.data.checks.get(s.node.as_str());
        for id in s.node_checks.iter().chain(&s.service_checks) {
            match checks.and_then(|c| c.get(id.as_str())) {
                None => return Err(ApplyError::MissingCheck { check: id.clone() }),
                Some(c) if c.status == CheckStatus::Critical => {
                    return Err(ApplyError::CriticalCheck { check: id.clone() });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    pub(crate) fn session_destroy(&mut self, index: Index, at_ms: u64, id: &str) -> Outcome {
        self.session_invalidate(index, at_ms, id);
        Outcome::Bool(true)
    }

    /// Removes a session and applies its behaviour to the keys it holds.
    pub(crate) fn session_invalidate(&mut self, index: Index, at_ms: u64, id: &str) {
        let Some(session) = self.data.sessions.remove(id) else {
            return;
        };
        let keys = self.session_locks.remove(id).unwrap_or_default();
        let delay_ms = session.lock_delay_ns / 1_000_000;
        for key in keys {
            self.release_held(index, &key, session.behavior);
            if delay_ms > 0 {
                self.data
                    .lock_delays
                    .insert(key, at_ms.saturating_add(delay_ms));
            }
        }
        self.data.sessions_index = index;
        self.touch(Topic::Sessions);
    }

    fn release_held(&mut self, index: Index, key: &str, behavior: SessionBehavior) {
        match behavior {
            SessionBehavior::Delete => {
                self.kv_remove(index, key);
            }
            SessionBehavior::Release => {
                if let Some(old) = self.data.kv.get(key) {
                    let entry = KvEntry {
                        session: None,
                        modify_index: index,
                        ..old.clone()
                    };
                    self.kv_put(index, entry);
                }
            }
        }
    }

    /// Invalidates every session bound to the node, or to one of its checks.
    pub(crate) fn invalidate_sessions_of(
        &mut self,
        index: Index,
        at_ms: u64,
        node: &str,
        check: Option<&str>,
    ) {
        let ids: Vec<String> = self
            .data
            .sessions
            .values()
            .filter(|s| s.node == node)
            .filter(|s| {
                check.is_none_or(|c| {
                    s.node_checks
                        .iter()
                        .chain(&s.service_checks)
                        .any(|x| x == c)
                })
            })
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            self.session_invalidate(index, at_ms, &id);
        }
    }
}

// === impl Store: session reads ===

impl Store {
    fn sessions_table_index(&self) -> Index {
        self.data.sessions_index.max(1)
    }

    /// One session.
    pub fn session_get(&self, id: &str) -> (Index, Option<Session>) {
        (
            self.sessions_table_index(),
            self.data.sessions.get(id).cloned(),
        )
    }

    /// Every session.
    pub fn session_list(&self) -> (Index, Vec<Session>) {
        let all = self.data.sessions.values().cloned().collect();
        (self.sessions_table_index(), all)
    }

    /// Sessions of one node.
    pub fn session_node(&self, node: &str) -> (Index, Vec<Session>) {
        let all = self
            .data
            .sessions
            .values()
            .filter(|s| s.node == node)
            .cloned()
            .collect();
        (self.sessions_table_index(), all)
    }
}
