//! Errors of the Raft layer.

/// What can go wrong opening or running the Raft storage and transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The redb database could not be opened or created.
    #[error("opening raft database {path}: {source}")]
    Open {
        /// Path of the database file.
        path: String,
        /// The cause.
        #[source]
        source: redb::Error,
    },
    /// A storage operation failed.
    #[error("raft storage: {0}")]
    Storage(#[from] redb::Error),
    /// A log entry or the committed id could not be encoded.
    #[error("encoding for the raft log: {0}")]
    Encode(#[from] serde_json::Error),
    /// An append did not follow the log's last entry.
    #[error("append at index {got} does not follow the log's last entry {last}")]
    NotConsecutive {
        /// The first index appended.
        got: u64,
        /// The log's last index.
        last: u64,
    },
    /// The thread that flushes the log could not be started.
    #[error("starting the raft log flusher: {0}")]
    Flusher(#[source] std::io::Error),
    /// The Raft configuration was rejected.
    #[error("raft configuration: {0}")]
    Config(String),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
