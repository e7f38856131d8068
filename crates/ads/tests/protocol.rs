//! Protocol tests: the ADS server over a real loopback TCP socket, driven
//! by the Envoy-like `DeltaClient` and by raw scripted streams.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
    aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use skein_ads::client::{ClientConfig, ClientState, DeltaClient};
use skein_ads::testing::Snap;
use skein_ads::{
    AdsServer, CLUSTER, ClientError, ENDPOINT, LISTENER, ProxySource, ROUTE, ResourceSet,
    SourceError, TOKEN_METADATA,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{TcpListenerStream, UnboundedReceiverStream};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Streaming};

const WAIT: Duration = Duration::from_secs(10);
const NODE: &str = "web-sidecar-proxy";
const TOKEN: &str = "good-token";

/// Proxies by ID, each with the sender its resources change through.
/// Tokens: [`TOKEN`] may do anything, "read-only" is forbidden, others are
/// unknown.
#[derive(Default)]
struct FakeSource {
    proxies: Mutex<HashMap<String, watch::Sender<Arc<ResourceSet>>>>,
}

impl FakeSource {
    fn set(&self, proxy_id: &str, snap: Snap) {
        let mut proxies = self.proxies.lock().unwrap();
        match proxies.get(proxy_id) {
            Some(tx) => {
                tx.send_replace(snap.build());
            }
            None => {
                proxies.insert(proxy_id.into(), watch::channel(snap.build()).0);
            }
        }
    }

    fn remove(&self, proxy_id: &str) {
        self.proxies.lock().unwrap().remove(proxy_id);
    }
}

impl ProxySource for FakeSource {
    fn subscribe(
        &self,
        proxy_id: &str,
        token: &str,
    ) -> Result<watch::Receiver<Arc<ResourceSet>>, SourceError> {
        match token {
            TOKEN => {}
            "read-only" => {
                let reason = "Permission denied".into();
                return Err(SourceError::PermissionDenied { reason });
            }
            _ => {
                let reason = "ACL not found".into();
                return Err(SourceError::Unauthenticated { reason });
            }
        }
        let proxies = self.proxies.lock().unwrap();
        let tx = proxies
            .get(proxy_id)
            .ok_or_else(|| SourceError::UnknownProxy {
                proxy_id: proxy_id.into(),
            })?;
        Ok(tx.subscribe())
    }
}

/// Serves ADS from `source` on a loopback port; returns the address.
async fn serve(source: Arc<FakeSource>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = AdsServer::new(source).into_service();
    let router = Server::builder().add_service(service);
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    format!("http://{addr}")
}

fn base() -> Snap {
    Snap::new()
        .cluster("a", 1)
        .cluster("b", 1)
        .endpoints("a", 1)
        .endpoints("b", 1)
        .listener("l", "r", 1)
        .route("r", 1)
}

async fn setup() -> (Arc<FakeSource>, String) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let source = Arc::new(FakeSource::default());
    source.set(NODE, base());
    let addr = serve(Arc::clone(&source)).await;
    (source, addr)
}

async fn client(addr: &str) -> DeltaClient {
    let config = ClientConfig::new(NODE).token(TOKEN).cluster("web");
    DeltaClient::connect(addr.to_owned(), config).await.unwrap()
}

/// Whether the client holds exactly what `snap` has, all four types.
fn holds(state: &ClientState, snap: &ResourceSet) -> bool {
    [CLUSTER, ENDPOINT, LISTENER, ROUTE].iter().all(|t| {
        let want: Vec<(&str, &str)> = snap
            .of_type(t)
            .map(|r| (r.name.as_str(), r.version.as_str()))
            .collect();
        let have: Vec<(&str, &str)> = state
            .resources
            .get(*t)
            .into_iter()
            .flat_map(|m| m.iter().map(|(n, r)| (n.as_str(), r.version.as_str())))
            .collect();
        want == have
    })
}

