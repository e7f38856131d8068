//! Session TTLs: the leader's timers. Expiry is proposed as a
//! `SessionDestroy` command, so the state machine never reads a clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use skein_raft::{Raft, SharedStore};
use skein_state::{Command, Op};
use tokio::task::JoinHandle;
use tracing::{debug, info};

/// Consul invalidates a session once twice its TTL has passed without renew.
const TTL_MULTIPLIER: u32 = 2;
const TICK: Duration = Duration::from_millis(100);

/// Deadlines of the sessions that have a TTL.
#[derive(Debug, Default)]
pub(crate) struct SessionTimers {
    deadlines: Mutex<HashMap<String, Instant>>,
    ttls: Mutex<HashMap<String, Duration>>,
}

// === impl SessionTimers ===

impl SessionTimers {
    pub(crate) fn renew(&self, id: &str) {
        let ttl = self.ttls.lock().ok().and_then(|t| t.get(id).copied());
        if let (Some(ttl), Ok(mut d)) = (ttl, self.deadlines.lock()) {
            d.insert(id.to_owned(), Instant::now() + ttl * TTL_MULTIPLIER);
        }
    }

    /// Syncs timers with the sessions table; returns the expired ids.
    fn expired(&self, store: &SharedStore, now: Instant) -> Vec<String> {
        let sessions = match store.read() {
            Ok(s) => s.session_list().1,
            Err(_) => return Vec::new(),
        };
        let (Ok(mut deadlines), Ok(mut ttls)) = (self.deadlines.lock(), self.ttls.lock()) else {
            return Vec::new();
        };
        let live: HashMap<String, Duration> = sessions
            .iter()
            .filter_map(|s| parse_ttl(&s.ttl).map(|ttl| (s.id.clone(), ttl)))
            .collect();
        deadlines.retain(|id, _| live.contains_key(id));
        for (id, ttl) in &live {
            deadlines
                .entry(id.clone())
                .or_insert(now + *ttl * TTL_MULTIPLIER);
        }
        *ttls = live;
        deadlines
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub(crate) fn spawn_reaper(
        self: std::sync::Arc<Self>,
        raft: Raft,
        store: SharedStore,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let leader = raft.metrics().borrow().state == openraft::ServerState::Leader;
                if !leader {
                    if let Ok(mut d) = self.deadlines.lock() {
                        d.clear();
                    }
                    continue;
                }
                for id in self.expired(&store, Instant::now()) {
                    info!(session = %id, "session ttl expired");
                    let at_ms = crate::server::now_ms();
                    let cmd = Command {
                        at_ms,
                        op: Op::SessionDestroy { id: id.clone() },
                    };
                    if let Err(e) = raft.client_write(cmd).await {
                        debug!(error = %e, session = %id, "proposing session expiry");
                    }
                }
            }
        })
    }
}

/// A session's TTL (`"10s"`, `"1m"`), or `None` for none.
fn parse_ttl(ttl: &str) -> Option<Duration> {
    skein_config::parse_go_duration(ttl)
        .ok()
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;
    use std::time::Duration;

    #[test]
    fn ttls_parse_like_consul() {
        assert_eq!(parse_ttl("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_ttl("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_ttl("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_ttl(""), None);
        assert_eq!(parse_ttl("10"), None);
    }
}
