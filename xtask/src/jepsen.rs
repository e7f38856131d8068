//! `cargo xtask jepsen [--seconds N]`: the fault-injection linearizability
//! test (`tests/integration/jepsen.rs`) with a long load phase. The suite
//! runs the same test for 15 seconds.

use anyhow::{Context, Result, bail};

use crate::proc::{cargo, run_step};
use crate::system;

/// Runs the test with `SKEIN_JEPSEN_SECONDS`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut seconds: u64 = 300;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .context("--seconds needs a value")?
                    .parse()
                    .context("--seconds takes a number")?;
            }
            other => bail!("unknown option {other:?} (usage: cargo xtask jepsen [--seconds N])"),
        }
    }
    system::ensure(&[system::IPTABLES])?;
    let mut cmd = cargo();
    cmd.env("SKEIN_JEPSEN_SECONDS", seconds.to_string());
    if crate::test::has_nextest() {
        cmd.args([
            "nextest",
            "run",
            "--release",
            "-p",
            "skein",
            "--test",
            "integration",
            "--no-capture",
            "jepsen::",
        ]);
    } else {
        cmd.args([
            "test",
            "--release",
            "-p",
            "skein",
            "--test",
            "integration",
            "jepsen::",
            "--",
            "--nocapture",
        ]);
    }
    run_step(
        &format!("jepsen ({seconds} s of load under faults)"),
        &mut cmd,
    )
}
