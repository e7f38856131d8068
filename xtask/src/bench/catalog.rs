//! `cargo xtask bench catalog`: registers N nodes × S services (each with a
//! passing check) through `/v1/catalog/register` on a one-server cluster,
//! then measures `/v1/health/service/hot?passing` for an H-instance service,
//! and prints registration throughput, the server's RSS (before, after, and
//! per instance beyond the base) and the read latencies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::load;
use super::servers::{self, Server, System};

/// Options of `bench catalog`.
pub(crate) struct Options {
    nodes: usize,
    services_per_node: usize,
    hot: usize,
    seconds: u64,
    skein_bin: Option<std::path::PathBuf>,
}

const WRITERS: usize = 32;
const READERS: usize = 8;

impl Options {
    /// Parses `[--nodes N] [--services-per-node S] [--hot H] [--seconds S] [--skein-bin PATH]`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self {
            nodes: 10_000,
            services_per_node: 10,
            hot: 1_000,
            seconds: 10,
            skein_bin: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().context(format!("{arg} needs a value"));
            match arg.as_str() {
                "--nodes" => opts.nodes = value()?.parse()?,
                "--services-per-node" => opts.services_per_node = value()?.parse()?,
                "--hot" => opts.hot = value()?.parse()?,
                "--seconds" => opts.seconds = value()?.parse()?,
                "--skein-bin" => opts.skein_bin = Some(value()?.into()),
                other => bail!("unknown option {other:?}"),
            }
        }
        Ok(opts)
    }
}

/// Runs the benchmark.
pub(crate) fn run(opts: &Options) -> Result<()> {
    let scratch = tempfile::Builder::new().prefix("skein-bench-").tempdir()?;
    let mut server = servers::start(System::Skein, scratch.path(), opts.skein_bin.as_deref())?;
    let result = measure(&server, opts);
    server.guard.stop()?;
    result.with_context(|| format!("log tail:\n{}", server.log_tail()))
}

fn measure(server: &Server, opts: &Options) -> Result<()> {
    let rss_base = servers::rss_kib(server.guard.pid()).unwrap_or(0);
    let started = Instant::now();
    let half = opts.nodes / 2;
    register_all(server, opts, 0..half)?;
    let rss_half = servers::rss_kib(server.guard.pid()).unwrap_or(0);
    register_all(server, opts, half..opts.nodes)?;
    let elapsed = started.elapsed();
    let registrations = opts.nodes * opts.services_per_node;
    let rss = servers::rss_kib(server.guard.pid()).unwrap_or(0);
    let per_instance = rss.saturating_sub(rss_base) as f64 * 1024.0 / registrations.max(1) as f64;
    // Costs that stop growing (the log store's capped page cache, the
    // runtime's pools) are in the first half; the second half's growth is
    // what one more instance costs.
    let second_half = (opts.nodes - half) * opts.services_per_node;
    let marginal = rss.saturating_sub(rss_half) as f64 * 1024.0 / second_half.max(1) as f64;
    let hot = opts.hot.min(opts.nodes);
    let url = format!("{}/v1/health/service/hot?passing", server.base);
    let read = |agent: &ureq::Agent, url: &str| {
        let mut resp = agent.get(url).call()?;
        let body = resp.body_mut().read_to_string()?;
        if !resp.status().is_success() || body.matches("\"ServiceID\"").count() < hot {
            bail!("unexpected answer {}: {} bytes", resp.status(), body.len());
        }
        Ok(())
    };
    let seconds = Duration::from_secs(opts.seconds);
    let reads = load::run(READERS, seconds, |agent, _, _| read(agent, &url));
    // A query string no other read has makes the agent render the answer
    // instead of sharing the one an identical read rendered.
    let rendered = load::run(READERS, seconds, |agent, c, i| {
        read(agent, &format!("{url}&reader={c}-{i}"))
    });
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()?;
    println!(
        "\n### Catalog: {} nodes × {} services, {}",
        opts.nodes,
        opts.services_per_node,
        String::from_utf8_lossy(&date.stdout).trim()
    );
    println!(
        "\nCommand: `cargo xtask bench catalog --nodes {} --services-per-node {} --hot {} --seconds {}`, {}, 2 cores.\n",
        opts.nodes, opts.services_per_node, opts.hot, opts.seconds, server.version
    );
    println!("| measure | value |\n|---|--:|");
    println!(
        "| registrations ({WRITERS} concurrent writers) | {registrations} in {:.1} s |",
        elapsed.as_secs_f64()
    );
    println!(
        "| registration throughput | {:.0} /s |",
        registrations as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| server RSS before / after registration | {:.1} / {:.1} MiB |",
        rss_base as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    println!(
        "| RSS per instance (with its node and check) beyond the base | {per_instance:.0} B |"
    );
    println!(
        "| RSS at half the registrations; per instance over the second half | {:.1} MiB; {marginal:.0} B |",
        rss_half as f64 / 1024.0
    );
    println!(
        "| `/v1/health/service/hot?passing` ({hot} instances), {READERS} readers | {:.0} req/s |",
        reads.ops_per_sec()
    );
    println!(
        "| read p50 / p99 (identical reads share one rendering while unchanged) | {:.2} ms / {:.2} ms |",
        reads.percentile_ms(50.0),
        reads.percentile_ms(99.0)
    );
    println!(
        "| the same, each read rendered (a unique query string): req/s, p50 / p99 | {:.0}, {:.2} / {:.2} ms |",
        rendered.ops_per_sec(),
        rendered.percentile_ms(50.0),
        rendered.percentile_ms(99.0)
    );
    println!("| read errors | {} |", reads.errors + rendered.errors);
    Ok(())
}

/// Registers the services of the nodes in `nodes` from `WRITERS` threads.
fn register_all(server: &Server, opts: &Options, nodes: std::ops::Range<usize>) -> Result<()> {
    let next = AtomicUsize::new(nodes.start);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..WRITERS {
            s.spawn(|| {
                let agent = load::agent();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= nodes.end {
                        return;
                    }
                    for svc in 0..opts.services_per_node {
                        if register(server, &agent, opts, n, svc).is_err() {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    match failures.load(Ordering::Relaxed) {
        0 => Ok(()),
        f => bail!("{f} registrations failed"),
    }
}

fn register(
    server: &Server,
    agent: &ureq::Agent,
    opts: &Options,
    node: usize,
    svc: usize,
) -> Result<()> {
    let name = if svc == 0 && node < opts.hot {
        "hot".to_owned()
    } else {
        format!("svc-{}", (node * opts.services_per_node + svc) % 500)
    };
    let body = serde_json::json!({
        "Node": format!("node-{node}"),
        "Address": format!("10.{}.{}.{}", node / 65536 % 256, node / 256 % 256, node % 256),
        "Service": { "ID": format!("{name}-{node}-{svc}"), "Service": name, "Port": 8000 + svc, "Tags": ["v1"] },
        "Check": { "CheckID": format!("check-{svc}"), "Name": "alive", "Status": "passing", "ServiceID": format!("{name}-{node}-{svc}") },
    });
    let resp = agent
        .put(&format!("{}/v1/catalog/register", server.base))
        .send_json(&body)?;
    if !resp.status().is_success() {
        bail!("register returned {}", resp.status());
    }
    Ok(())
}
