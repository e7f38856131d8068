//! The server role: one voter of the datacenter's Raft group.
//!
//! Owns the Raft instance, the state store it applies to, the gRPC listener
//! on the server RPC port, and the leader's duties that need a clock
//! (session TTLs). Everything that changes state goes through
//! [`Server::write`], which proposes a command to Raft and returns the state
//! machine's outcome once it is committed and applied.
//!
//! ```text
//!  http-api ──write(Op)──> Server ──client_write──> Raft ──apply──> Store ──> watches
//!  http-api ──read_barrier(consistency)──> Server (leader check / read index)
//! ```

mod ca;
mod error;
mod options;
mod proposer;
mod rpc;
mod server;
mod sessions;
mod transfer;

pub use ca::SignError;
pub use error::{Error, Result};
pub use options::{ServerOptions, raft_id_for};
pub use server::{PeerInfo, Server};
pub use skein_types::read::{Consistency, ReadMeta};
