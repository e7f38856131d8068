//! `cargo xtask <verb>`: skein's developer tasks.
//!
//! - `test`: the project's test command (what `.ci/run` calls): `verify`, then the
//!   py-consul conformance suite against the debug binary.
//! - `verify`: rustfmt check, clippy, the workspace tests.
//! - `compat`: only the py-consul conformance suite (see `tests/compat/README.md`).
//! - `bench kv`: skein vs etcd KV throughput and latency (by hand, never in CI).
//! - `bench catalog`: registrations, memory and health reads at scale.
//! - `bench dns`: skein's DNS interface vs dnsmasq under dnsperf.
//! - `bench ca`: Connect CA leaf signing and root rotation on one agent.
//! - `bench xds`: a catalog change reaching N delta-xDS clients; the sidecars' added latency.
//! - `bench watch`: 100,000 parked blocking queries: memory, idle CPU, hot-key wake-up.
//! - `fuzz dns`: the DNS fuzz target with many cases (by hand, never in CI).
//! - `jepsen`: the fault-injection linearizability test with a long load phase.
#![allow(clippy::print_stdout)]

mod bench;
mod compat;
mod fuzz;
mod jepsen;
mod junit;
mod proc;
mod sim;
mod system;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <verb> [options]

  test [--skip-compat] [--no-fail-fast]
        fmt check, clippy, workspace tests, then the py-consul conformance suite
  verify [--no-fail-fast]
        fmt check, clippy, workspace tests
  compat [--update-expectations] [--bin PATH] [-- PYTEST_ARGS...]
        build target/debug/skein and run py-consul 1.8.0's test suite against it;
        e.g. `cargo xtask compat -- -k test_kv`
  bench kv [--seconds N] [--clients 1,64] [--systems skein,etcd] [--cluster N] [--skein-bin PATH]
        KV put/get throughput and latency, skein vs etcd (builds a release skein
        unless --skein-bin is given)
  bench catalog [--nodes 10000] [--services-per-node 10] [--hot 1000] [--seconds S]
                [--skein-bin PATH]
        register N nodes x S services, print RSS per instance, then read the health of
        a service with H instances
  bench dns [--seconds 10] [--rounds 3] [--clients 4] [--threads 1] [--log-level L] [--skein-bin PATH]
        dnsperf against skein's DNS interface (`agent -dev`, -log-level=L if given)
        and dnsmasq, same three A records (installs dnsperf and dnsmasq-base if missing)
  bench ca [--leaves 1000] [--skein-bin PATH]
        leaf signings per second (in process and through a dev agent) and the time a
        root rotation takes to reach every leaf the agent cached
  bench xds [--proxies 1000] [--services 1000] [--flips 5] [--quick] [--rate 200]
            [--seconds 10] [--no-envoy] [--envoy PATH] [--log-level info]
            [--csr-max-per-second N] [--idle-seconds 1] [--keep-logs] [--skein-bin PATH]
        N delta-xDS clients on one `agent -dev`: initial convergence, then the time until
        every affected client holds a flipped instance health (p50/p99), agent CPU and RSS;
        then the latency two Envoy sidecars add at a fixed request rate (--quick: N=M=100)
  bench watch [--keys 10000] [--per-key 9] [--hot 10000] [--instances 1000]
              [--health-watchers 10000] [--idle-seconds 10] [--skein-bin PATH]
        parked blocking queries over HTTP/2 on one `agent -dev`: RSS per connection and per
        parked query, CPU while parked, the wake-up latency of every watcher of a hot key
        and of a 1000-instance health query, write latency of other keys meanwhile
  fuzz dns [--cases 100000]
        the DNS fuzz target (crates/dns/tests/fuzz.rs) with PROPTEST_CASES=N, release
  jepsen [--seconds 300]
        KV linearizability on a 3-server cluster under kill -9, leader pauses and
        iptables partitions (tests/integration/jepsen.rs), release
  sim [--seed N] [--seeds N] [--seconds N]
        the deterministic Raft simulation (crates/sim), release: seeds N.. (default
        20 seeds from 1; --seed N alone replays one), N simulated seconds of faults
        each (default 20); one line per seed and a summary";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nxtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((verb, rest)) = args.split_first() else {
        bail!("no verb given\n\n{USAGE}");
    };
    match verb.as_str() {
        "test" => test::run(&test::Options::parse(rest)?),
        "verify" => test::verify(&test::Options::parse(rest)?),
        "compat" => compat::run(&compat::Options::parse(rest)?),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "jepsen" => jepsen::run(rest),
        "sim" => sim::run(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown verb {other:?}\n\n{USAGE}"),
    }
}

/// The workspace root (the parent of this crate's directory).
fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `<repo>/target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo_root().join(dir),
        None => repo_root().join("target"),
    }
}
