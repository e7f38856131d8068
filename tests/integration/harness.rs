//! Starting the real binary and talking to it.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `skein agent`, killed on drop. Its log is printed if the test
/// panics.
pub(crate) struct Agent {
    child: Child,
    pub(crate) http: String,
    /// The LAN gossip address, once the agent gossips.
    pub(crate) serf_lan: Option<String>,
    /// The WAN gossip address, on servers.
    pub(crate) serf_wan: Option<String>,
    /// The DNS address (UDP and TCP), when the agent serves DNS.
    pub(crate) dns: Option<std::net::SocketAddr>,
    /// The gRPC (xDS) address, when the port is enabled.
    pub(crate) grpc: Option<std::net::SocketAddr>,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// A free TCP port, chosen below Linux's ephemeral range (32768-60999).
/// Ports handed out by `bind(:0)` and taken by outgoing connections come
/// from that range, so a port picked there could be taken by another
/// process (an agent, an Envoy, a connection) between this pick and its
/// use; a random pick from 20000-32767 that binds on every address is only
/// raced by other tests' picks.
pub(crate) fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(20_000..32_768);
        if TcpListener::bind(("0.0.0.0", port)).is_ok()
            && std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok()
        {
            return port;
        }
    }
}

impl Agent {
    /// `skein agent -dev` on free ports.
    pub(crate) fn dev(extra: &[&str]) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["-dev".to_owned()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let path = dir.path().to_owned();
        Agent::start(&args, &path, 0, Some(dir))
    }

    /// A server of a cluster: `skein agent -server -node=NAME` bound to
    /// `ip` (its own loopback address) on free ports, with a data dir and
    /// `extra` flags (`-bootstrap-expect`, `-retry-join`, ...).
    pub(crate) fn cluster_server(name: &str, ip: &str, data_dir: &Path, extra: &[String]) -> Agent {
        let mut args = vec!["-server".to_owned()];
        args.extend_from_slice(extra);
        Agent::cluster_client(name, ip, data_dir, &args)
    }

    /// A client agent (no `-server`) bound to `ip`, like
    /// [`Agent::cluster_server`].
    pub(crate) fn cluster_client(name: &str, ip: &str, data_dir: &Path, extra: &[String]) -> Agent {
        let mut args = vec![
            format!("-node={name}"),
            format!("-bind={ip}"),
            format!("-client={ip}"),
            format!("-data-dir={}", data_dir.display()),
            "-serf-lan-port=0".to_owned(),
        ];
        args.extend_from_slice(extra);
        std::fs::create_dir_all(data_dir).unwrap();
        Agent::start(&args, data_dir, 0, None)
    }

    /// `skein agent -server -bootstrap -data-dir=DIR` on the given ports.
    pub(crate) fn server(data_dir: &Path, http_port: u16, server_port: u16) -> Agent {
        Agent::server_with(data_dir, http_port, server_port, &[])
    }

    /// [`Agent::server`] with more flags.
    pub(crate) fn server_with(
        data_dir: &Path,
        http_port: u16,
        server_port: u16,
        extra: &[String],
    ) -> Agent {
        let mut args = vec![
            "-server".to_owned(),
            "-bootstrap".to_owned(),
            format!("-data-dir={}", data_dir.display()),
            format!("-server-port={server_port}"),
        ];
        args.extend_from_slice(extra);
        Agent::start(&args, data_dir, http_port, None)
    }

    fn start(
        args: &[String],
        logdir: &Path,
        http_port: u16,
        dir: Option<tempfile::TempDir>,
    ) -> Agent {
        let log = logdir.join(format!("agent-{}.log", free_port()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skein"));
        cmd.arg("agent").args(args);
        for (flag, default) in [
            ("-node=", "-node=itest"),
            ("-bind=", "-bind=127.0.0.1"),
            ("-client=", "-client=127.0.0.1"),
        ] {
            if !args.iter().any(|a| a.starts_with(flag)) {
                cmd.arg(default);
            }
        }
        if !args.iter().any(|a| a.starts_with("-http-port=")) {
            cmd.arg(format!("-http-port={http_port}"));
        }
        cmd.arg("-log-level=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        if !args.iter().any(|a| a.starts_with("-server-port")) {
            cmd.arg("-server-port=0");
        }
        if !args.iter().any(|a| a.starts_with("-dns-port")) {
            cmd.arg("-dns-port=-1");
        }
        if !args.iter().any(|a| a.starts_with("-grpc-port")) {
            cmd.arg("-grpc-port=0");
        }
        if !args.iter().any(|a| a.starts_with("-serf-lan-port")) {
            cmd.arg("-serf-lan-port=0");
        }
        if !args.iter().any(|a| a.starts_with("-serf-wan-port")) {
            cmd.arg("-serf-wan-port=0");
        }
        let mut child = cmd.spawn().expect("spawn skein");
        let ready = read_ready_line(&mut child, &log);
        Agent {
            child,
            http: ready["http"][0].as_str().expect("http address").to_owned(),
            dns: ready["dns"][0]
                .as_str()
                .map(|a| a.parse().expect("dns address")),
            grpc: ready["grpc"][0]
                .as_str()
                .map(|a| a.parse().expect("grpc address")),
            serf_lan: ready["serf_lan"].as_str().map(str::to_owned),
            serf_wan: ready["serf_wan"].as_str().map(str::to_owned),
            log,
            _dir: dir,
        }
    }

    /// The base URL of the HTTP API.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The agent's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, no cleanup.
    pub(crate) fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_ready_line(child: &mut Child, log: &Path) -> Value {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next();
    let line = match line {
        Some(Ok(l)) => l,
        _ => panic!(
            "agent exited before it was ready; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        ),
    };
    std::thread::spawn(move || for _ in lines {});
    serde_json::from_str(&line).expect("ready line is JSON")
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let mut log = String::new();
            if let Ok(mut f) = std::fs::File::open(&self.log) {
                let _ = f.read_to_string(&mut log);
            }
            eprintln!("--- agent log ({}) ---\n{log}", self.log.display());
        }
    }
}

/// An HTTP response, read whole.
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) index: Option<u64>,
    pub(crate) body: String,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn read(mut r: ureq::http::Response<ureq::Body>) -> Resp {
    let index = r
        .headers()
        .get("x-consul-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Resp {
        status,
        index,
        body,
    }
}

pub(crate) fn get(url: &str) -> Resp {
    read(client().get(url).call().expect("GET"))
}

pub(crate) fn put(url: &str, body: impl AsRef<[u8]>) -> Resp {
    try_put(url, body).expect("PUT")
}

/// A PUT that reports transport failure (agent gone) instead of panicking.
pub(crate) fn try_put(url: &str, body: impl AsRef<[u8]>) -> Option<Resp> {
    client().put(url).send(body.as_ref()).ok().map(read)
}

pub(crate) fn post(url: &str, body: impl AsRef<[u8]>) -> Resp {
    read(client().post(url).send(body.as_ref()).expect("POST"))
}

/// A DELETE with a body (`/v1/operator/keyring` takes one).
pub(crate) fn delete_body(url: &str, body: &str) -> Resp {
    read(
        client()
            .delete(url)
            .force_send_body()
            .send(body.as_bytes())
            .expect("DELETE"),
    )
}

pub(crate) fn delete(url: &str) -> Resp {
    read(client().delete(url).call().expect("DELETE"))
}

/// Waits until `f` holds, up to `timeout`.
pub(crate) fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
