//! The errors of building Envoy resources from a snapshot.

/// Why a snapshot could not be turned into Envoy resources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A proxy setting cannot be expressed as Envoy configuration.
    #[error("{0}")]
    Invalid(String),
    /// A discovery chain names a node it does not contain.
    #[error("upstream {upstream:?}: discovery chain has no node {node:?}")]
    MissingNode {
        /// Envoy ID of the upstream.
        upstream: String,
        /// The missing node key.
        node: String,
    },
    /// A discovery chain names a target it does not contain.
    #[error("upstream {upstream:?}: discovery chain has no target {target:?}")]
    MissingTarget {
        /// Envoy ID of the upstream.
        upstream: String,
        /// The missing target ID.
        target: String,
    },
    /// A chain node is of a type that cannot appear where it was found.
    #[error("upstream {upstream:?}: unexpected {kind:?} node {node:?} {place}")]
    UnexpectedNode {
        /// Envoy ID of the upstream.
        upstream: String,
        /// The node key.
        node: String,
        /// The node type.
        kind: String,
        /// Where it was found.
        place: &'static str,
    },
    /// A splitter leads nowhere.
    #[error("upstream {upstream:?}: splitter {node:?} has no legs")]
    EmptySplitter {
        /// Envoy ID of the upstream.
        upstream: String,
        /// The splitter node key.
        node: String,
    },
    /// A service-resolver load balancer policy Envoy cannot be given.
    #[error("unsupported load balancer policy {policy:?} for cluster {cluster:?}")]
    UnsupportedLbPolicy {
        /// The policy as configured.
        policy: String,
        /// The cluster it was meant for.
        cluster: String,
    },
    /// A hash policy field other than `header`, `cookie` or `query_parameter`.
    #[error("unsupported load balancer hash policy field: {field:?}")]
    UnsupportedHashPolicy {
        /// The field as configured.
        field: String,
    },
    /// An intention source with a wildcard where none is allowed (a
    /// wildcard namespace with an exact name, or a wildcard partition).
    #[error("intention source {source_name:?} has an invalid wildcard")]
    InvalidSource {
        /// `partition/namespace/name` of the source.
        source_name: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