#[tokio::test]
async fn delta_client_converges_and_follows_changes() {
    let (source, addr) = setup().await;
    let c = client(&addr).await;
    let want = base().build();
    c.wait_for(WAIT, |s| holds(s, &want)).await.unwrap();
    c.with_state(|s| {
        assert_eq!(s.nacks, 0);
        assert_eq!(s.responses, 4, "one response per type");
        let eds: Vec<&str> = s.subscriptions[ENDPOINT]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(eds, ["a", "b"], "subscribed to the EDS clusters");
    });

    tracing::info!("--- one endpoint changes");
    let received = c.with_state(|s| s.resources_received);
    source.set(NODE, base().endpoints("a", 2));
    let want = base().endpoints("a", 2).build();
    c.wait_for(WAIT, |s| holds(s, &want)).await.unwrap();
    assert_eq!(
        c.with_state(|s| s.resources_received) - received,
        1,
        "only it is sent"
    );

    tracing::info!("--- cluster b goes away");
    let without_b = || {
        let snap = Snap::new().cluster("a", 1).endpoints("a", 2);
        snap.listener("l", "r", 1).route("r", 1)
    };
    source.set(NODE, without_b());
    let want = without_b().build();
    c.wait_for(WAIT, |s| {
        holds(s, &want) && !s.subscriptions[ENDPOINT].contains("b")
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn delta_client_nack_does_not_loop() {
    let (source, addr) = setup().await;
    let c = client(&addr).await;
    let want = base().build();
    c.wait_for(WAIT, |s| holds(s, &want)).await.unwrap();

    c.nack_next(CLUSTER, "invalid cluster");
    source.set(NODE, base().cluster("a", 2));
    c.wait_for(WAIT, |s| s.nacks == 1).await.unwrap();
    let cds = c.with_state(|s| s.responses_of(CLUSTER));

    // A barrier: the route answer comes after anything the NACK caused.
    c.subscribe(ROUTE, &["r"]);
    let routes = c.with_state(|s| s.responses_of(ROUTE));
    c.wait_for(WAIT, |s| s.responses_of(ROUTE) > routes)
        .await
        .unwrap();
    assert_eq!(
        c.with_state(|s| s.responses_of(CLUSTER)),
        cds,
        "no CDS resend"
    );

    tracing::info!("--- a new snapshot is sent again");
    source.set(NODE, base().cluster("a", 3));
    let want = base().cluster("a", 3).build();
    c.wait_for(WAIT, |s| holds(s, &want)).await.unwrap();
}

#[tokio::test]
async fn reconnect_resends_only_what_changed() {
    let (source, addr) = setup().await;
    let first = client(&addr).await;
    let want = base().build();
    first.wait_for(WAIT, |s| holds(s, &want)).await.unwrap();
    let held = first.with_state(|s| s.resources.clone());
    drop(first);

    source.set(NODE, base().endpoints("b", 2));
    let config = ClientConfig::new(NODE).token(TOKEN).resume(held);
    let second = DeltaClient::connect(addr.clone(), config).await.unwrap();
    let want = base().endpoints("b", 2).build();
    let answered = |s: &ClientState| {
        [CLUSTER, ENDPOINT, LISTENER, ROUTE]
            .iter()
            .all(|t| s.responses_of(t) > 0)
    };
    second
        .wait_for(WAIT, |s| holds(s, &want) && answered(s))
        .await
        .unwrap();
    assert_eq!(
        second.with_state(|s| s.resources_received),
        1,
        "only endpoints b"
    );
}

#[tokio::test]
async fn many_clients_converge() {
    let (source, addr) = setup().await;
    for i in 0..20 {
        source.set(&format!("proxy-{i}"), base());
    }
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    let clients: Vec<DeltaClient> = (0..20)
        .map(|i| {
            let config = ClientConfig::new(format!("proxy-{i}")).token(TOKEN);
            DeltaClient::start(channel.clone(), config).unwrap()
        })
        .collect();
    let want = base().build();
    for c in &clients {
        c.wait_for(WAIT, |s| holds(s, &want)).await.unwrap();
    }
}

#[tokio::test]
async fn stream_ends_cleanly_when_the_source_drops() {
    let (source, addr) = setup().await;
    let c = client(&addr).await;
    let want = base().build();
    c.wait_for(WAIT, |s| holds(s, &want)).await.unwrap();
    source.remove(NODE);
    let ended = c.wait_ended(WAIT).await.unwrap();
    assert_eq!(ended.code, Code::Ok);
}

#[tokio::test]
async fn unknown_proxy_and_bad_tokens_are_refused() {
    let (_source, addr) = setup().await;
    let cases = [
        (
            "nope",
            TOKEN,
            Code::NotFound,
            "proxy \"nope\" is not registered with this agent",
        ),
        (
            NODE,
            "wrong",
            Code::Unauthenticated,
            "unauthenticated: ACL not found",
        ),
        (
            NODE,
            "",
            Code::Unauthenticated,
            "unauthenticated: ACL not found",
        ),
        (
            NODE,
            "read-only",
            Code::PermissionDenied,
            "permission denied: Permission denied",
        ),
    ];
    for (node, token, code, message) in cases {
        let config = ClientConfig::new(node).token(token);
        let c = DeltaClient::connect(addr.clone(), config).await.unwrap();
        let ended = c.wait_ended(WAIT).await.unwrap();
        assert_eq!(
            (ended.code, ended.message.as_str()),
            (code, message),
            "{node} {token}"
        );
        let err = c.wait_for(WAIT, |s| s.responses > 0).await.unwrap_err();
        assert!(matches!(err, ClientError::Status(s) if s.code() == code));
    }
}

// --- raw scripted streams ---

/// A hand-driven delta stream.
struct RawDelta {
    tx: mpsc::UnboundedSender<DeltaDiscoveryRequest>,
    rx: Streaming<DeltaDiscoveryResponse>,
}

impl RawDelta {
    async fn open(addr: &str, token: &str) -> Self {
        let mut client = AggregatedDiscoveryServiceClient::connect(addr.to_owned())
            .await
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut request = Request::new(UnboundedReceiverStream::new(rx));
        request
            .metadata_mut()
            .insert(TOKEN_METADATA, token.parse().unwrap());
        let rx = client
            .delta_aggregated_resources(request)
            .await
            .unwrap()
            .into_inner();
        Self { tx, rx }
    }

    fn send(&self, req: DeltaDiscoveryRequest) {
        self.tx.send(req).unwrap();
    }

    async fn recv(&mut self) -> Result<DeltaDiscoveryResponse, tonic::Status> {
        let next = tokio::time::timeout(WAIT, self.rx.message()).await;
        next.expect("a response in time")?
            .ok_or_else(|| tonic::Status::ok("ended"))
    }
}

fn node(id: &str) -> Option<Node> {
    Some(Node {
        id: id.into(),
        ..Default::default()
    })
}

fn delta_req(type_url: &str) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: type_url.into(),
        ..Default::default()
    }
}

fn names(resp: &DeltaDiscoveryResponse) -> Vec<&str> {
    resp.resources.iter().map(|r| r.name.as_str()).collect()
}

#[tokio::test]
async fn raw_delta_nack_then_barrier() {
    let (source, addr) = setup().await;
    let mut raw = RawDelta::open(&addr, TOKEN).await;
    raw.send(DeltaDiscoveryRequest {
        node: node(NODE),
        ..delta_req(CLUSTER)
    });
    let cds = raw.recv().await.unwrap();
    assert_eq!(
        (cds.type_url.as_str(), names(&cds)),
        (CLUSTER, vec!["a", "b"])
    );
    assert_eq!(cds.nonce, "00000001");
    raw.send(DeltaDiscoveryRequest {
        response_nonce: cds.nonce.clone(),
        ..delta_req(CLUSTER)
    });

    source.set(NODE, base().cluster("b", 2));
    let update = raw.recv().await.unwrap();
    assert_eq!(
        (update.type_url.as_str(), names(&update)),
        (CLUSTER, vec!["b"])
    );
    raw.send(DeltaDiscoveryRequest {
        response_nonce: update.nonce.clone(),
        error_detail: Some(RpcStatus {
            code: 3,
            message: "cluster b: invalid".into(),
            details: Vec::new(),
        }),
        ..delta_req(CLUSTER)
    });
    // If the NACK caused a resend it would arrive before this answer.
    raw.send(delta_req(LISTENER));
    let lds = raw.recv().await.unwrap();
    assert_eq!((lds.type_url.as_str(), names(&lds)), (LISTENER, vec!["l"]));
    assert!(lds.nonce > update.nonce, "nonces rise");
}

#[tokio::test]
async fn raw_delta_protocol_errors() {
    let (_source, addr) = setup().await;
    let mut raw = RawDelta::open(&addr, TOKEN).await;
    raw.send(delta_req(CLUSTER));
    let err = raw.recv().await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "no node.id: {err:?}");

    let mut raw = RawDelta::open(&addr, TOKEN).await;
    raw.send(DeltaDiscoveryRequest {
        node: node(NODE),
        ..delta_req(CLUSTER)
    });
    raw.recv().await.unwrap();
    raw.send(DeltaDiscoveryRequest {
        node: node("api-sidecar-proxy"),
        ..delta_req(LISTENER)
    });
    let err = raw.recv().await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "node changed: {err:?}");
}

