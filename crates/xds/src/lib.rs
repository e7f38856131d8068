//! xDS resources: the Envoy configuration of a proxy as a pure function of
//! its snapshot.
//!
//! ```text
//!  ProxySnapshot ──build──► ResourceSet (LDS, CDS, EDS, RDS) ──skein-ads──► Envoy
//!
//!  listeners:  public_listener:<addr>:<port>   mTLS + RBAC ─► local_app
//!              <envoy_id>:<addr>:<port>        tcp_proxy / HCM ─► target clusters (or RDS)
//!  clusters:   local_app (STATIC), one EDS cluster per chain target (named by SNI),
//!              aggregate clusters over failover-target~<sni> for failover
//!  endpoints:  one ClusterLoadAssignment per EDS cluster
//!  routes:     one RouteConfiguration per HTTP upstream with a non-default chain
//! ```
//!
//! Owns: the mapping from snapshot to Envoy protobufs (names, shapes and
//! defaults as Consul serves them), intentions → RBAC, discovery chains →
//! clusters and routes. Does not own: watching state (skein-proxycfg), the
//! ADS stream (skein-ads), or certificates (skein-ca).
//!
//! Output is deterministic: the same snapshot always yields byte-identical
//! resources, so content-hash versions only change when content does.

#![warn(clippy::print_stdout, clippy::dbg_macro)]

mod error;
pub mod resources;

pub use error::{Error, Result};
pub use resources::build;
