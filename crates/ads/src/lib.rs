//! ADS: the Aggregated Discovery Service that delivers each proxy's Envoy
//! resources, over delta xDS (what Envoy's bootstrap asks for) and
//! state-of-the-world, with versions, nonces, ACK/NACK and Envoy's ordering
//! rules. What the resources are is skein-xds's concern; this crate only
//! delivers a [`ResourceSet`] and its changes.

mod resource_set;

pub use resource_set::{CLUSTER, ENDPOINT, LISTENER, ROUTE, Resource, ResourceSet};
