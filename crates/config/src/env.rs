//! The outside world as the builder sees it: files, directories, the
//! hostname and the machine's private address.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};

/// What the [`Builder`](crate::Builder) needs from the machine. Use
/// [`OsEnvironment`] for real and [`MemoryEnvironment`] in tests.
pub trait Environment {
    /// Reads a whole UTF-8 file.
    fn read_file(&self, path: &Path) -> io::Result<String>;
    /// The regular files (not directories) directly inside `path`, in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// The machine's hostname (the default `node_name`).
    fn hostname(&self) -> io::Result<String>;
    /// A private IPv4 address of this machine, used as `advertise_addr` when
    /// `bind_addr` is `0.0.0.0`.
    fn private_ipv4(&self) -> Option<Ipv4Addr>;
}

/// The real file system and network.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEnvironment;

impl Environment for OsEnvironment {
    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let p = entry?.path();
            // `metadata` follows symlinks, as Consul does.
            if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) {
                files.push(p);
            }
        }
        Ok(files)
    }

    fn hostname(&self) -> io::Result<String> {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))?;
        let name = raw.trim();
        if name.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "empty hostname"));
        }
        Ok(name.to_string())
    }

    fn private_ipv4(&self) -> Option<Ipv4Addr> {
        // Connecting a UDP socket sends nothing; it only asks the kernel which
        // local address would route to the target.
        [
            "10.255.255.255:9",
            "172.31.255.255:9",
            "192.168.255.255:9",
            "8.8.8.8:9",
        ]
        .iter()
        .filter_map(|target| local_addr_towards(target))
        .find(is_private)
    }
}

fn local_addr_towards(target: &str) -> Option<Ipv4Addr> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect(target).ok()?;
    match sock.local_addr().ok()?.ip() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

/// RFC 1918 private or RFC 6598 shared address space.
fn is_private(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private() || (a == 100 && (64..128).contains(&b))
}

/// An in-memory [`Environment`] for tests: a map of files, a fixed hostname
/// and a fixed private address.
#[derive(Debug, Clone, Default)]
pub struct MemoryEnvironment {
    files: BTreeMap<PathBuf, String>,
    hostname: Option<String>,
    private_ipv4: Option<Ipv4Addr>,
}

impl MemoryEnvironment {
    /// An empty environment: no files, no hostname, no private address.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file.
    pub fn with_file(mut self, path: impl Into<PathBuf>, contents: impl Into<String>) -> Self {
        self.files.insert(path.into(), contents.into());
        self
    }

    /// Sets the hostname.
    pub fn with_hostname(mut self, name: impl Into<String>) -> Self {
        self.hostname = Some(name.into());
        self
    }

    /// Sets the private IPv4 address.
    pub fn with_private_ipv4(mut self, ip: Ipv4Addr) -> Self {
        self.private_ipv4 = Some(ip);
        self
    }
}

fn not_found(what: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", what.display()),
    )
}

impl Environment for MemoryEnvironment {
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| not_found(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        if !self.files.keys().any(|f| f.starts_with(path) && f != path) {
            return Err(not_found(path));
        }
        Ok(self
            .files
            .keys()
            .filter(|f| f.parent() == Some(path))
            .cloned()
            .collect())
    }

    fn hostname(&self) -> io::Result<String> {
        self.hostname
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no hostname"))
    }

    fn private_ipv4(&self) -> Option<Ipv4Addr> {
        self.private_ipv4
    }
}
