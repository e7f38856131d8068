//! `cargo xtask fuzz <target>`: the proptest fuzz targets with many cases, run by hand
//! (the test suite runs them with proptest's default number of cases).

use anyhow::{Context, Result, bail};

use crate::proc::{cargo, run_step};
use crate::test::has_nextest;

/// The cases run when `--cases` is not given.
const DEFAULT_CASES: u64 = 100_000;

/// A fuzz target: the package and the test target that hold it.
struct Target {
    name: &'static str,
    package: &'static str,
    test: &'static str,
}

/// The targets, by name.
const TARGETS: &[Target] = &[Target {
    name: "dns",
    package: "skein-dns",
    test: "fuzz",
}];

/// Dispatches `fuzz <target> [--cases N]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    let Some((name, rest)) = args.split_first() else {
        bail!("which fuzz target? (available: {})", names.join(", "));
    };
    let Some(target) = TARGETS.iter().find(|t| t.name == name) else {
        bail!(
            "unknown fuzz target {name:?} (available: {})",
            names.join(", ")
        );
    };
    let cases = parse_cases(rest)?;
    let mut cmd = cargo();
    let title = if has_nextest() {
        cmd.args(["nextest", "run", "--release"]);
        format!("fuzz {name}: {cases} cases (cargo nextest)")
    } else {
        cmd.args(["test", "--release"]);
        format!("fuzz {name}: {cases} cases (cargo test; cargo-nextest not found)")
    };
    cmd.args(["--package", target.package, "--test", target.test])
        .env("PROPTEST_CASES", cases.to_string());
    println!("PROPTEST_CASES={cases}");
    run_step(&title, &mut cmd)
}

/// Parses `[--cases N]`.
fn parse_cases(args: &[String]) -> Result<u64> {
    let mut cases = DEFAULT_CASES;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--cases" => {
                let value = iter.next().context("--cases needs a value")?;
                cases = value.parse().context("--cases")?;
            }
            other => bail!("unknown option {other:?} (see `cargo xtask help`)"),
        }
    }
    if cases == 0 {
        bail!("--cases must be positive");
    }
    Ok(cases)
}
