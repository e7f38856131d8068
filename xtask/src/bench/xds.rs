//! `cargo xtask bench xds`: how fast a catalog change reaches the proxies of one agent over
//! delta xDS, what the agent spends on it, and the latency the sidecars add to a request.
//!
//! One `agent -dev` holds M services `svc-<i>`, each with one instance and a sidecar whose
//! TTL check is passing, plus `hot` (one instance and sidecar). N delta-xDS clients
//! (`skein_ads::client::DeltaClient`, which subscribes and ACKs like Envoy) stand for the
//! sidecars `svc-<i>-sidecar-proxy`, i < N. Proxy i's upstreams are the services j with
//! `j % N == (i + 1) % N` (with N = M: `svc-<(i+1) % M>` alone, so the upstreams cover every
//! service) and `hot`. Two changes are timed, each flipped K times (critical, passing, ...)
//! through `PUT /v1/agent/check/{fail,pass}/<sidecar TTL check>`:
//!
//! - (a) `svc-0`'s instance: one affected client (the proxy with `svc-0` upstream);
//! - (b) `hot`'s instance: all N clients affected.
//!
//! Each sample is the time from the PUT being sent until one affected client holds the load
//! assignment with the new health (the client ACKs in the same step it applies a response).
//! Then (unless `--no-envoy`), on a fresh agent, two real Envoys carry HTTP requests at a fixed
//! rate through `web`'s upstream listener to `api`, against the same requests sent to the
//! backend directly (see [`mesh`]). [`report`] prints the table and the Markdown section.

mod fleet;
mod mesh;
mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::load;
use super::servers::{self, Server};
use crate::proc::banner;
use fleet::Fleet;

/// Threads registering services.
const REGISTER_THREADS: usize = 8;
/// How long all clients may take to converge.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long one affected client may take to see a change.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);
/// After each change the agent must use at most [`QUIET_CPU`] of CPU in a window this long
/// before the next, so that changes do not overlap.
const QUIET_WINDOW: Duration = Duration::from_millis(200);
/// See [`QUIET_WINDOW`] (one clock tick of `/proc/<pid>/stat`).
const QUIET_CPU: Duration = Duration::from_millis(10);
/// The longest wait for a quiet agent.
const QUIET_TIMEOUT: Duration = Duration::from_secs(30);

/// `bench xds [--proxies N] [--services M] [--flips K] [--quick] [--rate R] [--seconds S]
/// [--no-envoy] [--envoy PATH] [--log-level L] [--csr-max-per-second N] [--idle-seconds S]
/// [--keep-logs] [--skein-bin PATH]`.
pub(crate) struct Options {
    plan: Plan,
    flips: usize,
    /// Requests per second of the sidecar latency runs.
    rate: u32,
    /// Seconds of each sidecar latency run.
    seconds: u64,
    /// The Envoy binary; `None` skips the sidecar latency runs.
    envoy: Option<PathBuf>,
    log_level: String,
    /// The CA's `CSRMaxPerSecond` for the run (0: unlimited); `None` keeps Consul's default
    /// of 50, which paces the first leaf of each proxy.
    csr_rate: Option<u32>,
    skein_bin: Option<PathBuf>,
    /// How long the agent's CPU is measured with every client converged and nothing changing.
    idle: Duration,
    /// Keep the scratch directory (agent and Envoy logs) and print where it is.
    keep_logs: bool,
    /// The arguments as given, for the report's command line.
    raw: Vec<String>,
}

/// Who is registered and who subscribes to what.
#[derive(Clone, Copy)]
pub(crate) struct Plan {
    /// N: connected proxies, the sidecars of `svc-0` .. `svc-<N-1>`.
    proxies: usize,
    /// M: registered services.
    services: usize,
}

/// One timed change, flipped several times.
struct Scenario {
    what: &'static str,
    service: String,
    check_id: String,
    affected: Vec<usize>,
}

