//! Autopilot on the leader: which servers join the voters and which leave.
//!
//! - **Server stabilization.** A server that joins an existing group first
//!   replicates as a non-voter; it becomes a voter once it has stayed alive
//!   for `server_stabilization_time`, so a flapping server never counts
//!   toward the quorum.
//! - **Dead-server cleanup.** With `cleanup_dead_servers`, a voter whose
//!   gossip member failed is removed from the Raft configuration, unless
//!   that would remove more than a minority of the voters at once or leave
//!   fewer than `min_quorum` voters.
//!
//! [`plan`] is a pure function of the pool, the Raft configuration and the
//! clock; [`Stability`] remembers since when each candidate has been alive.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;
use skein_config::Autopilot;

/// The autopilot settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) cleanup_dead_servers: bool,
    pub(crate) min_quorum: usize,
    pub(crate) stabilization: Duration,
}

/// What the leader should change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Start replicating to a new server, not voting yet.
    AddNonVoter { id: u64, addr: String },
    /// A stable server becomes a voter.
    Promote { id: u64, addr: String },
    /// A failed voter leaves the configuration.
    RemoveDead { id: u64 },
}

/// What [`plan`] looks at.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// Alive servers of this datacenter: raft id → RPC address.
    pub(crate) alive: BTreeMap<u64, String>,
    /// Servers of this datacenter whose gossip member failed.
    pub(crate) failed: BTreeSet<u64>,
    /// The voters of the Raft configuration.
    pub(crate) voters: BTreeSet<u64>,
    /// Every node of the Raft configuration (voters and non-voters).
    pub(crate) nodes: BTreeSet<u64>,
    /// This server (the leader).
    pub(crate) me: u64,
}

/// Since when each non-voting server has been alive.
#[derive(Debug, Default)]
pub(crate) struct Stability {
    since: HashMap<u64, Instant>,
}

// === impl Policy ===

impl Policy {
    /// The configured settings overlaid by those an operator stored with
    /// `PUT /v1/operator/autopilot/configuration` (Consul's JSON shape).
    pub(crate) fn effective(configured: &Autopilot, stored: Option<&Value>) -> Self {
        let mut policy = Self {
            cleanup_dead_servers: configured.cleanup_dead_servers,
            min_quorum: configured.min_quorum as usize,
            stabilization: configured.server_stabilization_time,
        };
        let Some(Value::Object(stored)) = stored else {
            return policy;
        };
        if let Some(b) = stored.get("CleanupDeadServers").and_then(Value::as_bool) {
            policy.cleanup_dead_servers = b;
        }
        if let Some(n) = stored.get("MinQuorum").and_then(Value::as_u64) {
            policy.min_quorum = usize::try_from(n).unwrap_or(usize::MAX);
        }
        match stored.get("ServerStabilizationTime") {
            Some(Value::String(s)) => {
                if let Ok(d) = skein_config::parse_go_duration(s) {
                    policy.stabilization = d;
                }
            }
            Some(Value::Number(n)) => {
                if let Some(ns) = n.as_u64() {
                    policy.stabilization = Duration::from_nanos(ns);
                }
            }
            _ => {}
        }
        policy
    }
}

// === impl Stability ===

impl Stability {
    /// Records who is alive now; a server that is not alive starts over.
    pub(crate) fn observe(&mut self, alive: &BTreeMap<u64, String>, now: Instant) {
        self.since.retain(|id, _| alive.contains_key(id));
        for id in alive.keys() {
            self.since.entry(*id).or_insert(now);
        }
    }

    fn stable_for(&self, id: u64, now: Instant) -> Duration {
        self.since
            .get(&id)
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(*t))
    }
}

/// The changes autopilot wants now.
pub(crate) fn plan(
    view: &View,
    policy: &Policy,
    stability: &Stability,
    now: Instant,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for (id, addr) in &view.alive {
        if view.voters.contains(id) {
            continue;
        }
        let stable = stability.stable_for(*id, now) >= policy.stabilization;
        if stable {
            actions.push(Action::Promote {
                id: *id,
                addr: addr.clone(),
            });
        } else if !view.nodes.contains(id) {
            actions.push(Action::AddNonVoter {
                id: *id,
                addr: addr.clone(),
            });
        }
    }
    if policy.cleanup_dead_servers {
        actions.extend(dead_to_remove(view, policy));
    }
    actions
}

