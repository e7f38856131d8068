//! Errors of proxycfg.

/// Why a proxy's snapshot cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No `connect-proxy` with this service ID is registered on this agent.
    #[error("no proxy service with ID {0:?} is registered on this agent")]
    NotAProxy(String),
    /// The Connect CA does not exist yet.
    #[error("the Connect CA is not initialized yet")]
    NoCa,
    /// An upstream's discovery chain does not compile.
    #[error("compiling the discovery chain of upstream {upstream:?}: {reason}")]
    Chain {
        /// The upstream's destination.
        upstream: String,
        /// The compiler's message.
        reason: String,
    },
    /// The leaf certificate could not be had.
    #[error("leaf certificate: {0}")]
    Leaf(String),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
