//! The agent's side of the service mesh: it feeds proxycfg with its local
//! services and leaf certificates, turns each proxy's snapshot into Envoy
//! resources (skein-xds), and serves them over ADS (skein-ads) on the
//! gRPC port.
//!
//! ```text
//!  LocalState + LeafCache ──AgentInputs──► proxycfg::Manager ──snapshot──►
//!      xds::resources::build ──ResourceSet──► ads::AdsServer ──► Envoy
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use skein_ads::{AdsServer, ProxySource, ResourceSet, SourceError};
use skein_proxycfg::{AgentInputs, LeafCert, Manager, Published};
use skein_types::catalog::ServiceInstance;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::leaf::LeafCache;
use crate::local::LocalState;
use crate::{Error, Result};

/// How long one wait for a newer leaf certificate may block.
const LEAF_WAIT: Duration = Duration::from_secs(600);

/// proxycfg's view of this agent.
pub(crate) struct Inputs {
    pub(crate) local: Arc<LocalState>,
    pub(crate) leaves: Arc<LeafCache>,
}

impl AgentInputs for Inputs {
    fn local_service(&self, id: &str) -> Option<ServiceInstance> {
        self.local.service(id)
    }

    fn local_changed(&self) -> BoxFuture<'static, ()> {
        let mut done = self.local.sync.subscribe_done();
        Box::pin(async move {
            let _ = done.changed().await;
        })
    }

    fn leaf(
        &self,
        service: &str,
        after: u64,
    ) -> BoxFuture<'static, skein_proxycfg::Result<(u64, LeafCert)>> {
        let leaves = self.leaves.clone();
        let service = service.to_owned();
        Box::pin(async move {
            let (index, body) = leaves
                .leaf_after(&service, after, LEAF_WAIT)
                .await
                .map_err(|e| skein_proxycfg::Error::Leaf(e.to_string()))?;
            let pem = |key: &str| {
                body.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            Ok((
                index,
                LeafCert {
                    cert_pem: pem("CertPEM"),
                    key_pem: pem("PrivateKeyPEM"),
                },
            ))
        })
    }
}

/// Each proxy's Envoy resources, kept current from its snapshot.
pub(crate) struct ProxyResources {
    manager: Arc<Manager>,
    resources: Mutex<HashMap<String, watch::Receiver<Arc<ResourceSet>>>>,
}

impl std::fmt::Debug for ProxyResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyResources").finish_non_exhaustive()
    }
}

// === impl ProxyResources ===

impl ProxyResources {
    pub(crate) fn new(manager: Arc<Manager>) -> Self {
        Self {
            manager,
            resources: Mutex::default(),
        }
    }
}

impl ProxySource for ProxyResources {
    fn subscribe(
        &self,
        proxy_id: &str,
        _token: &str,
    ) -> std::result::Result<watch::Receiver<Arc<ResourceSet>>, SourceError> {
        let mut map = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = map.get(proxy_id)
            && rx.has_changed().is_ok()
        {
            return Ok(rx.clone());
        }
        let snapshots = self.manager.watch(proxy_id).map_err(|e| match e {
            skein_proxycfg::Error::NotAProxy(_) => SourceError::UnknownProxy {
                proxy_id: proxy_id.to_owned(),
            },
            other => SourceError::Unavailable {
                reason: other.to_string(),
            },
        })?;
        let (tx, rx) = watch::channel(Arc::new(ResourceSet::default()));
        map.insert(proxy_id.to_owned(), rx.clone());
        tokio::spawn(translate(proxy_id.to_owned(), snapshots, tx));
        Ok(rx)
    }
}

/// Turns every new snapshot of a proxy into its resources, until the
/// proxy goes away (the sender drops, which ends its ADS streams).
async fn translate(
    proxy_id: String,
    mut snapshots: watch::Receiver<Published>,
    tx: watch::Sender<Arc<ResourceSet>>,
) {
    loop {
        let next = snapshots.borrow_and_update().clone();
        match next {
            Some(Ok(snapshot)) => match skein_xds::resources::build(&snapshot) {
                Ok(set) => {
                    tx.send_if_modified(|current| {
                        let changed = **current != set;
                        if changed {
                            *current = Arc::new(set);
                        }
                        changed
                    });
                }
                Err(e) => warn!(proxy = %proxy_id, error = %e, "cannot build Envoy resources"),
            },
            Some(Err(skein_proxycfg::Error::NotAProxy(_))) => return,
            Some(Err(_)) | None => {}
        }
        if snapshots.changed().await.is_err() {
            return;
        }
    }
}

/// Serves ADS on the agent's gRPC addresses (`ports.grpc`).
pub(crate) async fn serve_ads(
    addrs: &[SocketAddr],
    source: Arc<ProxyResources>,
) -> Result<(Vec<SocketAddr>, Vec<JoinHandle<()>>)> {
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    for addr in addrs {
        let bind_error = |source| Error::Bind {
            what: "gRPC",
            addr: addr.to_string(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        bound.push(local);
        let service = AdsServer::new(source.clone()).into_service();
        let incoming = futures::stream::unfold(listener, |l| async move {
            let next = l.accept().await.map(|(s, _)| s);
            Some((next, l))
        });
        tasks.push(tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
            if let Err(e) = served {
                warn!(error = %e, "gRPC listener stopped");
            }
        }));
    }
    if !bound.is_empty() {
        info!(grpc = ?bound, "serving xDS");
    }
    Ok((bound, tasks))
}
