//! The benchmark's output: one line per phase while running, then a Markdown report with
//! skein and etcd side by side (to paste into `docs/benchmarks.md`).

use std::fmt::Write as _;
use std::process::Command;

use anyhow::Result;

use super::load::Phase;
use super::servers::System;

/// One measured phase.
pub(crate) struct Row {
    pub(crate) op: &'static str,
    pub(crate) clients: usize,
    pub(crate) phase: Phase,
}

/// Everything measured for one system.
pub(crate) struct Measured {
    pub(crate) system: System,
    pub(crate) version: String,
    pub(crate) rows: Vec<Row>,
    pub(crate) rss_kib: Option<u64>,
}

impl Measured {
    fn find(&self, op: &str, clients: usize) -> Option<&Phase> {
        let row = self
            .rows
            .iter()
            .find(|r| r.op == op && r.clients == clients)?;
        Some(&row.phase)
    }
}

/// `system op clients ops/s p50 p99 errors`, printed as each phase ends.
pub(crate) fn print_phase(system: System, op: &str, clients: usize, phase: &Phase) {
    println!(
        "{:<6} {op:<4} {clients:>3} clients {:>10.1} ops/s  p50 {:>8.3} ms  p99 {:>8.3} ms  errors {}",
        system.name(),
        phase.ops_per_sec(),
        phase.percentile_ms(50.0),
        phase.percentile_ms(99.0),
        phase.errors,
    );
    if let Some(err) = &phase.first_error {
        println!("       first error: {err}");
    }
}

/// How the benchmark ran.
pub(crate) struct Setup<'a> {
    pub(crate) command: &'a str,
    pub(crate) seconds: u64,
    /// Members per system.
    pub(crate) members: usize,
}

/// The Markdown report.
pub(crate) fn markdown(setup: &Setup<'_>, measured: &[Measured]) -> Result<String> {
    let date = crate::proc::output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let (command, seconds) = (setup.command, setup.seconds);
    let shape = if setup.members == 1 {
        "single-node servers".to_owned()
    } else {
        format!(
            "{}-member clusters on one machine, client `c` talking to member \
             `(leader + c) % {}`, so a single client talks to the leader on both systems \
             (other members forward writes to the leader)",
            setup.members, setup.members
        )
    };
    let mut md = format!("### KV: skein vs etcd, {date}\n\n");
    let _ = writeln!(
        md,
        "Command: `{command}` ({seconds} s per phase), {cores} cores."
    );
    let _ = writeln!(
        md,
        "Load generator and servers on the same machine, one system at a time; {shape}; \
         128-byte values; each client PUTs `bench/<client>/<i>`, then GETs keys it wrote."
    );
    for m in measured {
        let _ = writeln!(md, "- {}: {}", m.version, notes(m.system, setup.members));
    }
    md.push('\n');
    md.push_str(&table(measured));
    md.push('\n');
    md.push_str(&memory_and_errors(measured));
    Ok(md)
}

fn notes(system: System, members: usize) -> String {
    match (system, members) {
        (System::Skein, 1) => {
            "`agent -server -bootstrap`, Consul HTTP API `/v1/kv`, GETs with default consistency"
                .into()
        }
        (System::Skein, n) => format!(
            "`agent -server -bootstrap-expect={n}`, Consul HTTP API `/v1/kv`, GETs with default \
             consistency (a follower asks the leader for a read index first)"
        ),
        (System::Etcd, n) => format!(
            "{} fsync on (default), JSON gateway `/v3/kv/put` and `/v3/kv/range`; range reads \
             are linearizable (etcd's default)",
            if n == 1 {
                "single member,".to_owned()
            } else {
                format!("{n} members,")
            }
        ),
    }
}

fn table(measured: &[Measured]) -> String {
    let skein = measured.iter().find(|m| m.system == System::Skein);
    let etcd = measured.iter().find(|m| m.system == System::Etcd);
    let mut keys: Vec<(&str, usize)> = Vec::new();
    for row in measured.iter().flat_map(|m| &m.rows) {
        if !keys.contains(&(row.op, row.clients)) {
            keys.push((row.op, row.clients));
        }
    }
    let mut md = String::from(
        "| op | clients | skein ops/s | etcd ops/s | skein/etcd | skein p50 ms | etcd p50 ms \
         | skein p99 ms | etcd p99 ms |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for (op, clients) in keys {
        let s = skein.and_then(|m| m.find(op, clients));
        let e = etcd.and_then(|m| m.find(op, clients));
        let ratio = match (s, e) {
            (Some(s), Some(e)) => format!("{:.2}", s.ops_per_sec() / e.ops_per_sec().max(1e-9)),
            _ => "-".into(),
        };
        let _ = writeln!(
            md,
            "| {op} | {clients} | {} | {} | {ratio} | {} | {} | {} | {} |",
            cell(s, |p| format!("{:.0}", p.ops_per_sec())),
            cell(e, |p| format!("{:.0}", p.ops_per_sec())),
            cell(s, |p| format!("{:.2}", p.percentile_ms(50.0))),
            cell(e, |p| format!("{:.2}", p.percentile_ms(50.0))),
            cell(s, |p| format!("{:.2}", p.percentile_ms(99.0))),
            cell(e, |p| format!("{:.2}", p.percentile_ms(99.0))),
        );
    }
    md
}

fn cell(phase: Option<&Phase>, f: impl Fn(&Phase) -> String) -> String {
    phase.map_or_else(|| "-".into(), f)
}

fn memory_and_errors(measured: &[Measured]) -> String {
    let rss: Vec<String> = measured
        .iter()
        .map(|m| match m.rss_kib {
            Some(kib) => format!("{} {:.1} MiB", m.system.name(), kib as f64 / 1024.0),
            None => format!("{} ?", m.system.name()),
        })
        .collect();
    let mut md = format!(
        "Resident memory (VmRSS, summed over members) after the run: {}.\n",
        rss.join(", ")
    );
    for m in measured {
        for row in m.rows.iter().filter(|r| r.phase.errors > 0) {
            let _ = writeln!(
                md,
                "\n{} {} with {} clients: {} failed requests (first: {}).",
                m.system.name(),
                row.op,
                row.clients,
                row.phase.errors,
                row.phase.first_error.as_deref().unwrap_or("?"),
            );
        }
    }
    md
}
