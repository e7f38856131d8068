//! `cargo xtask bench ca`: leaf signing throughput of the built-in CA (EC
//! P-256), in process and through a dev agent's leaf endpoint, and the time
//! a root rotation takes to reach every certificate cached by one agent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::load;
use super::servers::{self, Server, System};

/// Options of `bench ca`.
pub(crate) struct Options {
    leaves: usize,
    skein_bin: Option<std::path::PathBuf>,
}

/// Threads asking the agent for leaves.
const CLIENTS: usize = 16;
/// In-process signings timed.
const IN_PROCESS: usize = 2_000;

impl Options {
    /// Parses `[--leaves N] [--skein-bin PATH]`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self {
            leaves: 1_000,
            skein_bin: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().context(format!("{arg} needs a value"));
            match arg.as_str() {
                "--leaves" => opts.leaves = value()?.parse()?,
                "--skein-bin" => opts.skein_bin = Some(value()?.into()),
                other => bail!("unknown option {other:?}"),
            }
        }
        Ok(opts)
    }
}

/// Runs the benchmark.
pub(crate) fn run(opts: &Options) -> Result<()> {
    let in_process = sign_in_process()?;
    let scratch = tempfile::Builder::new().prefix("skein-bench-").tempdir()?;
    let mut server = servers::start(System::Skein, scratch.path(), opts.skein_bin.as_deref())?;
    let result = measure(&server, opts, in_process);
    server.guard.stop()?;
    result.with_context(|| format!("log tail:\n{}", server.log_tail()))
}

/// Leaves per second signed by skein-ca alone (CSR parse, checks, sign, PEM).
fn sign_in_process() -> Result<f64> {
    let fixture = skein_ca::bench::SigningBench::new(IN_PROCESS, SystemTime::now())?;
    let started = Instant::now();
    let n = fixture.sign_all()?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn measure(server: &Server, opts: &Options, in_process: f64) -> Result<()> {
    set_config(
        server,
        r#"{"Provider": "consul", "Config": {"CSRMaxPerSecond": 0}}"#,
    )?;
    let started = Instant::now();
    let indexes = fetch_all(server, opts.leaves, |i| format!("svc-{i}"), 0)?;
    let first_issue = started.elapsed();
    let rotated_at = Instant::now();
    set_config(
        server,
        r#"{"Provider": "consul", "Config": {"PrivateKeyBits": 384}}"#,
    )?;
    wait_all_renewed(server, &indexes)?;
    let rotation = rotated_at.elapsed();
    let rss = servers::rss_kib(server.guard.pid()).unwrap_or(0);
    print_report(server, opts.leaves, in_process, first_issue, rotation, rss)
}

fn print_report(
    server: &Server,
    leaves: usize,
    in_process: f64,
    first_issue: Duration,
    rotation: Duration,
    rss_kib: u64,
) -> Result<()> {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()?;
    println!(
        "\n### Connect CA: leaf signing and root rotation, {}",
        String::from_utf8_lossy(&date.stdout).trim()
    );
    println!(
        "\nCommand: `cargo xtask bench ca --leaves {leaves}`, {}, 2 cores; one `agent -server -bootstrap` on disk, `CSRMaxPerSecond = 0` (unlimited) for the run.\n",
        server.version
    );
    println!("| measure | value |\n|---|--:|");
    println!(
        "| leaf signings/s in process (skein-ca: CSR parse, checks, EC P-256 signature, PEM) | {in_process:.0} |"
    );
    println!(
        "| leaves/s through `/v1/agent/connect/ca/leaf/:s` ({CLIENTS} clients; agent key + CSR, leader signs) | {:.0} |",
        leaves as f64 / first_issue.as_secs_f64()
    );
    println!(
        "| first issue of {leaves} leaves | {:.2} s |",
        first_issue.as_secs_f64()
    );
    println!(
        "| root rotation (P-256 → P-384) until all {leaves} cached leaves were re-issued and seen by blocking clients | {:.2} s |",
        rotation.as_secs_f64()
    );
    println!(
        "| agent RSS after the run | {:.1} MiB |",
        rss_kib as f64 / 1024.0
    );
    Ok(())
}

fn set_config(server: &Server, body: &str) -> Result<()> {
    let agent = load::agent();
    let mut resp = agent
        .put(&format!("{}/v1/connect/ca/configuration", server.base))
        .send(body)?;
    let text = resp.body_mut().read_to_string()?;
    if !resp.status().is_success() || text.trim() != "true" {
        bail!("CA configuration refused: {} {text}", resp.status());
    }
    Ok(())
}

/// Leaf index of `name(i)` for every `i`, fetched from `CLIENTS` threads;
/// with `after` > 0 each request blocks until a leaf newer than that.
fn fetch_all(
    server: &Server,
    n: usize,
    name: impl Fn(usize) -> String + Sync,
    after: u64,
) -> Result<Vec<u64>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Result<Vec<(usize, u64)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                s.spawn(|| {
                    let agent = load::agent();
                    let mut got = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(got);
                        }
                        got.push((i, leaf_index(&agent, server, &name(i), after)?));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| bail!("client thread panicked")))
            .collect()
    });
    let mut indexes = vec![0; n];
    for r in results {
        for (i, index) in r? {
            indexes[i] = index;
        }
    }
    Ok(indexes)
}

fn leaf_index(agent: &ureq::Agent, server: &Server, service: &str, after: u64) -> Result<u64> {
    let url = if after == 0 {
        format!("{}/v1/agent/connect/ca/leaf/{service}", server.base)
    } else {
        format!(
            "{}/v1/agent/connect/ca/leaf/{service}?index={after}&wait=5m",
            server.base
        )
    };
    let mut resp = agent.get(&url).call()?;
    let body = resp.body_mut().read_to_string()?;
    if !resp.status().is_success() {
        bail!("leaf {service}: {} {body}", resp.status());
    }
    let v: Value = serde_json::from_str(&body)?;
    v.get("ModifyIndex")
        .and_then(Value::as_u64)
        .context("leaf without ModifyIndex")
}

/// Waits, with one blocking request per leaf, until every leaf moved past
/// the index it had before the rotation.
fn wait_all_renewed(server: &Server, indexes: &[u64]) -> Result<()> {
    let after = indexes.iter().copied().max().unwrap_or(0);
    let renewed = fetch_all(server, indexes.len(), |i| format!("svc-{i}"), after)?;
    if let Some((i, _)) = renewed.iter().enumerate().find(|(i, r)| **r <= indexes[*i]) {
        bail!("leaf svc-{i} was not re-issued");
    }
    Ok(())
}
