//! The fleet of delta-xDS clients (`skein_ads::client::DeltaClient`, which subscribes, follows
//! clusters to endpoints and ACKs like Envoy), many streams per HTTP/2 connection, and the
//! waits the benchmark times: every client converged, every affected client holding a change.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use envoy_types::pb::envoy::config::core::v3::HealthStatus;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use prost::Message as _;
use skein_ads::client::{ClientConfig, ClientState, DeltaClient};
use skein_ads::{CLUSTER, ENDPOINT, LISTENER};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

use super::Plan;

/// Streams per HTTP/2 connection (the agent's gRPC server allows hyper's default of 200).
pub(super) const PER_CHANNEL: usize = 100;

/// One running client per proxy of the plan, in proxy order.
pub(super) struct Fleet {
    clients: Arc<Vec<DeltaClient>>,
    /// Per proxy, the upstream services it must hold endpoints for.
    upstreams: Arc<Vec<Vec<String>>>,
}

// === impl Fleet ===

impl Fleet {
    /// Opens `proxies / PER_CHANNEL` connections to `grpc` and starts one stream per proxy.
    pub(super) fn start(rt: &Runtime, grpc: SocketAddr, plan: &Plan) -> Result<Self> {
        let channels = rt.block_on(connect(grpc, plan.proxies.div_ceil(PER_CHANNEL)))?;
        let _entered = rt.enter();
        let clients = (0..plan.proxies)
            .map(|i| {
                let config = ClientConfig::new(plan.proxy_id(i)).cluster(plan.service(i));
                DeltaClient::start(channels[i / PER_CHANNEL].clone(), config)
                    .with_context(|| format!("starting the client of {}", plan.proxy_id(i)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            clients: Arc::new(clients),
            upstreams: Arc::new((0..plan.proxies).map(|i| plan.upstreams(i)).collect()),
        })
    }

    /// Waits until every client holds its listeners and clusters and a healthy endpoint of
    /// each upstream; returns when each one did, in proxy order.
    pub(super) fn wait_converged(&self, rt: &Runtime, timeout: Duration) -> Result<Vec<Instant>> {
        let waits = (0..self.clients.len()).map(|i| {
            let (clients, upstreams) = (self.clients.clone(), self.upstreams.clone());
            rt.spawn(async move {
                let ups = &upstreams[i];
                clients[i]
                    .wait_for(timeout, |s| converged(s, ups))
                    .await
                    .map(|()| Instant::now())
                    .map_err(|e| (i, e.to_string()))
            })
        });
        let results = join_all(rt, waits.collect());
        let failed: Vec<&(usize, String)> =
            results.iter().filter_map(|r| r.as_ref().err()).collect();
        if let Some((first, why)) = failed.first() {
            let state = self.clients[*first].state();
            bail!(
                "{} of {} clients did not converge within {timeout:?}; client {first}: {why}; \
                 it holds {} clusters, {} listeners, endpoints {:?}",
                failed.len(),
                self.clients.len(),
                state.count(CLUSTER),
                state.count(LISTENER),
                state.names(ENDPOINT),
            );
        }
        Ok(results.into_iter().filter_map(Result::ok).collect())
    }

    /// Starts one wait per client in `affected` for the moment it holds `service`'s single
    /// endpoint as healthy (or unhealthy); each yields when it saw it.
    pub(super) fn watch_change(
        &self,
        rt: &Runtime,
        affected: &[usize],
        service: &str,
        healthy: bool,
        timeout: Duration,
    ) -> Vec<JoinHandle<Result<Instant, String>>> {
        let want = if healthy {
            HealthStatus::Healthy
        } else {
            HealthStatus::Unhealthy
        } as i32;
        affected
            .iter()
            .map(|&i| {
                let clients = self.clients.clone();
                let service = service.to_owned();
                rt.spawn(async move {
                    let held = |s: &ClientState| health(s, &service) == Some(vec![want]);
                    clients[i].wait_for(timeout, held).await.map_err(|e| {
                        let now = clients[i].with_state(|s| health(s, &service));
                        format!("client {i}: {e}; holds {now:?}")
                    })?;
                    Ok(Instant::now())
                })
            })
            .collect()
    }

    /// Responses received by all clients together.
    pub(super) fn responses(&self) -> u64 {
        self.clients.iter().map(DeltaClient::responses).sum()
    }

    /// Resources held by all clients together, by type: clusters, listeners, endpoints.
    pub(super) fn held(&self) -> [usize; 3] {
        let mut held = [0; 3];
        for c in self.clients.iter() {
            c.with_state(|s| {
                held[0] += s.count(CLUSTER);
                held[1] += s.count(LISTENER);
                held[2] += s.count(ENDPOINT);
            });
        }
        held
    }
}

/// `n` HTTP/2 connections to the agent's gRPC address.
async fn connect(grpc: SocketAddr, n: usize) -> Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(format!("http://{grpc}"))?;
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        let channel = endpoint.connect().await;
        channels.push(channel.with_context(|| format!("connecting to gRPC at {grpc}"))?);
    }
    Ok(channels)
}

/// Waits for every task, in order.
pub(super) fn join_all<T>(rt: &Runtime, handles: Vec<JoinHandle<T>>) -> Vec<T>
where
    T: Send + 'static,
{
    rt.block_on(async move {
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            match h.await {
                Ok(v) => out.push(v),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        out
    })
}

/// Whether a client holds the public listener and one per upstream, as many clusters, and one
/// healthy endpoint for each upstream.
fn converged(s: &ClientState, upstreams: &[String]) -> bool {
    let healthy = Some(vec![HealthStatus::Healthy as i32]);
    s.count(LISTENER) > upstreams.len()
        && s.count(CLUSTER) > upstreams.len()
        && upstreams.iter().all(|u| health(s, u) == healthy)
}

/// The health of each endpoint the client holds for `service` (the load assignment whose name
/// is `service`'s SNI, `<service>.default.dc1.internal.<trust domain>`).
fn health(s: &ClientState, service: &str) -> Option<Vec<i32>> {
    let prefix = format!("{service}.");
    let held = s.resources.get(ENDPOINT)?;
    let (_, resource) = held.iter().find(|(name, _)| name.starts_with(&prefix))?;
    let cla = ClusterLoadAssignment::decode(resource.body.value.as_slice()).ok()?;
    let endpoints = cla.endpoints.iter().flat_map(|l| &l.lb_endpoints);
    Some(endpoints.map(|e| e.health_status).collect())
}
