//! The Python side of the conformance run: the project-local virtualenv (`<repo>/.venv`)
//! and py-consul's sdist, downloaded from PyPI and unpacked under `<repo>/.cache/compat`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::proc::{banner, run_step};

/// The py-consul release whose own test suite we run.
pub(crate) const PY_CONSUL: &str = "py-consul==1.8.0";
const SDIST_STEM: &str = "py_consul-1.8.0";
const STAMP: &str = ".skein-compat-stamp";

/// Where the suite runs from.
pub(crate) struct Suite {
    /// The venv's interpreter.
    pub(crate) python: PathBuf,
    /// The unpacked sdist (holds `conftest.py` and `tests/`).
    pub(crate) dir: PathBuf,
}

/// Makes sure the venv has the pinned requirements and py-consul, and the sdist is unpacked.
pub(crate) fn ensure(root: &Path) -> Result<Suite> {
    banner("compat: python environment");
    let venv = root.join(".venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        create_venv(&venv)?;
    }
    let requirements = root.join("tests/compat/requirements.txt");
    let wanted = stamp_text(&requirements, &python)?;
    let stamp = venv.join(STAMP);
    let fresh = fs::read_to_string(&stamp).is_ok_and(|s| s == wanted);
    if fresh {
        println!("    venv up to date ({})", venv.display());
    } else {
        let _ = fs::remove_file(&stamp);
        let mut pip = pip(&python);
        pip.arg("install").arg("-r").arg(&requirements);
        run_step(
            "compat: pip install -r tests/compat/requirements.txt",
            &mut pip,
        )?;
    }
    let cache = root.join(".cache").join("compat");
    let tarball = ensure_tarball(&python, &cache)?;
    let dir = ensure_unpacked(&tarball, &cache)?;
    if !fresh {
        let mut pip = pip(&python);
        pip.args(["install", "--no-deps", "--no-build-isolation"])
            .arg(&tarball);
        run_step("compat: pip install py-consul (sdist)", &mut pip)?;
        fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
    }
    Ok(Suite { python, dir })
}

fn create_venv(venv: &Path) -> Result<()> {
    let python = std::env::var_os("SKEIN_PYTHON").unwrap_or_else(|| "python3".into());
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "venv", "--clear"]).arg(venv);
    run_step("compat: create .venv", &mut cmd).context(
        "could not create the virtualenv; on Debian/Ubuntu `apt-get install python3-venv` \
         (.ci/run does this), or point SKEIN_PYTHON at another python3",
    )
}

/// What the stamp file must contain for the venv to count as up to date.
fn stamp_text(requirements: &Path, python: &Path) -> Result<String> {
    let reqs = fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let version = crate::proc::output(Command::new(python).arg("--version"))?;
    Ok(format!("# {version}\n# {PY_CONSUL}\n{reqs}"))
}

fn pip(python: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--no-input",
        "-q",
    ]);
    cmd
}

/// `pip download`s the sdist unless it is already in the cache.
fn ensure_tarball(python: &Path, cache: &Path) -> Result<PathBuf> {
    let tarball = cache.join(format!("{SDIST_STEM}.tar.gz"));
    if tarball.exists() {
        return Ok(tarball);
    }
    fs::create_dir_all(cache)?;
    let mut cmd = pip(python);
    cmd.args(["download", "--no-deps", "--no-binary", ":all:"])
        .arg("--no-build-isolation")
        .args([PY_CONSUL, "-d"])
        .arg(cache);
    run_step("compat: pip download py-consul sdist", &mut cmd)?;
    if !tarball.exists() {
        bail!("pip download did not produce {}", tarball.display());
    }
    Ok(tarball)
}

/// Unpacks the sdist next to it (via a scratch dir, so a half-unpacked tree is never used).
fn ensure_unpacked(tarball: &Path, cache: &Path) -> Result<PathBuf> {
    let dir = cache.join(SDIST_STEM);
    if dir.join("conftest.py").exists() {
        return Ok(dir);
    }
    let scratch = cache.join("unpack.tmp");
    let _ = fs::remove_dir_all(&scratch);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&scratch)?;
    let mut tar = Command::new("tar");
    tar.arg("-xzf").arg(tarball).arg("-C").arg(&scratch);
    run_step("compat: unpack sdist", &mut tar)?;
    fs::rename(scratch.join(SDIST_STEM), &dir)
        .with_context(|| format!("moving the unpacked sdist to {}", dir.display()))?;
    fs::remove_dir_all(&scratch)?;
    if !dir.join("conftest.py").exists() {
        bail!(
            "{} has no conftest.py: not py-consul's sdist?",
            dir.display()
        );
    }
    Ok(dir)
}
