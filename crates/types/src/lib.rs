//! skein's vocabulary: the domain types that cross crate boundaries (KV entries,
//! sessions, catalog records, transaction operations) and the exact error strings
//! Consul clients compare against.
//!
//! This crate owns no behaviour: it is serde types and constants only. The state
//! machine (`skein-state`) gives them meaning; the HTTP layer (`skein-http-api`)
//! renders them in Consul's JSON shapes.

pub mod bytes;
pub mod catalog;
pub mod coordinate;
pub mod kv;
pub mod read;
pub mod session;
pub mod txn;
pub mod wire;

pub use catalog::{Check, CheckStatus, Node, ServiceInstance};
pub use coordinate::Coordinate;
pub use kv::KvEntry;
pub use session::{Session, SessionBehavior};
pub use txn::{TxnError, TxnOp, TxnResult};

/// A name in a catalog record (node, service, check, tag, ...). Up to 24
/// bytes it is stored inline, with no allocation of its own: a catalog of
/// 100,000 instances holds a dozen such names per instance.
pub type Name = compact_str::CompactString;

pub use compact_str::{ToCompactString, format_compact};

/// A Raft log index: every change in skein's state is stamped with the index of
/// the log entry that made it. Indexes only rise.
pub type Index = u64;
