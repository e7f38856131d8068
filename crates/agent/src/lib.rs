//! The agent: what `skein agent` runs.
//!
//! Starts the server role (when configured as a server or in `-dev`),
//! registers its own node in the catalog (`serfHealth` check, `consul`
//! service), serves the HTTP API on the client addresses, and shuts down
//! cleanly on SIGINT/SIGTERM or `PUT /v1/agent/leave`.
//!
//! It implements `skein_http_api::Backend` over the server role; later it
//! will also own the agent's local state, checks and anti-entropy.

mod autopilot;
mod backend;
mod checks;
mod cluster;
mod error;
mod leaf;
mod local;
mod local_agent;
mod mesh;
mod monitor;
mod node_id;
mod run;
mod sidecar;
mod wan;

pub use error::{Error, Result};
pub use monitor::MonitorLayer;
pub use run::{Agent, Reloader, Shutdown, run};
