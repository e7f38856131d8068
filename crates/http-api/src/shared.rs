//! Answers shared between identical reads.
//!
//! Many clients watch the same thing (`/v1/health/service/web` from every
//! load balancer, one hot KV key from every instance of an app). When that
//! thing changes, every parked query wakes; the first one to run renders the
//! answer and the others reuse the bytes until one of the answer's topics
//! changes again. An entry's validity is a watch on those topics registered
//! under the same read view it was rendered from, so no change can slip in
//! between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::Serialize;
use skein_state::{Topic, Watch};

/// Entries kept before fired ones are swept (then all, if still over).
const MAX_ENTRIES: usize = 65_536;
/// Body bytes kept before fired entries are swept (then all, if still over).
const MAX_BYTES: usize = 64 << 20;

/// A rendered read answer: status, content type and body.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) status: StatusCode,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) bytes: Bytes,
}

// === impl Body ===

impl Body {
    /// `200` with `value` as JSON.
    pub(crate) fn json<T: Serialize>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => Self {
                status: StatusCode::OK,
                content_type: Some("application/json"),
                bytes: bytes.into(),
            },
            Err(e) => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                content_type: Some("text/plain; charset=utf-8"),
                bytes: format!("encoding response: {e}").into(),
            },
        }
    }

    /// `404` with no body (the read headers still carry the index).
    pub(crate) fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            content_type: None,
            bytes: Bytes::new(),
        }
    }

    /// `200` with a raw value (`?raw`).
    pub(crate) fn raw(bytes: Bytes) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: Some("text/plain; charset=utf-8"),
            bytes,
        }
    }
}

/// One rendered answer and what it depends on.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) index: u64,
    pub(crate) body: Body,
    pub(crate) topics: Vec<Topic>,
    /// Fires when one of `topics` changed since the answer was rendered.
    valid: Watch,
}

// === impl Entry ===

impl Entry {
    /// An entry rendered at a read view; `valid` must have been registered
    /// on `topics` under that same view.
    pub(crate) fn new(index: u64, body: Body, topics: Vec<Topic>, valid: Watch) -> Self {
        Self {
            index,
            body,
            topics,
            valid,
        }
    }

    /// Whether the answer still reflects the current state.
    pub(crate) fn is_current(&self) -> bool {
        !self.valid.is_fired()
    }
}

/// Woken queries re-reading at once (see `blocking::wake_turn`).
const WAKE_TURNS: usize = 32;

/// Current answers by request identity, and the turns of woken queries.
#[derive(Debug)]
pub struct SharedAnswers {
    entries: Mutex<Entries>,
    turns: tokio::sync::Semaphore,
}

/// The entries and the body bytes they hold.
#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

impl Default for SharedAnswers {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            turns: tokio::sync::Semaphore::new(WAKE_TURNS),
        }
    }
}

// === impl SharedAnswers ===

impl SharedAnswers {
    /// The fair queue woken queries wait in before re-reading.
    pub(crate) fn wake_turns(&self) -> &tokio::sync::Semaphore {
        &self.turns
    }

    /// The current answer for `key`, if one was rendered since its topics
    /// last changed.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Entry>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.by_key.get(key).filter(|e| e.is_current()).cloned()
    }

    /// Keeps `entry` for the next identical read, within the entry and
    /// byte budgets.
    pub(crate) fn put(&self, key: String, entry: Arc<Entry>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let size = entry.body.bytes.len();
        if entries.by_key.len() >= MAX_ENTRIES || entries.bytes + size > MAX_BYTES {
            entries.by_key.retain(|_, e| e.is_current());
            entries.bytes = entries.by_key.values().map(|e| e.body.bytes.len()).sum();
            if entries.by_key.len() >= MAX_ENTRIES || entries.bytes + size > MAX_BYTES {
                entries.by_key.clear();
                entries.bytes = 0;
            }
        }
        entries.bytes += size;
        if let Some(old) = entries.by_key.insert(key, entry) {
            entries.bytes -= old.body.bytes.len();
        }
    }

    /// Number of entries held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().map(|e| e.by_key.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skein_state::{Command, Op, Store};

    fn set(store: &mut Store, index: u64, key: &str) {
        let op = Op::KvSet {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
        };
        store.apply(index, &Command { at_ms: 0, op });
    }

    #[test]
    fn an_entry_is_served_until_its_topic_changes() {
        let mut store = Store::new();
        let answers = SharedAnswers::default();
        let topics = vec![Topic::Kv("a".into())];
        let valid = store.watch(&topics);
        let entry = Entry::new(1, Body::json(&"x"), topics, valid);
        answers.put("GET /v1/kv/a".into(), Arc::new(entry));
        set(&mut store, 2, "b");
        assert!(
            answers.get("GET /v1/kv/a").is_some(),
            "other keys do not matter"
        );
        set(&mut store, 3, "a");
        assert!(answers.get("GET /v1/kv/a").is_none(), "its own key does");
    }

    #[test]
    fn a_full_cache_sweeps_stale_entries_first() {
        let mut store = Store::new();
        let answers = SharedAnswers::default();
        for i in 0..MAX_ENTRIES {
            let topics = vec![Topic::Kv(format!("k{i}"))];
            let valid = store.watch(&topics);
            let entry = Entry::new(1, Body::not_found(), topics, valid);
            answers.put(format!("key {i}"), Arc::new(entry));
        }
        set(&mut store, 2, "k0");
        let topics = vec![Topic::Sessions];
        let valid = store.watch(&topics);
        answers.put(
            "new".into(),
            Arc::new(Entry::new(1, Body::not_found(), topics, valid)),
        );
        assert_eq!(answers.len(), MAX_ENTRIES, "only the stale entry left");
        assert!(answers.get("key 1").is_some() && answers.get("new").is_some());
    }
}
