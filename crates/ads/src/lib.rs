//! ADS: the Aggregated Discovery Service that delivers each proxy's Envoy
//! resources, over delta xDS (what Envoy's bootstrap asks for) and
//! state-of-the-world, with versions, nonces, ACK/NACK and Envoy's ordering
//! rules. What the resources are is skein-xds's concern; this crate only
//! delivers a [`ResourceSet`] and its changes.
//!
//! ```text
//!  agent ──impl ProxySource──► watch<Arc<ResourceSet>>
//!                                   │ changed()
//!  Envoy ◄──gRPC── AdsServer ◄──────┘
//!                   │ per stream: DeltaStream (delta) / SotwStream (SotW),
//!                   │ pure state machines: requests + snapshots in,
//!                   │ responses out
//!  client::DeltaClient: an Envoy-like delta ADS client for tests and load
//! ```
#![warn(clippy::print_stdout, clippy::dbg_macro)]

mod children;
pub mod client;
mod delta;
mod error;
mod resource_set;
mod server;
mod sotw;
mod source;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use children::{eds_name, route_names};
pub use delta::DeltaStream;
pub use error::{ClientError, SourceError, StreamError};
pub use resource_set::{CLUSTER, ENDPOINT, LISTENER, ROUTE, Resource, ResourceSet};
pub use server::{AdsServer, DEFAULT_AUTH_CHECK_INTERVAL, TOKEN_METADATA};
pub use sotw::SotwStream;
pub use source::ProxySource;
