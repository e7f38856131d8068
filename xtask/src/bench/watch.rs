//! `cargo xtask bench watch`: what parked blocking queries cost one `agent -dev`, and how
//! fast a hot write reaches all of its watchers.
//!
//! Phases, on one agent, over HTTP/2 connections (prior knowledge, cleartext; about 180
//! streams each, under the server's 200-stream limit), because one process may hold at most
//! `ulimit -n` sockets and 100,000 HTTP/1.1 connections do not fit:
//!
//! 1. KV: `--keys` keys with `--per-key` parked `GET /v1/kv/<key>?index=<current>&wait=10m`
//!    each, plus `--hot` parked on one hot key. Printed: RSS per connection and per parked
//!    query, the agent's CPU while everything is parked, then the time from a write of the
//!    hot key until each hot watcher has its answer, with a second client writing other keys
//!    one after another throughout (its write latency before and during the wake-up).
//!    No watcher of another key may wake.
//! 2. Health: `--instances` instances of `web`, `--health-watchers` parked
//!    `GET /v1/health/service/web?index=<current>&wait=10m`, then one instance's check turns
//!    critical: the time until each watcher has its answer (identical queries share one
//!    rendering per change).
//! 3. etcd, in the same run (unless `--no-etcd`): the same number of watches on the same
//!    keys through etcd's gRPC Watch API, as many per connection, then the same hot write
//!    (`watch/etcd.rs`). Printed beside skein's figures.

mod etcd;
mod h2;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::load::percentile;
use super::servers::{self, cpu_time, rss_kib};
use crate::proc::banner;
use h2::Conn;

/// Streams per connection (the server allows 200).
const STREAMS_PER_CONN: usize = 180;
/// Requests in flight while loading data.
const LOAD_CONCURRENCY: usize = 128;
/// How long the watchers may take to park, and a hot write to reach them all.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);
/// The blocking wait of every parked query (longer than the benchmark).
const WAIT: &str = "10m";

/// `bench watch [--keys N] [--per-key N] [--hot N] [--instances N] [--health-watchers N]
/// [--idle-seconds S] [--skein-bin PATH] [--no-etcd]`.
pub(crate) struct Options {
    keys: usize,
    per_key: usize,
    hot: usize,
    instances: usize,
    health_watchers: usize,
    idle_seconds: u64,
    skein_bin: Option<std::path::PathBuf>,
    etcd: bool,
}

impl Options {
    /// Parses the options (defaults: the 10,000 keys × 9 + 10,000 hot watchers).
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self {
            keys: 10_000,
            per_key: 9,
            hot: 10_000,
            instances: 1_000,
            health_watchers: 10_000,
            idle_seconds: 10,
            skein_bin: None,
            etcd: true,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().context(format!("{arg} needs a value"));
            match arg.as_str() {
                "--keys" => opts.keys = value()?.parse()?,
                "--per-key" => opts.per_key = value()?.parse()?,
                "--hot" => opts.hot = value()?.parse()?,
                "--instances" => opts.instances = value()?.parse()?,
                "--health-watchers" => opts.health_watchers = value()?.parse()?,
                "--idle-seconds" => opts.idle_seconds = value()?.parse()?,
                "--skein-bin" => opts.skein_bin = Some(value()?.into()),
                "--no-etcd" => opts.etcd = false,
                other => bail!("unknown option {other:?}"),
            }
        }
        Ok(opts)
    }

    fn parked(&self) -> usize {
        self.keys * self.per_key + self.hot
    }
}

/// Runs the benchmark.
pub(crate) fn run(opts: &Options) -> Result<()> {
    let scratch = tempfile::Builder::new().prefix("skein-bench-").tempdir()?;
    let extra = ["-log-level=warn".to_owned(), "-grpc-port=-1".to_owned()];
    let mut server = servers::start_skein_dns(scratch.path(), opts.skein_bin.as_deref(), &extra)?;
    let addr: SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .context("agent address")?;
    let pid = server.guard.pid();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let measured = rt.block_on(measure(addr, pid, opts));
    let version = server.version.clone();
    server.guard.stop()?;
    let m = measured.with_context(|| format!("log tail:\n{}", server.log_tail()))?;
    let peer = if opts.etcd {
        Some(measure_etcd(&rt, scratch.path(), opts)?)
    } else {
        None
    };
    report(opts, &version, &m, peer.as_ref());
    Ok(())
}

