//! `/v1/kv/*`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use skein_state::{Op, Outcome, Topic};
use skein_types::wire;

use super::{authorize, check_path_name, render};
use crate::blocking::{self, Answer};
use crate::query::Req;
use crate::response::{answer, not_found, ok, read_headers};
use crate::{Access, ApiError, ApiState};

fn key_of(path: Option<Path<String>>) -> Result<String, ApiError> {
    let key = path.map(|Path(k)| k).unwrap_or_default();
    check_path_name(&key)?;
    Ok(key)
}

/// `GET /v1/kv/:key` with `?recurse`, `?keys`, `?separator`, `?raw`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    path: Option<Path<String>>,
    req: Req,
) -> Result<Response, ApiError> {
    let key = key_of(path)?;
    authorize(&state, &req, Access::Read)?;
    let p = &req.params;
    if p.flag("keys") {
        let sep = p.get("separator").unwrap_or_default().to_owned();
        let a = blocking::query(&state, &req, |s| {
            let (i, keys) = s.kv_keys(&key, &sep);
            (i, keys, vec![Topic::KvPrefix(key.clone())])
        })
        .await?;
        return Ok(list_or_404(
            &state,
            &req,
            a.index,
            a.meta,
            a.value.iter().map(|k| Value::String(k.clone())).collect(),
        ));
    }
    if p.flag("recurse") {
        let a = blocking::query(&state, &req, |s| {
            let (i, entries) = s.kv_list(&key);
            (i, entries, vec![Topic::KvPrefix(key.clone())])
        })
        .await?;
        let rows = a.value.iter().map(render::kv_entry).collect();
        return Ok(list_or_404(&state, &req, a.index, a.meta, rows));
    }
    if key.is_empty() {
        return Err(ApiError::bad(wire::MISSING_KEY_NAME));
    }
    let a = blocking::query(&state, &req, |s| {
        let (i, entry) = s.kv_get(&key);
        (i, entry, vec![Topic::Kv(key.clone())])
    })
    .await?;
    Ok(single(&state, &req, a))
}

fn list_or_404(
    state: &ApiState,
    req: &Req,
    index: u64,
    meta: crate::ReadMeta,
    rows: Vec<Value>,
) -> Response {
    if rows.is_empty() {
        return not_found(state, index, meta, req.consistency);
    }
    let a = Answer {
        index,
        value: rows,
        meta,
    };
    answer(state, &a, req.consistency)
}

fn single(state: &ApiState, req: &Req, a: Answer<Option<skein_types::KvEntry>>) -> Response {
    let Some(entry) = &a.value else {
        return not_found(state, a.index, a.meta, req.consistency);
    };
    if req.params.flag("raw") {
        let mut headers = read_headers(state, a.index, a.meta, req.consistency);
        headers.insert(
            "content-type",
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        return (StatusCode::OK, headers, entry.value.clone()).into_response();
    }
    let rows = Answer {
        index: a.index,
        value: vec![render::kv_entry(entry)],
        meta: a.meta,
    };
    answer(state, &rows, req.consistency)
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
