//! Errors of the ADS crate, and their one mapping to gRPC status.

use tonic::{Code, Status};

/// Why a [`ProxySource`](crate::ProxySource) refused a proxy's stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// No proxy with this service ID is known here.
    #[error("proxy {proxy_id:?} is not registered with this agent")]
    UnknownProxy {
        /// The `node.id` Envoy presented.
        proxy_id: String,
    },
    /// The token could not be resolved (Consul: "ACL not found").
    #[error("unauthenticated: {reason}")]
    Unauthenticated {
        /// What the ACL system said.
        reason: String,
    },
    /// The token resolved but lacks `service:write` on the proxy's service.
    #[error("permission denied: {reason}")]
    PermissionDenied {
        /// What the ACL system said.
        reason: String,
    },
    /// The source could not serve the proxy for another reason.
    #[error("{reason}")]
    Unavailable {
        /// What went wrong.
        reason: String,
    },
}

/// A request that breaks the xDS protocol; ends the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A request without `type_url`.
    #[error("type URL is required for ADS")]
    MissingTypeUrl,
    /// The first request has no `node.id`.
    #[error("node.id is required on the first request of an ADS stream")]
    MissingNodeId,
    /// A later request names another node than the first one.
    #[error("node.id changed on the stream from {first:?} to {now:?}")]
    NodeChanged {
        /// The node the stream was opened for.
        first: String,
        /// The node the offending request named.
        now: String,
    },
}

/// What can go wrong in the [`DeltaClient`](crate::client::DeltaClient).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server address is not a valid URI.
    #[error("invalid server address {address:?}")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// Why it was refused.
        #[source]
        source: tonic::transport::Error,
    },
    /// Connecting to the server failed.
    #[error("connecting to {address}")]
    Connect {
        /// The address given.
        address: String,
        /// The transport error.
        #[source]
        source: tonic::transport::Error,
    },
    /// The token is not a valid metadata value.
    #[error("the ACL token is not valid gRPC metadata")]
    InvalidToken,
    /// The server refused the stream or ended it with an error.
    #[error("the server ended the stream: {0}")]
    Status(#[from] Status),
    /// A condition did not hold within the time given.
    #[error("condition not met within {waited:?}")]
    Timeout {
        /// How long the caller waited.
        waited: std::time::Duration,
    },
    /// The stream ended while waiting.
    #[error("the ADS stream has ended")]
    Closed,
}

/// Results of this crate's fallible client calls.
pub(crate) type Result<T, E = ClientError> = std::result::Result<T, E>;

// === impl SourceError ===

impl SourceError {
    /// The gRPC status code Consul answers with for this error.
    pub fn code(&self) -> Code {
        match self {
            Self::UnknownProxy { .. } => Code::NotFound,
            Self::Unauthenticated { .. } => Code::Unauthenticated,
            Self::PermissionDenied { .. } => Code::PermissionDenied,
            Self::Unavailable { .. } => Code::Unavailable,
        }
    }
}

impl From<SourceError> for Status {
    fn from(error: SourceError) -> Self {
        Status::new(error.code(), error.to_string())
    }
}

// === impl StreamError ===

impl From<StreamError> for Status {
    fn from(error: StreamError) -> Self {
        Status::invalid_argument(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_errors_map_to_status() {
        let cases = [
            (
                SourceError::UnknownProxy {
                    proxy_id: "web-sidecar-proxy".into(),
                },
                Code::NotFound,
                "proxy \"web-sidecar-proxy\" is not registered with this agent",
            ),
            (
                SourceError::Unauthenticated {
                    reason: "ACL not found".into(),
                },
                Code::Unauthenticated,
                "unauthenticated: ACL not found",
            ),
            (
                SourceError::PermissionDenied {
                    reason: "Permission denied".into(),
                },
                Code::PermissionDenied,
                "permission denied: Permission denied",
            ),
        ];
        for (error, code, message) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code);
            assert_eq!(status.message(), message);
        }
    }

    #[test]
    fn stream_errors_are_invalid_argument() {
        let status = Status::from(StreamError::MissingTypeUrl);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "type URL is required for ADS");
    }
}
