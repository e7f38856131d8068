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

/// Watchers of one topic woken at once; beyond this many, they are woken
/// in relay (see [`Relay`]).
const RELAY_WIDTH: usize = 64;

#[derive(Debug, Default)]
struct Shared {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// The relay this watcher must pass on once its owner runs.
    relay: Mutex<Option<Arc<Relay>>>,
}

impl Shared {
    fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        if let Some(w) = take(&self.waker) {
            w.wake();
        }
    }

    /// Wakes this (already fired) watcher as the relay's next runner.
    /// False if no task waits on it (never polled, or dropped), so the
    /// relay must go on to the next.
    fn wake_in(&self, relay: &Arc<Relay>) -> bool {
        put(&self.relay, relay.clone());
        if let Some(w) = take(&self.waker) {
            w.wake();
            return true;
        }
        // Nobody to run: take the baton back. If it is gone already, the
        // owner polled or dropped the watch meanwhile and passed it on.
        take(&self.relay).is_none()
    }

    /// Passes the relay on, if this watcher holds it.
    fn pass(&self) {
        if let Some(relay) = take(&self.relay) {
            relay.wake_next();
        }
    }
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().map(|mut s| s.take()).unwrap_or(None)
}

fn put<T>(slot: &Mutex<Option<T>>, value: T) {
    if let Ok(mut s) = slot.lock() {
        *s = Some(value);
    }
}

/// The rest of a crowd of fired watchers, woken a few at a time: each
/// woken owner, when it first runs, wakes the next. A write that fires
/// ten thousand watchers thus never puts more than [`RELAY_WIDTH`] of them
/// in the runtime's queue, and other work is not stuck behind the crowd.
#[derive(Debug)]
struct Relay {
    rest: Mutex<Vec<Arc<Shared>>>,
}

impl Relay {
    fn start(crowd: Vec<Arc<Shared>>) {
        crowd
            .iter()
            .for_each(|s| s.fired.store(true, Ordering::Release));
        let relay = Arc::new(Relay {
            rest: Mutex::new(crowd),
        });
        for _ in 0..RELAY_WIDTH {
            relay.wake_next();
        }
    }

    /// Wakes the next watcher that has a task waiting on it.
    fn wake_next(self: &Arc<Self>) {
        loop {
            let next = self.rest.lock().map(|mut r| r.pop()).unwrap_or(None);
            match next {
                None => return,
                Some(s) if s.wake_in(self) => return,
                Some(_) => continue,
            }
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
            self.shared.pass();
            return Poll::Ready(());
        }
        put(&self.shared.waker, cx.waker().clone());
        if self.shared.fired.load(Ordering::Acquire) && take(&self.shared.waker).is_some() {
            self.shared.pass();
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        take(&self.shared.waker);
        self.shared.pass();
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
        if self.items.len() <= RELAY_WIDTH {
            self.items.iter().for_each(|s| s.fire());
        } else {
            Relay::start(self.items);
        }
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

    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(w: &mut Watch, waker: &Waker) -> bool {
        let mut cx = Context::from_waker(waker);
        Pin::new(w).poll(&mut cx).is_ready()
    }

    #[test]
    fn a_crowd_is_woken_in_relay_and_everyone_gets_through() {
        let mut r = WatchRegistry::default();
        let n = 1_000;
        let mut crowd: Vec<(Watch, Arc<Counter>)> = (0..n)
            .map(|_| {
                let c = Arc::new(Counter(std::sync::atomic::AtomicUsize::new(0)));
                (r.register(&[Topic::Sessions]), c)
            })
            .collect();
        for (w, c) in &mut crowd {
            assert!(!poll(w, &Waker::from(c.clone())));
        }
        // One watcher's task is gone, and one was never polled (a cached
        // answer's validity watch): the relay must skip both.
        drop(crowd.remove(500));
        let _validity = r.register(&[Topic::Sessions]);
        r.fire(&Topic::Sessions);
        assert!(crowd.iter().all(|(w, _)| w.is_fired()), "all fired at once");
        let woken = |crowd: &[(Watch, Arc<Counter>)], done: &[bool]| {
            crowd
                .iter()
                .zip(done)
                .filter(|((_, c), d)| !**d && c.0.load(Ordering::SeqCst) > 0)
                .count()
        };
        let mut done = vec![false; crowd.len()];
        assert_eq!(woken(&crowd, &done), RELAY_WIDTH);
        // Only woken owners run; each one that runs wakes the next.
        while done.iter().any(|d| !d) {
            let runnable = woken(&crowd, &done);
            assert!(
                runnable > 0 && runnable <= RELAY_WIDTH,
                "{runnable} runnable"
            );
            for (i, (w, c)) in crowd.iter_mut().enumerate() {
                if !done[i] && c.0.load(Ordering::SeqCst) > 0 {
                    assert!(poll(w, &Waker::from(c.clone())));
                    done[i] = true;
                }
            }
        }
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
