//! What a run reports when every invariant held.

use std::fmt;
use std::time::Duration;

/// The faults injected in one run, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Partitions (one server isolated, or one link cut).
    pub partitions: u32,
    /// Server crashes (each followed by a restart).
    pub crashes: u32,
    /// Windows of random message loss.
    pub loss_windows: u32,
    /// Links held (messages delayed, then delivered).
    pub holds: u32,
}

/// A run in which every invariant held.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Simulated time, chaos plus settling.
    pub simulated: Duration,
    /// Wall-clock time the run took.
    pub wall: Duration,
    /// Writes the client attempted.
    pub writes_attempted: u64,
    /// Writes acknowledged as committed (all found on every server at the end).
    pub writes_acked: usize,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Distinct leaders elected (one per term at most).
    pub leaders_elected: usize,
}

// === impl FaultCounts ===

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "partitions={} crashes={} loss={} holds={}",
            self.partitions, self.crashes, self.loss_windows, self.holds
        )
    }
}

// === impl Report ===

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} ok: {:.1}s simulated in {:.1}s, {}/{} writes acked, {} leaders, faults: {}",
            self.seed,
            self.simulated.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.writes_acked,
            self.writes_attempted,
            self.leaders_elected,
            self.faults
        )
    }
}
