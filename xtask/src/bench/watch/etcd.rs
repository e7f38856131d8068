//! The same watchers on etcd, measured in the same run: etcd's own gRPC
//! Watch API (`/etcdserverpb.Watch/Watch`), one bidirectional stream per
//! HTTP/2 connection carrying as many watches as skein's connections carry
//! parked queries, on the same keys. Only the fields the benchmark reads
//! are declared; prost skips the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt as _;
use tokio::task::JoinSet;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use super::{Arrivals, Options, Parked, STREAMS_PER_CONN, wait_until};
use crate::bench::servers::{cpu_time, rss_kib};
use crate::proc::banner;

const WATCH: &str = "/etcdserverpb.Watch/Watch";
const PUT: &str = "/etcdserverpb.KV/Put";
const HOT: &[u8] = b"bench/hot";

/// `WatchRequest` with its `create_request` (field 1 of the `request_union` oneof).
#[derive(Clone, PartialEq, prost::Message)]
struct WatchRequest {
    #[prost(message, optional, tag = "1")]
    create_request: Option<WatchCreateRequest>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WatchCreateRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WatchResponse {
    #[prost(bool, tag = "3")]
    created: bool,
    #[prost(bool, tag = "4")]
    canceled: bool,
    #[prost(message, repeated, tag = "11")]
    events: Vec<Event>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(message, optional, tag = "2")]
    kv: Option<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// An answer whose fields the benchmark does not read.
#[derive(Clone, PartialEq, prost::Message)]
struct Ignored {}

/// Creates the watches of `opts` on the etcd at `addr` (process `pid`),
/// idles, then writes the hot key.
pub(super) async fn measure(addr: SocketAddr, pid: u32, opts: &Options) -> Result<Parked> {
    let rss = |what: &str| rss_kib(pid).with_context(|| format!("etcd RSS ({what})"));
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?;
    let control = endpoint.connect().await.context("connecting to etcd")?;
    put(&control, HOT, b"v0").await?;
    let rss_base_kib = rss("base")?;

    let keys = watch_keys(opts);
    let chunks: Vec<Vec<Vec<u8>>> = keys
        .chunks(STREAMS_PER_CONN)
        .map(<[Vec<u8>]>::to_vec)
        .collect();
    let mut conns = Vec::with_capacity(chunks.len());
    for _ in 0..chunks.len() {
        conns.push(endpoint.connect().await.context("connecting to etcd")?);
    }
    let rss_connected_kib = rss("connected")?;

    banner(&format!(
        "etcd: creating {} watches on {} connections",
        keys.len(),
        conns.len()
    ));
    let started = Instant::now();
    let created = Arc::new(AtomicUsize::new(0));
    let stray = Arc::new(AtomicUsize::new(0));
    let arrivals = Arrivals::with_capacity(opts.hot);
    let mut streams = JoinSet::new();
    for (conn, chunk) in conns.iter().zip(chunks) {
        let seen = Seen {
            created: created.clone(),
            stray: stray.clone(),
            hot: arrivals.clone(),
        };
        streams.spawn(watch_stream(conn.clone(), chunk, seen));
    }
    let total = keys.len();
    wait_until(|| created.load(Ordering::Relaxed) >= total).await?;
    let park_time = started.elapsed();
    let rss_parked_kib = rss("parked")?;

    banner(&format!("etcd: idle for {} s", opts.idle_seconds));
    let cpu_before = cpu_time(pid).context("etcd CPU time")?;
    tokio::time::sleep(Duration::from_secs(opts.idle_seconds)).await;
    let idle_cpu = cpu_time(pid).context("etcd CPU time")? - cpu_before;

    banner("etcd: writing the hot key");
    let t0 = Instant::now();
    put(&control, HOT, b"v1").await?;
    let hot_ack = t0.elapsed();
    arrivals.wait_for(opts.hot).await?;
    let hot = arrivals.since(t0);
    streams.abort_all();
    Ok(Parked {
        conns: conns.len(),
        rss_base_kib,
        rss_connected_kib,
        rss_parked_kib,
        park_time,
        idle_cpu,
        hot_ack,
        hot,
        stray_wakeups: stray.load(Ordering::Relaxed),
    })
}

/// The watched keys, in skein's order: each plain key `per_key` times,
/// then the hot key `hot` times.
fn watch_keys(opts: &Options) -> Vec<Vec<u8>> {
    let plain = (0..opts.keys)
        .flat_map(|i| std::iter::repeat_n(format!("bench/k{i:05}").into_bytes(), opts.per_key));
    plain
        .chain(std::iter::repeat_n(HOT.to_vec(), opts.hot))
        .collect()
}

/// Counters the streams report into.
struct Seen {
    created: Arc<AtomicUsize>,
    stray: Arc<AtomicUsize>,
    hot: Arrivals,
}

/// One Watch stream on `conn` with a watch per key; runs until aborted.
/// The request side stays open: etcd ends a stream its client half-closes.
async fn watch_stream(conn: Channel, keys: Vec<Vec<u8>>, seen: Seen) -> Result<()> {
    let creates = keys.into_iter().map(|key| WatchRequest {
        create_request: Some(WatchCreateRequest { key }),
    });
    let requests = futures::stream::iter(creates).chain(futures::stream::pending());
    let mut grpc = tonic::client::Grpc::new(conn);
    grpc.ready().await.context("etcd watch stream")?;
    let codec = ProstCodec::<WatchRequest, WatchResponse>::default();
    let mut responses = grpc
        .streaming(
            tonic::Request::new(requests),
            PathAndQuery::from_static(WATCH),
            codec,
        )
        .await?
        .into_inner();
    while let Some(response) = responses.message().await? {
        if response.created {
            seen.created.fetch_add(1, Ordering::Relaxed);
        }
        if response.canceled {
            anyhow::bail!("etcd canceled a watch");
        }
        for event in &response.events {
            if event.kv.as_ref().is_some_and(|kv| kv.key == HOT) {
                seen.hot.record();
            } else {
                seen.stray.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// `KV.Put`, waiting for etcd's answer (the write is committed then).
async fn put(conn: &Channel, key: &[u8], value: &[u8]) -> Result<()> {
    let mut grpc = tonic::client::Grpc::new(conn.clone());
    grpc.ready().await.context("etcd KV")?;
    let request = PutRequest {
        key: key.to_vec(),
        value: value.to_vec(),
    };
    let codec = ProstCodec::<PutRequest, Ignored>::default();
    grpc.unary(
        tonic::Request::new(request),
        PathAndQuery::from_static(PUT),
        codec,
    )
    .await
    .context("etcd put")?;
    Ok(())
}
