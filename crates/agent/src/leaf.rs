//! Connect leaf certificates for the services of this agent: one task per
//! requested service generates a key and CSR (the key never leaves the
//! agent), has the leader sign it, and keeps the result fresh. It renews at
//! a random point between 60% and 90% of the certificate's lifetime, and at
//! once when the active root changes (a rotation). Callers of
//! `/v1/agent/connect/ca/leaf/:service` block on the task's watch channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use rand::Rng;
use serde_json::Value;
use skein_ca::{IssuedCert, SpiffeId, TrustDomain};
use skein_http_api::{LeafCerts, LocalError};
use skein_raft::SharedStore;
use skein_server::Server;
use skein_state::Topic;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// How long a first request waits for its certificate.
const FIRST_ISSUE_WAIT: Duration = Duration::from_secs(30);
/// Back-off between failed signing attempts.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// A certificate as handed out, with the blocking index it carries.
#[derive(Debug, Clone)]
struct Leaf {
    index: u64,
    body: Value,
}

/// What a service's task publishes: its certificate once issued, and
/// whether the last attempt was refused by the CA's rate limit.
#[derive(Debug, Clone, Default)]
struct Slot {
    leaf: Option<Leaf>,
    rate_limited: bool,
}

/// Why a signing attempt failed.
#[derive(Debug)]
enum IssueError {
    RateLimited,
    Failed(String),
}

impl std::fmt::Display for IssueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited => f.write_str(skein_types::wire::RATE_LIMITED),
            Self::Failed(m) => f.write_str(m),
        }
    }
}

/// The agent's leaf certificates, by service name.
pub(crate) struct LeafCache {
    server: Arc<Server>,
    datacenter: String,
    entries: Mutex<HashMap<String, watch::Receiver<Slot>>>,
}

impl std::fmt::Debug for LeafCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafCache")
            .field("datacenter", &self.datacenter)
            .finish_non_exhaustive()
    }
}

// === impl LeafCache ===

impl LeafCache {
    pub(crate) fn new(server: Arc<Server>, datacenter: String) -> Self {
        Self {
            server,
            datacenter,
            entries: Mutex::default(),
        }
    }

    /// The watch of `service`'s certificate, starting its task on first use.
    fn subscribe(&self, service: &str) -> watch::Receiver<Slot> {
        let mut entries = match self.entries.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(rx) = entries.get(service) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(Slot::default());
        tokio::spawn(keep_fresh(
            self.server.clone(),
            self.datacenter.clone(),
            service.to_owned(),
            tx,
        ));
        entries.insert(service.to_owned(), rx.clone());
        rx
    }

    async fn leaf(
        &self,
        service: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(u64, Value), LocalError> {
        let mut rx = self.subscribe(service);
        let now = tokio::time::Instant::now();
        let deadline = now + wait.max(Duration::from_millis(1));
        let first_deadline = now + FIRST_ISSUE_WAIT;
        loop {
            let (until, refused) = {
                let slot = rx.borrow_and_update();
                if let Some(leaf) = &slot.leaf
                    && (min_index == 0
                        || leaf.index > min_index
                        || tokio::time::Instant::now() >= deadline)
                {
                    return Ok((leaf.index, leaf.body.clone()));
                }
                let until = if slot.leaf.is_some() {
                    deadline
                } else {
                    first_deadline
                };
                (until, slot.leaf.is_none() && slot.rate_limited)
            };
            if refused {
                return Err(LocalError::RateLimited);
            }
            match tokio::time::timeout_at(until, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(LocalError::Failed("leaf certificate task stopped".into()));
                }
                Err(_) if rx.borrow().leaf.is_none() => {
                    return Err(LocalError::Failed(
                        "timed out waiting for a leaf certificate".into(),
                    ));
                }
                Err(_) => {}
            }
        }
    }
}

impl LeafCache {
    /// `service`'s certificate once one newer than index `after` is issued
    /// (any, for 0), or the current one after `wait`.
    pub(crate) async fn leaf_after(
        &self,
        service: &str,
        after: u64,
        wait: Duration,
    ) -> Result<(u64, Value), LocalError> {
        self.leaf(service, after, wait).await
    }
}

impl LeafCerts for LeafCache {
    fn leaf(
        &self,
        service: &str,
        min_index: u64,
        wait: Duration,
    ) -> BoxFuture<'_, Result<(u64, Value), LocalError>> {
        let service = service.to_owned();
        Box::pin(async move { self.leaf(&service, min_index, wait).await })
    }
}

