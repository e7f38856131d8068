//! Successful answers: JSON bodies and the `X-Consul-*` headers.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::blocking::Answer;
use crate::{ApiError, ApiState, Consistency, ReadMeta};

fn header(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// The headers of a read answer.
pub(crate) fn read_headers(
    state: &ApiState,
    index: u64,
    meta: ReadMeta,
    consistency: Consistency,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-consul-index", header(index.max(1)));
    h.insert("x-consul-knownleader", header(meta.known_leader));
    h.insert("x-consul-lastcontact", header(meta.last_contact_ms));
    let effective = match consistency {
        Consistency::Stale => "stale",
        Consistency::Default => "leader",
        Consistency::Consistent => "consistent",
    };
    h.insert(
        "x-consul-effective-consistency",
        HeaderValue::from_static(effective),
    );
    h.insert(
        "x-consul-default-acl-policy",
        header(&state.config.acl_default_policy),
    );
    h
}

/// JSON body.
pub(crate) fn json<T: Serialize>(status: StatusCode, headers: HeaderMap, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, headers, bytes).into_response();
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => ApiError::Internal(format!("encoding response: {e}")).into_response(),
    }
}

/// A read answer rendered as JSON with its headers.
pub(crate) fn answer<T: Serialize>(state: &ApiState, a: &Answer<T>, c: Consistency) -> Response {
    json(
        StatusCode::OK,
        read_headers(state, a.index, a.meta, c),
        &a.value,
    )
}

/// `404` that still carries the read headers (clients need the index).
pub(crate) fn not_found(state: &ApiState, index: u64, meta: ReadMeta, c: Consistency) -> Response {
    (StatusCode::NOT_FOUND, read_headers(state, index, meta, c)).into_response()
}

/// A write answer (`true`/`false` and friends) with no read headers.
pub(crate) fn ok<T: Serialize>(body: &T) -> Response {
    json(StatusCode::OK, HeaderMap::new(), body)
}
