//! Pool configuration and SWIM timing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::{NonZeroU8, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{MembershipError, Result};
use crate::keyring::{Keyring, SEAL_OVERHEAD};
use crate::wire::ENVELOPE_LEN;

/// Largest datagram, memberlist's UDP buffer size (fits a 1500-byte MTU).
const MAX_DATAGRAM: usize = 1400;
/// Largest foca packet: a datagram less our envelope and the sealing.
pub(crate) const MAX_PACKET: usize = MAX_DATAGRAM - ENVELOPE_LEN - SEAL_OVERHEAD;
/// Members asked to probe a member that missed a direct probe
/// (memberlist's `IndirectChecks`).
const INDIRECT_PROBES: usize = 3;
/// Fallback deadline for durations too large to add to an instant.
const FAR_FUTURE: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 10);

/// How a gossip pool starts.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The node name, unique in the pool.
    pub name: String,
    /// UDP address to bind (port 0 picks a free port).
    pub bind: SocketAddr,
    /// The address other members should use (default: the bound one; a
    /// port of 0 takes the bound port).
    pub advertise: Option<SocketAddr>,
    /// The node's tags.
    pub tags: BTreeMap<String, String>,
    /// Probe, suspicion and gossip timing.
    pub timing: Timing,
    /// Gossip encryption keys (Consul's `encrypt`). With a keyring every
    /// datagram is sealed with AES-GCM and unsealed ones are dropped;
    /// without one, sealed ones are dropped.
    pub keyring: Option<Keyring>,
    /// Where the keyring is kept across restarts (Serf's `local.keyring`:
    /// a JSON list of base64 keys, the primary first). When the file
    /// exists it is loaded in preference to [`PoolConfig::keyring`]; it is
    /// rewritten after every keyring change.
    pub keyring_file: Option<PathBuf>,
    /// Where the members this node knows are kept across restarts (Serf's
    /// `local.snapshot`); at start the pool rejoins them.
    pub snapshot_file: Option<PathBuf>,
    /// Rejoin the snapshot's members even after a graceful leave (Consul's
    /// `rejoin_after_leave`).
    pub rejoin_after_leave: bool,
}

/// SWIM and Serf timing of a pool.
///
/// [`Timing::lan`] is Consul's LAN pool (memberlist's `DefaultLANConfig`,
/// Serf's defaults with Consul's 72h reconnect timeout); [`Timing::fast`]
/// is for tests on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timing {
    /// How often a member probes another one.
    pub probe_interval: Duration,
    /// How long a direct probe waits for its ack before asking others to
    /// probe indirectly.
    pub probe_timeout: Duration,
    /// A suspected member is declared failed after
    /// `suspicion_mult * max(1, log10(n)) * probe_interval`.
    pub suspicion_mult: u32,
    /// How often queued updates are gossiped.
    pub gossip_interval: Duration,
    /// How many members each gossip round goes to.
    pub gossip_nodes: usize,
    /// An update is retransmitted `retransmit_mult * ceil(log10(n + 1))` times.
    pub retransmit_mult: u32,
    /// How often a member asks a random live member for its member list
    /// (memberlist's push/pull).
    pub push_pull_interval: Duration,
    /// How often a member tries to reach a failed member again (Serf's
    /// reconnect).
    pub reconnect_interval: Duration,
    /// How long `join` waits for each address to answer.
    pub join_timeout: Duration,
    /// How long a leaving member spreads its leave intent before it
    /// declares itself gone (Serf's `LeavePropagateDelay`).
    pub leave_propagate_delay: Duration,
    /// How long failed and left members stay listed (Consul's
    /// `reconnect_timeout`, 72h).
    pub reap_after: Duration,
    /// How long a keyring operation waits for every member's answer
    /// (Serf's query timeout: gossip interval x 16 x ceil(log10(n + 1)),
    /// 3.2s for a LAN pool under ten members).
    pub query_timeout: Duration,
}

// === impl PoolConfig ===

impl PoolConfig {
    /// A pool named `name` bound to `bind`, with no tags and LAN timing.
    pub fn new(name: impl Into<String>, bind: SocketAddr) -> Self {
        Self {
            name: name.into(),
            bind,
            advertise: None,
            tags: BTreeMap::new(),
            timing: Timing::lan(),
            keyring: None,
            keyring_file: None,
            snapshot_file: None,
            rejoin_after_leave: false,
        }
    }
}

// === impl Timing ===

impl Timing {
    /// Consul's LAN defaults: probe 1s, timeout 500ms, suspicion
    /// multiplier 4, gossip every 200ms to 3 members, push/pull 30s,
    /// reconnect 30s, reap after 72h.
    pub fn lan() -> Self {
        Self {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            suspicion_mult: 4,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            retransmit_mult: 4,
            push_pull_interval: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
            join_timeout: Duration::from_secs(5),
            leave_propagate_delay: Duration::from_secs(1),
            reap_after: Duration::from_secs(72 * 60 * 60),
            query_timeout: Duration::from_millis(3200),
        }
    }

    /// Consul's WAN pool (memberlist's `DefaultWANConfig`): probe 5s,
    /// timeout 3s, suspicion multiplier 6, gossip every 500ms to 4 members,
    /// push/pull 60s.
    pub fn wan() -> Self {
        Self {
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            suspicion_mult: 6,
            gossip_interval: Duration::from_millis(500),
            gossip_nodes: 4,
            push_pull_interval: Duration::from_secs(60),
            ..Self::lan()
        }
    }

