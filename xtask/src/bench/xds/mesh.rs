//! The data path: the latency two Envoy sidecars (started by `skein connect envoy`, configured
//! by the agent) add to an HTTP request, against the same request sent straight to the
//! backend, both at a fixed rate.
//!
//! ```text
//!  load ──► web's upstream listener (Envoy) ══mTLS══► api's public listener (Envoy) ──► backend
//!  load ─────────────────────────────────────────────────────────────────────────────► backend
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::super::load;
use super::super::servers::{self, Server};
use super::register;
use crate::proc::{ChildGuard, banner, display, log_tail};

/// Threads sending requests; each owns one connection when connections are kept alive.
pub(super) const WORKERS: usize = 8;
/// How long the mesh may take to carry a first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests are counted late if they start this long after their scheduled time.
const LATE: Duration = Duration::from_millis(1);
/// What the backend answers.
const BODY: &str = "ok";

/// Latencies of one fixed-rate run.
pub(super) struct Run {
    pub(super) sorted: Vec<Duration>,
    pub(super) errors: usize,
    pub(super) first_error: Option<String>,
    /// Requests that started more than [`LATE`] after their time (the generator fell behind).
    pub(super) late: usize,
}

/// The four runs: direct and through the sidecars, with kept-alive and new connections.
pub(super) struct Measured {
    pub(super) envoy_version: String,
    pub(super) rate: u32,
    pub(super) seconds: u64,
    pub(super) direct_keepalive: Run,
    pub(super) mesh_keepalive: Run,
    pub(super) direct_new: Run,
    pub(super) mesh_new: Run,
}

/// Where requests go.
struct Ports {
    direct: u16,
    mesh: u16,
}

/// Registers `api` (the in-process backend) and `web` with sidecars, starts both Envoys,
/// waits for traffic to flow, then runs the fixed-rate load four times.
pub(super) fn measure(
    server: &Server,
    skein: &Path,
    envoy: &Path,
    scratch: &Path,
    rate: u32,
    seconds: u64,
) -> Result<Measured> {
    banner("two sidecars: register api and web, start their Envoys");
    let ports = setup(server)?;
    let grpc = server
        .ready_addr("grpc")
        .context("the ready line names no gRPC address")?;
    let mut envoys = Vec::new();
    for service in ["api", "web"] {
        envoys.push(start_envoy(server, skein, envoy, grpc, service, scratch)?);
    }
    let ready = wait_flowing(ports.mesh, &mut envoys);
    ready.with_context(|| envoy_logs(scratch))?;
    let duration = Duration::from_secs(seconds);
    let run = |port: u16, keep_alive: bool, what: &str| -> Run {
        let _ = fixed_rate(port, keep_alive, rate, Duration::from_secs(1));
        let r = fixed_rate(port, keep_alive, rate, duration);
        print_run(what, &r);
        r
    };
    banner(&format!("{rate} requests/s for {seconds} s each"));
    let measured = Measured {
        envoy_version: envoy_version(envoy),
        rate,
        seconds,
        direct_keepalive: run(ports.direct, true, "direct, kept-alive connections"),
        mesh_keepalive: run(ports.mesh, true, "two sidecars, kept-alive connections"),
        direct_new: run(ports.direct, false, "direct, a new connection per request"),
        mesh_new: run(
            ports.mesh,
            false,
            "two sidecars, a new connection per request",
        ),
    };
    for mut e in envoys {
        e.stop()?;
    }
    Ok(measured)
}

fn setup(server: &Server) -> Result<Ports> {
    let backend = start_backend()?;
    let [api_sidecar, web, web_sidecar, upstream] =
        <[u16; 4]>::try_from(servers::free_ports(4)?)
            .map_err(|_| anyhow::anyhow!("invariant: free_ports(4) returns 4 ports"))?;
    let agent = load::agent();
    register(
        &agent,
        server,
        &with_sidecar("api", backend, api_sidecar, json!([])),
    )?;
    let upstreams = json!([{"DestinationName": "api", "LocalBindPort": upstream}]);
    register(
        &agent,
        server,
        &with_sidecar("web", web, web_sidecar, upstreams),
    )?;
    Ok(Ports {
        direct: backend,
        mesh: upstream,
    })
}

