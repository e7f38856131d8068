//! Targeted wake-ups for blocking queries.
//!
//! A reader registers interest in [`Topic`]s while it still holds the read
//! view it answered from, so no change can slip between the read and the
//! registration. `apply` fires only the topics its command touched.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// What a blocking query depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// One KV key.
    Kv(String),
    /// Every KV key under a prefix.
    KvPrefix(String),
    /// The sessions table.
    Sessions,
    /// Nodes, services and checks.
    Catalog,
    /// The instances of one service name, their checks and nodes, and the
    /// mesh proxies that front it (a subset of [`Topic::Catalog`]).
    Service(String),
    /// Network coordinates.
    Coordinates,
    /// Config entries, of every kind.
    ConfigEntries,
    /// The Connect CA (configuration and roots).
    ConnectCa,
}

#[derive(Debug, Default)]
struct Shared {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Shared {
    fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        let waker = self.waker.lock().map(|mut w| w.take()).unwrap_or(None);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A future that resolves once any of its topics changed.
#[derive(Debug)]
pub struct Watch {
    shared: Arc<Shared>,
}

impl Watch {
    /// Whether one of its topics has changed since it was parked.
    pub fn is_fired(&self) -> bool {
        self.shared.fired.load(Ordering::Acquire)
    }
}

impl Future for Watch {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Ok(mut w) = self.shared.waker.lock() {
            *w = Some(cx.waker().clone());
        }
        if self.shared.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Parked watchers, by topic.
#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    exact: HashMap<Topic, Vec<Arc<Shared>>>,
    prefixes: BTreeMap<String, Vec<Arc<Shared>>>,
}

// === impl WatchRegistry ===

impl WatchRegistry {
    pub(crate) fn register(&mut self, topics: &[Topic]) -> Watch {
        let shared = Arc::new(Shared::default());
        for topic in topics {
            let list = match topic {
                Topic::KvPrefix(p) => self.prefixes.entry(p.clone()).or_default(),
                other => self.exact.entry(other.clone()).or_default(),
            };
            list.retain(|s| Arc::strong_count(s) > 1 && !s.fired.load(Ordering::Relaxed));
            list.push(shared.clone());
        }
        Watch { shared }
    }

    /// Wakes the watchers of one changed topic. A changed KV key also wakes
    /// the watchers of every prefix of it.
    pub(crate) fn fire(&mut self, topic: &Topic) {
        if let Some(list) = self.exact.remove(topic) {
            list.iter().for_each(|s| s.fire());
        }
        if let Topic::Kv(key) = topic {
            for end in (0..=key.len()).filter(|i| key.is_char_boundary(*i)) {
                if let Some(list) = self.prefixes.remove(&key[..end]) {
                    list.iter().for_each(|s| s.fire());
                }
            }
        }
    }

    /// Wakes everyone (snapshot restore).
    pub(crate) fn fire_all(&mut self) {
        self.exact
            .drain()
            .flat_map(|(_, l)| l)
            .for_each(|s| s.fire());
        std::mem::take(&mut self.prefixes)
            .into_values()
            .flatten()
            .for_each(|s| s.fire());
    }

    /// Number of parked registrations (for tests and metrics).
    pub(crate) fn parked(&self) -> usize {
        self.exact.values().map(Vec::len).sum::<usize>()
            + self.prefixes.values().map(Vec::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(w: &Watch) -> bool {
        w.shared.fired.load(Ordering::Acquire)
    }

    #[test]
    fn key_change_wakes_key_and_prefix_watchers_only() {
        let mut r = WatchRegistry::default();
        let key = r.register(&[Topic::Kv("a/b".into())]);
        let prefix = r.register(&[Topic::KvPrefix("a/".into())]);
        let other = r.register(&[Topic::Kv("a/c".into())]);
        let sessions = r.register(&[Topic::Sessions]);
        r.fire(&Topic::Kv("a/b".into()));
        assert!(fired(&key) && fired(&prefix));
        assert!(!fired(&other) && !fired(&sessions));
    }

    #[test]
    fn dropped_watchers_are_pruned_on_register() {
        let mut r = WatchRegistry::default();
        for _ in 0..10 {
            drop(r.register(&[Topic::Sessions]));
        }
        let _w = r.register(&[Topic::Sessions]);
        assert_eq!(r.parked(), 1);
    }
}
