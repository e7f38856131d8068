//! Envoy resources from a proxy snapshot.
