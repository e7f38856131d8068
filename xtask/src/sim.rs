//! `cargo xtask sim [--seed N] [--seeds N] [--seconds N]`: the deterministic
//! Raft simulation (`crates/sim`) over many seeds, in release. The test suite
//! runs five fixed seeds; a failing seed prints the command that replays it.

use anyhow::{Context, Result, bail};

use crate::proc::{cargo, run_step};

/// Seeds run when neither `--seed` nor `--seeds` is given.
const DEFAULT_SEEDS: u64 = 20;

/// Runs the `skein-sim` binary with the options given.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut forward: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seed" | "--seeds" | "--seconds" => {
                let value = it.next().with_context(|| format!("{arg} needs a value"))?;
                value
                    .parse::<u64>()
                    .with_context(|| format!("{arg} takes a number"))?;
                forward.extend([arg.clone(), value.clone()]);
            }
            other => bail!(
                "unknown option {other:?} (usage: cargo xtask sim [--seed N] [--seeds N] [--seconds N])"
            ),
        }
    }
    if !forward.iter().any(|a| a == "--seed" || a == "--seeds") {
        forward.extend(["--seeds".to_owned(), DEFAULT_SEEDS.to_string()]);
    }
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "skein-sim",
        "--bin",
        "skein-sim",
        "--",
    ])
    .args(&forward);
    run_step("raft simulation", &mut cmd)
}
