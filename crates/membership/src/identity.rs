//! The foca identity of a member: name, address, generation and tags.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{MembershipError, Result};
use crate::member::{Member, MemberStatus};

/// The largest encoded identity (name, address, generation and tags).
///
/// A foca header carries up to three identities and must leave room in a
/// 1400-byte packet for at least one member update (another identity), so
/// an identity gets a little under a third of the packet. Consul's tags
/// (`role`, `dc`, `id`, `port`, `build`, `vsn`...) take about 250 bytes.
pub const MAX_IDENTITY_BYTES: usize = 448;

/// Who a member is, as foca sees it.
///
/// foca's `Identity::Addr` is the node name: a name is one member, and of
/// two identities with the same name the higher generation wins. The
/// generation starts at the wall clock in milliseconds (so a restarted node
/// replaces its previous run) and grows by one on each renewal or tag
/// change.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeId {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) generation: u64,
    pub(crate) tags: BTreeMap<String, String>,
}

// === impl NodeId ===

impl NodeId {
    /// A fresh identity, generation taken from the clock.
    pub(crate) fn new(name: String, addr: SocketAddr, tags: BTreeMap<String, String>) -> Self {
        Self {
            name,
            addr,
            generation: clock_generation(),
            tags,
        }
    }

    /// The same member with other tags, in a newer generation.
    pub(crate) fn with_tags(&self, tags: BTreeMap<String, String>) -> Self {
        Self {
            name: self.name.clone(),
            addr: self.addr,
            generation: clock_generation().max(self.generation.saturating_add(1)),
            tags,
        }
    }

    /// The encoded size in bytes.
    pub(crate) fn encoded_len(&self) -> usize {
        postcard::experimental::serialized_size(self).unwrap_or(usize::MAX)
    }

    /// Fails when the encoded identity is over [`MAX_IDENTITY_BYTES`].
    pub(crate) fn check_size(&self) -> Result<()> {
        let size = self.encoded_len();
        if size > MAX_IDENTITY_BYTES {
            return Err(MembershipError::IdentityTooLarge {
                size,
                limit: MAX_IDENTITY_BYTES,
            });
        }
        Ok(())
    }

    /// The member this identity describes, in `status`.
    pub(crate) fn to_member(&self, status: MemberStatus) -> Member {
        Member {
            name: self.name.clone(),
            addr: self.addr,
            tags: self.tags.clone(),
            status,
        }
    }

    /// The total order that settles conflicts between identities of one
    /// name: generation first, then address and tags so that every member
    /// picks the same winner.
    fn rank(&self) -> (u64, SocketAddr, &BTreeMap<String, String>) {
        (self.generation, self.addr, &self.tags)
    }
}

impl foca::Identity for NodeId {
    type Addr = String;

    /// Declared failed while alive: come back as the next generation.
    fn renew(&self) -> Option<Self> {
        Some(Self {
            generation: self.generation.checked_add(1)?,
            ..self.clone()
        })
    }

    fn addr(&self) -> String {
        self.name.clone()
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.rank() > adversary.rank()
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}#{}", self.name, self.addr, self.generation)
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn clock_generation() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use foca::Identity;

    use super::*;

    fn id(name: &str, generation: u64) -> NodeId {
        NodeId {
            name: name.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8301)),
            generation,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn newer_generation_wins() {
        let old = id("a", 5);
        let new = old.renew().unwrap();
        assert_eq!(new.generation, 6);
        assert!(new.win_addr_conflict(&old));
        assert!(!old.win_addr_conflict(&new));
        assert_eq!(new.addr(), "a");
    }

    #[test]
    fn equal_generations_have_one_winner() {
        let a = id("a", 5);
        let mut b = id("a", 5);
        b.tags.insert("role".into(), "node".into());
        assert_ne!(a.win_addr_conflict(&b), b.win_addr_conflict(&a));
    }

    #[test]
    fn tag_change_bumps_generation() {
        let a = id("a", u64::MAX - 1);
        let b = a.with_tags(BTreeMap::from([("dc".into(), "dc1".into())]));
        assert_eq!(b.generation, u64::MAX);
        assert!(b.win_addr_conflict(&a));
        assert!(b.renew().is_none(), "generation overflow must not wrap");
    }

    #[test]
    fn consul_sized_tags_fit() {
        let mut a = id("ip-10-0-1-23.ec2.internal", 1_700_000_000_000);
        for (k, v) in [
            ("role", "consul"),
            ("dc", "us-east-1"),
            ("segment", ""),
            ("id", "8f246b77-f3e1-ff88-5b48-8ec93abf3e05"),
            ("vsn", "2"),
            ("vsn_min", "2"),
            ("vsn_max", "3"),
            ("build", "1.17.0:4e3f428b"),
            ("port", "8300"),
            ("grpc_port", "8502"),
            ("raft_vsn", "3"),
            ("expect", "3"),
            ("wan_join_port", "8302"),
            ("ft_fs", "1"),
            ("ft_si", "1"),
        ] {
            a.tags.insert(k.into(), v.into());
        }
        a.check_size().unwrap();
        a.tags.insert("big".into(), "x".repeat(MAX_IDENTITY_BYTES));
        assert!(matches!(
            a.check_size(),
            Err(MembershipError::IdentityTooLarge { .. })
        ));
    }
}
