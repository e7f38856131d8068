//! `cargo xtask bench kv`: KV put and get throughput and latency, skein vs etcd.
//!
//! Each system runs alone (one after the other) as a single-node server, or with
//! `--cluster N` as an N-member cluster, on free local ports. For each client count,
//! clients PUT 128-byte values to `bench/<client>/<i>` for the phase duration, then GET
//! keys they wrote; in a cluster client `c` talks to member `(leader + c) % N`, so one
//! client talks to the leader on both systems and other members forward writes to it.
//! skein is driven through Consul's HTTP API (`/v1/kv`, default consistency), etcd 3.4
//! through its JSON gateway (`/v3/kv/put`, `/v3/kv/range`, linearizable by default).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ureq::Agent;

use super::load::{self, Phase};
use super::report::{self, Measured, Row};
use super::servers::{self, Server, System};

/// The value every PUT writes.
const VALUE: &[u8; 128] = &[b'v'; 128];

/// `bench kv [--seconds N] [--clients 1,64] [--systems skein,etcd] [--cluster N]
/// [--skein-bin PATH]`.
pub(crate) struct Options {
    seconds: u64,
    /// Members per system (1: a single-node server).
    cluster: usize,
    /// A skein binary to use instead of building `target/release/skein`.
    skein_bin: Option<PathBuf>,
    clients: Vec<usize>,
    systems: Vec<System>,
    /// The arguments as given, for the report's command line.
    raw: Vec<String>,
}

impl Options {
    /// Parses the benchmark's arguments.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self {
            seconds: 10,
            cluster: 1,
            skein_bin: None,
            clients: vec![1, 64],
            systems: vec![System::Skein, System::Etcd],
            raw: args.to_vec(),
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let mut value = || iter.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--seconds" => opts.seconds = value()?.parse().context("--seconds")?,
                "--cluster" => opts.cluster = value()?.parse().context("--cluster")?,
                "--clients" => opts.clients = parse_list(value()?, |s| Ok(s.parse()?))?,
                "--systems" => opts.systems = parse_list(value()?, System::parse)?,
                "--skein-bin" => opts.skein_bin = Some(std::path::absolute(value()?)?),
                other => bail!("unknown option {other:?} (see `cargo xtask help`)"),
            }
        }
        if opts.clients.contains(&0) || opts.seconds == 0 || opts.cluster == 0 {
            bail!("--clients, --seconds and --cluster must be positive");
        }
        Ok(opts)
    }
}

fn parse_list<T>(text: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    text.split(',').map(|s| parse(s.trim())).collect()
}

/// Runs the benchmark and prints the Markdown report.
pub(crate) fn run(opts: &Options) -> Result<()> {
    let scratch = tempfile::Builder::new().prefix("skein-bench-").tempdir()?;
    let mut measured = Vec::new();
    for &system in &opts.systems {
        let skein_bin = opts.skein_bin.as_deref();
        let mut members = if opts.cluster == 1 {
            vec![servers::start(system, scratch.path(), skein_bin)?]
        } else {
            servers::start_cluster(system, scratch.path(), skein_bin, opts.cluster)?
        };
        let result = measure(&members, opts);
        let rss_kib = members
            .iter()
            .map(|m| servers::rss_kib(m.guard.pid()))
            .sum::<Option<u64>>();
        for member in &mut members {
            member.guard.stop()?;
        }
        let rows = result.with_context(|| {
            let tails: Vec<String> = members.iter().map(Server::log_tail).collect();
            format!("{}; log tails:\n{}", system.name(), tails.join("\n---\n"))
        })?;
        measured.push(Measured {
            system,
            version: members[0].version.clone(),
            rows,
            rss_kib,
        });
    }
    let command = format!("cargo xtask bench kv {}", opts.raw.join(" "));
    let setup = report::Setup {
        command: command.trim_end(),
        seconds: opts.seconds,
        members: opts.cluster,
    };
    println!("\n{}", report::markdown(&setup, &measured)?);
    Ok(())
}