/// What the flips of one scenario measured.
struct Flips {
    what: &'static str,
    affected: usize,
    flips: usize,
    /// Per affected client and flip, ms from the PUT sent until the client held the change.
    from_sent: Vec<f64>,
    /// The same from the PUT answered (it returns once anti-entropy wrote the catalog).
    from_answered: Vec<f64>,
    /// Per flip, the PUT's duration and the time until the last affected client had it, ms.
    put: Vec<f64>,
    last: Vec<f64>,
    /// Agent CPU from each PUT until the agent is quiet again, summed.
    agent_cpu: Duration,
    /// The benchmark process's own CPU over the same windows (the clients decode and ACK).
    bench_cpu: Duration,
    /// Responses beyond one per affected client, summed over the flips.
    extra_responses: u64,
}

/// The clients' start until all of them held their resources.
struct Convergence {
    took: Duration,
    /// Per client, ms from the start until it converged, sorted.
    per_client_ms: Vec<f64>,
    agent_cpu: Duration,
    bench_cpu: Duration,
    /// Resources held by all clients: clusters, listeners, endpoints.
    held: [usize; 3],
}

/// Everything measured.
struct Measured {
    version: String,
    setup: Duration,
    converge: Convergence,
    idle_agent_cpu: Duration,
    rss_kib: [Option<u64>; 3],
    flips: Vec<Flips>,
    mesh: Option<mesh::Measured>,
    /// The command line, for the report.
    command: String,
}

impl Options {
    /// Parses the benchmark's arguments.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let quick = args.iter().any(|a| a == "--quick");
        let size = if quick { 100 } else { 1_000 };
        let envoy = crate::repo_root().join(".venv/bin/envoy");
        let mut opts = Self {
            plan: Plan {
                proxies: size,
                services: size,
            },
            flips: 5,
            rate: 200,
            seconds: if quick { 3 } else { 10 },
            envoy: Some(envoy),
            log_level: "info".into(),
            csr_rate: None,
            skein_bin: None,
            keep_logs: false,
            idle: Duration::from_secs(1),
            raw: args.to_vec(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => {}
                "--proxies" => opts.plan.proxies = value()?.parse().context("--proxies")?,
                "--services" => opts.plan.services = value()?.parse().context("--services")?,
                "--flips" => opts.flips = value()?.parse().context("--flips")?,
                "--rate" => opts.rate = value()?.parse().context("--rate")?,
                "--seconds" => opts.seconds = value()?.parse().context("--seconds")?,
                "--no-envoy" => opts.envoy = None,
                "--envoy" => opts.envoy = Some(std::path::absolute(value()?)?),
                "--log-level" => opts.log_level.clone_from(value()?),
                "--csr-max-per-second" => {
                    opts.csr_rate = Some(value()?.parse().context("--csr-max-per-second")?);
                }
                "--skein-bin" => opts.skein_bin = Some(std::path::absolute(value()?)?),
                "--keep-logs" => opts.keep_logs = true,
                "--idle-seconds" => {
                    opts.idle = Duration::from_secs(value()?.parse().context("--idle-seconds")?);
                }
                other => bail!("unknown option {other:?} (see `cargo xtask help`)"),
            }
        }
        let p = opts.plan;
        if p.proxies == 0 || p.proxies > p.services {
            bail!(
                "--proxies must be between 1 and --services ({})",
                p.services
            );
        }
        if opts.flips == 0 || opts.rate == 0 || opts.seconds == 0 {
            bail!("--flips, --rate and --seconds must be positive");
        }
        Ok(opts)
    }
}

