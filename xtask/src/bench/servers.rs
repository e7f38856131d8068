//! The systems under test: a single-node skein server (or dev agent serving DNS) and a
//! single-member etcd, or a cluster of each ([`start_cluster`]), on free local ports,
//! started and stopped through [`ChildGuard`].

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::proc::{ChildGuard, cargo, command_exists, log_tail, output, run_step};

/// How long a server may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum System {
    Skein,
    Etcd,
}

impl System {
    /// Parses `skein` or `etcd`.
    pub(crate) fn parse(name: &str) -> Result<Self> {
        match name {
            "skein" => Ok(Self::Skein),
            "etcd" => Ok(Self::Etcd),
            other => bail!("unknown system {other:?} (skein, etcd)"),
        }
    }

    /// The lower-case name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Skein => "skein",
            Self::Etcd => "etcd",
        }
    }
}

/// A running server; stopped when dropped.
pub(crate) struct Server {
    pub(crate) system: System,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    pub(crate) version: String,
    pub(crate) guard: ChildGuard,
    /// The DNS address (UDP and TCP) from skein's ready line, when started by
    /// [`start_skein_dns`].
    pub(crate) dns: Option<SocketAddr>,
    log: PathBuf,
}

impl Server {
    /// The end of the server's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log, 30)
    }

    /// The first address under `key` (such as `grpc`) in skein's ready line, once printed.
    pub(crate) fn ready_addr(&self, key: &str) -> Option<SocketAddr> {
        ready_line_addr(&self.log, key)
    }
}

/// How to launch one system.
struct Launch {
    cmd: Command,
    http_port: u16,
    version: String,
    /// Whether the server serves DNS on a port it picks and names in its ready line.
    dns: bool,
}

/// Builds (skein, unless `skein_bin` is given) or installs (etcd) and starts `system`
/// under `scratch`, ready to serve.
pub(crate) fn start(system: System, scratch: &Path, skein_bin: Option<&Path>) -> Result<Server> {
    let dir = scratch.join(system.name());
    std::fs::create_dir_all(&dir)?;
    let launch = match system {
        System::Skein => skein_command(&dir, skein_bin, false)?,
        System::Etcd => etcd_command(&dir)?,
    };
    spawn(system, &dir, launch)
}

/// Builds (skein) or installs (etcd) and starts an `n`-member cluster of `system` under
/// `scratch`: skein servers with `-bootstrap-expect=n` joining the first over gossip,
/// or etcd members with a static `--initial-cluster`. Returns once every member knows a
/// leader (skein) or reports healthy (etcd).
pub(crate) fn start_cluster(
    system: System,
    scratch: &Path,
    skein_bin: Option<&Path>,
    n: usize,
) -> Result<Vec<Server>> {
    let dirs: Vec<PathBuf> = (0..n)
        .map(|i| scratch.join(format!("{}-{i}", system.name())))
        .collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir)?;
    }
    let launches = match system {
        System::Skein => skein_cluster_commands(&dirs, skein_bin)?,
        System::Etcd => etcd_cluster_commands(&dirs)?,
    };
    let mut members = Vec::new();
    for (dir, launch) in dirs.iter().zip(launches) {
        members.push(spawn_only(system, dir, launch)?);
    }
    for member in &mut members {
        wait_ready(member, false)?;
    }
    Ok(members)
}

fn skein_cluster_commands(dirs: &[PathBuf], given: Option<&Path>) -> Result<Vec<Launch>> {
    let bin = skein_binary(given)?;
    let mut first_lan = None;
    let mut launches = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let [http, server, lan, wan] = <[u16; 4]>::try_from(free_ports(4)?)
            .map_err(|_| anyhow::anyhow!("invariant: free_ports(4) returns 4 ports"))?;
        let mut cmd = Command::new(&bin);
        cmd.args(["agent", "-server", "-dns-port=-1"])
            .arg(format!("-bootstrap-expect={}", dirs.len()))
            .arg(format!("-node=bench-{i}"))
            .arg(format!("-data-dir={}", dir.join("data").display()))
            .args(["-bind=127.0.0.1", "-client=127.0.0.1"])
            .arg(format!("-http-port={http}"))
            .arg(format!("-server-port={server}"))
            .arg(format!("-serf-lan-port={lan}"))
            .arg(format!("-serf-wan-port={wan}"));
        match first_lan {
            None => first_lan = Some(lan),
            Some(first) => {
                cmd.arg(format!("-retry-join=127.0.0.1:{first}"));
            }
        }
        launches.push(Launch {
            cmd,
            http_port: http,
            version: skein_version(given, &bin),
            dns: false,
        });
    }
    Ok(launches)
}

