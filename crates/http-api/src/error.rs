//! The one mapping from errors to HTTP status and body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use skein_state::ApplyError;
use skein_types::wire;

use crate::{BackendError, LocalError};

/// An error answer of the API: Consul's status code and plain-text reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 401.
    #[error("{}", wire::ACL_DISABLED)]
    AclDisabled,
    /// 403.
    #[error("{}", wire::PERMISSION_DENIED)]
    PermissionDenied,
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 429.
    #[error("{}", wire::RATE_LIMITED)]
    TooManyRequests,
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::AclDisabled => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// 400 with a reason.
    pub fn bad(reason: impl Into<String>) -> Self {
        Self::BadRequest(reason.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status(),
            [("content-type", "text/plain; charset=utf-8")],
            self.to_string(),
        )
            .into_response()
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Invalid(m) => Self::BadRequest(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<LocalError> for ApiError {
    fn from(e: LocalError) -> Self {
        match e {
            LocalError::NotFound(m) => Self::NotFound(m),
            LocalError::Invalid(m) => Self::BadRequest(m),
            LocalError::Failed(m) => Self::Internal(m),
            LocalError::RateLimited => Self::TooManyRequests,
        }
    }
}