/// `name` on `port`, with a sidecar on `sidecar` checked over TCP every second.
fn with_sidecar(
    name: &str,
    port: u16,
    sidecar: u16,
    upstreams: serde_json::Value,
) -> serde_json::Value {
    json!({
        "Name": name, "ID": name, "Port": port,
        "Connect": {"SidecarService": {
            "Port": sidecar,
            "Check": {"TCP": format!("127.0.0.1:{sidecar}"), "Interval": "1s"},
            "Proxy": {"Upstreams": upstreams},
        }},
    })
}

/// `skein connect envoy -sidecar-for <service>`, which execs Envoy (one worker thread).
fn start_envoy(
    server: &Server,
    skein: &Path,
    envoy: &Path,
    grpc: SocketAddr,
    service: &str,
    scratch: &Path,
) -> Result<ChildGuard> {
    let admin = servers::free_ports(1)?[0];
    let http = server.base.trim_start_matches("http://");
    let mut cmd = Command::new(skein);
    cmd.args(["connect", "envoy", "-sidecar-for", service])
        .arg(format!("-http-addr={http}"))
        .arg(format!("-grpc-addr={grpc}"))
        .arg(format!("-admin-bind=127.0.0.1:{admin}"))
        .arg(format!("-envoy-binary={}", envoy.display()))
        .args(["--", "--concurrency", "1", "--log-level", "warn"]);
    println!("    $ {}", display(&cmd));
    let log = scratch.join(format!("envoy-{service}.log"));
    ChildGuard::spawn(&format!("envoy ({service})"), &mut cmd, &log)
}