#[tokio::test]
async fn raw_sotw_stream() {
    let (source, addr) = setup().await;
    let mut client = AggregatedDiscoveryServiceClient::connect(addr)
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut request = Request::new(UnboundedReceiverStream::new(rx));
    request
        .metadata_mut()
        .insert(TOKEN_METADATA, TOKEN.parse().unwrap());
    let mut inbound = client
        .stream_aggregated_resources(request)
        .await
        .unwrap()
        .into_inner();
    let mut recv = async || -> DiscoveryResponse {
        let next = tokio::time::timeout(WAIT, inbound.message()).await;
        next.expect("in time").unwrap().expect("a response")
    };

    tx.send(DiscoveryRequest {
        node: node(NODE),
        type_url: CLUSTER.into(),
        ..Default::default()
    })
    .unwrap();
    let cds = recv().await;
    assert_eq!((cds.type_url.as_str(), cds.resources.len()), (CLUSTER, 2));
    tx.send(DiscoveryRequest {
        type_url: CLUSTER.into(),
        version_info: cds.version_info.clone(),
        response_nonce: cds.nonce.clone(),
        ..Default::default()
    })
    .unwrap();
    tx.send(DiscoveryRequest {
        type_url: ENDPOINT.into(),
        resource_names: vec!["a".into()],
        ..Default::default()
    })
    .unwrap();
    let eds = recv().await;
    assert_eq!((eds.type_url.as_str(), eds.resources.len()), (ENDPOINT, 1));
    tx.send(DiscoveryRequest {
        type_url: ENDPOINT.into(),
        resource_names: vec!["a".into()],
        version_info: eds.version_info.clone(),
        response_nonce: eds.nonce.clone(),
        ..Default::default()
    })
    .unwrap();

    source.set(NODE, base().cluster("c", 1));
    let cds2 = recv().await;
    assert_eq!(
        (cds2.type_url.as_str(), cds2.resources.len()),
        (CLUSTER, 3),
        "the full set"
    );
    assert_ne!(cds2.version_info, cds.version_info);
}
