//! `operator raft` commands.

pub(crate) mod list_peers;
