//! The CA at work on a server: creating it, signing leaf CSRs within the
//! CA's limits, applying new settings, and keeping the roots' keys among
//! the voters.
//!
//! Key distribution: the leader stores a new root's key, hands it to every
//! other voter (`CaKeyPut`) and only then proposes the root. A server that
//! leads without the active root's key asks the other voters (`CaKeyGet`).
//! Both calls are answered only for callers whose address is a voter's.
//! When every voter answers that it lacks the key (a snapshot restored
//! into a new cluster, say), the leader makes a new root.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use openraft::ServerState;
use serde_json::{Map, Value};
use skein_ca::{CsrLimiter, CsrLimits, IssuedCert, SignRequest};
use skein_raft::{Raft, SharedStore};
use skein_state::{CaState, Op, Outcome, Topic};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{CaKeys, NewRoot, SignError};
use crate::proposer::Proposer;
use crate::rpc::RpcClients;
use crate::{Error, Result};

/// Pause after a failed attempt to create or repair the CA.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);

/// How long a key call waits for its caller to appear among the voters.
const MEMBERSHIP_WAIT: Duration = Duration::from_secs(5);

/// The CA of one server.
pub(crate) struct ConnectCa {
    raft: Raft,
    store: SharedStore,
    proposer: Proposer,
    clients: Arc<RpcClients>,
    keys: CaKeys,
    datacenter: String,
    raft_id: u64,
    limiter: CsrLimiter,
}

impl std::fmt::Debug for ConnectCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectCa")
            .field("raft_id", &self.raft_id)
            .finish_non_exhaustive()
    }
}

/// What the other voters said about a key.
enum Fetched {
    Found(String),
    /// Every other voter answered that it lacks the key.
    Nowhere,
    /// Some voter could not be asked.
    Unknown,
}

// === impl ConnectCa ===

impl ConnectCa {
    /// A CA driver for the server running `raft`.
    pub(crate) fn new(
        raft: Raft,
        store: SharedStore,
        proposer: Proposer,
        clients: Arc<RpcClients>,
        keys: CaKeys,
        datacenter: String,
        raft_id: u64,
    ) -> Self {
        Self {
            raft,
            store,
            proposer,
            clients,
            keys,
            datacenter,
            raft_id,
            limiter: CsrLimiter::new(CsrLimits::default()),
        }
    }

    fn current(&self) -> Option<CaState> {
        self.store.read().ok()?.connect_ca().cloned()
    }

    /// Creates the CA if this server leads (`leader`) and there is none yet.
    pub(crate) async fn ensure(
        &self,
        leader: bool,
        ca_config: &Map<String, Value>,
    ) -> Result<(), String> {
        if !leader || self.current().is_some() {
            return Ok(());
        }
        let (ca, root) = super::new_ca(ca_config, SystemTime::now()).map_err(|e| e.to_string())?;
        let trust_domain = ca.trust_domain();
        self.adopt(&root).await.map_err(|e| e.to_string())?;
        let written = self
            .proposer
            .write(Op::ConnectCaSet {
                ca: Box::new(ca),
                cas: Some(0),
            })
            .await
            .map_err(|e| e.to_string())?;
        if written == Outcome::Bool(true) {
            info!(%trust_domain, "created the Connect CA");
        }
        Ok(())
    }

    /// Fetches the active root's key from the other voters when this
    /// server lacks it (it was down, or not yet a voter, when the root was
    /// made). On the leader, when no voter has it, replaces the root with a
    /// new one (it cannot be cross-signed without the old key, so leaves of
    /// the old root stop verifying).
    async fn repair(&self, leader: bool) -> Result<(), String> {
        let Some(ca) = self.current() else {
            return Ok(());
        };
        let Some(id) = ca.active_root_id().map(str::to_owned) else {
            return Ok(());
        };
        if self.keys.get(&id).is_some() || !self.is_voter(self.raft_id) {
            return Ok(());
        }
        match self.fetch(&id).await {
            Fetched::Found(pem) => self.keys.put(&id, &pem).map_err(|e| e.to_string()),
            Fetched::Unknown => Err(format!("cannot reach every voter for root {id}'s key")),
            Fetched::Nowhere if leader => self.replace_lost_root(ca, &id).await,
            Fetched::Nowhere => Ok(()),
        }
    }

