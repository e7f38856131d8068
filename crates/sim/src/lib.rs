//! Deterministic simulation of skein's Raft group.
//!
//! The real Raft stack (openraft with skein's redb log store and state
//! machine) runs on simulated hosts under turmoil: simulated time, a
//! simulated TCP network, and faults picked from a seed.
//!
//! ```text
//!   client ──write──> s1 ─┐   Raft RPCs over simulated TCP
//!                     s2 ─┼── partitions, message loss, held links
//!                     s3 ─┘   crashes + restarts from the same disk
//!        driver: one tick → sample every server's metrics → check invariants
//! ```
//!
//! Invariants: at most one leader per term; a server's applied index never
//! goes back while it runs; one log index is never applied with two terms;
//! no two acknowledged writes share an index; after healing, the cluster
//! settles and every acknowledged write is on every server.
#![warn(clippy::print_stdout, clippy::dbg_macro)]

mod checker;
mod client;
mod error;
mod nemesis;
mod network;
mod node;
mod options;
mod report;
mod sim;
mod wire;

pub use error::{Result, Violation};
pub use options::SimOptions;
pub use report::{FaultCounts, Report};
pub use sim::run;
