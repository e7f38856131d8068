//! One task per proxy in use keeps its snapshot current: it rebuilds the
//! snapshot when a service it holds endpoints of, the config entries, the
//! CA, its own registration or its leaf certificate change, coalescing bursts,
//! and publishes it on a watch channel shared by every subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use skein_state::{Store, Topic};
use skein_types::catalog::ServiceInstance;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::build::{EndpointCache, Settings, build_cached};
use crate::snapshot::{LeafCert, ProxySnapshot};
use crate::{Error, Result};

/// How long a burst of changes is allowed to settle before a rebuild.
const COALESCE: Duration = Duration::from_millis(20);

/// What proxycfg needs from the agent besides the state store.
pub trait AgentInputs: Send + Sync + 'static {
    /// The local registration of service `id`, if any.
    fn local_service(&self, id: &str) -> Option<ServiceInstance>;
    /// Resolves when the agent's local services may have changed.
    fn local_changed(&self) -> BoxFuture<'static, ()>;
    /// The leaf certificate of `service` newer than `after` (a blocking
    /// index; 0 for any), with its index.
    fn leaf(&self, service: &str, after: u64) -> BoxFuture<'static, Result<(u64, LeafCert)>>;
}

/// A proxy's published state: its snapshot, or why there is none (yet).
pub type Published = Option<std::result::Result<Arc<ProxySnapshot>, Error>>;

/// The snapshots of the proxies in use.
pub struct Manager {
    inputs: Arc<dyn AgentInputs>,
    store: Arc<RwLock<Store>>,
    settings: Settings,
    proxies: Mutex<HashMap<String, watch::Receiver<Published>>>,
    /// Target endpoints shared by the proxies that rebuild after one change.
    endpoints: EndpointCache,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

// === impl Manager ===

impl Manager {
    /// A manager reading `store` and the agent's `inputs`.
    pub fn new(
        inputs: Arc<dyn AgentInputs>,
        store: Arc<RwLock<Store>>,
        settings: Settings,
    ) -> Self {
        Self {
            inputs,
            store,
            settings,
            proxies: Mutex::default(),
            endpoints: EndpointCache::default(),
        }
    }

