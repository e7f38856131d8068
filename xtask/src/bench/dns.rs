//! `cargo xtask bench dns`: skein's DNS interface against dnsmasq, both driven by dnsperf.
//!
//! Both servers answer `web.service.consul A` with the same three addresses: skein as a dev
//! agent with three passing instances of `web`, dnsmasq from three `--host-record`s. A
//! `dig` query checks each answer before dnsperf sends that one question at its maximum
//! rate (no `-Q`), with the same settings, from the same machine. The runs alternate
//! between the two servers for several rounds (skein first in odd rounds, dnsmasq first
//! in even ones), so that both see the same drift of a shared machine; the report gives
//! each system's median run and the median of the rounds' ratios.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::load;
use super::servers::{self, Server};
use crate::proc::{ChildGuard, banner, display, log_tail, output};
use crate::system;

/// The name every query asks for.
const NAME: &str = "web.service.consul";
/// The addresses of `web`'s three instances, sorted.
const ADDRESSES: [&str; 3] = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
/// How long a server may take to answer all three records.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// `bench dns [--seconds S] [--rounds R] [--clients C] [--threads T] [--log-level L]
/// [--skein-bin PATH]`.
pub(crate) struct Options {
    /// Length of one dnsperf run.
    seconds: u64,
    /// dnsperf runs per system, alternating.
    rounds: usize,
    clients: usize,
    /// dnsperf's threads: one, so the other core is left to the server.
    threads: usize,
    /// skein's `-log-level`; without it, the dev agent's default (debug).
    log_level: Option<String>,
    /// A skein binary to use instead of building `target/release/skein`.
    skein_bin: Option<PathBuf>,
    /// The arguments as given, for the report's command line.
    raw: Vec<String>,
}

/// One dnsperf run's statistics.
#[derive(Debug, Default, PartialEq)]
struct Stats {
    sent: u64,
    completed: u64,
    lost: u64,
    /// `NOERROR 1000 (100.00%)`, as dnsperf prints them.
    rcodes: String,
    response_bytes: u64,
    qps: f64,
    /// Latencies in seconds.
    avg: f64,
    min: f64,
    max: f64,
    stddev: f64,
}

/// One dnsperf run against one system.
struct Run {
    stats: Stats,
    /// The server's CPU time (user + system) during the run.
    cpu: Option<Duration>,
}

impl Run {
    /// The server's CPU time per answered query, in microseconds.
    fn cpu_us_per_query(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.stats.completed > 0).then(|| cpu.as_secs_f64() * 1e6 / self.stats.completed as f64)
    }
}

/// One system's result: its runs, in round order.
struct Measured {
    version: String,
    runs: Vec<Run>,
    rss_kib: Option<u64>,
}

impl Measured {
    /// The run with the median rate (the upper one of an even count).
    fn median(&self) -> &Run {
        let mut order: Vec<&Run> = self.runs.iter().collect();
        order.sort_by(|a, b| a.stats.qps.total_cmp(&b.stats.qps));
        order[order.len() / 2]
    }
}

/// The median of `values` (the upper one of an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Each round's skein/dnsmasq ratio of `value`.
fn round_ratios(measured: &[Measured; 2], value: impl Fn(&Run) -> Option<f64>) -> Vec<f64> {
    let [skein, dnsmasq] = measured;
    skein
        .runs
        .iter()
        .zip(&dnsmasq.runs)
        .filter_map(|(a, b)| Some(value(a)? / value(b)?.max(1e-12)))
        .collect()
}

/// dnsmasq, running; stopped when dropped.
struct Dnsmasq {
    guard: ChildGuard,
    addr: SocketAddr,
    version: String,
    log: PathBuf,
}

impl Options {
    /// Parses the benchmark's arguments.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self {
            seconds: 10,
            rounds: 3,
            clients: 4,
            threads: 1,
            log_level: None,
            skein_bin: None,
            raw: args.to_vec(),
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let mut value = || iter.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--seconds" => opts.seconds = value()?.parse().context("--seconds")?,
                "--rounds" => opts.rounds = value()?.parse().context("--rounds")?,
                "--clients" => opts.clients = value()?.parse().context("--clients")?,
                "--threads" => opts.threads = value()?.parse().context("--threads")?,
                "--log-level" => opts.log_level = Some(value()?.clone()),
                "--skein-bin" => opts.skein_bin = Some(std::path::absolute(value()?)?),
                other => bail!("unknown option {other:?} (see `cargo xtask help`)"),
            }
        }
        if opts.seconds == 0 || opts.rounds == 0 || opts.clients == 0 || opts.threads == 0 {
            bail!("--seconds, --rounds, --clients and --threads must be positive");
        }
        // dnsperf runs at most one thread per client.
        opts.threads = opts.threads.min(opts.clients);
        Ok(opts)
    }
}

