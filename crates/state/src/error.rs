//! Errors a command can end with. They are part of the replicated result, so
//! they must be deterministic and serializable.

use serde::{Deserialize, Serialize};
use skein_types::wire;

/// Why the state machine refused a command. Refusal changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A session named by the command does not exist.
    #[error("{}", wire::INVALID_SESSION)]
    InvalidSession,
    /// A node named by the command is not registered.
    #[error("{}", wire::MISSING_NODE)]
    MissingNode,
    /// A check bound to a new session does not exist.
    #[error("Missing check '{check}' registration")]
    MissingCheck {
        /// The check id.
        check: String,
    },
    /// A check bound to a new session is critical.
    #[error("Check '{check}' is in critical state")]
    CriticalCheck {
        /// The check id.
        check: String,
    },
    /// A registration names a service that is not on the node.
    #[error("Missing service '{service}' registration")]
    MissingService {
        /// The service id.
        service: String,
    },
}
