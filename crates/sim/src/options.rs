//! The knobs of a run. Everything else comes from the seed.

use std::time::Duration;

/// How a simulated run is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Servers in the Raft group (`s1`..`sN`).
    pub servers: u64,
    /// Simulated time of writes under faults.
    pub chaos: Duration,
    /// Simulated time allowed, after every fault is healed, for a leader to
    /// be elected and every server to apply the whole log.
    pub settle: Duration,
    /// Whether a server's disk survives a crash. `false` is a deliberately
    /// broken setup (a restarted server forgets its vote and log) that the
    /// invariants are expected to catch.
    pub durable_storage: bool,
    /// Per-message chance that a link fails during a message-loss window.
    pub loss_rate: f64,
    /// Largest one-way message latency.
    pub max_latency: Duration,
    /// Entries between snapshots (small, so snapshots, log purging and
    /// snapshot installs happen).
    pub snapshot_threshold: u64,
}

// === impl SimOptions ===

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            servers: 3,
            chaos: Duration::from_secs(20),
            settle: Duration::from_secs(30),
            durable_storage: true,
            loss_rate: 0.05,
            max_latency: Duration::from_millis(20),
            snapshot_threshold: 64,
        }
    }
}
