//! Errors of the agent.

/// Why the agent could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server role failed.
    #[error(transparent)]
    Server(#[from] skein_server::Error),
    /// A listener could not be bound.
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file of the agent (node id, pid file) could not be used.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The DNS interface could not start.
    #[error(transparent)]
    Dns(#[from] skein_dns::DnsError),
    /// The agent is not configured in a way this version can run.
    #[error("{0}")]
    Unsupported(String),
    /// Registering the agent's own node failed.
    #[error("registering this node: {0}")]
    SelfRegistration(String),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