/// Failed voters to remove, if removing them all is safe.
fn dead_to_remove(view: &View, policy: &Policy) -> Vec<Action> {
    let dead: Vec<u64> = view
        .voters
        .iter()
        .copied()
        .filter(|id| *id != view.me && view.failed.contains(id))
        .collect();
    if dead.is_empty() {
        return Vec::new();
    }
    let voters = view.voters.len();
    // A minority at most, so the survivors still hold a quorum of the old
    // configuration; and never below the operator's floor.
    let most = voters.saturating_sub(1) / 2;
    let left = voters - dead.len();
    if dead.len() > most || left < policy.min_quorum.max(1) {
        return Vec::new();
    }
    dead.into_iter()
        .map(|id| Action::RemoveDead { id })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cleanup: bool, stabilization: u64) -> Policy {
        Policy {
            cleanup_dead_servers: cleanup,
            min_quorum: 0,
            stabilization: Duration::from_secs(stabilization),
        }
    }

    fn view(alive: &[u64], failed: &[u64], voters: &[u64], nodes: &[u64]) -> View {
        View {
            alive: alive
                .iter()
                .map(|id| (*id, format!("10.0.0.{id}:8300")))
                .collect(),
            failed: failed.iter().copied().collect(),
            voters: voters.iter().copied().collect(),
            nodes: nodes.iter().copied().collect(),
            me: 1,
        }
    }

    #[test]
    fn a_new_server_votes_only_after_the_stabilization_time() {
        let v = view(&[1, 2, 3, 4], &[], &[1, 2, 3], &[1, 2, 3]);
        let p = policy(true, 10);
        let t0 = Instant::now();
        let mut s = Stability::default();
        s.observe(&v.alive, t0);
        let add = Action::AddNonVoter {
            id: 4,
            addr: "10.0.0.4:8300".into(),
        };
        assert_eq!(plan(&v, &p, &s, t0), vec![add]);
        // Replicating now: nothing to do until it has been stable.
        let v = view(&[1, 2, 3, 4], &[], &[1, 2, 3], &[1, 2, 3, 4]);
        assert_eq!(plan(&v, &p, &s, t0 + Duration::from_secs(9)), vec![]);
        let promote = Action::Promote {
            id: 4,
            addr: "10.0.0.4:8300".into(),
        };
        assert_eq!(
            plan(&v, &p, &s, t0 + Duration::from_secs(10)),
            vec![promote.clone()]
        );
        // A blip restarts the clock.
        s.observe(
            &view(&[1, 2, 3], &[4], &[], &[]).alive,
            t0 + Duration::from_secs(11),
        );
        s.observe(&v.alive, t0 + Duration::from_secs(12));
        assert_eq!(plan(&v, &p, &s, t0 + Duration::from_secs(13)), vec![]);
        // Zero stabilization promotes at once.
        assert_eq!(plan(&v, &policy(true, 0), &s, t0), vec![promote]);
    }

    #[test]
    fn dead_voters_go_only_while_a_majority_remains() {
        let p = policy(true, 10);
        let s = Stability::default();
        let now = Instant::now();
        let one_dead = view(&[1, 2], &[3], &[1, 2, 3], &[1, 2, 3]);
        assert_eq!(
            plan(&one_dead, &p, &s, now),
            vec![Action::RemoveDead { id: 3 }]
        );
        let two_dead_of_three = view(&[1], &[2, 3], &[1, 2, 3], &[1, 2, 3]);
        assert_eq!(plan(&two_dead_of_three, &p, &s, now), vec![]);
        let two_dead_of_five = view(&[1, 2, 3], &[4, 5], &[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5]);
        assert_eq!(
            plan(&two_dead_of_five, &p, &s, now),
            vec![Action::RemoveDead { id: 4 }, Action::RemoveDead { id: 5 }]
        );
        assert_eq!(plan(&one_dead, &policy(false, 10), &s, now), vec![]);
        let floor = Policy { min_quorum: 3, ..p };
        assert_eq!(plan(&one_dead, &floor, &s, now), vec![]);
    }

    #[test]
    fn stored_settings_override_the_configured_ones() {
        let configured = Autopilot {
            cleanup_dead_servers: true,
            last_contact_threshold: Duration::from_millis(200),
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time: Duration::from_secs(10),
            redundancy_zone_tag: None,
            disable_upgrade_migration: false,
            upgrade_version_tag: None,
        };
        let stored = serde_json::json!({
            "CleanupDeadServers": false,
            "MinQuorum": 3,
            "ServerStabilizationTime": "2s",
        });
        assert_eq!(
            Policy::effective(&configured, Some(&stored)),
            Policy {
                cleanup_dead_servers: false,
                min_quorum: 3,
                stabilization: Duration::from_secs(2),
            }
        );
        let p = Policy::effective(&configured, None);
        assert!(p.cleanup_dead_servers);
        assert_eq!(p.stabilization, Duration::from_secs(10));
    }
}
