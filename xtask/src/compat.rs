//! `cargo xtask compat`: py-consul 1.8.0's own test suite against our binary.
//!
//! The suite is fetched from PyPI at test time (never committed), run by pytest with
//! `tests/compat/skein_plugin.py` standing in for Docker, and the JUnit report is checked
//! against `tests/compat/expected-failures.txt`. See `tests/compat/README.md`.

mod expectations;
mod setup;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::proc::{banner, cargo, display, run_step};
use expectations::{Expectations, Verdict};

/// The only Consul version parametrization we run (py-consul runs each server test
/// against three Consul images; one binary needs only one).
const CONSUL_VERSION: &str = "1.22.0";
/// pytest-timeout's limit per test, so one hang cannot eat the CI budget.
const TEST_TIMEOUT_SECONDS: u32 = 60;
const EXPECTATIONS: &str = "tests/compat/expected-failures.txt";

/// `compat [--update-expectations] [--bin PATH] [-- PYTEST_ARGS...]`.
#[derive(Default)]
pub(crate) struct Options {
    update_expectations: bool,
    bin: Option<PathBuf>,
    pytest_args: Vec<String>,
}

impl Options {
    /// Parses the verb's arguments; everything after `--` goes to pytest.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--update-expectations" => opts.update_expectations = true,
                "--bin" => opts.bin = Some(iter.next().context("--bin needs a path")?.into()),
                "--" => opts.pytest_args = iter.by_ref().cloned().collect(),
                other => bail!("unknown option {other:?} (pytest arguments go after `--`)"),
            }
        }
        if opts.update_expectations && std::env::var_os("CI").is_some() {
            bail!("--update-expectations is for developers, not CI");
        }
        Ok(opts)
    }
}

/// Builds the debug binary (unless `--bin`), runs the suite, judges the report.
/// The project virtualenv with its pinned packages (py-consul's suite and
/// the Envoy binary the mesh tests run), set up before the workspace tests.
pub(crate) fn ensure_python_env() -> Result<()> {
    setup::ensure(&crate::repo_root()).map(|_| ())
}

pub(crate) fn run(opts: &Options) -> Result<()> {
    let root = crate::repo_root();
    let bin = match &opts.bin {
        Some(bin) => std::path::absolute(bin)?,
        None => build_debug_binary()?,
    };
    let suite = setup::ensure(&root)?;
    let out = crate::target_dir().join("compat");
    let report = out.join("junit.xml");
    run_pytest(&root, &suite, &bin, &out, &opts.pytest_args)?;
    let cases = crate::junit::parse_file(&report)?;
    let expectations_path = root.join(EXPECTATIONS);
    let expected = Expectations::load(&expectations_path)?;
    let verdict = Verdict::judge(&cases, &expected);
    banner("compat: results");
    print!("{}", verdict.report());
    fs::write(out.join("summary.txt"), verdict.counts())?;
    println!(
        "(report {}, agent logs {})",
        report.display(),
        out.join("logs").display()
    );
    if opts.update_expectations {
        fs::write(&expectations_path, expected.updated(&cases))?;
        println!("rewrote {EXPECTATIONS}: review the diff and fill in the reasons");
        return Ok(());
    }
    if !verdict.ok() {
        bail!("py-consul conformance does not match {EXPECTATIONS} (see above)");
    }
    println!("py-consul conformance matches {EXPECTATIONS}");
    Ok(())
}

fn build_debug_binary() -> Result<PathBuf> {
    run_step(
        "build skein (debug)",
        cargo().args(["build", "--bin", "skein"]),
    )?;
    Ok(crate::target_dir().join("debug").join("skein"))
}

/// Runs pytest from the sdist root; exit codes 0 (all passed) and 1 (some failed) are
/// both fine here: the JUnit report is judged afterwards.
fn run_pytest(
    root: &Path,
    suite: &setup::Suite,
    bin: &Path,
    out: &Path,
    extra: &[String],
) -> Result<()> {
    let report = out.join("junit.xml");
    let _ = fs::remove_file(&report);
    let logs = out.join("logs");
    let _ = fs::remove_dir_all(&logs);
    fs::create_dir_all(&logs)?;
    let mut cmd = pytest_command(root, suite, bin, &report, extra);
    cmd.env("SKEIN_COMPAT_LOG_DIR", &logs);
    banner("compat: py-consul test suite");
    println!("    $ {}", display(&cmd));
    let status = cmd.status().context("could not start pytest")?;
    match status.code() {
        Some(0 | 1) if report.exists() => Ok(()),
        Some(5) => bail!("pytest collected no tests (check the -k / node id arguments)"),
        _ => bail!("pytest did not complete ({status}); see its output above"),
    }
}

fn pytest_command(
    root: &Path,
    suite: &setup::Suite,
    bin: &Path,
    report: &Path,
    extra: &[String],
) -> Command {
    let mut cmd = Command::new(&suite.python);
    cmd.current_dir(&suite.dir)
        .args([
            "-m",
            "pytest",
            "-p",
            "skein_plugin",
            "-p",
            "no:cacheprovider",
        ])
        // the sdist's addopts turn on pytest-cov; junit_family=xunit1 adds `file=`
        .args(["-o", "addopts=", "-o", "junit_family=xunit1"])
        .arg(format!("--junitxml={}", report.display()))
        .arg(format!("--timeout={TEST_TIMEOUT_SECONDS}"))
        // native tracebacks: pytest's own renderer re-parses sources with `ast`, which trips
        // CPython 3.11's "AST constructor recursion depth mismatch" bug (python/cpython#106905)
        .args(["--tb=native", "-rfE"])
        .env("PYTHONPATH", root.join("tests").join("compat"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CONSUL_BIN", bin)
        .env("SKEIN_COMPAT_VERSIONS", CONSUL_VERSION);
    // The client reads these; a developer's own settings must not leak into the suite.
    for var in [
        "CONSUL_HTTP_ADDR",
        "CONSUL_HTTP_TOKEN",
        "CONSUL_HTTP_SSL",
        "CONSUL_HTTP_SSL_VERIFY",
    ] {
        cmd.env_remove(var);
    }
    // Explicit test paths / node ids replace the default `tests` directory.
    if !extra.iter().any(|a| a.starts_with("tests")) {
        cmd.arg("tests");
    }
    cmd.args(extra);
    cmd
}
