//! `cargo xtask bench <name>`: benchmarks run by hand, never part of the test command.
//!
//! The load generator must not be the bottleneck, so a debug xtask (what the `cargo xtask`
//! alias builds) re-runs itself as a release build first.

mod ca;
mod catalog;
mod dns;
mod kv;
mod load;
mod report;
mod servers;
mod watch;
mod xds;

use anyhow::{Result, bail};

use crate::proc::{cargo, run_step};

/// The benchmarks, for messages.
const AVAILABLE: &str = "kv, catalog, dns, ca, xds, watch";

/// Dispatches `bench <name> [options]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    if cfg!(debug_assertions) {
        let mut cmd = cargo();
        cmd.args([
            "run",
            "--release",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "bench",
        ])
        .args(args);
        return run_step("bench (release build of xtask's load generator)", &mut cmd);
    }
    match args.split_first() {
        Some((name, rest)) if name == "kv" => kv::run(&kv::Options::parse(rest)?),
        Some((name, rest)) if name == "catalog" => catalog::run(&catalog::Options::parse(rest)?),
        Some((name, rest)) if name == "dns" => dns::run(&dns::Options::parse(rest)?),
        Some((name, rest)) if name == "ca" => ca::run(&ca::Options::parse(rest)?),
        Some((name, rest)) if name == "xds" => xds::run(&xds::Options::parse(rest)?),
        Some((name, rest)) if name == "watch" => watch::run(&watch::Options::parse(rest)?),
        Some((name, _)) => bail!("unknown benchmark {name:?} (available: {AVAILABLE})"),
        None => bail!("which benchmark? (available: {AVAILABLE})"),
    }
}
