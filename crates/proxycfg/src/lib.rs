//! proxycfg: for every Envoy proxy the agent serves, a [`ProxySnapshot`] of
//! everything its configuration is made from (leaf certificate, CA roots,
//! intentions for its destination, the compiled discovery chain of each
//! upstream and the endpoints of every chain target with their health).
//!
//! ```text
//!  state (catalog, health, config entries, CA) ─┐
//!  agent (local services, leaf certificates)  ──┴─► Manager ──watch──► ProxySnapshot ──► skein-xds
//! ```
//!
//! The snapshot is plain data built by [`build`] from one read of the
//! state; skein-xds turns it into Envoy resources with a pure function, so
//! every resource can be golden-tested from a snapshot built by hand.

mod build;
mod error;
mod manager;
mod snapshot;

pub use build::{EndpointCache, Settings, build, build_cached};
pub use error::{Error, Result};
pub use manager::{AgentInputs, Manager, Published};
pub use snapshot::{
    Endpoint, EndpointHealth, LeafCert, ProxyKind, ProxySnapshot, UpstreamSnapshot,
};
