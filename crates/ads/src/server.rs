//! The tonic service: one task per ADS stream drives a pure state machine
//! with Envoy's requests and the source's snapshots.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
    aggregated_discovery_service_server::{
        AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
    },
};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep};
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, Span, debug, field, info_span, warn};

use crate::delta::{self, DeltaStream};
use crate::sotw::{self, SotwStream};
use crate::{ProxySource, ResourceSet, StreamError};

/// The gRPC metadata key carrying the ACL token.
pub const TOKEN_METADATA: &str = "x-consul-token";

/// How often an idle stream's token is checked again (Consul's
/// `DefaultAuthCheckFrequency`).
pub const DEFAULT_AUTH_CHECK_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Responses buffered per stream before the task waits for the client.
const STREAM_BUFFER: usize = 16;

/// The Aggregated Discovery Service, serving resources from `S`.
///
/// Mount it with [`into_service`](Self::into_service) on a tonic server.
#[derive(Debug)]
pub struct AdsServer<S> {
    source: Arc<S>,
    auth_check_interval: Duration,
}

/// A stream state machine the server can drive.
trait Protocol: Default + Send + 'static {
    type Req: Send + 'static;
    type Resp: Send + 'static;
    /// The RPC's name, for logs.
    const RPC: &'static str;
    fn node_id(req: &Self::Req) -> Option<&str>;
    fn on_request(&mut self, req: Self::Req) -> Result<Vec<Self::Resp>, StreamError>;
    fn on_snapshot(&mut self, snapshot: Arc<ResourceSet>) -> Vec<Self::Resp>;
}

/// One running stream.
struct StreamTask<S, R> {
    source: Arc<S>,
    token: String,
    proxy_id: String,
    auth_check_interval: Duration,
    tx: mpsc::Sender<Result<R, Status>>,
}

// === impl AdsServer ===

impl<S: ProxySource> AdsServer<S> {
    /// A server delivering the resources `source` supplies.
    pub fn new(source: Arc<S>) -> Self {
        Self {
            source,
            auth_check_interval: DEFAULT_AUTH_CHECK_INTERVAL,
        }
    }

    /// Sets how often an idle stream's token is checked again.
    #[must_use]
    pub fn with_auth_check_interval(mut self, interval: Duration) -> Self {
        self.auth_check_interval = interval;
        self
    }

    /// The tonic service to add to a server's router.
    pub fn into_service(self) -> AggregatedDiscoveryServiceServer<Self> {
        AggregatedDiscoveryServiceServer::new(self)
    }

    fn start<P: Protocol>(
        &self,
        request: Request<Streaming<P::Req>>,
    ) -> ReceiverStream<Result<P::Resp, Status>> {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let task = StreamTask {
            source: Arc::clone(&self.source),
            token: token(request.metadata()),
            proxy_id: String::new(),
            auth_check_interval: self.auth_check_interval,
            tx,
        };
        let span = info_span!("xds", rpc = P::RPC, proxy_id = field::Empty);
        tokio::spawn(
            task.run(P::default(), request.into_inner())
                .instrument(span),
        );
        ReceiverStream::new(rx)
    }
}

#[tonic::async_trait]
impl<S: ProxySource> AggregatedDiscoveryService for AdsServer<S> {
    type StreamAggregatedResourcesStream = ReceiverStream<Result<DiscoveryResponse, Status>>;
    type DeltaAggregatedResourcesStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        Ok(Response::new(self.start::<SotwStream>(request)))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        Ok(Response::new(self.start::<DeltaStream>(request)))
    }
}

// === impl StreamTask ===

