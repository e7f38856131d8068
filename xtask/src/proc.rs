//! Child processes: step banners, fail-fast commands, and a guard that stops a child on drop.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Prints a step banner.
pub(crate) fn banner(title: &str) {
    println!("\n==> {title}");
}

/// A `cargo` command, using the same cargo that runs xtask.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(crate::repo_root());
    cmd
}

/// Runs one step of a task: banner, the command with inherited stdio, fail on non-zero exit.
pub(crate) fn run_step(title: &str, cmd: &mut Command) -> Result<()> {
    banner(title);
    println!("    $ {}", display(cmd));
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("{title}: could not start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("step `{title}` failed ({status}): `{}`", display(cmd));
    }
    println!("<== {title}: ok ({:.1} s)", start.elapsed().as_secs_f64());
    Ok(())
}

/// Runs a command quietly and returns its trimmed stdout, failing on non-zero exit.
pub(crate) fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !out.status.success() {
        bail!("`{}` failed ({})", display(cmd), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `program arg arg ...`, for messages.
pub(crate) fn display(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Whether an executable named `name` is on `$PATH`.
pub(crate) fn command_exists(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How long a child gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running child that is stopped when the guard is dropped (also on error paths):
/// SIGTERM first, then SIGKILL after [`STOP_GRACE`].
pub(crate) struct ChildGuard {
    name: String,
    child: Child,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("could not start {name}: `{}`", display(cmd)))?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the child has already exited.
    pub(crate) fn exited(&mut self) -> Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Stops the child: SIGTERM, wait up to [`STOP_GRACE`], then SIGKILL.
    pub(crate) fn stop(&mut self) -> Result<()> {
        if self.exited()?.is_some() {
            return Ok(());
        }
        let pid = self.pid().to_string();
        let _ = Command::new("kill")
            .args(["-s", "TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.exited()?.is_some() {
                return Ok(());
            }
            sleep(Duration::from_millis(50));
        }
        eprintln!(
            "xtask: {} did not stop within {STOP_GRACE:?}; killing it",
            self.name
        );
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!(
                "xtask: could not stop {} (pid {}): {err:#}",
                self.name,
                self.pid()
            );
        }
    }
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
