//! Handlers, one module per Consul API area.

pub(crate) mod agent;
pub(crate) mod catalog;
pub(crate) mod health;
pub(crate) mod kv;
pub(crate) mod operator;
pub(crate) mod render;
pub(crate) mod session;
pub(crate) mod snapshot;
pub(crate) mod status;
pub(crate) mod txn;

use crate::query::Req;
use crate::{Access, ApiError, ApiState};

/// Refuses the request unless its token may perform `access`.
pub(crate) fn authorize(state: &ApiState, req: &Req, access: Access) -> Result<(), ApiError> {
    if state.auth.allows(&req.token, access) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// Rejects names Consul rejects in paths.
pub(crate) fn check_path_name(name: &str) -> Result<(), ApiError> {
    if name.contains('\n') || name.contains('\r') {
        return Err(ApiError::bad("Invalid characters in path"));
    }
    Ok(())
}
