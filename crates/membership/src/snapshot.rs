//! The pool's snapshot (Serf's `local.snapshot`): the members a node
//! knew, kept on disk so that after a restart it rejoins them, whatever
//! its `retry_join` says.
//!
//! Without it a server whose only join address is its own (common: every
//! server lists the same seed) comes back as a pool of one, and whoever
//! joins through it next splits the datacenter in two.
//!
//! The file is JSON: the members not known to have left (failed ones
//! included, since they may be back by the time we are) by name with their
//! gossip address, and whether this node left gracefully. A node that left
//! does not rejoin on its own unless `rejoin_after_leave` is set, as in
//! Consul.
//!
//! Writing is skipped while the pool knows no other member: a node that
//! has just restarted alone must not forget the members it has yet to
//! reach.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::member::{Member, MemberStatus};

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Known {
    /// Other members not known to have left: name → gossip address.
    members: BTreeMap<String, SocketAddr>,
    /// Whether this node left the pool gracefully.
    left: bool,
}

/// Keeps the snapshot file in step with the member table.
pub(crate) struct Snapshotter {
    path: PathBuf,
    /// What the file holds now.
    written: Known,
}

// === impl Known ===

impl Known {
    /// The other members of `members` (every member, `local` among them)
    /// that have not left.
    pub(crate) fn of(members: &[Member], local: &str) -> Self {
        let members = members
            .iter()
            .filter(|m| m.name != local)
            .filter(|m| !matches!(m.status, MemberStatus::Left | MemberStatus::Leaving))
            .map(|m| (m.name.clone(), m.addr))
            .collect();
        Self {
            members,
            left: false,
        }
    }

    /// The addresses to rejoin at start: none after a graceful leave
    /// unless `rejoin_after_leave`.
    pub(crate) fn rejoin_addrs(&self, rejoin_after_leave: bool) -> Vec<SocketAddr> {
        if self.left && !rejoin_after_leave {
            return Vec::new();
        }
        self.members.values().copied().collect()
    }

    /// Whether this node had left gracefully.
    pub(crate) fn left(&self) -> bool {
        self.left
    }
}

// === impl Snapshotter ===

impl Snapshotter {
    /// Opens the snapshot at `path`. A missing file is an empty snapshot;
    /// an unreadable or malformed one is logged and replaced at the next
    /// write, since it only speeds up rejoining.
    pub(crate) fn open(path: PathBuf) -> Self {
        let written = match std::fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data).unwrap_or_else(|error| {
                warn!(path = %path.display(), %error, "ignoring a malformed gossip snapshot");
                Known::default()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Known::default(),
            Err(error) => {
                warn!(path = %path.display(), %error, "ignoring an unreadable gossip snapshot");
                Known::default()
            }
        };
        Self { path, written }
    }

    /// What the file held when opened (or last written).
    pub(crate) fn known(&self) -> &Known {
        &self.written
    }

    /// Records the table's `members` (`local` among them) if they differ
    /// from the file and the table knows anyone besides us.
    pub(crate) fn record(&mut self, members: &[Member], local: &str) {
        if members.iter().all(|m| m.name == local) {
            return;
        }
        let next = Known::of(members, local);
        self.write(next);
    }

    /// Records a graceful leave, keeping the members.
    pub(crate) fn record_leave(&mut self) {
        let next = Known {
            left: true,
            ..self.written.clone()
        };
        self.write(next);
    }

    fn write(&mut self, next: Known) {
        if next == self.written {
            return;
        }
        match save(&self.path, &next) {
            Ok(()) => {
                debug!(
                    members = next.members.len(),
                    left = next.left,
                    "gossip snapshot written"
                );
                self.written = next;
            }
            Err(error) => {
                warn!(path = %self.path.display(), %error, "writing the gossip snapshot failed");
            }
        }
    }
}

/// Writes `known` to `path` through a temporary file, so a crash leaves
/// the old or the new snapshot, never half of one.
fn save(path: &Path, known: &Known) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let data = serde_json::to_vec(known).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, port: u16, status: MemberStatus) -> Member {
        Member {
            name: name.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tags: BTreeMap::new(),
            status,
        }
    }

    #[test]
    fn keeps_failed_members_and_drops_those_that_left() {
        let members = [
            member("a", 1, MemberStatus::Alive),
            member("b", 2, MemberStatus::Failed),
            member("c", 3, MemberStatus::Left),
            member("d", 4, MemberStatus::Leaving),
            member("me", 5, MemberStatus::Alive),
        ];
        let known = Known::of(&members, "me");
        let addrs = known.rejoin_addrs(false);
        assert_eq!(
            addrs,
            vec![
                SocketAddr::from(([127, 0, 0, 1], 1)),
                SocketAddr::from(([127, 0, 0, 1], 2))
            ]
        );
    }

    #[test]
    fn survives_a_restart_and_a_lonely_start_does_not_erase_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serf").join("local.snapshot");
        let mut snap = Snapshotter::open(path.clone());
        assert_eq!(snap.known(), &Known::default());
        snap.record(
            &[
                member("me", 5, MemberStatus::Alive),
                member("a", 1, MemberStatus::Alive),
            ],
            "me",
        );

        let mut again = Snapshotter::open(path.clone());
        assert_eq!(again.known().rejoin_addrs(false).len(), 1);
        // Alone after the restart: nothing is forgotten.
        again.record(&[member("me", 5, MemberStatus::Alive)], "me");
        let third = Snapshotter::open(path);
        assert_eq!(third.known().rejoin_addrs(false).len(), 1);
    }

    #[test]
    fn a_graceful_leave_stops_rejoining_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.snapshot");
        let mut snap = Snapshotter::open(path.clone());
        snap.record(
            &[
                member("me", 5, MemberStatus::Alive),
                member("a", 1, MemberStatus::Alive),
            ],
            "me",
        );
        snap.record_leave();
        let reopened = Snapshotter::open(path);
        assert!(reopened.known().left());
        assert!(reopened.known().rejoin_addrs(false).is_empty());
        assert_eq!(reopened.known().rejoin_addrs(true).len(), 1);
    }

    #[test]
    fn a_malformed_file_is_an_empty_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.snapshot");
        std::fs::write(&path, b"{not json").unwrap();
        let snap = Snapshotter::open(path);
        assert_eq!(snap.known(), &Known::default());
    }
}
