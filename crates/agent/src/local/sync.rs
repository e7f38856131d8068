//! Anti-entropy: makes the catalog entry of this node match the local
//! state. Runs at once after every local change, whenever the catalog
//! changes behind the agent's back, and every minute regardless; each run
//! diffs the node's catalog entries against the local state and writes
//! only the differences, in both directions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use skein_server::Server;
use skein_state::{Op, Outcome, Registration, Topic};
use skein_types::{Check, Node, ServiceInstance};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::LocalState;

/// Full sync period (Consul's 1 minute, without its cluster-size scaling).
const FULL_SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// Retry after a failed sync.
const RETRY: Duration = Duration::from_secs(1);
/// How often services critical past `deregister_critical_service_after`
/// are looked for.
const REAP_INTERVAL: Duration = Duration::from_millis(250);
/// Longest an API call waits for its change to reach the catalog.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// What the catalog should hold for this node besides local services and
/// checks: the node itself, and a server's `serfHealth` check and `consul`
/// service.
#[derive(Debug, Clone)]
pub(crate) struct Fixed {
    pub(crate) node: Node,
    pub(crate) services: Vec<ServiceInstance>,
    pub(crate) checks: Vec<Check>,
}

/// Asks for syncs and waits for them.
#[derive(Debug)]
pub(crate) struct SyncSignal {
    requested: AtomicU64,
    wake: Notify,
    done: watch::Sender<u64>,
}

impl Default for SyncSignal {
    fn default() -> Self {
        Self {
            requested: AtomicU64::new(0),
            wake: Notify::new(),
            done: watch::Sender::new(0),
        }
    }
}

// === impl SyncSignal ===

impl SyncSignal {
    /// Asks for a sync; returns the ticket to wait for.
    pub(crate) fn request(&self) -> u64 {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        ticket
    }

    /// A watch of finished syncs (each local change is followed by one).
    pub(crate) fn subscribe_done(&self) -> watch::Receiver<u64> {
        self.done.subscribe()
    }

    /// Waits until a sync that started after `ticket` was requested has
    /// finished (bounded, so an API call never hangs on a sick cluster).
    pub(crate) async fn wait(&self, ticket: u64) {
        let mut rx = self.done.subscribe();
        let _ = tokio::time::timeout(WAIT_LIMIT, rx.wait_for(|d| *d >= ticket)).await;
    }
}

/// Runs anti-entropy until the agent stops.
pub(crate) fn spawn_sync(
    state: Arc<LocalState>,
    server: Arc<Server>,
    fixed: Fixed,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut next_full = Instant::now() + FULL_SYNC_INTERVAL;
        loop {
            let catalog_changed = server
                .store()
                .read()
                .map(|s| s.watch(&[Topic::Catalog]))
                .ok();
            let ticket = state.sync.requested.load(Ordering::SeqCst);
            let ok = match sync_once(&state, &server, &fixed).await {
                Ok(writes) => {
                    debug!(writes, "anti-entropy sync");
                    true
                }
                Err(e) => {
                    warn!(error = %e, "anti-entropy sync failed");
                    false
                }
            };
            state.sync.done.send_replace(ticket);
            let wait = if ok {
                next_full.saturating_duration_since(Instant::now())
            } else {
                RETRY
            };
            let catalog_changed = async {
                match catalog_changed {
                    Some(w) => w.await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(catalog_changed);
            let full = tokio::time::sleep(wait);
            tokio::pin!(full);
            let mut reap = tokio::time::interval(REAP_INTERVAL);
            loop {
                tokio::select! {
                    _ = state.sync.wake.notified() => break,
                    _ = &mut catalog_changed => break,
                    _ = &mut full => {
                        next_full = Instant::now() + FULL_SYNC_INTERVAL;
                        break;
                    }
                    _ = reap.tick() => reap_critical(&state),
                }
            }
        }
    })
}

fn reap_critical(state: &LocalState) {
    for id in state.services_to_reap(Instant::now()) {
        warn!(service = %id, "deregistering service critical past deregister_critical_service_after");
        let _ = state.remove_service(&id);
    }
}

