//! `/v1/discovery-chain/:service` and the cross-entry checks of config
//! entry writes, both on skein-chain over the stored entries.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;
use skein_chain::{CompileRequest, DiscoveryChainResponse, EntrySet, Overrides, ProposedChange};
use skein_config_entry::ConfigEntry;
use skein_state::{Store, Topic};

use super::authorize;
use crate::blocking;
use crate::query::Req;
use crate::response::answer;
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route(
        "/v1/discovery-chain/{service}",
        get(discovery_chain).post(discovery_chain_with_overrides),
    )
}

/// Every stored entry, decoded.
pub(crate) fn stored_entries(store: &Store) -> Vec<ConfigEntry> {
    store
        .config_entries(None)
        .into_iter()
        .filter_map(|e| ConfigEntry::from_stored_json(e.to_json()).ok())
        .collect()
}

/// Refuses a write that would break a discovery chain (or another entry
/// that depends on it), as Consul checks the graph before it applies.
pub(crate) fn validate_in_graph(
    state: &ApiState,
    change: ProposedChange<'_>,
) -> Result<(), ApiError> {
    let existing = super::read_store(state, stored_entries)?;
    let set = EntrySet::new(existing.iter());
    skein_chain::validate_proposed(&set, change).map_err(|e| ApiError::bad(e.to_string()))
}

async fn discovery_chain(
    State(state): State<ApiState>,
    Path(service): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    compiled(state, service, req, Overrides::default()).await
}

async fn discovery_chain_with_overrides(
    State(state): State<ApiState>,
    Path(service): Path<String>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    let overrides = if body.is_empty() {
        Overrides::default()
    } else {
        let v: Value = super::decode_body(&body)?;
        Overrides::from_request_json(&v).map_err(|e| ApiError::bad(e.to_string()))?
    };
    compiled(state, service, req, overrides).await
}

async fn compiled(
    state: ApiState,
    service: String,
    req: Req,
    overrides: Overrides,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let dc = req
        .params
        .get("compile-dc")
        .filter(|d| !d.is_empty())
        .unwrap_or(&state.agent.datacenter)
        .to_owned();
    let a = blocking::query(&state, &req, |s| {
        let entries = stored_entries(s);
        let set = EntrySet::new(entries.iter());
        let trust_domain = s.connect_trust_domain().unwrap_or_default();
        let mut request = CompileRequest::new(service.clone(), dc.clone(), trust_domain, &set);
        request.overrides = overrides.clone();
        let chain = skein_chain::compile(&request).map(|chain| DiscoveryChainResponse { chain });
        (
            s.config_entries_index(),
            chain.map_err(|e| e.to_string()),
            vec![Topic::ConfigEntries],
        )
    })
    .await?;
    match a.value {
        Ok(chain) => Ok(answer(
            &state,
            &blocking::Answer {
                index: a.index,
                value: chain,
                meta: a.meta,
            },
            req.consistency,
        )),
        Err(e) => Err(ApiError::Internal(e)),
    }
}
