//! `/v1/kv/*`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;
use skein_state::{Op, Outcome, Store, Topic};
use skein_types::wire;

use super::{authorize, check_path_name, render};
use crate::blocking::{self, Blocking};
use crate::query::Req;
use crate::response::ok;
use crate::shared::Body;
use crate::{Access, ApiError, ApiState};

fn key_of(path: Option<Path<String>>) -> Result<String, ApiError> {
    let key = path.map(|Path(k)| k).unwrap_or_default();
    check_path_name(&key)?;
    Ok(key)
}

/// `GET /v1/kv/:key` with `?recurse`, `?keys`, `?separator`, `?raw`.
///
/// Not an `async fn`: the request is read and dropped here, and only the
/// read and its blocking parameters go into the future that may park.
pub(crate) fn get(
    State(state): State<ApiState>,
    path: Option<Path<String>>,
    req: Req,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    let read = KvRead::of(&state, path, &req).map(|read| move |s: &Store| read.answer(s));
    blocking::shared_or(state, Blocking::of(&req), read)
}

/// What a `GET /v1/kv` reads.
enum KvRead {
    /// `?keys`: the keys under a prefix, up to the separator.
    Keys { prefix: String, separator: String },
    /// `?recurse`: the entries under a prefix.
    Recurse { prefix: String },
    /// One entry, as JSON or (`?raw`) its value.
    One { key: String, raw: bool },
}

impl KvRead {
    fn of(state: &ApiState, path: Option<Path<String>>, req: &Req) -> Result<Self, ApiError> {
        let key = key_of(path)?;
        authorize(state, req, Access::Read)?;
        let p = &req.params;
        if p.flag("keys") {
            let separator = p.get("separator").unwrap_or_default().to_owned();
            return Ok(Self::Keys {
                prefix: key,
                separator,
            });
        }
        if p.flag("recurse") {
            return Ok(Self::Recurse { prefix: key });
        }
        if key.is_empty() {
            return Err(ApiError::bad(wire::MISSING_KEY_NAME));
        }
        Ok(Self::One {
            key,
            raw: p.flag("raw"),
        })
    }

    fn answer(&self, s: &Store) -> (u64, Body, Vec<Topic>) {
        match self {
            Self::Keys { prefix, separator } => {
                let (i, keys) = s.kv_keys(prefix, separator);
                (i, list_body(keys), vec![Topic::KvPrefix(prefix.clone())])
            }
            Self::Recurse { prefix } => {
                let (i, entries) = s.kv_list(prefix);
                let rows: Vec<Value> = entries.iter().map(render::kv_entry).collect();
                (i, list_body(rows), vec![Topic::KvPrefix(prefix.clone())])
            }
            Self::One { key, raw } => {
                let (i, entry) = s.kv_get(key);
                let body = match entry {
                    None => Body::not_found(),
                    Some(e) if *raw => Body::raw(e.value.into()),
                    Some(e) => Body::json(&[render::kv_entry(&e)]),
                };
                (i, body, vec![Topic::Kv(key.clone())])
            }
        }
    }
}

/// A listing, or `404` when it is empty.
fn list_body<T: serde::Serialize>(rows: Vec<T>) -> Body {
    if rows.is_empty() {
        Body::not_found()
    } else {
        Body::json(&rows)
    }
}

/// `PUT /v1/kv/:key` with `?flags`, `?cas`, `?acquire`, `?release`.
pub(crate) async fn put(
    State(state): State<ApiState>,
    path: Option<Path<String>>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = key_of(path)?;
    authorize(&state, &req, Access::Write)?;
    if key.is_empty() {
        return Err(ApiError::bad(wire::MISSING_KEY_NAME));
    }
    let limit = state.config.kv_max_value_size;
    if body.len() as u64 > limit {
        return Err(ApiError::TooLarge(format!(
            "Request body({} bytes) too large, max size: {limit} bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size.",
            body.len()
        )));
    }
    let op = put_op(&req, key, body.to_vec())?;
    outcome_bool(state.backend.write(op).await?)
}

fn put_op(req: &Req, key: String, value: Vec<u8>) -> Result<Op, ApiError> {
    let p = &req.params;
    let flags = p.u64("flags")?.unwrap_or(0);
    if let Some(session) = p.get("acquire") {
        return Ok(Op::KvLock {
            key,
            value,
            flags,
            session: session.to_owned(),
        });
    }
    if let Some(session) = p.get("release") {
        return Ok(Op::KvUnlock {
            key,
            value,
            flags,
            session: session.to_owned(),
        });
    }
    match p.u64("cas")? {
        Some(index) => Ok(Op::KvCas {
            key,
            value,
            flags,
            index,
        }),
        None => Ok(Op::KvSet { key, value, flags }),
    }
}

fn outcome_bool(outcome: Outcome) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Bool(b) => Ok(ok(&b)),
        Outcome::Refused(e) => Err(e.into()),
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

/// `DELETE /v1/kv/:key` with `?recurse` and `?cas`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    path: Option<Path<String>>,
    req: Req,
) -> Result<Response, ApiError> {
    let key = key_of(path)?;
    authorize(&state, &req, Access::Write)?;
    let op = if req.params.flag("recurse") {
        Op::KvDeleteTree { prefix: key }
    } else if key.is_empty() {
        return Err(ApiError::bad(wire::MISSING_KEY_NAME));
    } else {
        match req.params.u64("cas")? {
            Some(index) => Op::KvDeleteCas { key, index },
            None => Op::KvDelete { key },
        }
    };
    outcome_bool(state.backend.write(op).await?)
}