    /// The snapshots of local proxy `proxy_id`, starting its task on first
    /// use. Fails at once if no such proxy is registered here.
    pub fn watch(self: &Arc<Self>, proxy_id: &str) -> Result<watch::Receiver<Published>> {
        let registered = self
            .inputs
            .local_service(proxy_id)
            .is_some_and(|s| s.kind == "connect-proxy");
        if !registered {
            return Err(Error::NotAProxy(proxy_id.to_owned()));
        }
        let mut proxies = self.proxies.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = proxies.get(proxy_id) {
            return Ok(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        proxies.insert(proxy_id.to_owned(), rx.clone());
        tokio::spawn(self.clone().keep_current(proxy_id.to_owned(), tx));
        Ok(rx)
    }

    /// The proxy's task: rebuild on every relevant change until the proxy
    /// is deregistered and nobody watches.
    async fn keep_current(self: Arc<Self>, proxy_id: String, tx: watch::Sender<Published>) {
        let mut leaf: Option<(u64, LeafCert)> = None;
        // The registration the published snapshot was built from, and
        // whether an input changed since.
        let mut built_for: Option<ServiceInstance> = None;
        let mut built_at: Option<Indexes> = None;
        // The services whose instances the snapshot holds (unknown until a
        // snapshot was built: then any catalog change counts).
        let mut deps: Option<Vec<String>> = None;
        // Whether the last leaf request failed (warned about once per streak).
        let mut leaf_failing = false;
        let mut dirty = true;
        loop {
            let Some(proxy) = self.inputs.local_service(&proxy_id) else {
                tx.send_replace(Some(Err(Error::NotAProxy(proxy_id.clone()))));
                self.forget(&proxy_id);
                return;
            };
            dirty |= built_for.as_ref() != Some(&proxy);
            let destination = proxy
                .extra
                .get("Proxy")
                .and_then(|p| p.get("DestinationServiceName"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let Ok((changed, now)) = self
                .store
                .read()
                .map(|s| (s.watch(&topics(&deps)), indexes(&s, &deps)))
            else {
                return;
            };
            // Compared by index, so a write is not missed when another
            // branch of the last select won the race.
            dirty |= built_at != Some(now);
            let local_changed = self.inputs.local_changed();
            if let (true, Some((_, cert))) = (dirty, &leaf) {
                let Ok((at, built)) = self.store.read().map(|s| {
                    let built =
                        build_cached(&s, &proxy, cert.clone(), &self.settings, &self.endpoints);
                    deps = built.as_ref().ok().map(target_services);
                    (indexes(&s, &deps), built)
                }) else {
                    return;
                };
                publish(&tx, &proxy_id, built);
                built_at = Some(at);
                built_for = Some(proxy);
                dirty = false;
            }
            let after = leaf.as_ref().map_or(0, |(i, _)| *i);
            let next_leaf = self.inputs.leaf(&destination, after);
            // A finished anti-entropy run only matters if it changed this
            // proxy's registration, which the next turn compares.
            tokio::select! {
                () = changed => dirty = true,
                () = local_changed => {}
                issued = next_leaf => match issued {
                    Ok(l) => {
                        leaf_failing = false;
                        leaf = Some(l);
                        dirty = true;
                    }
                    Err(e) => {
                        if !leaf_failing {
                            warn!(proxy = %proxy_id, error = %e, "no leaf certificate for the proxy yet; retrying");
                        }
                        leaf_failing = true;
                        tx.send_replace(Some(Err(e)));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
            }
            tokio::time::sleep(COALESCE).await;
        }
    }

    fn forget(&self, proxy_id: &str) {
        let mut proxies = self.proxies.lock().unwrap_or_else(|p| p.into_inner());
        proxies.remove(proxy_id);
    }
}

/// The indexes of what a snapshot is built from: the services it holds
/// endpoints of (or the whole catalog), config entries and the CA.
type Indexes = (Vec<u64>, u64, u64);

fn indexes(s: &Store, deps: &Option<Vec<String>>) -> Indexes {
    let catalog = match deps {
        Some(names) => names.iter().map(|n| s.service_index(n)).collect(),
        None => vec![s.catalog_index()],
    };
    (catalog, s.config_entries_index(), s.connect_ca_index())
}

/// The topics whose change may change the snapshot.
fn topics(deps: &Option<Vec<String>>) -> Vec<Topic> {
    let mut topics = vec![Topic::ConfigEntries, Topic::ConnectCa];
    match deps {
        Some(names) => topics.extend(names.iter().cloned().map(Topic::Service)),
        None => topics.push(Topic::Catalog),
    }
    topics
}

/// The services a snapshot holds endpoints of: every chain target's.
fn target_services(snapshot: &ProxySnapshot) -> Vec<String> {
    let mut names: Vec<String> = snapshot
        .upstreams
        .iter()
        .flat_map(|u| u.chain.targets.values())
        .map(|t| t.service.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Publishes a snapshot if it differs from the current one.
fn publish(tx: &watch::Sender<Published>, proxy_id: &str, built: Result<ProxySnapshot>) {
    match built {
        Ok(snapshot) => {
            tx.send_if_modified(|current| {
                let same = matches!(current, Some(Ok(s)) if **s == snapshot);
                if !same {
                    debug!(proxy = %proxy_id, "new proxy snapshot");
                    *current = Some(Ok(Arc::new(snapshot)));
                }
                !same
            });
        }
        Err(e) => {
            warn!(proxy = %proxy_id, error = %e, "cannot build the proxy snapshot");
            tx.send_replace(Some(Err(e)));
        }
    }
}
