//! xDS: Envoy configuration for the proxies the agent serves.
//!
//! ```text
//!  ProxySnapshot ──resources::build──► Resources (LDS, CDS, EDS, RDS) ──ads──► Envoy
//! ```
//!
//! [`resources`] is a pure function of a snapshot. [`ads`] is the
//! Aggregated Discovery Service: delta xDS (what Envoy's bootstrap asks
//! for) and state-of-the-world, with versions, nonces, ACK/NACK and Envoy's
//! ordering rules.

pub mod ads;
mod resource_set;
pub mod resources;

pub use resource_set::{CLUSTER, ENDPOINT, LISTENER, ROUTE, Resource, ResourceSet};