/// Runs the benchmark and prints the table and the Markdown report.
pub(crate) fn run(opts: &Options) -> Result<()> {
    system::ensure(&[system::DNSPERF, system::DNSMASQ, system::DIG])?;
    let scratch = tempfile::Builder::new().prefix("skein-bench-").tempdir()?;
    let extra: Vec<String> = opts
        .log_level
        .iter()
        .map(|l| format!("-log-level={l}"))
        .collect();
    let mut skein = servers::start_skein_dns(scratch.path(), opts.skein_bin.as_deref(), &extra)?;
    let result = measure(&mut skein, scratch.path(), opts);
    skein.guard.stop()?;
    let measured = result.with_context(|| format!("skein log tail:\n{}", skein.log_tail()))?;
    print_table(&measured);
    let command = format!("cargo xtask bench dns {}", opts.raw.join(" "));
    println!("\n{}", markdown(command.trim_end(), opts, &measured)?);
    Ok(())
}

/// Sets both servers up, checks their answers, then runs dnsperf against each.
fn measure(skein: &mut Server, scratch: &Path, opts: &Options) -> Result<[Measured; 2]> {
    banner("register web × 3 in skein");
    register(skein)?;
    let skein_addr = skein
        .dns
        .context("skein's ready line names no DNS address")?;
    wait_for_answers("skein", skein_addr, &mut skein.guard)?;
    let mut dnsmasq = start_dnsmasq(scratch)?;
    let checked = wait_for_answers("dnsmasq", dnsmasq.addr, &mut dnsmasq.guard);
    checked.with_context(|| format!("dnsmasq log tail:\n{}", dnsmasq.log_tail()))?;
    let queries = scratch.join("queries.txt");
    std::fs::write(&queries, format!("{NAME} A\n"))?;
    let (skein_pid, dnsmasq_pid) = (skein.guard.pid(), dnsmasq.guard.pid());
    let (mut skein_runs, mut dnsmasq_runs) = (Vec::new(), Vec::new());
    for round in 0..opts.rounds {
        banner(&format!("round {} of {}", round + 1, opts.rounds));
        let skein_first = round % 2 == 0;
        if skein_first {
            skein_runs.push(dnsperf("skein", skein_addr, skein_pid, &queries, opts)?);
        }
        let run = dnsperf("dnsmasq", dnsmasq.addr, dnsmasq_pid, &queries, opts)
            .with_context(|| format!("dnsmasq log tail:\n{}", dnsmasq.log_tail()))?;
        dnsmasq_runs.push(run);
        if !skein_first {
            skein_runs.push(dnsperf("skein", skein_addr, skein_pid, &queries, opts)?);
        }
    }
    let skein_rss = servers::rss_kib(skein_pid);
    let dnsmasq_rss = servers::rss_kib(dnsmasq_pid);
    dnsmasq.guard.stop()?;
    Ok([
        Measured {
            version: skein.version.clone(),
            runs: skein_runs,
            rss_kib: skein_rss,
        },
        Measured {
            version: dnsmasq.version,
            runs: dnsmasq_runs,
            rss_kib: dnsmasq_rss,
        },
    ])
}

/// Registers `web` three times through the agent API, one instance per address, each
/// with a passing TTL check.
fn register(skein: &Server) -> Result<()> {
    let agent = load::agent();
    for (i, address) in ADDRESSES.iter().enumerate() {
        let id = format!("web-{}", i + 1);
        let body = serde_json::json!({
            "ID": id,
            "Name": "web",
            "Address": address,
            "Port": 8080,
            "Check": { "CheckID": format!("{id}-alive"), "TTL": "1h", "Status": "passing" },
        });
        let mut resp = agent
            .put(format!("{}/v1/agent/service/register", skein.base))
            .send_json(&body)?;
        if !resp.status().is_success() {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            bail!("registering {id} returned {}: {text}", resp.status());
        }
    }
    Ok(())
}

