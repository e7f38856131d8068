//! The one error type of the simulation: an invariant that broke, or a run
//! that could not be carried out, always with the seed that reproduces it.

use std::fmt;

/// What broke in a simulated run. Every variant carries the seed, and the
/// message ends with the commands that replay it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// Leader ids went down along the log: the entry at `later` was written
    /// by a lower leader id than the entry at `earlier`, so a leader that a
    /// higher one had superseded got an entry committed. (openraft's default
    /// mode lets several leaders win one term; only the highest may commit.)
    #[error(
        "seed {seed}: index {later} was committed from {lower} after index {earlier} from {higher}: a superseded leader committed\n{}",
        Reproduce(*.seed)
    )]
    SupersededLeaderCommitted {
        /// The seed.
        seed: u64,
        /// The lower index.
        earlier: u64,
        /// The (higher) leader id of the entry there.
        higher: String,
        /// The higher index.
        later: u64,
        /// The (lower) leader id of the entry there.
        lower: String,
    },
    /// A server's vote went back (a granted vote taken back, e.g. after a
    /// restart that lost it).
    #[error("seed {seed}: s{node} vote went back from {from} to {to}\n{}", Reproduce(*.seed))]
    VoteWentBack {
        /// The seed.
        seed: u64,
        /// The server.
        node: u64,
        /// The vote seen before.
        from: String,
        /// The lower vote seen after.
        to: String,
    },
    /// An acknowledged write is missing or different on a server after the
    /// cluster settled.
    #[error(
        "seed {seed}: acknowledged write {key}={expected} (index {index}) lost on s{node}: found {found}\n{}",
        Reproduce(*.seed)
    )]
    LostWrite {
        /// The seed.
        seed: u64,
        /// The server read.
        node: u64,
        /// The key written.
        key: String,
        /// The value acknowledged.
        expected: String,
        /// The log index the write was acknowledged at.
        index: u64,
        /// What the server holds instead.
        found: String,
    },
    /// A server's applied index went backwards while it kept running.
    #[error(
        "seed {seed}: s{node} applied index went back from {from} to {to} without a restart\n{}",
        Reproduce(*.seed)
    )]
    IndexWentBack {
        /// The seed.
        seed: u64,
        /// The server.
        node: u64,
        /// The index seen before.
        from: u64,
        /// The lower index seen after.
        to: u64,
    },
    /// One log index was applied from two different leaders (two servers,
    /// or one server across restarts, applied different entries there).
    #[error(
        "seed {seed}: log index {index} applied from leader {first} and from leader {second} (s{node})\n{}",
        Reproduce(*.seed)
    )]
    DivergentLog {
        /// The seed.
        seed: u64,
        /// The server that applied the second term.
        node: u64,
        /// The log index.
        index: u64,
        /// The leader id (`T<term>-N<node>`) of the entry seen first.
        first: String,
        /// The other leader id.
        second: String,
    },
    /// Two different acknowledged writes reported the same log index.
    #[error(
        "seed {seed}: writes {first_key} and {second_key} were both acknowledged at index {index}\n{}",
        Reproduce(*.seed)
    )]
    DuplicateIndex {
        /// The seed.
        seed: u64,
        /// The log index.
        index: u64,
        /// The write acknowledged first.
        first_key: String,
        /// The other write.
        second_key: String,
    },
    /// A running server's Raft stopped on its own (a panic or a fatal error
    /// in openraft, e.g. an invariant of its own that broke).
    #[error("seed {seed}: raft on s{node} stopped while its host was up: {reason}\n{}", Reproduce(*.seed))]
    ServerStopped {
        /// The seed.
        seed: u64,
        /// The server.
        node: u64,
        /// Why, as far as openraft said.
        reason: String,
    },
    /// After every fault was healed the cluster did not elect a leader and
    /// catch every server up within the settle time.
    #[error("seed {seed}: the cluster did not settle after healing: {detail}\n{}", Reproduce(*.seed))]
    NoConvergence {
        /// The seed.
        seed: u64,
        /// The last state seen.
        detail: String,
    },
    /// The simulator or a simulated host failed (not an invariant).
    #[error("seed {seed}: simulation failed: {message}\n{}", Reproduce(*.seed))]
    Sim {
        /// The seed.
        seed: u64,
        /// turmoil's or the host's error.
        message: String,
    },
}

/// Result with a [`Violation`].
pub type Result<T, E = Violation> = std::result::Result<T, E>;

/// Prints the commands that replay a seed.
struct Reproduce(u64);

// === impl Violation ===

impl Violation {
    /// The seed of the failing run.
    pub fn seed(&self) -> u64 {
        match self {
            Self::SupersededLeaderCommitted { seed, .. }
            | Self::LostWrite { seed, .. }
            | Self::VoteWentBack { seed, .. }
            | Self::IndexWentBack { seed, .. }
            | Self::DivergentLog { seed, .. }
            | Self::DuplicateIndex { seed, .. }
            | Self::ServerStopped { seed, .. }
            | Self::NoConvergence { seed, .. }
            | Self::Sim { seed, .. } => *seed,
        }
    }
}

// === impl Reproduce ===

impl fmt::Display for Reproduce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reproduce with: cargo xtask sim --seed {0}\n\
             or: SKEIN_SIM_SEED={0} cargo test -p skein-sim --test seeds -- replay_seed_from_env --nocapture",
            self.0
        )
    }
}