/// One diff-and-write pass; returns how many writes it made.
async fn sync_once(state: &LocalState, server: &Server, fixed: &Fixed) -> Result<usize, String> {
    let mut services = fixed.services.clone();
    services.extend(state.services());
    let mut checks = fixed.checks.clone();
    checks.extend(state.checks());
    let ops = diff(server, fixed, &services, &checks)?;
    let writes = ops.len();
    for op in ops {
        match server.write(op).await.map_err(|e| e.to_string())? {
            Outcome::Refused(e) => return Err(e.to_string()),
            _ => continue,
        }
    }
    Ok(writes)
}

/// The writes that make this node's catalog entries match the local
/// state. Compared under the store's read lock against borrowed records,
/// with lookups by id, so a pass stays linear in the node's services.
fn diff(
    server: &Server,
    fixed: &Fixed,
    services: &[ServiceInstance],
    checks: &[Check],
) -> Result<Vec<Op>, String> {
    let store = server
        .store()
        .read()
        .map_err(|_| "state store poisoned".to_owned())?;
    let name = fixed.node.node.as_str();
    let node_ok = store
        .node_record(name)
        .is_some_and(|n| n.node == name && same_node(n, &fixed.node));
    let (remote_services, remote_checks) = store.node_entries(name);
    let remote_service = |id: &str| remote_services.and_then(|m| m.get(id));
    let remote_check = |id: &str| remote_checks.and_then(|m| m.get(id));
    let mut ops = Vec::new();
    if !node_ok {
        ops.push(register(&fixed.node, false, None, Vec::new()));
    }
    let mut own_checks: HashMap<&str, Vec<Check>> = HashMap::new();
    for c in checks.iter().filter(|c| !c.service_id.is_empty()) {
        own_checks.entry(&c.service_id).or_default().push(c.clone());
    }
    let mut rewritten: HashSet<&str> = HashSet::new();
    for svc in services {
        let current = remote_service(&svc.id);
        if !node_ok || current.is_none_or(|r| !r.same_registration(svc)) {
            let own = own_checks.remove(svc.id.as_str()).unwrap_or_default();
            ops.push(register(&fixed.node, true, Some(svc.clone()), own));
            rewritten.insert(&svc.id);
        }
    }
    let stale: Vec<Check> = checks
        .iter()
        .filter(|c| c.service_id.is_empty() || !rewritten.contains(c.service_id.as_str()))
        .filter(|c| remote_check(&c.check_id).is_none_or(|r| !same_check(r, c)))
        .cloned()
        .collect();
    if !stale.is_empty() {
        ops.push(register(&fixed.node, true, None, stale));
    }
    let local_services: HashSet<&str> = services.iter().map(|s| s.id.as_str()).collect();
    for id in remote_services
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|id| !local_services.contains(id.as_str()))
    {
        ops.push(Op::Deregister {
            node: name.to_owned(),
            service_id: Some(id.to_string()),
            check_id: None,
        });
    }
    let local_checks: HashSet<&str> = checks.iter().map(|c| c.check_id.as_str()).collect();
    for id in remote_checks
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|id| !local_checks.contains(id.as_str()))
    {
        ops.push(Op::Deregister {
            node: name.to_owned(),
            service_id: None,
            check_id: Some(id.to_string()),
        });
    }
    Ok(ops)
}

fn register(
    node: &Node,
    skip_node_update: bool,
    service: Option<ServiceInstance>,
    checks: Vec<Check>,
) -> Op {
    Op::Register(Box::new(Registration {
        node: node.clone(),
        skip_node_update,
        service,
        checks,
    }))
}

fn same_node(a: &Node, b: &Node) -> bool {
    (
        &a.id,
        &a.address,
        &a.datacenter,
        &a.tagged_addresses,
        &a.meta,
    ) == (
        &b.id,
        &b.address,
        &b.datacenter,
        &b.tagged_addresses,
        &b.meta,
    )
}

fn same_check(a: &Check, b: &Check) -> bool {
    (
        &a.name,
        a.status,
        &a.notes,
        &a.output,
        &a.service_id,
        &a.check_type,
        &a.interval,
        &a.timeout,
    ) == (
        &b.name,
        b.status,
        &b.notes,
        &b.output,
        &b.service_id,
        &b.check_type,
        &b.interval,
        &b.timeout,
    )
}
