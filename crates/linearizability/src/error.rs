//! The crate's error type: a malformed history or an unreadable history file.

use std::fmt;

use crate::op::OpId;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a history could not be recorded, built or loaded.
///
/// The checker itself never fails: a history that does not fit the model
/// is a verdict ([`crate::Verdict::NotLinearizable`]), not an error. These
/// errors are harness bugs (an output of the wrong kind, a completion for an
/// operation that does not exist) or unreadable files.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `complete` named an operation the recorder never handed out.
    UnknownOp {
        /// The unknown id.
        id: OpId,
    },
    /// `complete` was called twice for one operation.
    AlreadyCompleted {
        /// The operation.
        id: OpId,
    },
    /// The output's kind does not fit the operation (e.g. a read answered
    /// with a CAS result).
    OutputMismatch {
        /// The operation.
        id: OpId,
        /// The operation's kind (`write`, `cas`, `read`, `delete`).
        op: &'static str,
        /// The output's kind (`ok`, `cas`, `read`).
        output: &'static str,
    },
    /// An operation completed before it was invoked.
    CompletedBeforeInvoked {
        /// The operation.
        id: OpId,
        /// Its invoke time, in nanoseconds.
        invoke: u64,
        /// Its completion time, in nanoseconds.
        complete: u64,
    },
    /// An operation with an `Ok` outcome has no completion time.
    MissingCompletionTime {
        /// The operation.
        id: OpId,
    },
    /// A history file names a format version this crate does not read.
    UnsupportedVersion {
        /// The version found in the file.
        version: u32,
    },
    /// A history file is not valid JSON of the expected shape.
    Json(serde_json::Error),
}

// === impl Error ===

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownOp { id } => write!(f, "no operation {id} was invoked"),
            Self::AlreadyCompleted { id } => write!(f, "operation {id} was already completed"),
            Self::OutputMismatch { id, op, output } => {
                write!(
                    f,
                    "operation {id} is a {op} but completed with a {output} output"
                )
            }
            Self::CompletedBeforeInvoked {
                id,
                invoke,
                complete,
            } => write!(
                f,
                "operation {id} completed at {complete}ns, before its invoke at {invoke}ns"
            ),
            Self::MissingCompletionTime { id } => {
                write!(f, "operation {id} completed ok but has no completion time")
            }
            Self::UnsupportedVersion { version } => {
                write!(f, "history file version {version} is not supported")
            }
            Self::Json(error) => write!(f, "history file: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(error) => Some(error),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::Json(error)
    }
}