fn etcd_cluster_commands(dirs: &[PathBuf]) -> Result<Vec<Launch>> {
    ensure_etcd()?;
    let ports = free_ports(dirs.len() * 2)?;
    let peer = |i: usize| format!("http://127.0.0.1:{}", ports[2 * i + 1]);
    let initial: Vec<String> = (0..dirs.len())
        .map(|i| format!("m{i}={}", peer(i)))
        .collect();
    let version = etcd_version()?;
    let mut launches = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let client_url = format!("http://127.0.0.1:{}", ports[2 * i]);
        let mut cmd = Command::new("etcd");
        cmd.arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--name", &format!("m{i}")])
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer(i)])
            .args(["--initial-advertise-peer-urls", &peer(i)])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new"]);
        launches.push(Launch {
            cmd,
            http_port: ports[2 * i],
            version: version.clone(),
            dns: false,
        });
    }
    Ok(launches)
}

/// Builds skein (unless `skein_bin` is given) and starts `skein agent -dev` under
/// `scratch` with `-dns-port=0` and `extra` flags, ready to serve, with [`Server::dns`] set
/// from its ready line.
pub(crate) fn start_skein_dns(
    scratch: &Path,
    skein_bin: Option<&Path>,
    extra: &[String],
) -> Result<Server> {
    let dir = scratch.join(System::Skein.name());
    std::fs::create_dir_all(&dir)?;
    let mut launch = skein_command(&dir, skein_bin, true)?;
    launch.cmd.args(extra);
    spawn(System::Skein, &dir, launch)
}

fn spawn(system: System, dir: &Path, launch: Launch) -> Result<Server> {
    let dns = launch.dns;
    let mut server = spawn_only(system, dir, launch)?;
    wait_ready(&mut server, dns)?;
    Ok(server)
}

/// Starts the process without waiting for it to serve.
fn spawn_only(system: System, dir: &Path, mut launch: Launch) -> Result<Server> {
    let log = dir.join("server.log");
    println!("    $ {}", crate::proc::display(&launch.cmd));
    let guard = ChildGuard::spawn(system.name(), &mut launch.cmd, &log)?;
    Ok(Server {
        system,
        base: format!("http://127.0.0.1:{}", launch.http_port),
        version: launch.version,
        guard,
        dns: None,
        log,
    })
}

/// `n` distinct free TCP ports on 127.0.0.1 (held together while picking, then released).
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()?)
}

/// `skein agent -server -bootstrap` with a data dir and no DNS, or with `dns`, `skein agent
/// -dev` with `-dns-port=0`.
fn skein_command(dir: &Path, given: Option<&Path>, dns: bool) -> Result<Launch> {
    let bin = skein_binary(given)?;
    let [http, server, lan, wan] = <[u16; 4]>::try_from(free_ports(4)?)
        .map_err(|_| anyhow::anyhow!("invariant: free_ports(4) returns 4 ports"))?;
    let mut cmd = Command::new(&bin);
    cmd.arg("agent");
    if dns {
        cmd.args(["-dev", "-node=bench", "-dns-port=0"]);
    } else {
        cmd.args(["-server", "-bootstrap", "-node=bench"])
            .arg(format!("-data-dir={}", dir.join("data").display()))
            .arg("-dns-port=-1");
    }
    cmd.args(["-bind=127.0.0.1", "-client=127.0.0.1"])
        .arg(format!("-http-port={http}"))
        .arg(format!("-server-port={server}"))
        .arg(format!("-serf-lan-port={lan}"))
        .arg(format!("-serf-wan-port={wan}"));
    Ok(Launch {
        cmd,
        http_port: http,
        version: skein_version(given, &bin),
        dns,
    })
}

