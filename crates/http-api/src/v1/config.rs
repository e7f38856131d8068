//! `/v1/config`: config entries. Bodies are decoded, normalized and
//! validated here (skein-config-entry) before anything is proposed; the
//! state store keeps the rendered JSON and owns check-and-set.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::Value;
use skein_chain::ProposedChange;
use skein_config_entry::{ConfigEntry, EntryKey, Kind};
use skein_state::{Op, Outcome, Topic};

use super::authorize;
use crate::blocking;
use crate::query::Req;
use crate::response::{answer, ok, read_headers};
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/config", put(apply))
        .route("/v1/config/{kind}", get(list))
        .route("/v1/config/{kind}/{name}", get(read).delete(delete))
}

/// The kind named in a path, or Consul's error for an unknown one.
fn kind_of(kind: &str) -> Result<Kind, ApiError> {
    kind.parse::<Kind>()
        .map_err(|e| ApiError::bad(e.to_string()))
}

/// Decodes, normalizes and validates a written entry, then checks it
/// against the entries it interacts with.
fn parse_entry(state: &ApiState, body: &[u8]) -> Result<ConfigEntry, ApiError> {
    let raw: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("Request decoding failed: {e}")))?;
    let entry = skein_config_entry::parse_request(&raw)
        .map_err(|e| ApiError::bad(format!("Request decoding failed: {e}")))?;
    super::chain::validate_in_graph(state, ProposedChange::Upsert(&entry))?;
    Ok(entry)
}

async fn apply(State(state): State<ApiState>, req: Req, body: Bytes) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let entry = parse_entry(&state, &body)?;
    let op = Op::ConfigEntrySet {
        kind: entry.kind().to_string(),
        name: entry.name().to_owned(),
        entry: entry.to_json(),
        cas: req.params.u64("cas")?,
    };
    let outcome = state.backend.write(op).await?;
    Ok(ok(&matches!(outcome, Outcome::Bool(true))))
}

async fn list(
    State(state): State<ApiState>,
    Path(kind): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let kind = kind_of(&kind)?.to_string();
    let filter = super::filter_of(&req)?;
    let a = blocking::query(&state, &req, |s| {
        let mut rows: Vec<Value> = s
            .config_entries(Some(&kind))
            .into_iter()
            .map(|e| e.to_json())
            .collect();
        super::keep(filter.as_ref(), &mut rows);
        (s.config_entries_index(), rows, vec![Topic::ConfigEntries])
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn read(
    State(state): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let kind_name = kind_of(&kind)?.to_string();
    let a = blocking::query(&state, &req, |s| {
        let entry = s.config_entry(&kind_name, &name).map(|e| e.to_json());
        (s.config_entries_index(), entry, vec![Topic::ConfigEntries])
    })
    .await?;
    match &a.value {
        Some(_) => Ok(answer(&state, &a, req.consistency)),
        None => Ok((
            StatusCode::NOT_FOUND,
            read_headers(&state, a.index, a.meta, req.consistency),
            format!("Config entry not found for {kind:?} / {name:?}"),
        )
            .into_response()),
    }
}

async fn delete(
    State(state): State<ApiState>,
    Path((kind, name)): Path<(String, String)>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let kind = kind_of(&kind)?;
    let cas = req.params.u64("cas")?;
    let key = EntryKey::new(kind, name.clone());
    super::chain::validate_in_graph(&state, ProposedChange::Delete(&key))?;
    let op = Op::ConfigEntryDelete {
        kind: kind.to_string(),
        name,
        cas,
    };
    let outcome = state.backend.write(op).await?;
    let deleted = matches!(outcome, Outcome::Bool(true));
    match cas {
        Some(_) => Ok(ok(&deleted)),
        None => Ok(ok(&serde_json::json!({}))),
    }
}
