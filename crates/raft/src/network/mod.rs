//! Raft RPCs over gRPC (tonic). Each RPC carries openraft's request and
//! response as JSON inside a single-field protobuf message, so the wire
//! stays stable across openraft's Rust type changes we control.

mod client;
pub(crate) mod proto;
mod server;

pub use client::NetworkFactory;
pub use server::RaftService;