/// Runs the benchmark and prints the table and the Markdown report.
pub(crate) fn run(opts: &Options) -> Result<()> {
    let scratch = tempfile::Builder::new().prefix("skein-bench-").tempdir()?;
    let result = run_both(scratch.path(), opts);
    if opts.keep_logs {
        println!("\nlogs kept in {}", scratch.keep().display());
    }
    let mut measured = result?;
    let command = format!("cargo xtask bench xds {}", opts.raw.join(" "));
    measured.command = command.trim_end().to_owned();
    report::print_table(opts, &measured);
    println!("\n{}", report::markdown(opts, &measured)?);
    Ok(())
}

/// The clients on one agent, then the sidecars on a fresh one (so that the first agent's
/// thousand proxies do not slow the second's setup).
fn run_both(scratch: &Path, opts: &Options) -> Result<Measured> {
    let dir = scratch.join("clients");
    let (mut measured, bin) = with_agent(&dir, opts.skein_bin.as_deref(), opts, |server, bin| {
        Ok((measure(server, opts)?, bin.to_owned()))
    })?;
    measured.mesh = match &opts.envoy {
        Some(envoy) if envoy.exists() => {
            let dir = scratch.join("sidecars");
            Some(with_agent(&dir, Some(&bin), opts, |server, bin| {
                mesh::measure(server, bin, envoy, &dir, opts.rate, opts.seconds)
            })?)
        }
        Some(envoy) => {
            println!(
                "\nno Envoy at {} (`cargo xtask test` installs it; or pass --envoy PATH): \
                 skipping the sidecar latency runs",
                envoy.display()
            );
            None
        }
        None => None,
    };
    Ok(measured)
}

/// Starts `agent -dev` with a gRPC port under `dir` (building `target/release/skein` unless
/// `skein_bin` is given), runs `f` with it and the binary's path, and stops it.
fn with_agent<T>(
    dir: &Path,
    skein_bin: Option<&Path>,
    opts: &Options,
    f: impl FnOnce(&Server, &Path) -> Result<T>,
) -> Result<T> {
    std::fs::create_dir_all(dir)?;
    let grpc = servers::free_ports(1)?[0];
    let extra = [
        format!("-grpc-port={grpc}"),
        format!("-log-level={}", opts.log_level),
    ];
    let mut server = servers::start_skein_dns(dir, skein_bin, &extra)?;
    let bin = skein_bin.map_or_else(|| crate::target_dir().join("release/skein"), Path::to_owned);
    let result = f(&server, &bin);
    server.guard.stop()?;
    result.with_context(|| format!("agent log tail:\n{}", server.log_tail()))
}

fn measure(server: &Server, opts: &Options) -> Result<Measured> {
    let plan = opts.plan;
    let pid = server.guard.pid();
    banner(&format!(
        "register {} services with sidecars, and hot",
        plan.services
    ));
    let started = Instant::now();
    register_all(server, plan)?;
    let setup = started.elapsed();
    println!("    registered in {:.1} s", setup.as_secs_f64());
    if let Some(rate) = opts.csr_rate {
        set_csr_rate(server, rate)?;
    }
    let rss_before = servers::rss_kib(pid);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (fleet, converge) = start_fleet(&rt, server, &plan)?;
    let rss_converged = servers::rss_kib(pid);
    wait_quiet(pid);
    let idle = CpuMeter::start(pid);
    std::thread::sleep(opts.idle);
    let idle_agent_cpu = idle.stop().0;

    let mut flips = Vec::new();
    for scenario in [plan.one_endpoint(), plan.hot()] {
        banner(&format!("{}: {} flips", scenario.what, opts.flips));
        flips.push(flip(&rt, &fleet, server, &scenario, opts.flips)?);
    }
    let rss_after = servers::rss_kib(pid);
    drop(fleet);
    drop(rt);

    Ok(Measured {
        version: server.version.clone(),
        setup,
        converge,
        idle_agent_cpu,
        rss_kib: [rss_before, rss_converged, rss_after],
        flips,
        mesh: None,
        command: String::new(),
    })
}