/// The active root's id and the trust domain, once the CA exists.
fn active_root(store: &SharedStore) -> Option<(String, String, u64)> {
    let s = store.read().ok()?;
    let ca = s.connect_ca()?;
    let id = ca.active_root_id()?.to_owned();
    Some((id, ca.cluster_id.clone(), s.connect_ca_index()))
}

/// Waits until the CA exists or changes (any write to it).
async fn ca_changed(store: &SharedStore, since_root: Option<&str>) {
    loop {
        let watch = {
            let Ok(s) = store.read() else { return };
            let current = s.connect_ca().and_then(|c| c.active_root_id());
            if current.is_some() && current != since_root {
                return;
            }
            s.watch(&[Topic::ConnectCa])
        };
        watch.await;
    }
}

/// One certificate for `service`: a new key, a CSR, the leader's signature.
async fn issue(
    server: &Server,
    datacenter: &str,
    service: &str,
    cluster_id: &str,
) -> Result<IssuedCert, IssueError> {
    let failed = |e: &dyn std::fmt::Display| IssueError::Failed(e.to_string());
    let td = TrustDomain::for_cluster(cluster_id).map_err(|e| failed(&e))?;
    let id = SpiffeId::service(&td, "default", datacenter, service);
    let key = skein_ca::generate_csr(&id, &[]).map_err(|e| failed(&e))?;
    let mut cert = server.sign_csr(&key.csr_pem).await.map_err(|e| match e {
        skein_server::Error::RateLimited => IssueError::RateLimited,
        other => failed(&other),
    })?;
    cert.private_key_pem = key.private_key_pem.expose().to_owned();
    Ok(cert)
}

/// A random pause in `[RETRY_MIN, backoff]`: agents that were refused
/// together (the CA's rate limit after a mass start) must not retry
/// together, or each retry wave gets only the limit's short burst through.
fn jittered(backoff: Duration) -> Duration {
    if backoff <= RETRY_MIN {
        return RETRY_MIN;
    }
    rand::thread_rng().gen_range(RETRY_MIN..=backoff)
}

/// When to renew: a random point between 60% and 90% of the lifetime.
fn renew_after(cert: &IssuedCert) -> Duration {
    let lifetime = cert
        .valid_before
        .duration_since(cert.valid_after)
        .unwrap_or_default();
    let at = cert.valid_after + lifetime.mul_f64(rand::thread_rng().gen_range(0.6..0.9));
    at.duration_since(SystemTime::now()).unwrap_or_default()
}

/// Keeps `service`'s certificate current for as long as the agent runs
/// (the cache keeps a receiver, so the channel never closes before it).
async fn keep_fresh(
    server: Arc<Server>,
    datacenter: String,
    service: String,
    tx: watch::Sender<Slot>,
) {
    let store = server.store().clone();
    let mut index = 0;
    let mut backoff = RETRY_MIN;
    loop {
        let Some((root_id, cluster_id, ca_index)) = active_root(&store) else {
            ca_changed(&store, None).await;
            continue;
        };
        let cert = match issue(&server, &datacenter, &service, &cluster_id).await {
            Ok(cert) => cert,
            Err(e) => {
                match e {
                    IssueError::RateLimited => {
                        debug!(%service, "leaf signing rate-limited; retrying")
                    }
                    IssueError::Failed(_) => {
                        warn!(%service, error = %e, "signing a leaf certificate")
                    }
                }
                let limited = matches!(e, IssueError::RateLimited);
                tx.send_modify(|slot| slot.rate_limited = limited);
                tokio::time::sleep(jittered(backoff)).await;
                backoff = (backoff * 2).min(RETRY_MAX);
                continue;
            }
        };
        backoff = RETRY_MIN;
        index = (index + 1).max(ca_index);
        let mut body = serde_json::to_value(&cert).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut body {
            m.insert("CreateIndex".into(), index.into());
            m.insert("ModifyIndex".into(), index.into());
        }
        let renew = renew_after(&cert);
        debug!(%service, serial = %cert.serial_number, ?renew, "leaf certificate issued");
        let leaf = Some(Leaf { index, body });
        if tx
            .send(Slot {
                leaf,
                rate_limited: false,
            })
            .is_err()
        {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(renew) => debug!(%service, "renewing leaf certificate"),
            () = ca_changed(&store, Some(&root_id)) => info!(%service, "root changed; re-issuing leaf certificate"),
        }
    }
}
