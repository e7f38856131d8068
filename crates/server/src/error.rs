//! Errors of the server role.

use skein_types::wire;

/// Why a write or read could not be served here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another server leads; try there.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader's RPC address, if known.
        leader: Option<String>,
    },
    /// No leader is known.
    #[error("{}", wire::NO_LEADER)]
    NoLeader,
    /// A server could not be reached.
    #[error("rpc error making call: {addr}: {reason}")]
    Unreachable {
        /// The server's RPC address.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// A forwarded call failed on the other server.
    #[error("rpc error making call: {0}")]
    Rpc(String),
    /// Raft stopped: the node must be restarted.
    #[error("raft fatal error: {0}")]
    Fatal(String),
    /// The server could not start.
    #[error("starting server: {0}")]
    Start(String),
    /// Over the Connect CA's CSR limits.
    #[error("{}", wire::RATE_LIMITED)]
    RateLimited,
    /// The request was refused as invalid (a CSR the CA will not sign).
    #[error("{0}")]
    Invalid(String),
    /// Raft storage or transport failed to open.
    #[error(transparent)]
    Raft(#[from] skein_raft::Error),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::ca::SignError> for Error {
    fn from(e: crate::ca::SignError) -> Self {
        match e {
            crate::ca::SignError::RateLimited => Self::RateLimited,
            crate::ca::SignError::Invalid(m) => Self::Invalid(m),
            crate::ca::SignError::Failed(m) => Self::Rpc(m),
        }
    }
}

// === impl Error ===

impl Error {
    /// The same error again, for every writer of a failed batch.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::NotLeader { leader } => Self::NotLeader {
                leader: leader.clone(),
            },
            Self::NoLeader => Self::NoLeader,
            other => Self::Fatal(other.to_string()),
        }
    }
}
