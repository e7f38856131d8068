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

/// The watchers parked on one topic. Watches dropped unfired (a query
/// that timed out) are swept when the list has doubled since the last
/// sweep, so parking stays amortized O(1) however many share the topic.
#[derive(Debug, Default)]
struct Parked {
    items: Vec<Arc<Shared>>,
    sweep_at: usize,
}

/// Lists shorter than this are never swept.
const MIN_SWEEP: usize = 64;

impl Parked {
    fn push(&mut self, shared: Arc<Shared>) {
        if self.items.len() >= self.sweep_at.max(MIN_SWEEP) {
            self.items
                .retain(|s| Arc::strong_count(s) > 1 && !s.fired.load(Ordering::Relaxed));
            self.sweep_at = self.items.len() * 2;
        }
        self.items.push(shared);
    }

    fn fire(self) {
        self.items.iter().for_each(|s| s.fire());
    }
}

/// Parked watchers, by topic.
#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    exact: HashMap<Topic, Parked>,
    prefixes: BTreeMap<String, Parked>,
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
            list.push(shared.clone());
        }
        Watch { shared }
    }

    /// Wakes the watchers of one changed topic. A changed KV key also wakes
    /// the watchers of every prefix of it.
    pub(crate) fn fire(&mut self, topic: &Topic) {
        if let Some(list) = self.exact.remove(topic) {
            list.fire();
        }
        if let Topic::Kv(key) = topic {
            for end in (0..=key.len()).filter(|i| key.is_char_boundary(*i)) {
                if let Some(list) = self.prefixes.remove(&key[..end]) {
                    list.fire();
                }
            }
        }
    }

    /// Wakes everyone (snapshot restore).
    pub(crate) fn fire_all(&mut self) {
        self.exact.drain().for_each(|(_, l)| l.fire());
        std::mem::take(&mut self.prefixes)
            .into_values()
            .for_each(Parked::fire);
    }

    /// Number of parked registrations (for tests and metrics).
    pub(crate) fn parked(&self) -> usize {
        self.exact.values().map(|l| l.items.len()).sum::<usize>()
            + self.prefixes.values().map(|l| l.items.len()).sum::<usize>()
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
    fn dropped_watchers_are_swept_once_the_list_doubles() {
        let mut r = WatchRegistry::default();
        let kept: Vec<Watch> = (0..100).map(|_| r.register(&[Topic::Sessions])).collect();
        for _ in 0..1_000 {
            drop(r.register(&[Topic::Sessions]));
        }
        assert!(r.parked() <= 2 * kept.len() + 1, "{} parked", r.parked());
        r.fire(&Topic::Sessions);
        assert!(kept.iter().all(fired), "live watchers survive sweeps");
        assert_eq!(r.parked(), 0);
    }
}