/// Starts etcd and measures the same watchers on it.
fn measure_etcd(
    rt: &tokio::runtime::Runtime,
    scratch: &std::path::Path,
    opts: &Options,
) -> Result<(String, Parked)> {
    let mut server = servers::start(servers::System::Etcd, scratch, None)?;
    let addr: SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .context("etcd address")?;
    let measured = rt.block_on(etcd::measure(addr, server.guard.pid(), opts));
    let version = server.version.clone();
    server.guard.stop()?;
    let m = measured.with_context(|| format!("etcd log tail:\n{}", server.log_tail()))?;
    Ok((version, m))
}

/// Everything measured.
struct Measured {
    parked: Parked,
    writes_before: Vec<Duration>,
    writes_during: Vec<Duration>,
    health: Option<HealthRun>,
    rss_end_kib: u64,
}

/// What parking the watchers cost a server and how fast the hot write
/// reached them, measured alike on skein and on etcd.
struct Parked {
    conns: usize,
    rss_base_kib: u64,
    rss_connected_kib: u64,
    rss_parked_kib: u64,
    park_time: Duration,
    idle_cpu: Duration,
    hot_ack: Duration,
    hot: Vec<Duration>,
    stray_wakeups: usize,
}

/// When each watcher had its answer.
#[derive(Clone)]
struct Arrivals(Arc<Mutex<Vec<Instant>>>);

impl Arrivals {
    fn with_capacity(n: usize) -> Self {
        Self(Arc::new(Mutex::new(Vec::with_capacity(n))))
    }

    fn record(&self) {
        self.0.lock().map(|mut v| v.push(Instant::now())).ok();
    }

    /// Waits until `n` watchers had their answer.
    async fn wait_for(&self, n: usize) -> Result<()> {
        wait_until(|| self.0.lock().map(|v| v.len()).unwrap_or(0) >= n).await
    }

    /// How long after `t0` each answer came, sorted.
    fn since(&self, t0: Instant) -> Vec<Duration> {
        let mut delays: Vec<Duration> = self
            .0
            .lock()
            .map(|v| v.iter().map(|at| *at - t0).collect())
            .unwrap_or_default();
        delays.sort();
        delays
    }
}

struct HealthRun {
    instances: usize,
    body_bytes: usize,
    latencies: Vec<Duration>,
}