/// Starts one client per proxy and waits until every one has converged.
fn start_fleet(
    rt: &tokio::runtime::Runtime,
    server: &Server,
    plan: &Plan,
) -> Result<(Fleet, Convergence)> {
    let pid = server.guard.pid();
    let grpc = server
        .ready_addr("grpc")
        .context("the agent's ready line names no gRPC address")?;
    banner(&format!("start {} delta-xDS clients", plan.proxies));
    let cpu = CpuMeter::start(pid);
    let started = Instant::now();
    let fleet = Fleet::start(rt, grpc, plan)?;
    let converged = fleet.wait_converged(rt, CONVERGE_TIMEOUT)?;
    let took = started.elapsed();
    let mut per_client_ms: Vec<f64> = converged.iter().map(|t| ms(*t - started)).collect();
    per_client_ms.sort_by(f64::total_cmp);
    let (agent_cpu, bench_cpu) = cpu.stop();
    let held = fleet.held();
    println!(
        "    converged in {:.2} s ({} clusters, {} listeners, {} endpoints held); agent CPU {:.2} s",
        took.as_secs_f64(),
        held[0],
        held[1],
        held[2],
        agent_cpu.as_secs_f64()
    );
    let convergence = Convergence {
        took,
        per_client_ms,
        agent_cpu,
        bench_cpu,
        held,
    };
    Ok((fleet, convergence))
}

// --- setup ---

/// Registers `hot`, then every `svc-<i>` from [`REGISTER_THREADS`] threads.
fn register_all(server: &Server, plan: Plan) -> Result<()> {
    let agent = load::agent();
    register(&agent, server, &plan.registration("hot", 19_999, &[]))?;
    let next = AtomicUsize::new(0);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..REGISTER_THREADS)
            .map(|_| {
                s.spawn(|| {
                    let agent = load::agent();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= plan.services {
                            return Ok(());
                        }
                        let upstreams = plan.upstreams(i);
                        let body = plan.registration(&plan.service(i), i, &upstreams);
                        register(&agent, server, &body)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("register thread panicked"))
            })
            .collect()
    });
    results.into_iter().collect()
}

/// `PUT /v1/agent/service/register` (which returns once the catalog has it).
fn register(agent: &ureq::Agent, server: &Server, body: &Value) -> Result<()> {
    let mut resp = agent
        .put(format!("{}/v1/agent/service/register", server.base))
        .send_json(body)?;
    if !resp.status().is_success() {
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        bail!(
            "registering {} returned {}: {text}",
            body["ID"],
            resp.status()
        );
    }
    Ok(())
}

/// Sets the CA's `CSRMaxPerSecond` (the built-in provider, keys unchanged).
fn set_csr_rate(server: &Server, rate: u32) -> Result<()> {
    let body = json!({"Provider": "consul", "Config": {"CSRMaxPerSecond": rate}});
    let mut resp = load::agent()
        .put(format!("{}/v1/connect/ca/configuration", server.base))
        .send_json(&body)?;
    if !resp.status().is_success() {
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        bail!("CA configuration refused: {} {text}", resp.status());
    }
    Ok(())
}

// --- the changes ---

