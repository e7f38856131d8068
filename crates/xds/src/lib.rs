//! xDS resources: the Envoy configuration of a proxy as a pure function of
//! its snapshot.
//!
//! ```text
//!  ProxySnapshot ──resources::build──► ResourceSet (LDS, CDS, EDS, RDS) ──skein-ads──► Envoy
//! ```

pub mod resources;
