//! The one error type of this crate. Texts are Consul's: clients see them in
//! `PUT /v1/config` and `/v1/discovery-chain` error bodies.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a chain could not be compiled or a proposed entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required field of the compile request is empty.
    #[error("{field} is required")]
    MissingField {
        /// Consul's name of the field, e.g. `evaluateInDatacenter`.
        field: &'static str,
    },
    /// The entries form an invalid graph (Consul's `ConfigEntryGraphError`):
    /// cycles, inconsistent protocols, missing subsets, routing on L4.
    #[error("{message}")]
    Graph {
        /// Consul's message.
        message: String,
    },
    /// A proposed entry conflicts with others (gateway names, ingress
    /// listener protocols, permissive mTLS).
    #[error("{message}")]
    Conflict {
        /// Consul's message.
        message: String,
    },
    /// L7 intentions on a service whose protocol is not HTTP-like.
    #[error(transparent)]
    Intention(#[from] skein_intention::Error),
    /// A malformed `POST /v1/discovery-chain` body.
    #[error("{message}")]
    BadOverrides {
        /// What was wrong.
        message: String,
    },
}

// === impl Error ===

impl Error {
    pub(crate) fn graph(message: impl Into<String>) -> Error {
        Error::Graph {
            message: message.into(),
        }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Error {
        Error::Conflict {
            message: message.into(),
        }
    }
}
