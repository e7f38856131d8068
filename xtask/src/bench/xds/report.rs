//! The report of `bench xds`: a table on the terminal and a section for `docs/benchmarks.md`.

use std::fmt::Write as _;

use anyhow::Result;

use super::super::load;
use super::{Flips, Measured, Options, QUIET_CPU, QUIET_WINDOW, REGISTER_THREADS, fleet, mesh};
use crate::proc::output;

fn pct(sorted: &[f64], p: f64) -> String {
    load::percentile(sorted, p).map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

/// One line of the report: what, and the value.
fn lines(opts: &Options, m: &Measured) -> Vec<[String; 2]> {
    let p = opts.plan;
    let line = |what: String, value: String| [what, value];
    let mut out = vec![
        line(
            format!(
                "register {} services + sidecars, and hot ({REGISTER_THREADS} writers)",
                p.services
            ),
            format!("{:.1} s", m.setup.as_secs_f64()),
        ),
        line(
            format!(
                "{} clients from start to all converged ({} clusters, {} listeners, {} endpoints)",
                p.proxies, m.converge.held[0], m.converge.held[1], m.converge.held[2]
            ),
            format!("{:.2} s", m.converge.took.as_secs_f64()),
        ),
        line(
            "per client, start → converged p50 / p99".into(),
            format!(
                "{} / {} ms",
                pct(&m.converge.per_client_ms, 50.0),
                pct(&m.converge.per_client_ms, 99.0)
            ),
        ),
        line(
            "agent CPU during convergence / benchmark process CPU".into(),
            format!(
                "{:.2} s / {:.2} s",
                m.converge.agent_cpu.as_secs_f64(),
                m.converge.bench_cpu.as_secs_f64()
            ),
        ),
        line(
            format!(
                "agent CPU over {} s idle after convergence",
                opts.idle.as_secs()
            ),
            format!("{:.2} s", m.idle_agent_cpu.as_secs_f64()),
        ),
        line(
            "agent RSS: before clients / converged / after the flips".into(),
            format!(
                "{} / {} / {} MiB",
                mib(m.rss_kib[0]),
                mib(m.rss_kib[1]),
                mib(m.rss_kib[2])
            ),
        ),
    ];
    for f in &m.flips {
        out.extend(flip_lines(f));
    }
    out
}

fn flip_lines(f: &Flips) -> Vec<[String; 2]> {
    let (what, n) = (f.what, f.from_sent.len());
    let flips = f.flips as f64;
    vec![
        [
            format!(
                "{what}: PUT sent → affected client holds it, p50 / p99 / max ({n} samples: {} clients × {} flips)",
                f.affected, f.flips
            ),
            format!(
                "{} / {} / {} ms",
                pct(&f.from_sent, 50.0),
                pct(&f.from_sent, 99.0),
                pct(&f.from_sent, 100.0)
            ),
        ],
        [
            format!("{what}: PUT answered → affected client holds it, p50 / p99 / max"),
            format!(
                "{} / {} / {} ms",
                pct(&f.from_answered, 50.0),
                pct(&f.from_answered, 99.0),
                pct(&f.from_answered, 100.0)
            ),
        ],
        [
            format!("{what}: PUT duration p50 / max; last client per flip p50 / max"),
            format!(
                "{} / {} ms; {} / {} ms",
                pct(&f.put, 50.0),
                pct(&f.put, 100.0),
                pct(&f.last, 50.0),
                pct(&f.last, 100.0)
            ),
        ],
        [
            format!(
                "{what}: CPU per flip (PUT until the agent is quiet), agent / benchmark; extra responses"
            ),
            format!(
                "{:.3} s / {:.3} s; {}",
                f.agent_cpu.as_secs_f64() / flips,
                f.bench_cpu.as_secs_f64() / flips,
                f.extra_responses
            ),
        ],
    ]
}

fn mesh_lines(m: &mesh::Measured) -> Vec<[String; 2]> {
    let ms = |r: &mesh::Run, p: f64| {
        load::percentile(&r.sorted, p).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    let pair = |direct: &mesh::Run, mesh: &mesh::Run, what: &str| {
        let (d50, d99, m50, m99) = (
            ms(direct, 50.0),
            ms(direct, 99.0),
            ms(mesh, 50.0),
            ms(mesh, 99.0),
        );
        [
            [
                format!("{what}: direct p50 / p99"),
                format!("{d50:.3} / {d99:.3} ms"),
            ],
            [
                format!("{what}: through both sidecars p50 / p99"),
                format!("{m50:.3} / {m99:.3} ms"),
            ],
            [
                format!("{what}: added by the sidecars p50 / p99"),
                format!("{:.3} / {:.3} ms", m50 - d50, m99 - d99),
            ],
            [
                format!("{what}: errors / late starts (direct, sidecars)"),
                format!(
                    "{} / {}, {} / {}",
                    direct.errors, direct.late, mesh.errors, mesh.late
                ),
            ],
        ]
    };
    let mut out = Vec::new();
    out.extend(pair(&m.direct_keepalive, &m.mesh_keepalive, "kept-alive"));
    out.extend(pair(&m.direct_new, &m.mesh_new, "new connection each"));
    out
}

pub(super) fn print_table(opts: &Options, m: &Measured) {
    println!();
    let mut all = lines(opts, m);
    if let Some(mesh) = &m.mesh {
        all.extend(mesh_lines(mesh));
    }
    let width = all
        .iter()
        .map(|[w, _]| w.chars().count())
        .max()
        .unwrap_or(0);
    for [what, value] in all {
        println!("{what:<width$}  {value:>24}");
    }
}

/// The section for `docs/benchmarks.md`.
pub(super) fn markdown(opts: &Options, m: &Measured) -> Result<String> {
    let command = &m.command;
    let date = output(std::process::Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let p = opts.plan;
    let mut md = format!(
        "### {} delta-xDS clients, {} services, {date}\n\n",
        p.proxies, p.services
    );
    let _ = writeln!(
        md,
        "Command: `{command}`, {}, {cores} cores; `agent -dev -log-level={}`, {}; the clients \
         (`skein_ads::client::DeltaClient`, {} streams per HTTP/2 connection, a 2-thread tokio \
         runtime) run in the benchmark process on the same cores. Each proxy has one or more \
         `svc-*` upstreams and `hot`; each change is {} flips of a sidecar's TTL check \
         (critical, passing, …), each once the agent used at most {} ms of CPU in {} ms.\n",
        m.version,
        opts.log_level,
        opts.csr_rate.map_or_else(
            || "the CA's default `CSRMaxPerSecond` (50)".to_owned(),
            |r| format!("`CSRMaxPerSecond = {r}`")
        ),
        fleet::PER_CHANNEL,
        opts.flips,
        QUIET_CPU.as_millis(),
        QUIET_WINDOW.as_millis(),
    );
    md.push_str("| measure | value |\n|---|--:|\n");
    for [what, value] in lines(opts, m) {
        let _ = writeln!(md, "| {what} | {value} |");
    }
    if let Some(mesh) = &m.mesh {
        let _ = writeln!(
            md,
            "\nSidecar latency, on a fresh `agent -dev`: {}, `--concurrency 1` each, started by \
             `skein connect envoy`; \
             an HTTP/1.1 backend in the benchmark process; `GET /` at {} requests/s for {} s \
             per row from {} threads (after 1 s of warm-up), latency from the first byte \
             written (connect included for new connections) to the last byte read.\n",
            mesh.envoy_version,
            mesh.rate,
            mesh.seconds,
            mesh::WORKERS
        );
        md.push_str("| measure | value |\n|---|--:|\n");
        for [what, value] in mesh_lines(mesh) {
            let _ = writeln!(md, "| {what} | {value} |");
        }
    }
    Ok(md)
}