/// The given skein binary, or `target/release/skein` freshly built.
fn skein_binary(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(bin) => Ok(bin.to_path_buf()),
        None => {
            let build = ["build", "--release", "--bin", "skein"];
            run_step("build skein (release)", cargo().args(build))?;
            Ok(crate::target_dir().join("release").join("skein"))
        }
    }
}

/// `skein <git rev>`, naming the binary when one was given.
fn skein_version(given: Option<&Path>, bin: &Path) -> String {
    let git = output(Command::new("git").args(["rev-parse", "--short", "HEAD"]));
    let version = format!("skein {}", git.unwrap_or_else(|_| "(unknown rev)".into()));
    match given.and_then(|_| bin.file_name()) {
        Some(name) => format!("{version} (given binary `{}`)", name.to_string_lossy()),
        None => version,
    }
}

fn etcd_command(dir: &Path) -> Result<Launch> {
    ensure_etcd()?;
    let [client, peer] = <[u16; 2]>::try_from(free_ports(2)?)
        .map_err(|_| anyhow::anyhow!("invariant: free_ports(2) returns 2 ports"))?;
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new("etcd");
    cmd.arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--name", "bench"])
        .args(["--listen-client-urls", &client_url])
        .args(["--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url])
        .args(["--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("bench={peer_url}")]);
    Ok(Launch {
        cmd,
        http_port: client,
        version: etcd_version()?,
        dns: false,
    })
}

/// `etcd <version>` from `etcd --version`.
fn etcd_version() -> Result<String> {
    let version = output(Command::new("etcd").arg("--version"))?;
    let first = version.lines().next().unwrap_or("etcd ?");
    Ok(first.replace("etcd Version: ", "etcd "))
}

/// `apt-get install etcd-server` (Debian's etcd 3.4) unless `etcd` is on PATH.
fn ensure_etcd() -> Result<()> {
    if command_exists("etcd") {
        return Ok(());
    }
    let root = output(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            Command::new("sudo")
        };
        if !root {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    let install = ["install", "-y", "-q", "etcd-server"];
    if run_step("install etcd-server", &mut apt(&install)).is_err() {
        run_step("apt-get update", &mut apt(&["update", "-q"]))?;
        run_step("install etcd-server", &mut apt(&install))?;
    }
    Ok(())
}

/// Polls the server's readiness endpoint (and, with `dns`, reads the DNS address from
/// skein's ready line); fails early if the process exits.
fn wait_ready(server: &mut Server, dns: bool) -> Result<()> {
    let agent = super::load::agent();
    let (path, ready): (&str, fn(&str) -> bool) = match server.system {
        // a JSON string naming the leader, e.g. "127.0.0.1:8300"
        System::Skein => ("/v1/status/leader", |b| {
            !b.trim().trim_matches('"').is_empty()
        }),
        System::Etcd => ("/health", |b| b.contains("\"true\"")),
    };
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = server.guard.exited()? {
            bail!(
                "{} exited ({status}) before it was ready; log tail:\n{}",
                server.system.name(),
                server.log_tail()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} not ready after {READY_TIMEOUT:?}; log tail:\n{}",
                server.system.name(),
                server.log_tail()
            );
        }
        let url = format!("{}{path}", server.base);
        if let Ok(mut r) = agent.get(&url).call()
            && r.status().is_success()
            && r.body_mut().read_to_string().is_ok_and(|b| ready(&b))
        {
            if !dns {
                return Ok(());
            }
            server.dns = ready_line_addr(&server.log, "dns");
            if server.dns.is_some() {
                return Ok(());
            }
        }
        sleep(Duration::from_millis(100));
    }
}

/// The first address under `key` (`dns`, `grpc`, `http`) in skein's JSON ready line
/// (`{"ready":true,...,"dns":["ADDR"]}`, printed on stdout, which goes to the log).
fn ready_line_addr(log: &Path, key: &str) -> Option<SocketAddr> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["ready"] == true)?[key][0]
        .as_str()?
        .parse()
        .ok()
}

/// The CPU time (user + system) a process has used, from `/proc/<pid>/stat`.
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime field 14, stime field 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_sec = output(Command::new("getconf").arg("CLK_TCK"))
        .ok()
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100);
    Some(Duration::from_secs_f64(ticks as f64 / per_sec as f64))
}

/// `VmRSS` of a process in KiB, from `/proc/<pid>/status`.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
