//! The CLI's error type. `Display` is the text printed on stderr.

use std::io;

/// Everything that can end a command unsuccessfully (or with help).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Error {
    /// `-h`/`-help` was given: print the usage text and exit 0.
    #[error("help requested")]
    Help,
    /// A flag could not be parsed; the usage text is printed after it.
    #[error("{0}")]
    Flag(String),
    /// End quietly with this exit code (e.g. `members` with no match: 2).
    #[error("exit status {0}")]
    Exit(u8),
    /// A complete message, e.g. `Error! No key exists at: foo`.
    #[error("{0}")]
    Message(String),
    /// The agent answered with a non-2xx status (body trimmed, as Consul's API client).
    #[error("Unexpected response code: {code} ({body})")]
    Status {
        /// The HTTP status code.
        code: u16,
        /// The trimmed response body.
        body: String,
    },
    /// The request could not be sent or its response not read.
    #[error("{method} \"{url}\": {message}")]
    Transport {
        /// `Get`, `Put` or `Delete`, as Go's `net/http` names them.
        method: &'static str,
        /// The full request URL.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The agent address cannot be used by this client.
    #[error("{0}")]
    Address(String),
    /// A local file or stream operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A response or input could not be decoded.
    #[error("{context}: {source}")]
    Json {
        /// What was being decoded.
        context: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// Another error with a prefix such as `Error querying Consul agent`.
    #[error("{context}: {source}")]
    Context {
        /// The prefix.
        context: String,
        /// The wrapped error.
        #[source]
        source: Box<Error>,
    },
}

/// The crate's result type.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds Consul-style prefixes to errors.
pub(crate) trait Context<T> {
    /// Wraps the error as `"{context}: {error}"`.
    fn context(self, context: &str) -> Result<T>;
}

// === impl Error ===

impl Error {
    /// An I/O error with context.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A JSON error with context.
    pub(crate) fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Json {
            context: context.into(),
            source,
        }
    }

    /// A ready-made message.
    pub(crate) fn msg(text: impl Into<String>) -> Self {
        Self::Message(text.into())
    }
}

impl<T> Context<T> for Result<T> {
    fn context(self, context: &str) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.to_owned(),
            source: Box::new(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_read_like_consul() {
        let r: Result<()> = Err(Error::Status {
            code: 403,
            body: "Permission denied".into(),
        });
        let e = r.context("Error querying Consul agent").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error querying Consul agent: Unexpected response code: 403 (Permission denied)"
        );
    }
}
