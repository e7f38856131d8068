//! The one error type of this crate.
//!
//! Display texts follow Consul's own strings (`agent/structs/config_entry*.go`)
//! because clients see them verbatim, after the HTTP layer's
//! `Request decoding failed: ` / `Bad request: ` prefix.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a config entry could not be decoded or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request body is not a JSON object.
    #[error("config entry payload must be a JSON object")]
    NotAnObject,
    /// No `Kind`/`kind` key at the top level.
    #[error("Payload does not contain a kind/Kind key at the top level")]
    MissingKind,
    /// `Kind` is present but not a string.
    #[error("Kind value in payload is not a string")]
    KindNotString,
    /// A kind this server does not know (or does not support).
    #[error("invalid config entry kind: {kind}")]
    UnknownKind {
        /// The kind as sent.
        kind: String,
    },
    /// A key that no field of the entry accepts; `key` is the dotted path.
    #[error("invalid config key {key:?}")]
    UnknownKey {
        /// Path of the key, e.g. `Routes[0].Match.HTTP.Bogus`.
        key: String,
    },
    /// An Enterprise-only key (namespaces) sent to this community-edition server.
    #[error("invalid config key {key:?}, namespaces are a consul enterprise feature")]
    EnterpriseKey {
        /// The key as sent.
        key: String,
    },
    /// A value of the wrong type or shape.
    #[error("{path}: {message}")]
    Decode {
        /// Path of the value, e.g. `ConnectTimeout`.
        path: String,
        /// What was wrong with it.
        message: String,
    },
    /// A `service-intentions` entry breaks one of Consul's rules.
    #[error(transparent)]
    Intention(#[from] skein_intention::Error),
    /// The entry decoded but breaks one of Consul's `Validate()` rules.
    #[error("{message}")]
    Invalid {
        /// Consul's message for the broken rule.
        message: String,
    },
}

// === impl Error ===

impl Error {
    /// An [`Error::Invalid`] with `message`.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid {
            message: message.into(),
        }
    }
}