    fn is_voter(&self, id: u64) -> bool {
        let m = self.raft.metrics().borrow().clone();
        m.membership_config.voter_ids().any(|v| v == id)
    }

    async fn replace_lost_root(&self, mut ca: CaState, lost: &str) -> Result<(), String> {
        warn!(
            root = lost,
            "no server has the active CA root's key; making a new root"
        );
        let cas = ca.modify_index;
        let root = super::fresh_root(&mut ca, SystemTime::now()).map_err(|e| e.to_string())?;
        self.adopt(&root).await.map_err(|e| e.to_string())?;
        self.proposer
            .write(Op::ConnectCaSet {
                ca: Box::new(ca),
                cas: Some(cas),
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Keeps a new root's key here and on every other voter we can reach.
    async fn adopt(&self, root: &NewRoot) -> Result<()> {
        self.keys.put(&root.id, &root.key_pem)?;
        let calls = self.other_voters().into_iter().map(|addr| async move {
            let sent = self
                .clients
                .ca_key_put(&addr, &root.id, &root.key_pem)
                .await;
            if let Err(e) = sent {
                warn!(peer = %addr, root = %root.id, error = %e, "could not hand the CA key to a voter; it will ask when it needs it");
            }
        });
        futures::future::join_all(calls).await;
        Ok(())
    }

    /// The active root's key: ours, or fetched from another voter.
    async fn active_key(&self, ca: &CaState) -> Result<String, SignError> {
        let failed = |m: String| SignError::Failed(format!("CA: {m}"));
        let id = ca
            .active_root_id()
            .ok_or_else(|| failed("no active root".into()))?;
        if let Some(pem) = self.keys.get(id) {
            return Ok(pem);
        }
        match self.fetch(id).await {
            Fetched::Found(pem) => {
                self.keys.put(id, &pem).map_err(|e| failed(e.to_string()))?;
                Ok(pem)
            }
            Fetched::Nowhere | Fetched::Unknown => Err(failed(format!(
                "no server has the signing key of root {id} yet"
            ))),
        }
    }

    /// Asks the other voters for the key of root `id`.
    async fn fetch(&self, id: &str) -> Fetched {
        let mut unknown = false;
        for addr in self.other_voters() {
            match self.clients.ca_key_get(&addr, id).await {
                Ok(Some(pem)) => return Fetched::Found(pem),
                Ok(None) => {}
                Err(e) => {
                    warn!(peer = %addr, root = id, error = %e, "could not ask a voter for the CA key");
                    unknown = true;
                }
            }
        }
        if unknown {
            Fetched::Unknown
        } else {
            Fetched::Nowhere
        }
    }

    /// RPC addresses of the voters other than this server.
    fn other_voters(&self) -> Vec<String> {
        let m = self.raft.metrics().borrow().clone();
        let voters: Vec<u64> = m.membership_config.voter_ids().collect();
        m.membership_config
            .nodes()
            .filter(|(id, _)| voters.contains(id) && **id != self.raft_id)
            .map(|(_, node)| node.addr.clone())
            .collect()
    }

    /// Whether a call from `remote` comes from a voter's address. Right
    /// after a cluster forms, a follower may not have applied the
    /// membership yet, so it waits a little for the caller to appear.
    async fn is_voter_address(&self, remote: Option<SocketAddr>) -> bool {
        let Some(ip) = remote.map(|r| r.ip()) else {
            return false;
        };
        let listed = |m: &openraft::RaftMetrics<u64, openraft::BasicNode>| {
            let voters: Vec<u64> = m.membership_config.voter_ids().collect();
            m.membership_config
                .nodes()
                .filter(|(id, _)| voters.contains(id))
                .filter_map(|(_, n)| n.addr.parse::<SocketAddr>().ok())
                .any(|a| a.ip() == ip)
        };
        self.raft
            .wait(Some(MEMBERSHIP_WAIT))
            .metrics(listed, "the caller among the voters")
            .await
            .is_ok()
    }

    /// `CaKeyGet` from another server.
    pub(crate) async fn key_for_peer(
        &self,
        remote: Option<SocketAddr>,
        id: &str,
    ) -> Result<Option<String>> {
        if !self.is_voter_address(remote).await {
            warn!(
                ?remote,
                root = id,
                "refused a CA key request from a non-voter"
            );
            return Err(Error::Invalid(
                "CA keys are only given to voting servers".into(),
            ));
        }
        Ok(self.keys.get(id))
    }

    /// `CaKeyPut` from the leader.
    pub(crate) async fn key_from_peer(
        &self,
        remote: Option<SocketAddr>,
        id: &str,
        pem: &str,
    ) -> Result<()> {
        if !self.is_voter_address(remote).await {
            warn!(?remote, root = id, "refused a CA key from a non-voter");
            return Err(Error::Invalid(
                "CA keys are only taken from voting servers".into(),
            ));
        }
        self.keys.put(id, pem)
    }

    /// Signs `csr_pem` (on the leader), or says why not.
    pub(crate) async fn sign(&self, csr_pem: &str) -> Result<IssuedCert, SignError> {
        let ca = self
            .current()
            .ok_or_else(|| SignError::Failed("CA has not finished initializing".into()))?;
        self.limiter.set_limits(super::limits(&ca.config));
        let permit = self
            .limiter
            .acquire(Instant::now())
            .map_err(|_| SignError::RateLimited)?;
        tokio::time::sleep(permit.wait()).await;
        let key = self.active_key(&ca).await?;
        let authority = super::authority(&ca, &key)?;
        let serial = skein_ca::random_serial().map_err(|e| SignError::Failed(e.to_string()))?;
        let mut request = SignRequest::new(csr_pem, &self.datacenter, serial, SystemTime::now());
        if let Some(ttl) = super::duration_setting(&ca.config, "LeafCertTTL") {
            request.leaf_ttl = ttl;
        }
        let mut cert = authority
            .sign_csr(&request)
            .map_err(|e| SignError::Invalid(e.to_string()))?;
        cert.create_index = ca.modify_index;
        cert.modify_index = ca.modify_index;
        drop(permit);
        Ok(cert)
    }

    /// Applies new CA settings (on the leader): a key change rotates the
    /// root, and the new key reaches the voters before the root is proposed.
    pub(crate) async fn set_config(
        &self,
        provider: &str,
        config: &Map<String, Value>,
    ) -> Result<bool> {
        let current = self
            .current()
            .ok_or_else(|| Error::Rpc("CA has not finished initializing".into()))?;
        let key = self.active_key(&current).await?;
        let (next, root) = super::reconfigure(&current, &key, provider, config, SystemTime::now())?;
        if let Some(root) = &root {
            self.adopt(root).await?;
        }
        let op = Op::ConnectCaSet {
            ca: Box::new(next),
            cas: Some(current.modify_index),
        };
        Ok(matches!(
            self.proposer.write(op).await?,
            Outcome::Bool(true)
        ))
    }

    /// Forgets keys of roots the CA no longer lists.
    fn prune_keys(&self) {
        let Some(ca) = self.current() else {
            return;
        };
        if let Err(e) = self
            .keys
            .prune(&super::root_ids(&ca), crate::server::now_ms())
        {
            warn!(error = %e, "cannot prune CA keys");
        }
    }
}

/// Runs on every server; acts while this one leads: creates the CA when
/// there is none, fetches or replaces a missing root key. Woken by
/// leadership changes (server metrics: state, leader, membership, not
/// every commit) and by writes to the CA (a restore may remove it).
pub(crate) fn spawn_initializer(
    ca: Arc<ConnectCa>,
    ca_config: Map<String, Value>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut leadership = ca.raft.server_metrics();
        loop {
            // The server metrics are sent before the full metrics, so the
            // leadership is read from the channel that woke us.
            let leader = leadership.borrow_and_update().state == ServerState::Leader;
            let outcome = match ca.ensure(leader, &ca_config).await {
                Ok(()) => ca.repair(leader).await,
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                warn!(error = %e, "cannot set up the Connect CA");
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
                continue;
            }
            ca.prune_keys();
            let Ok(ca_written) = ca.store.read().map(|s| s.watch(&[Topic::ConnectCa])) else {
                return;
            };
            tokio::select! {
                changed = leadership.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = ca_written => {}
            }
        }
    })
}