/// Sends requests through the mesh until one is answered by the backend.
fn wait_flowing(port: u16, envoys: &mut [ChildGuard]) -> Result<()> {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < READY_TIMEOUT {
        for e in envoys.iter_mut() {
            if let Some(status) = e.exited()? {
                bail!("an Envoy exited ({status})");
            }
        }
        match new_connection(port) {
            Ok(()) => {
                println!(
                    "    the mesh carries requests after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            Err(e) => last = format!("{e:#}"),
        }
        thread::sleep(Duration::from_millis(200));
    }
    bail!("no request through the mesh within {READY_TIMEOUT:?}; last error: {last}")
}

fn envoy_logs(scratch: &Path) -> String {
    ["api", "web"]
        .map(|s| {
            let log = scratch.join(format!("envoy-{s}.log"));
            format!("envoy ({s}) log tail:\n{}", log_tail(&log, 20))
        })
        .join("\n")
}

/// `envoy 1.40.0`, from `envoy --version`.
fn envoy_version(envoy: &Path) -> String {
    let out = Command::new(envoy).arg("--version").output();
    let text = out.map_or_else(
        |_| String::new(),
        |o| String::from_utf8_lossy(&o.stdout).into_owned(),
    );
    // `<path>  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL`
    text.split_once("version:")
        .and_then(|(_, v)| v.split('/').nth(1))
        .map_or_else(|| "envoy ?".to_owned(), |v| format!("envoy {v}"))
}

fn print_run(what: &str, r: &Run) {
    let ms = |p: f64| load::percentile(&r.sorted, p).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    println!(
        "    {what:<44} p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms  {} ok, {} errors, {} late",
        ms(50.0),
        ms(99.0),
        ms(100.0),
        r.sorted.len(),
        r.errors,
        r.late
    );
    if let Some(e) = &r.first_error {
        println!("      first error: {e}");
    }
}

// --- the load ---

/// `rate` requests a second to `port` for `duration`, request `k` due at `k / rate` s, spread
/// over [`WORKERS`] threads. Latency is from the request's first byte written (connect
/// included for new connections) to the last byte of the answer read.
fn fixed_rate(port: u16, keep_alive: bool, rate: u32, duration: Duration) -> Run {
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now() + Duration::from_millis(20);
    let late = AtomicUsize::new(0);
    let per_worker: Vec<(Vec<Duration>, Vec<String>)> = thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let late = &late;
                s.spawn(move || {
                    let due = (w..total)
                        .step_by(WORKERS)
                        .map(|k| start + interval * k as u32);
                    worker(port, keep_alive, due, late)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut run = Run {
        sorted: Vec::with_capacity(total),
        errors: 0,
        first_error: None,
        late: late.into_inner(),
    };
    for (latencies, errors) in per_worker {
        run.sorted.extend(latencies);
        run.errors += errors.len();
        if run.first_error.is_none() {
            run.first_error = errors.into_iter().next();
        }
    }
    run.sorted.sort_unstable();
    run
}

fn worker(
    port: u16,
    keep_alive: bool,
    due: impl Iterator<Item = Instant>,
    late: &AtomicUsize,
) -> (Vec<Duration>, Vec<String>) {
    let (mut latencies, mut errors) = (Vec::new(), Vec::new());
    let mut conn: Option<BufReader<TcpStream>> = None;
    for at in due {
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let t = Instant::now();
        if t.duration_since(at) > LATE {
            late.fetch_add(1, Ordering::Relaxed);
        }
        let done = if keep_alive {
            kept_alive(port, &mut conn)
        } else {
            new_connection(port)
        };
        match done {
            Ok(()) => latencies.push(t.elapsed()),
            Err(e) => {
                conn = None;
                errors.push(format!("{e:#}"));
            }
        }
    }
    (latencies, errors)
}

/// One request on the worker's connection, opened on first use.
fn kept_alive(port: u16, conn: &mut Option<BufReader<TcpStream>>) -> Result<()> {
    if conn.is_none() {
        *conn = Some(BufReader::new(connect(port)?));
    }
    let Some(reader) = conn.as_mut() else {
        bail!("invariant: the connection was just opened");
    };
    exchange(reader, false)
}

/// One request on a connection of its own.
fn new_connection(port: u16) -> Result<()> {
    exchange(&mut BufReader::new(connect(port)?), true)
}

fn connect(port: u16) -> Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(conn)
}

/// `GET /` and its whole answer, which must be a 200 with [`BODY`].
fn exchange(reader: &mut BufReader<TcpStream>, close: bool) -> Result<()> {
    let request = if close {
        "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    } else {
        "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    };
    reader.get_mut().write_all(request.as_bytes())?;
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if !status.starts_with("HTTP/1.1 200") {
        bail!("answer {:?}", status.trim_end());
    }
    let length = read_head(reader)?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    if body != BODY.as_bytes() {
        bail!("unexpected body {:?}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// Reads header lines up to the blank one; returns `Content-Length` (0 when absent).
fn read_head(reader: &mut impl BufRead) -> Result<usize> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("connection closed inside the header");
        }
        if line == "\r\n" {
            return Ok(length);
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("Content-Length")?;
        }
    }
}

// --- the backend ---

/// An HTTP/1.1 server on a free loopback port answering every request with [`BODY`], keeping
/// connections open unless asked to close; one thread per connection. Runs until the
/// benchmark exits.
fn start_backend() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            thread::spawn(move || serve(conn));
        }
    });
    Ok(port)
}

fn serve(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut close = false;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) if header == "\r\n" => break,
                Ok(_) => close |= header.eq_ignore_ascii_case("connection: close\r\n"),
            }
        }
        let connection = if close { "close" } else { "keep-alive" };
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{BODY}",
            BODY.len()
        );
        if reader.get_mut().write_all(reply.as_bytes()).is_err() || close {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_gives_the_body_length() {
        let head = "Content-Type: text/plain\r\ncontent-length: 12\r\n\r\nbody";
        assert_eq!(read_head(&mut head.as_bytes()).unwrap(), 12);
        assert_eq!(read_head(&mut "\r\n".as_bytes()).unwrap(), 0);
        assert!(read_head(&mut "Content-Length: 1\r\n".as_bytes()).is_err());
    }
}
