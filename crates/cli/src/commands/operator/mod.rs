//! `operator` commands.

pub(crate) mod raft;