    /// Timing for tests on one machine: probe 200ms, timeout 100ms,
    /// suspicion multiplier 4 (a silent member fails after about a
    /// second), gossip every 50ms.
    pub fn fast() -> Self {
        Self {
            probe_interval: Duration::from_millis(200),
            probe_timeout: Duration::from_millis(100),
            suspicion_mult: 4,
            gossip_interval: Duration::from_millis(50),
            gossip_nodes: 3,
            retransmit_mult: 4,
            push_pull_interval: Duration::from_secs(1),
            reconnect_interval: Duration::from_secs(1),
            join_timeout: Duration::from_secs(2),
            leave_propagate_delay: Duration::from_millis(100),
            reap_after: Duration::from_secs(60 * 60),
            query_timeout: Duration::from_secs(1),
        }
    }

    /// Sets how long failed and left members stay listed.
    pub fn with_reap_after(mut self, reap_after: Duration) -> Self {
        self.reap_after = reap_after;
        self
    }

    /// Checks the values foca cannot work with.
    pub(crate) fn validate(&self) -> Result<()> {
        let reason = if self.probe_interval.is_zero() {
            "probe_interval must be positive"
        } else if self.probe_timeout.is_zero() {
            "probe_timeout must be positive"
        } else if self.probe_timeout >= self.probe_interval {
            "probe_timeout must be shorter than probe_interval"
        } else if self.gossip_interval.is_zero() {
            "gossip_interval must be positive"
        } else if self.push_pull_interval.is_zero() {
            "push_pull_interval must be positive"
        } else if self.reconnect_interval.is_zero() {
            "reconnect_interval must be positive"
        } else if self.reap_after.is_zero() {
            "reap_after must be positive"
        } else if self.query_timeout.is_zero() {
            "query_timeout must be positive"
        } else {
            return Ok(());
        };
        Err(MembershipError::InvalidTiming { reason })
    }

    /// How long a suspected member has to refute before it is failed, in a
    /// pool of `members`.
    pub(crate) fn suspicion_timeout(&self, members: usize) -> Duration {
        let scale = log10(members).max(1.0);
        let secs =
            self.probe_interval.as_secs_f64() * scale * f64::from(self.suspicion_mult.max(1));
        Duration::try_from_secs_f64(secs).unwrap_or(FAR_FUTURE)
    }

    /// How many times an update is retransmitted in a pool of `members`.
    pub(crate) fn retransmits(&self, members: usize) -> NonZeroU8 {
        let rounds = log10(members.saturating_add(1)).ceil().max(1.0);
        let limit = (rounds * f64::from(self.retransmit_mult.max(1))).min(f64::from(u8::MAX));
        // `limit` is within [1, 255]; the cast cannot truncate.
        NonZeroU8::new(limit as u8).unwrap_or(NonZeroU8::MIN)
    }

    /// The foca configuration for a pool of `members` (including this one).
    pub(crate) fn foca_config(&self, members: usize) -> foca::Config {
        foca::Config {
            probe_period: self.probe_interval,
            probe_rtt: self.probe_timeout,
            num_indirect_probes: NonZeroUsize::new(INDIRECT_PROBES).unwrap_or(NonZeroUsize::MIN),
            max_transmissions: self.retransmits(members),
            suspect_to_down_after: self.suspicion_timeout(members),
            remove_down_after: Some(self.reap_after),
            max_packet_size: NonZeroUsize::new(MAX_PACKET).unwrap_or(NonZeroUsize::MIN),
            notify_down_members: true,
            periodic_announce: Some(periodic(self.push_pull_interval, 1)),
            periodic_announce_to_down_members: Some(periodic(self.reconnect_interval, 1)),
            periodic_gossip: Some(periodic(self.gossip_interval, self.gossip_nodes)),
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self::lan()
    }
}

/// `now + after`, saturating far in the future.
pub(crate) fn deadline(now: tokio::time::Instant, after: Duration) -> tokio::time::Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

fn periodic(frequency: Duration, members: usize) -> foca::PeriodicParams {
    foca::PeriodicParams {
        frequency,
        num_members: NonZeroUsize::new(members).unwrap_or(NonZeroUsize::MIN),
    }
}

#[allow(clippy::cast_precision_loss)]
fn log10(n: usize) -> f64 {
    (n as f64).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicion_scales_like_memberlist() {
        let lan = Timing::lan();
        assert_eq!(lan.suspicion_timeout(1), Duration::from_secs(4));
        assert_eq!(lan.suspicion_timeout(10), Duration::from_secs(4));
        assert_eq!(lan.suspicion_timeout(100), Duration::from_secs(8));
        assert_eq!(
            Timing::fast().suspicion_timeout(3),
            Duration::from_millis(800)
        );
    }

    #[test]
    fn retransmits_scale_like_memberlist() {
        let lan = Timing::lan();
        assert_eq!(lan.retransmits(1).get(), 4);
        assert_eq!(lan.retransmits(3).get(), 4);
        assert_eq!(lan.retransmits(10).get(), 8);
        assert_eq!(lan.retransmits(1000).get(), 16);
    }

    #[test]
    fn validation_names_the_value() {
        assert!(Timing::lan().validate().is_ok());
        assert!(Timing::fast().validate().is_ok());
        let mut bad = Timing::fast();
        bad.probe_timeout = bad.probe_interval;
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("probe_timeout"), "{err}");
    }

    #[test]
    fn deadline_saturates() {
        let now = tokio::time::Instant::now();
        assert!(deadline(now, Duration::MAX) > now);
        assert_eq!(
            deadline(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
