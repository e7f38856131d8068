//! Debian packages the tests and benchmarks drive, installed on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::proc::{command_exists, run_step};

/// A program and the Debian package that provides it.
pub(crate) struct Package {
    /// The executable looked up on `$PATH`.
    pub(crate) program: &'static str,
    /// The package that installs it.
    pub(crate) package: &'static str,
}

/// `dig`, for the DNS integration tests.
pub(crate) const DIG: Package = Package {
    program: "dig",
    package: "dnsutils",
};

/// `curl` (with nghttp2), for the HTTP/2 test of the HTTP API.
pub(crate) const CURL: Package = Package {
    program: "curl",
    package: "curl",
};

/// `dnsperf`, the load generator of `cargo xtask bench dns`.
pub(crate) const DNSPERF: Package = Package {
    program: "dnsperf",
    package: "dnsperf",
};

/// `dnsmasq` (in /usr/sbin, see [`program_path`]), the DNS server `bench dns` compares
/// skein with.
pub(crate) const DNSMASQ: Package = Package {
    program: "dnsmasq",
    package: "dnsmasq-base",
};

/// `iptables`, which the fault-injection test partitions servers with.
pub(crate) const IPTABLES: Package = Package {
    program: "iptables",
    package: "iptables",
};

/// Installs the packages whose programs are missing, with apt-get (as
/// root, or through sudo).
pub(crate) fn ensure(packages: &[Package]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|p| !command_exists(p.program) && !in_sbin(p.program))
        .map(|p| p.package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !command_exists("apt-get") {
        bail!("missing programs from Debian packages {missing:?} and no apt-get to install them");
    }
    let install = || {
        let mut cmd = apt();
        cmd.args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing);
        run_step(&format!("install {}", missing.join(" ")), &mut cmd)
    };
    if install().is_ok() {
        return Ok(());
    }
    // A fresh machine may have no package lists yet.
    run_step("apt-get update", apt().args(["update", "-q"]))?;
    install()
}

/// dnsmasq lives in /usr/sbin, which a non-root `$PATH` may not list.
fn in_sbin(program: &str) -> bool {
    Path::new("/usr/sbin").join(program).exists()
}

/// How to run `package`'s program: its name when it is on `$PATH`, else its full path in
/// /usr/sbin (where dnsmasq lives, and which a non-root `$PATH` may not list).
pub(crate) fn program_path(package: &Package) -> PathBuf {
    if !command_exists(package.program) && in_sbin(package.program) {
        return Path::new("/usr/sbin").join(package.program);
    }
    PathBuf::from(package.program)
}

fn apt() -> Command {
    let root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut cmd = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    cmd.env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}