async fn measure(addr: SocketAddr, pid: u32, opts: &Options) -> Result<Measured> {
    let control = Conn::open(addr).await?;
    banner(&format!("writing {} keys", opts.keys));
    let keys: Vec<String> = (0..opts.keys).map(|i| format!("bench/k{i:05}")).collect();
    load_keys(&control, &keys).await?;
    control.put("/v1/kv/bench/hot", "v0").await?;
    let indexes = key_indexes(&control, &keys).await?;
    let hot_index = control.get("/v1/kv/bench/hot").await?.index;

    let rss_base_kib = rss(pid)?;
    let total = opts.parked();
    let conns = open_conns(addr, total.div_ceil(STREAMS_PER_CONN).max(1)).await?;
    let rss_connected_kib = rss(pid)?;

    banner(&format!(
        "parking {total} blocking queries on {} connections",
        conns.len()
    ));
    let started = Instant::now();
    let stray = Arc::new(AtomicUsize::new(0));
    let hot_arrivals = Arrivals::with_capacity(opts.hot);
    let mut parked = JoinSet::new();
    let mut slot = 0usize;
    for (key, index) in keys.iter().zip(&indexes) {
        for _ in 0..opts.per_key {
            let conn = conns[slot % conns.len()].clone();
            slot += 1;
            let path = format!("/v1/kv/{key}?index={index}&wait={WAIT}");
            let stray = stray.clone();
            parked.spawn(async move {
                if conn.get(&path).await.is_ok() {
                    stray.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }
    for _ in 0..opts.hot {
        let conn = conns[slot % conns.len()].clone();
        slot += 1;
        let path = format!("/v1/kv/bench/hot?index={hot_index}&wait={WAIT}");
        let arrivals = hot_arrivals.clone();
        parked.spawn(async move {
            if let Ok(a) = conn.get(&path).await
                && a.status.is_success()
            {
                arrivals.record();
            }
        });
    }
    wait_parked(&control, total).await?;
    let park_time = started.elapsed();
    let rss_parked_kib = rss(pid)?;

    banner(&format!("idle for {} s", opts.idle_seconds));
    let idle_window = Duration::from_secs(opts.idle_seconds);
    let cpu_before = cpu_time(pid).context("agent CPU time")?;
    tokio::time::sleep(idle_window).await;
    let idle_cpu = cpu_time(pid).context("agent CPU time")? - cpu_before;

    banner("writing the hot key");
    let writer = Writer::start(Conn::open(addr).await?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    control.put("/v1/kv/bench/hot", "v1").await?;
    let hot_ack = t0.elapsed();
    hot_arrivals.wait_for(opts.hot).await?;
    let t_last = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let writes = writer.stop().await;
    let writes_before = writes
        .iter()
        .filter(|(at, _)| *at < t0)
        .map(|(_, d)| *d)
        .collect();
    let writes_during = writes
        .iter()
        .filter(|(at, _)| *at >= t0 && *at <= t_last)
        .map(|(_, d)| *d)
        .collect();
    let hot = hot_arrivals.since(t0);
    let stray_wakeups = stray.load(Ordering::Relaxed);

    let health = if opts.health_watchers > 0 {
        Some(health_run(&control, &conns, opts).await?)
    } else {
        None
    };
    let rss_end_kib = rss(pid)?;
    parked.abort_all();
    Ok(Measured {
        parked: Parked {
            conns: conns.len(),
            rss_base_kib,
            rss_connected_kib,
            rss_parked_kib,
            park_time,
            idle_cpu,
            hot_ack,
            hot,
            stray_wakeups,
        },
        writes_before,
        writes_during,
        health,
        rss_end_kib,
    })
}

fn rss(pid: u32) -> Result<u64> {
    rss_kib(pid).context("agent RSS")
}

/// Runs `f` over `items` with at most [`LOAD_CONCURRENCY`] in flight.
async fn for_each<T, F, Fut>(items: Vec<T>, f: F) -> Result<()>
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for item in items {
        if set.len() >= LOAD_CONCURRENCY {
            set.join_next().await.context("join")???;
        }
        set.spawn(f(item));
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(())
}

async fn load_keys(conn: &Conn, keys: &[String]) -> Result<()> {
    let conn = conn.clone();
    for_each(keys.to_vec(), move |key| {
        let conn = conn.clone();
        async move {
            let a = conn.put(&format!("/v1/kv/{key}"), "v0").await?;
            if !a.status.is_success() {
                bail!("PUT {key}: {}", a.status);
            }
            Ok(())
        }
    })
    .await
}

async fn key_indexes(conn: &Conn, keys: &[String]) -> Result<Vec<u64>> {
    let found = Arc::new(Mutex::new(vec![0u64; keys.len()]));
    let conn = conn.clone();
    let out = found.clone();
    let items: Vec<(usize, String)> = keys.iter().cloned().enumerate().collect();
    for_each(items, move |(i, key)| {
        let (conn, out) = (conn.clone(), out.clone());
        async move {
            let a = conn.get(&format!("/v1/kv/{key}")).await?;
            out.lock().map(|mut v| v[i] = a.index).ok();
            Ok(())
        }
    })
    .await?;
    let v = found.lock().map(|v| v.clone()).unwrap_or_default();
    Ok(v)
}

async fn open_conns(addr: SocketAddr, n: usize) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let conn = Conn::open(addr).await?;
        conn.get("/v1/status/leader").await?;
        conns.push(conn);
    }
    Ok(conns)
}

/// Waits until the agent reports at least `n` parked watch registrations.
async fn wait_parked(control: &Conn, n: usize) -> Result<()> {
    let deadline = Instant::now() + PHASE_TIMEOUT;
    loop {
        let body = control.get("/v1/agent/metrics").await?.body;
        let metrics: Value = serde_json::from_slice(&body)?;
        let parked = metrics["Gauges"]
            .as_array()
            .and_then(|g| {
                g.iter()
                    .find(|g| g["Name"] == "skein.blocking.parked_watches")
            })
            .and_then(|g| g["Value"].as_f64())
            .unwrap_or(0.0) as usize;
        if parked >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {parked} of {n} queries parked after {PHASE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_until(done: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + PHASE_TIMEOUT;
    while !done() {
        if Instant::now() > deadline {
            bail!("not every watcher answered within {PHASE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Writes other keys one after another, timing each write.
struct Writer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(Instant, Duration)>>,
}

impl Writer {
    fn start(conn: Conn) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            let mut i = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let at = Instant::now();
                if conn
                    .put(&format!("/v1/kv/bench/other{}", i % 64), "w")
                    .await
                    .is_ok()
                {
                    out.push((at, at.elapsed()));
                }
                i += 1;
            }
            out
        });
        Self { stop, task }
    }

    async fn stop(self) -> Vec<(Instant, Duration)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// Phase 2: many identical health watchers of a large service, one check flip.
async fn health_run(control: &Conn, conns: &[Conn], opts: &Options) -> Result<HealthRun> {
    banner(&format!("registering {} instances of web", opts.instances));
    let conn = control.clone();
    for_each((0..opts.instances).collect(), move |i| {
        let conn = conn.clone();
        async move {
            let reg = registration(i, "passing");
            let a = conn.put("/v1/catalog/register", reg.to_string()).await?;
            if !a.status.is_success() {
                bail!("register web-{i}: {}", a.status);
            }
            Ok(())
        }
    })
    .await?;
    let first = control.get("/v1/health/service/web").await?;
    let index = first.index;
    banner(&format!("parking {} health watchers", opts.health_watchers));
    let base = control
        .get("/v1/agent/metrics")
        .await
        .ok()
        .and_then(|a| serde_json::from_slice::<Value>(&a.body).ok())
        .and_then(|m| {
            m["Gauges"]
                .as_array()?
                .iter()
                .find(|g| g["Name"] == "skein.blocking.parked_watches")?["Value"]
                .as_f64()
        })
        .unwrap_or(0.0) as usize;
    let arrivals = Arrivals::with_capacity(opts.health_watchers);
    let mut set = JoinSet::new();
    for w in 0..opts.health_watchers {
        let conn = conns[w % conns.len()].clone();
        let path = format!("/v1/health/service/web?index={index}&wait={WAIT}");
        let arrivals = arrivals.clone();
        set.spawn(async move {
            if let Ok(a) = conn.get(&path).await
                && a.status.is_success()
            {
                arrivals.record();
            }
        });
    }
    wait_parked(control, base + opts.health_watchers).await?;
    let t0 = Instant::now();
    let flip = registration(0, "critical");
    control
        .put("/v1/catalog/register", flip.to_string())
        .await?;
    arrivals.wait_for(opts.health_watchers).await?;
    let latencies = arrivals.since(t0);
    set.abort_all();
    Ok(HealthRun {
        instances: opts.instances,
        body_bytes: first.body.len(),
        latencies,
    })
}

/// Instance `i` of `web` on its own node, with a service check in `status`.
fn registration(i: usize, status: &str) -> Value {
    json!({
        "Node": format!("web-node-{i:05}"),
        "Address": format!("10.{}.{}.{}", i / 65_536 % 256, i / 256 % 256, i % 256),
        "Service": {"ID": format!("web-{i}"), "Service": "web", "Port": 8080, "Tags": ["v1"]},
        "Check": {"CheckID": format!("web-{i}-check"), "Name": "web", "ServiceID": format!("web-{i}"),
                  "Status": status},
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    percentile(sorted, p).map_or(0.0, ms)
}

/// `p50 / p99 / max` of sorted latencies, in ms.
fn spread(sorted: &[Duration]) -> String {
    format!(
        "{:.0} / {:.0} / {:.0} ms",
        pct(sorted, 50.0),
        pct(sorted, 99.0),
        sorted.last().copied().map_or(0.0, ms)
    )
}

/// Bytes per item of the RSS growth from `from_kib` to `to_kib`.
fn per(to_kib: u64, from_kib: u64, items: usize) -> f64 {
    to_kib.saturating_sub(from_kib) as f64 * 1024.0 / items.max(1) as f64
}

/// Three RSS readings in MiB.
fn mib3(a: u64, b: u64, c: u64) -> String {
    let mib = |k: u64| k as f64 / 1024.0;
    format!("{:.1} / {:.1} / {:.1} MiB", mib(a), mib(b), mib(c))
}

fn report(opts: &Options, version: &str, m: &Measured, peer: Option<&(String, Parked)>) {
    let total = opts.parked();
    let p = &m.parked;
    let idle_pct = |cpu: Duration| cpu.as_secs_f64() / opts.idle_seconds.max(1) as f64 * 100.0;
    let mut before = m.writes_before.clone();
    let mut during = m.writes_during.clone();
    before.sort();
    during.sort();
    let e = peer.map(|(_, e)| e);
    // The etcd cell of a row, or the published figure when etcd did not run.
    let etcd =
        |f: &dyn Fn(&Parked) -> String, published: &str| e.map_or_else(|| published.to_owned(), f);
    let peer_name = peer.map_or("etcd (published figures, not run)".to_owned(), |(v, _)| {
        format!("{v} (same run, gRPC Watch)")
    });
    let mut lines = vec![
        format!("Command: `cargo xtask bench watch`, {version}, 2 cores."),
        String::new(),
        format!("| measure | skein | {peer_name} |"),
        "|---|--:|--:|".to_owned(),
        format!(
            "| parked blocking queries / watches | {total} ({} keys × {} + {} on one hot key) | {} |",
            opts.keys,
            opts.per_key,
            opts.hot,
            etcd(&|_| format!("{total}, the same keys"), "")
        ),
        format!(
            "| HTTP/2 connections | {} | {} |",
            p.conns,
            etcd(&|e| e.conns.to_string(), "")
        ),
        format!(
            "| time to park them all | {:.1} s | {} |",
            p.park_time.as_secs_f64(),
            etcd(&|e| format!("{:.1} s", e.park_time.as_secs_f64()), "")
        ),
        format!(
            "| RSS: base / connected / parked | {} | {} |",
            mib3(p.rss_base_kib, p.rss_connected_kib, p.rss_parked_kib),
            etcd(
                &|e| mib3(e.rss_base_kib, e.rss_connected_kib, e.rss_parked_kib),
                ""
            )
        ),
        format!(
            "| RSS per connection | {:.1} KiB | {} |",
            per(p.rss_connected_kib, p.rss_base_kib, p.conns) / 1024.0,
            etcd(
                &|e| format!(
                    "{:.1} KiB",
                    per(e.rss_connected_kib, e.rss_base_kib, e.conns) / 1024.0
                ),
                "about 17 KB"
            )
        ),
        format!(
            "| RSS per parked query / watch | {:.0} B | {} |",
            per(p.rss_parked_kib, p.rss_connected_kib, total),
            etcd(
                &|e| format!("{:.0} B", per(e.rss_parked_kib, e.rss_connected_kib, total)),
                "about 350 B per watch"
            )
        ),
        format!(
            "| server CPU while parked ({} s) | {:.2} s ({:.1} %) | {} |",
            opts.idle_seconds,
            p.idle_cpu.as_secs_f64(),
            idle_pct(p.idle_cpu),
            etcd(
                &|e| format!(
                    "{:.2} s ({:.1} %)",
                    e.idle_cpu.as_secs_f64(),
                    idle_pct(e.idle_cpu)
                ),
                ""
            )
        ),
        format!(
            "| hot write acknowledged | {:.1} ms | {} |",
            ms(p.hot_ack),
            etcd(&|e| format!("{:.1} ms", ms(e.hot_ack)), "")
        ),
        format!(
            "| hot watchers answered | {} of {} | {} |",
            p.hot.len(),
            opts.hot,
            etcd(&|e| format!("{} of {}", e.hot.len(), opts.hot), "")
        ),
        format!(
            "| hot wake-up p50 / p99 / max | {} | {} |",
            spread(&p.hot),
            etcd(&|e| spread(&e.hot), "")
        ),
        format!(
            "| watchers of other keys woken | {} | {} |",
            p.stray_wakeups,
            etcd(&|e| e.stray_wakeups.to_string(), "")
        ),
        format!(
            "| other-key writes before: n, p50 / p99 | {}, {:.2} / {:.2} ms | |",
            before.len(),
            pct(&before, 50.0),
            pct(&before, 99.0)
        ),
        format!(
            "| other-key writes during the wake-up: n, p50 / p99 / max | {}, {:.2} / {:.2} / {:.2} ms | |",
            during.len(),
            pct(&during, 50.0),
            pct(&during, 99.0),
            during.last().copied().map_or(0.0, ms)
        ),
    ];
    if let Some(h) = &m.health {
        lines.push(format!(
            "| health watchers of one {}-instance service ({} KiB answer) answered | {} of {} | |",
            h.instances,
            h.body_bytes / 1024,
            h.latencies.len(),
            opts.health_watchers
        ));
        lines.push(format!(
            "| health wake-up p50 / p99 / max | {} | |",
            spread(&h.latencies)
        ));
    }
    lines.push(format!(
        "| RSS at the end | {:.1} MiB | |",
        m.rss_end_kib as f64 / 1024.0
    ));
    banner("result (Markdown for docs/benchmarks.md)");
    for l in lines {
        println!("{l}");
    }
}