/// Flips `scenario`'s check `flips` times and times every affected client.
fn flip(
    rt: &tokio::runtime::Runtime,
    fleet: &Fleet,
    server: &Server,
    scenario: &Scenario,
    flips: usize,
) -> Result<Flips> {
    let mut out = Flips {
        what: scenario.what,
        affected: scenario.affected.len(),
        flips,
        from_sent: Vec::new(),
        from_answered: Vec::new(),
        put: Vec::new(),
        last: Vec::new(),
        agent_cpu: Duration::ZERO,
        bench_cpu: Duration::ZERO,
        extra_responses: 0,
    };
    for f in 0..flips {
        let healthy = f % 2 == 1;
        let responses = fleet.responses();
        let cpu = CpuMeter::start(server.guard.pid());
        let times = flip_once(rt, fleet, server, scenario, healthy)?;
        wait_quiet(server.guard.pid());
        let (agent_cpu, bench_cpu) = cpu.stop();
        let seen = times.seen.len() as u64;
        let extra = (fleet.responses() - responses).saturating_sub(seen);
        let put = ms(times.answered - times.sent);
        let last = times.seen.iter().max().map_or(0.0, |t| ms(*t - times.sent));
        println!(
            "    flip {} ({}): {seen} clients, last after {last:.1} ms, PUT {put:.1} ms, agent CPU {:.3} s, {extra} extra responses",
            f + 1,
            if healthy { "passing" } else { "critical" },
            agent_cpu.as_secs_f64()
        );
        out.from_sent
            .extend(times.seen.iter().map(|t| ms(*t - times.sent)));
        let after = |t: &Instant| signed_ms(*t, times.answered);
        out.from_answered.extend(times.seen.iter().map(after));
        out.put.push(put);
        out.last.push(last);
        out.agent_cpu += agent_cpu;
        out.bench_cpu += bench_cpu;
        out.extra_responses += extra;
    }
    for v in [
        &mut out.from_sent,
        &mut out.from_answered,
        &mut out.put,
        &mut out.last,
    ] {
        v.sort_by(f64::total_cmp);
    }
    Ok(out)
}

/// When one flip's PUT was sent and answered, and when each affected client held the change.
struct FlipTimes {
    sent: Instant,
    answered: Instant,
    seen: Vec<Instant>,
}

/// Sets the check to passing (`healthy`) or critical and waits for every affected client.
fn flip_once(
    rt: &tokio::runtime::Runtime,
    fleet: &Fleet,
    server: &Server,
    scenario: &Scenario,
    healthy: bool,
) -> Result<FlipTimes> {
    let (affected, service) = (&scenario.affected, &scenario.service);
    let waits = fleet.watch_change(rt, affected, service, healthy, CHANGE_TIMEOUT);
    let sent = Instant::now();
    set_check(&load::agent(), server, &scenario.check_id, healthy)?;
    let answered = Instant::now();
    let seen = fleet::join_all(rt, waits);
    let failed: Vec<&String> = seen.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(first) = failed.first() {
        bail!(
            "{} of {} affected clients did not see the change: {first}",
            failed.len(),
            seen.len()
        );
    }
    Ok(FlipTimes {
        sent,
        answered,
        seen: seen.into_iter().filter_map(Result::ok).collect(),
    })
}

/// Waits until the agent used at most [`QUIET_CPU`] in the last [`QUIET_WINDOW`].
fn wait_quiet(pid: u32) {
    let started = Instant::now();
    while started.elapsed() < QUIET_TIMEOUT {
        let window = CpuMeter::start(pid);
        std::thread::sleep(QUIET_WINDOW);
        if window.stop().0 <= QUIET_CPU {
            return;
        }
    }
}

