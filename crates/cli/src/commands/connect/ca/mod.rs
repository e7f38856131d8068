//! `connect ca` commands: read and change the Connect CA configuration
//! (`/v1/connect/ca/configuration`).

pub(crate) mod get_config;
pub(crate) mod set_config;

/// Consul's prefix when the client cannot be built.
pub(crate) const CLIENT_ERROR: &str = "Error initializing client";