/// For each client count: a PUT phase, then a GET phase over the keys it wrote. Client
/// `c` talks to member `(leader + c) % members.len()`: the one client of a 1-client
/// phase talks to the leader on both systems, and more clients spread evenly.
fn measure(members: &[Server], opts: &Options) -> Result<Vec<Row>> {
    let duration = Duration::from_secs(opts.seconds);
    let system = members[0].system;
    let leader = leader_index(members)?;
    println!("{}: member {leader} leads", system.name());
    let member = |c: usize| &members[(leader + c) % members.len()];
    let mut rows = Vec::new();
    for &clients in &opts.clients {
        let put = load::run(clients, duration, |agent, c, i| {
            put_key(member(c), agent, &key(c, i))
        });
        report::print_phase(system, "put", clients, &put);
        let written = put.per_client.clone();
        let get = load::run(clients, duration, |agent, c, i| {
            let n = written.get(c).copied().unwrap_or(0).max(1);
            get_key(member(c), agent, &key(c, i % n))
        });
        report::print_phase(system, "get", clients, &get);
        rows.push(row("put", clients, put)?);
        rows.push(row("get", clients, get)?);
    }
    Ok(rows)
}

/// Which member leads: skein's `/v1/agent/self` (`Stats.raft.state`), etcd's
/// `/v3/maintenance/status` (`leader` equal to the member's own id).
fn leader_index(members: &[Server]) -> Result<usize> {
    if members.len() == 1 {
        return Ok(0);
    }
    let agent = load::agent();
    for (i, m) in members.iter().enumerate() {
        let leads = match m.system {
            System::Skein => {
                let body: serde_json::Value = agent
                    .get(format!("{}/v1/agent/self", m.base))
                    .call()?
                    .body_mut()
                    .read_json()?;
                body["Stats"]["raft"]["state"] == "Leader"
            }
            System::Etcd => {
                let body: serde_json::Value = agent
                    .post(format!("{}/v3/maintenance/status", m.base))
                    .send_json(serde_json::json!({}))?
                    .body_mut()
                    .read_json()?;
                body["leader"].is_string() && body["leader"] == body["header"]["member_id"]
            }
        };
        if leads {
            return Ok(i);
        }
    }
    bail!(
        "no member of the {} cluster leads",
        members[0].system.name()
    )
}

fn row(op: &'static str, clients: usize, phase: Phase) -> Result<Row> {
    if phase.latencies.is_empty() {
        bail!(
            "{op} with {clients} clients: no request succeeded; first error: {}",
            phase.first_error.unwrap_or_default()
        );
    }
    Ok(Row { op, clients, phase })
}

fn key(client: usize, i: usize) -> String {
    format!("bench/{client}/{i}")
}

fn put_key(server: &Server, agent: &Agent, key: &str) -> Result<()> {
    let response = match server.system {
        System::Skein => agent
            .put(format!("{}/v1/kv/{key}", server.base))
            .send(&VALUE[..])?,
        System::Etcd => agent
            .post(format!("{}/v3/kv/put", server.base))
            .send_json(serde_json::json!({"key": B64.encode(key), "value": B64.encode(VALUE)}))?,
    };
    check(response, None)
}

fn get_key(server: &Server, agent: &Agent, key: &str) -> Result<()> {
    let response = match server.system {
        System::Skein => agent.get(format!("{}/v1/kv/{key}", server.base)).call()?,
        System::Etcd => agent
            .post(format!("{}/v3/kv/range", server.base))
            .send_json(serde_json::json!({"key": B64.encode(key)}))?,
    };
    // etcd answers 200 without "kvs" for a missing key
    let must_contain = matches!(server.system, System::Etcd).then_some("\"kvs\"");
    check(response, must_contain)
}

/// Reads the whole body (so the connection is reused) and checks the status.
fn check(mut response: ureq::http::Response<ureq::Body>, must_contain: Option<&str>) -> Result<()> {
    let status = response.status();
    let body = response.body_mut().read_to_vec()?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        bail!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        );
    }
    if let Some(needle) = must_contain.filter(|n| !text.contains(n)) {
        bail!(
            "response lacks {needle}: {}",
            text.chars().take(200).collect::<String>()
        );
    }
    Ok(())
}
