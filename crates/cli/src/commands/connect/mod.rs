//! `connect` commands: the Connect CA's configuration and running Envoy as
//! a sidecar proxy.

pub(crate) mod ca;
pub(crate) mod envoy;