/// `PUT /v1/agent/check/{pass,fail}/<id>` (returns once the catalog has the new status).
fn set_check(agent: &ureq::Agent, server: &Server, id: &str, passing: bool) -> Result<()> {
    let verb = if passing { "pass" } else { "fail" };
    let url = format!("{}/v1/agent/check/{verb}/{id}", server.base);
    let mut resp = agent.put(&url).send_empty()?;
    if !resp.status().is_success() {
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        bail!("PUT {url} returned {}: {text}", resp.status());
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `t - origin` in ms, negative when `t` came first.
fn signed_ms(t: Instant, origin: Instant) -> f64 {
    match t.checked_duration_since(origin) {
        Some(d) => ms(d),
        None => -ms(origin - t),
    }
}

/// CPU used by the agent and by this process from `start` to `stop`.
struct CpuMeter {
    pid: u32,
    agent: Option<Duration>,
    bench: Option<Duration>,
}

// === impl CpuMeter ===

impl CpuMeter {
    fn start(pid: u32) -> Self {
        Self {
            pid,
            agent: servers::cpu_time(pid),
            bench: servers::cpu_time(std::process::id()),
        }
    }

    /// (agent, benchmark) CPU since [`CpuMeter::start`]; zero where unreadable.
    fn stop(&self) -> (Duration, Duration) {
        let since = |before: Option<Duration>, pid: u32| {
            before
                .zip(servers::cpu_time(pid))
                .map_or(Duration::ZERO, |(b, a)| a.saturating_sub(b))
        };
        (
            since(self.agent, self.pid),
            since(self.bench, std::process::id()),
        )
    }
}

// === impl Plan ===

impl Plan {
    fn service(&self, i: usize) -> String {
        format!("svc-{i}")
    }

    fn proxy_id(&self, i: usize) -> String {
        format!("svc-{i}-sidecar-proxy")
    }

    /// The upstream services of proxy `i`: every `svc-<j>` with `j % N == (i + 1) % N`, then
    /// `hot`; none for services without a connected proxy.
    fn upstreams(&self, i: usize) -> Vec<String> {
        if i >= self.proxies {
            return Vec::new();
        }
        let first = (i + 1) % self.proxies;
        let mut ups: Vec<String> = (first..self.services)
            .step_by(self.proxies)
            .map(|j| self.service(j))
            .collect();
        ups.push("hot".into());
        ups
    }

    /// The proxies with `svc-<j>` among their upstreams.
    fn affected_by(&self, j: usize) -> Vec<usize> {
        let n = self.proxies;
        vec![(j % n + n - 1) % n]
    }

    /// `name` (ID `name`) with a sidecar whose TTL check `<name>-sidecar-ttl` is passing,
    /// on unbound ports (nothing listens: only the catalog matters here).
    fn registration(&self, name: &str, i: usize, upstreams: &[String]) -> Value {
        let upstreams: Vec<Value> = upstreams
            .iter()
            .enumerate()
            .map(|(u, up)| json!({"DestinationName": up, "LocalBindPort": 10_000 + u}))
            .collect();
        json!({
            "Name": name, "ID": name, "Port": 20_000 + i % 20_000,
            "Connect": {"SidecarService": {
                "Port": 40_000 + i % 20_000,
                "Check": {"CheckID": format!("{name}-sidecar-ttl"), "Name": "sidecar alive",
                          "TTL": "1h", "Status": "passing"},
                "Proxy": {"Upstreams": upstreams},
            }},
        })
    }

    /// (a): `svc-0`'s instance, upstream of one proxy.
    fn one_endpoint(&self) -> Scenario {
        Scenario {
            what: "(a) svc-0's instance",
            service: self.service(0),
            check_id: format!("{}-sidecar-ttl", self.service(0)),
            affected: self.affected_by(0),
        }
    }

    /// (b): `hot`'s instance, upstream of every proxy.
    fn hot(&self) -> Scenario {
        Scenario {
            what: "(b) hot's instance",
            service: "hot".into(),
            check_id: "hot-sidecar-ttl".into(),
            affected: (0..self.proxies).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_cover_every_service_once_and_name_the_affected_proxy() {
        for (proxies, services) in [(10, 10), (3, 10), (1, 4)] {
            let plan = Plan { proxies, services };
            for j in 0..services {
                let holders: Vec<usize> = (0..services)
                    .filter(|&i| plan.upstreams(i).contains(&plan.service(j)))
                    .collect();
                assert_eq!(
                    holders,
                    plan.affected_by(j),
                    "svc-{j} of {proxies}×{services}"
                );
            }
            assert!(
                (0..proxies).all(|i| plan.upstreams(i).last().map(String::as_str) == Some("hot"))
            );
        }
        let plan = Plan {
            proxies: 1000,
            services: 1000,
        };
        assert_eq!(plan.upstreams(999), ["svc-0", "hot"]);
    }
}
