//! skein's Raft: openraft's type configuration, the redb-backed log store, the
//! state machine adapter around `skein_state::Store`, and the gRPC transport
//! that carries Raft RPCs between servers on the server RPC port.
//!
//! ```text
//!   server ──client_write(Command)──> openraft::Raft
//!                                        │ append            │ apply
//!                                        v                   v
//!                                   LogStore (redb)     StateMachine ──> skein_state::Store
//!                                        │
//!                       RaftNetwork ─gRPC─> peers' RaftService
//! ```
//!
//! It does not decide what to propose or when: that is the server role.

// openraft's storage traits return its own (large) `StorageError`; our
// helpers return the same type so `?` composes without boxing.
#![allow(clippy::result_large_err)]

mod error;
mod flusher;
mod log_store;
mod network;
mod runtime;
mod state_machine;
mod tail;
mod types;

pub use error::{Error, Result};
pub use log_store::{DeferredFlush, LogStore, open_database};
pub use network::{NetworkFactory, RaftService};
pub use runtime::{ElectionRng, SkeinRuntime, seed_thread_rng};
pub use state_machine::{SharedStore, StateMachine};
pub use types::{NodeId, Raft, TypeConfig, raft_config};