impl<S: ProxySource, R: Send + 'static> StreamTask<S, R> {
    async fn run<P: Protocol<Resp = R>>(mut self, machine: P, inbound: Streaming<P::Req>) {
        debug!("stream opened");
        match self.drive(machine, inbound).await {
            Ok(()) => debug!("stream closed"),
            Err(status) if status.code() == tonic::Code::Cancelled => {
                debug!("client went away");
            }
            Err(status) => {
                warn!(code = ?status.code(), message = status.message(), "stream failed");
                // The client may be gone already; nothing more to do then.
                let _ = self.tx.send(Err(status)).await;
            }
        }
    }

    async fn drive<P: Protocol<Resp = R>>(
        &mut self,
        mut machine: P,
        mut inbound: Streaming<P::Req>,
    ) -> Result<(), Status> {
        let Some(first) = next(&mut inbound).await else {
            return Ok(());
        };
        self.proxy_id = P::node_id(&first)
            .ok_or(StreamError::MissingNodeId)?
            .to_owned();
        Span::current().record("proxy_id", self.proxy_id.as_str());
        let mut snapshots = self.source.subscribe(&self.proxy_id, &self.token)?;
        self.send(machine.on_request(first)?).await?;
        let snapshot = Arc::clone(&snapshots.borrow_and_update());
        self.send(machine.on_snapshot(snapshot)).await?;
        self.serve(&mut machine, &mut inbound, &mut snapshots).await
    }

    /// The main loop: requests, snapshots and the idle ACL check.
    async fn serve<P: Protocol<Resp = R>>(
        &mut self,
        machine: &mut P,
        inbound: &mut Streaming<P::Req>,
        snapshots: &mut watch::Receiver<Arc<ResourceSet>>,
    ) -> Result<(), Status> {
        let idle = sleep(self.auth_check_interval);
        tokio::pin!(idle);
        loop {
            let out = tokio::select! {
                req = next(inbound) => match req {
                    Some(req) => machine.on_request(req)?,
                    None => return Ok(()),
                },
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        debug!("source closed the proxy's resources");
                        return Ok(());
                    }
                    machine.on_snapshot(Arc::clone(&snapshots.borrow_and_update()))
                }
                () = &mut idle => Vec::new(),
                () = self.tx.closed() => return Ok(()),
            };
            self.authorize()?;
            idle.as_mut()
                .reset(Instant::now() + self.auth_check_interval);
            self.send(out).await?;
        }
    }

    fn authorize(&self) -> Result<(), Status> {
        Ok(self.source.authorize(&self.proxy_id, &self.token)?)
    }

    async fn send(&self, responses: Vec<R>) -> Result<(), Status> {
        for response in responses {
            if self.tx.send(Ok(response)).await.is_err() {
                return Err(Status::cancelled("the client went away"));
            }
        }
        Ok(())
    }
}

// === impl Protocol ===

impl Protocol for DeltaStream {
    type Req = DeltaDiscoveryRequest;
    type Resp = DeltaDiscoveryResponse;
    const RPC: &'static str = "delta";

    fn node_id(req: &Self::Req) -> Option<&str> {
        delta::node_id(req)
    }

    fn on_request(&mut self, req: Self::Req) -> Result<Vec<Self::Resp>, StreamError> {
        DeltaStream::on_request(self, req)
    }

    fn on_snapshot(&mut self, snapshot: Arc<ResourceSet>) -> Vec<Self::Resp> {
        DeltaStream::on_snapshot(self, snapshot)
    }
}

impl Protocol for SotwStream {
    type Req = DiscoveryRequest;
    type Resp = DiscoveryResponse;
    const RPC: &'static str = "sotw";

    fn node_id(req: &Self::Req) -> Option<&str> {
        sotw::node_id(req)
    }

    fn on_request(&mut self, req: Self::Req) -> Result<Vec<Self::Resp>, StreamError> {
        SotwStream::on_request(self, req)
    }

    fn on_snapshot(&mut self, snapshot: Arc<ResourceSet>) -> Vec<Self::Resp> {
        SotwStream::on_snapshot(self, snapshot)
    }
}

/// The next request; `None` when the client closed or broke the stream.
async fn next<T>(inbound: &mut Streaming<T>) -> Option<T> {
    match inbound.message().await {
        Ok(req) => req,
        Err(status) => {
            debug!(code = ?status.code(), message = status.message(), "receiving failed");
            None
        }
    }
}

/// The ACL token from the request metadata (empty if absent).
fn token(metadata: &MetadataMap) -> String {
    let value = metadata.get(TOKEN_METADATA).and_then(|v| v.to_str().ok());
    value.unwrap_or_default().to_owned()
}
