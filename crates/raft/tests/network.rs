//! Replication between two real Raft servers over skein's gRPC transport on
//! loopback: AppendEntries travel over one long-lived `AppendStream` call per
//! replication client, a peer without that method gets unary calls, and a
//! stream whose connection breaks is reopened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use openraft::BasicNode;
use skein_raft::{
    LogStore, NetworkFactory, Raft, RaftService, SharedStore, StateMachine, open_database,
    raft_config,
};
use skein_state::{Command, Op, Store};
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tower::Service;

/// Calls served, by gRPC method name.
type Calls = Arc<Mutex<HashMap<String, usize>>>;

/// Counts the calls a server receives and, unless told to serve them,
/// answers `AppendStream` as an older server would: unimplemented.
#[derive(Clone)]
struct Gate<S> {
    inner: S,
    calls: Calls,
    serve_streams: bool,
}

impl<S> NamedService for Gate<S> {
    const NAME: &'static str = "skein.raft.v1.Raft";
}

impl<S> Service<http::Request<Body>> for Gate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        *self
            .calls
            .lock()
            .unwrap()
            .entry(method.clone())
            .or_default() += 1;
        if method == "AppendStream" && !self.serve_streams {
            return Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) });
        }
        Box::pin(self.inner.call(req))
    }
}

struct Node {
    raft: Raft,
    addr: SocketAddr,
    store: SharedStore,
    calls: Calls,
}

fn serve(raft: &Raft, listener: tokio::net::TcpListener, calls: &Calls, streams: bool) {
    let gate = Gate {
        inner: RaftService::new(raft.clone()).into_server(),
        calls: calls.clone(),
        serve_streams: streams,
    };
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(gate)
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .expect("serve");
    });
}

async fn start(id: u64, serve_streams: bool) -> Node {
    let db = open_database(None).expect("db");
    let log = LogStore::new(db.clone()).expect("log store");
    let store: SharedStore = Arc::new(RwLock::new(Store::new()));
    let sm = StateMachine::new(store.clone(), db).expect("state machine");
    let config = raft_config(1, 100_000, 10_000).expect("config");
    let raft = Raft::new(id, config, NetworkFactory::new(None), log, sm)
        .await
        .expect("raft");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let calls = Calls::default();
    serve(&raft, listener, &calls, serve_streams);
    Node {
        raft,
        addr,
        store,
        calls,
    }
}

/// A leader (node 1) with node 2, reached at `follower`, as its learner.
async fn group(follower: SocketAddr) -> Node {
    let leader = start(1, true).await;
    let members = BTreeMap::from([(1, BasicNode::new(leader.addr.to_string()))]);
    leader.raft.initialize(members).await.expect("initialize");
    leader
        .raft
        .wait(Some(Duration::from_secs(10)))
        .applied_index_at_least(Some(1), "node 1 leads, its first entry applied")
        .await
        .expect("leader");
    leader
        .raft
        .add_learner(2, BasicNode::new(follower.to_string()), true)
        .await
        .expect("add learner");
    leader
}

/// A TCP relay to a server whose connections the test can cut.
struct Relay {
    addr: SocketAddr,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn to(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let tracked = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let relayed = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(relayed);
            }
        });
        Self { addr, connections }
    }

    /// Closes every connection relayed so far.
    fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

/// Writes `k/<i>` for each `i` through the leader; the index of the last.
async fn write(leader: &Node, keys: std::ops::Range<usize>) -> u64 {
    let mut last = 0;
    for i in keys {
        let op = Op::KvSet {
            key: format!("k/{i}"),
            value: format!("v{i}").into_bytes(),
            flags: 0,
        };
        let written = leader
            .raft
            .client_write(Command { at_ms: 0, op })
            .await
            .expect("write");
        last = written.log_id.index;
    }
    last
}

/// Waits until `node` has applied `index`.
async fn caught_up(node: &Node, index: u64) {
    node.raft
        .wait(Some(Duration::from_secs(10)))
        .applied_index_at_least(Some(index), "follower caught up")
        .await
        .expect("caught up");
}

fn value(node: &Node, key: &str) -> Option<Vec<u8>> {
    node.store
        .read()
        .unwrap()
        .kv_get(key)
        .1
        .map(|e| e.value.to_vec())
}

fn calls(node: &Node, method: &str) -> usize {
    node.calls.lock().unwrap().get(method).copied().unwrap_or(0)
}

/// Replicates 50 writes to a learner that serves streams or not, checks
/// they arrived and that the leader tried a stream; the learner and the
/// unary appends it received meanwhile.
async fn replicate_50(serve_streams: bool) -> (Node, usize) {
    let follower = start(2, serve_streams).await;
    let leader = group(follower.addr).await;
    let unary_before = calls(&follower, "AppendEntries");
    let last = write(&leader, 0..50).await;
    caught_up(&follower, last).await;
    assert_eq!(value(&follower, "k/49"), Some(b"v49".to_vec()));
    assert!(
        calls(&follower, "AppendStream") >= 1,
        "{:?}",
        follower.calls
    );
    let unary = calls(&follower, "AppendEntries") - unary_before;
    (follower, unary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_travel_over_one_stream() {
    let (follower, unary) = replicate_50(true).await;
    assert!(
        unary <= 2,
        "50 writes took {unary} unary calls: {:?}",
        follower.calls
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_without_streams_gets_unary_calls() {
    let (follower, unary) = replicate_50(false).await;
    // openraft batches what queued meanwhile: fewer calls than writes.
    assert!(unary >= 15, "{:?}", follower.calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_stream_is_reopened() {
    let follower = start(2, true).await;
    let relay = Relay::to(follower.addr).await;
    let leader = group(relay.addr).await;
    let last = write(&leader, 0..10).await;
    caught_up(&follower, last).await;
    let streams = calls(&follower, "AppendStream");

    // The connection carrying the stream breaks; the leader reconnects.
    relay.cut();
    let last = write(&leader, 10..20).await;
    caught_up(&follower, last).await;
    assert_eq!(value(&follower, "k/19"), Some(b"v19".to_vec()));
    assert!(
        calls(&follower, "AppendStream") > streams,
        "{:?}",
        follower.calls
    );
}