/// Asks `addr` for [`NAME`] with `dig` until it answers exactly [`ADDRESSES`].
fn wait_for_answers(name: &str, addr: SocketAddr, guard: &mut ChildGuard) -> Result<()> {
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    let mut dig = Command::new("dig");
    dig.arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string()])
        .args(["+short", "+tries=1", "+time=1", NAME, "A"]);
    println!("    $ {}", display(&dig));
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(status) = guard.exited()? {
            bail!("{name} exited ({status}) before answering {NAME}");
        }
        last = output(&mut dig).unwrap_or_else(|e| format!("{e:#}"));
        let mut answers: Vec<&str> = last.lines().map(str::trim).collect();
        answers.sort_unstable();
        if answers == ADDRESSES {
            println!("    {name} answers {NAME} A with {}", answers.join(", "));
            return Ok(());
        }
        sleep(Duration::from_millis(200));
    }
    bail!(
        "{name} did not answer {NAME} A with {ADDRESSES:?} within {ANSWER_TIMEOUT:?}; last answer: {last:?}"
    )
}

/// Starts dnsmasq on a free loopback port with [`NAME`]'s three A records, reading no
/// configuration file, as the current user, logging to its scratch directory.
fn start_dnsmasq(scratch: &Path) -> Result<Dnsmasq> {
    let dir = scratch.join("dnsmasq");
    std::fs::create_dir_all(&dir)?;
    let log = dir.join("dnsmasq.log");
    let program = system::program_path(&system::DNSMASQ);
    // `Dnsmasq version 2.90  Copyright (c) ...`
    let version = output(Command::new(&program).arg("--version"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_udp_tcp_port()?));
    let mut cmd = Command::new(&program);
    cmd.args(["--keep-in-foreground", "--conf-file=/dev/null"])
        .args(["--no-resolv", "--no-hosts", "--bind-interfaces"])
        .arg(format!("--listen-address={}", addr.ip()))
        .arg(format!("--port={}", addr.port()))
        .arg(format!("--user={}", output(Command::new("id").arg("-un"))?))
        .arg(format!(
            "--group={}",
            output(Command::new("id").arg("-gn"))?
        ))
        .args(["--pid-file=", "--log-facility=-"])
        .args(ADDRESSES.map(|a| format!("--host-record={NAME},{a}")));
    banner("start dnsmasq");
    println!("    $ {}", display(&cmd));
    let guard = ChildGuard::spawn("dnsmasq", &mut cmd, &log)?;
    Ok(Dnsmasq {
        guard,
        addr,
        version: version
            .split_whitespace()
            .nth(2)
            .map_or_else(|| "dnsmasq ?".to_owned(), |v| format!("dnsmasq {v}")),
        log,
    })
}

/// A loopback port free for both UDP and TCP (dnsmasq binds both).
fn free_udp_tcp_port() -> Result<u16> {
    for _ in 0..16 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no loopback port free for both UDP and TCP")
}

/// Runs dnsperf against `addr` and parses its statistics; also returns the CPU time the
/// server (`pid`) used meanwhile.
fn dnsperf(name: &str, addr: SocketAddr, pid: u32, queries: &Path, opts: &Options) -> Result<Run> {
    banner(&format!("dnsperf against {name} ({addr})"));
    let mut cmd = Command::new("dnsperf");
    cmd.args(["-s", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .arg("-d")
        .arg(queries)
        .args(["-l", &opts.seconds.to_string()])
        .args(["-c", &opts.clients.to_string()])
        .args(["-T", &opts.threads.to_string()]);
    println!("    $ {}", display(&cmd));
    let cpu_before = servers::cpu_time(pid);
    let out = output(&mut cmd)?;
    let cpu = servers::cpu_time(pid)
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let stats = parse_stats(&out).with_context(|| format!("dnsperf's output:\n{out}"))?;
    println!(
        "    {name}: {:.0} queries/s, average latency {:.3} ms, {} of {} lost, {}",
        stats.qps,
        stats.avg * 1e3,
        stats.lost,
        stats.sent,
        stats.rcodes
    );
    if stats.completed == 0 {
        bail!("{name} answered none of dnsperf's {} queries", stats.sent);
    }
    Ok(Run { stats, cpu })
}

/// Parses the `Statistics:` block dnsperf prints.
fn parse_stats(out: &str) -> Result<Stats> {
    let (avg, min, max) = latencies(field(out, "Average Latency (s):")?)?;
    let sizes = field(out, "Average packet size:")?;
    let response = sizes.split("response").nth(1).context("no response size")?;
    Ok(Stats {
        sent: first_number(field(out, "Queries sent:")?)?,
        completed: first_number(field(out, "Queries completed:")?)?,
        lost: first_number(field(out, "Queries lost:")?)?,
        rcodes: field(out, "Response codes:").unwrap_or("-").to_owned(),
        response_bytes: first_number(response)?,
        qps: first_number(field(out, "Queries per second:")?)?,
        avg,
        min,
        max,
        stddev: first_number(field(out, "Latency StdDev (s):")?)?,
    })
}

/// The rest of the line that starts with `label`.
fn field<'a>(out: &'a str, label: &str) -> Result<&'a str> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .with_context(|| format!("no {label:?} line"))
}

