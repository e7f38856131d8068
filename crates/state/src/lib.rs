//! skein's state store and replicated state machine.
//!
//! Owns the in-memory tables (KV, sessions, nodes, services, checks), the
//! deterministic [`Store::apply`] of [`Command`]s that Raft has committed,
//! snapshot and restore of the whole state, and the watch registry that wakes
//! exactly the blocking queries whose data changed.
//!
//! It does not own time, I/O or configuration: the proposer stamps each
//! command with its wall-clock time (used for lock-delay) and every limit is
//! checked before a command is proposed.
//!
//! ```text
//!   raft (committed entry) --> Store::apply(index, cmd) --> tables
//!                                          |                  |
//!                                          v                  v
//!                                   WatchRegistry::fire   reads (kv_get, health_service, ...)
//!                                          |
//!                                          v
//!                              parked blocking queries wake
//! ```

mod catalog;
mod command;
mod config_entry;
mod connect_ca;
mod error;
mod kv;
mod session;
mod store;
mod txn;
mod watch;

pub use catalog::{HealthEntry, InstanceHealth, Registration, Usage};
pub use command::{Command, Op, Outcome};
pub use config_entry::StoredEntry;
pub use connect_ca::CaState;
pub use error::ApplyError;
pub use store::{Autopilot, StateData, Store};
pub use watch::{Topic, Watch};
