//! `operator raft` commands.

pub(crate) mod list_peers;
pub(crate) mod remove_peer;
pub(crate) mod transfer_leader;