/// `0.000423 (min 0.000060, max 0.003038)` as (average, min, max).
fn latencies(text: &str) -> Result<(f64, f64, f64)> {
    let avg = first_number(text)?;
    let after = |key: &str| {
        let rest = text
            .split(key)
            .nth(1)
            .with_context(|| format!("no {key:?}"))?;
        first_number(rest)
    };
    Ok((avg, after("min")?, after("max")?))
}

/// The first whitespace-separated token, without trailing punctuation, parsed.
fn first_number<T: std::str::FromStr>(text: &str) -> Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let token = text.split_whitespace().next().context("no value")?;
    let token = token.trim_end_matches([',', ')']);
    token
        .parse()
        .with_context(|| format!("not a number: {token:?}"))
}

/// One line of the comparison: what, skein's value, dnsmasq's, and skein/dnsmasq.
type Line = [String; 4];

/// The comparison, shared by the terminal table and the Markdown report.
fn lines(measured: &[Measured; 2]) -> Vec<Line> {
    let [skein, dnsmasq] = measured;
    let (sm, dm) = (skein.median(), dnsmasq.median());
    let (s, d) = (&sm.stats, &dm.stats);
    let ratio = |a: f64, b: f64| format!("{:.2}", a / b.max(1e-12));
    let ms = |x: f64| format!("{:.3}", x * 1e3);
    let lost = |st: &Stats| format!("{} of {}", st.lost, st.sent);
    let cpu = |r: &Run| r.cpu_us_per_query().map(|us| format!("{us:.1}"));
    let rss = |m: &Measured| m.rss_kib.map(|k| format!("{:.1}", k as f64 / 1024.0));
    let qps = |r: &Run| Some(r.stats.qps);
    let cpu_us = |r: &Run| r.cpu_us_per_query();
    let each_ratio = |f: &dyn Fn(&Run) -> Option<f64>| {
        let ratios = round_ratios(measured, f);
        let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        format!("{} (median {:.2})", listed.join(" / "), median(ratios))
    };
    let line = |what: &str, a: String, b: String, r: Option<String>| -> Line {
        [what.to_owned(), a, b, r.unwrap_or_default()]
    };
    let unknown = || "?".to_owned();
    vec![
        line(
            "queries/s, each round",
            each_run(skein, &qps, 0),
            each_run(dnsmasq, &qps, 0),
            Some(each_ratio(&qps)),
        ),
        line(
            "CPU per query (µs), each round",
            each_run(skein, &cpu_us, 1),
            each_run(dnsmasq, &cpu_us, 1),
            Some(each_ratio(&cpu_us)),
        ),
        line(
            "queries/s, median run",
            format!("{:.0}", s.qps),
            format!("{:.0}", d.qps),
            Some(ratio(s.qps, d.qps)),
        ),
        line(
            "average latency (ms)",
            ms(s.avg),
            ms(d.avg),
            Some(ratio(s.avg, d.avg)),
        ),
        line("latency stddev (ms)", ms(s.stddev), ms(d.stddev), None),
        line(
            "latency min / max (ms)",
            format!("{} / {}", ms(s.min), ms(s.max)),
            format!("{} / {}", ms(d.min), ms(d.max)),
            None,
        ),
        line("queries lost", lost(s), lost(d), None),
        line(
            "server CPU per query (µs)",
            cpu(sm).unwrap_or_else(unknown),
            cpu(dm).unwrap_or_else(unknown),
            sm.cpu_us_per_query()
                .zip(dm.cpu_us_per_query())
                .map(|(a, b)| ratio(a, b)),
        ),
        line(
            "response size (bytes)",
            s.response_bytes.to_string(),
            d.response_bytes.to_string(),
            None,
        ),
        line(
            "RSS after the run (MiB)",
            rss(skein).unwrap_or_else(unknown),
            rss(dnsmasq).unwrap_or_else(unknown),
            None,
        ),
    ]
}

