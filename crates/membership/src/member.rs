//! Members as the pool reports them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

/// Serf's member states (Consul's `/v1/agent/members` `"Status"`: 1 alive,
/// 2 leaving, 3 left, 4 failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// Answering probes.
    Alive,
    /// Announced a graceful leave and has not gone yet.
    Leaving,
    /// Left gracefully, or was force-left after failing.
    Left,
    /// Stopped answering probes without leaving.
    Failed,
}

/// A member as the pool knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Consul node name, unique in the pool.
    pub name: String,
    /// Its gossip (`serf_lan`) address.
    pub addr: SocketAddr,
    /// Consul-style tags: `role` (`consul` for servers, `node` for clients),
    /// `dc`, `id`, `port` (server RPC port), `build`, `vsn`, `expect` ...
    pub tags: BTreeMap<String, String>,
    /// Its state.
    pub status: MemberStatus,
}

// === impl MemberStatus ===

impl MemberStatus {
    /// Serf's numeric status, as Consul's API reports it.
    pub const fn code(self) -> u8 {
        match self {
            Self::Alive => 1,
            Self::Leaving => 2,
            Self::Left => 3,
            Self::Failed => 4,
        }
    }

    /// Serf's name for the status (`alive`, `leaving`, `left`, `failed`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Leaving => "leaving",
            Self::Left => "left",
            Self::Failed => "failed",
        }
    }

    /// Whether the member is gone, by leaving or failing.
    pub const fn is_gone(self) -> bool {
        matches!(self, Self::Left | Self::Failed)
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_serf() {
        let all = [
            MemberStatus::Alive,
            MemberStatus::Leaving,
            MemberStatus::Left,
            MemberStatus::Failed,
        ];
        let codes: Vec<u8> = all.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4]);
        assert_eq!(MemberStatus::Failed.to_string(), "failed");
    }
}