/// `value` of each of `m`'s runs, in round order, with `decimals` digits.
fn each_run(m: &Measured, value: &dyn Fn(&Run) -> Option<f64>, decimals: usize) -> String {
    let values: Vec<String> = m
        .runs
        .iter()
        .map(|r| value(r).map_or_else(|| "?".to_owned(), |v| format!("{v:.decimals$}")))
        .collect();
    values.join(" / ")
}

/// The side-by-side table on the terminal.
fn print_table(measured: &[Measured; 2]) {
    println!(
        "\n{:<31} {:>26} {:>26} {:>8}",
        "", "skein", "dnsmasq", "ratio"
    );
    for [what, skein, dnsmasq, ratio] in lines(measured) {
        println!("{what:<31} {skein:>26} {dnsmasq:>26} {ratio:>8}");
    }
}

/// The section for `docs/benchmarks.md`.
fn markdown(command: &str, opts: &Options, measured: &[Measured; 2]) -> Result<String> {
    use std::fmt::Write as _;
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let [skein, dnsmasq] = measured;
    let mut md = format!("### DNS: skein vs dnsmasq, {date}\n\n");
    let _ = writeln!(
        md,
        "Command: `{command}`, {}, {}, {}, {cores} cores.",
        skein.version,
        dnsmasq.version,
        dnsperf_version()
    );
    let agent = match &opts.log_level {
        Some(level) => format!("`agent -dev -log-level={level}`"),
        None => "`agent -dev`, which logs at debug level".to_owned(),
    };
    let _ = writeln!(
        md,
        "dnsperf sends `{NAME} A` over UDP for {} s at its maximum rate with `-c {} -T {}`, \
         to skein ({agent}; three passing instances of `web`) and to dnsmasq \
         (`--host-record` ×3, no query log), alternating for {} rounds (skein first in odd \
         rounds); both answer three A records. Server CPU is user + system time during the \
         run, from `/proc/<pid>/stat`. Rows below the per-round ones describe each system's \
         median run.\n",
        opts.seconds, opts.clients, opts.threads, opts.rounds
    );
    md.push_str("| measure | skein | dnsmasq | skein/dnsmasq |\n|---|--:|--:|--:|\n");
    for [what, skein, dnsmasq, ratio] in lines(measured) {
        let _ = writeln!(md, "| {what} | {skein} | {dnsmasq} | {ratio} |");
    }
    Ok(md)
}

/// `dnsperf 2.10.0`, from `dnsperf -h` (version on stdout, usage on stderr).
fn dnsperf_version() -> String {
    let help = Command::new("dnsperf").arg("-h").output();
    let help = help.map_or_else(
        |_| String::new(),
        |o| String::from_utf8_lossy(&o.stdout).into_owned(),
    );
    help.lines()
        .find_map(|l| l.strip_prefix("Version "))
        .map_or_else(|| "dnsperf".to_owned(), |v| format!("dnsperf {v}"))
}

// === impl Dnsmasq ===

impl Dnsmasq {
    /// The end of dnsmasq's log, for error messages.
    fn log_tail(&self) -> String {
        log_tail(&self.log, 30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
Statistics:

  Queries sent:         102835
  Queries completed:    102830 (100.00%)
  Queries lost:         5 (0.00%)

  Response codes:       NOERROR 102830 (100.00%)
  Average packet size:  request 36, response 84
  Run time (s):         2.003316
  Queries per second:   51332.390896

  Average Latency (s):  0.001592 (min 0.000022, max 0.008143)
  Latency StdDev (s):   0.000855
";

    #[test]
    fn parses_dnsperf_statistics() {
        let stats = parse_stats(OUTPUT).unwrap();
        assert_eq!(
            stats,
            Stats {
                sent: 102_835,
                completed: 102_830,
                lost: 5,
                rcodes: "NOERROR 102830 (100.00%)".into(),
                response_bytes: 84,
                qps: 51_332.390896,
                avg: 0.001592,
                min: 0.000022,
                max: 0.008143,
                stddev: 0.000855,
            }
        );
    }

    #[test]
    fn missing_statistics_are_an_error() {
        assert!(parse_stats("Error: unable to open file: q.txt").is_err());
    }
}
