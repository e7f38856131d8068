//! `/v1/health/*`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use skein_state::Topic;
use skein_types::CheckStatus;

use super::{
    authorize, catalog_topics, filter_of, keep, meta_matches, near_of, node_meta_of, render,
    service_topics, sort_near,
};
use crate::blocking;
use crate::query::Req;
use crate::response::answer;
use crate::shared::Body;
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/health/service/{name}", get(service))
        .route("/v1/health/connect/{name}", get(connect))
        .route("/v1/health/ingress/{name}", get(ingress))
        .route("/v1/health/node/{node}", get(node))
        .route("/v1/health/checks/{name}", get(checks))
        .route("/v1/health/state/{state}", get(by_state))
}

/// Which instances a health read lists for a service name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    /// The service's own instances.
    Service,
    /// Its mesh proxies (and mesh-native instances).
    Connect,
    /// The ingress gateways whose config entry routes to it.
    Ingress,
}

async fn service(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    instances(state, name, req, Listing::Service).await
}

async fn connect(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    instances(state, name, req, Listing::Connect).await
}

async fn ingress(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    instances(state, name, req, Listing::Ingress).await
}

/// The health entries `listing` names for `name`, with the index to block on.
fn entries_of(
    st: &skein_state::Store,
    name: &str,
    listing: Listing,
) -> (u64, Vec<skein_state::HealthEntry>) {
    match listing {
        Listing::Service => st.health_service(name),
        Listing::Connect => st.health_connect(name),
        Listing::Ingress => {
            let mut index = st.config_entries_index();
            let mut out = Vec::new();
            for gateway in super::gateway::ingress_gateways_for(st, name) {
                let (i, entries) = st.health_service(&gateway);
                index = index.max(i);
                out.extend(
                    entries
                        .into_iter()
                        .filter(|e| e.service.kind == "ingress-gateway"),
                );
            }
            (index, out)
        }
    }
}

/// `/v1/health/service/:name`, `/v1/health/connect/:name` and
/// `/v1/health/ingress/:name`.
async fn instances(
    state: ApiState,
    name: String,
    req: Req,
    listing: Listing,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let peer = req.params.get("peer").unwrap_or_default().to_owned();
    let passing = req.params.flag("passing");
    let meta = node_meta_of(&req)?;
    let tags: Vec<String> = req
        .params
        .all("tag")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let dc = state.agent.datacenter.clone();
    let near = near_of(&state, &req);
    blocking::shared(&state, &req, |st| {
        let (i, mut entries) = entries_of(st, &name, listing);
        sort_near(st, near.as_deref(), &mut entries, |e| &e.node.node);
        // skein has no cluster peerings yet: a peer's imported services are none.
        let (i, entries) = if peer.is_empty() {
            (i, entries)
        } else {
            (i, Vec::new())
        };
        let mut rows: Vec<Value> = entries
            .iter()
            .filter(|e| {
                tags.iter().all(|t| e.service.tags.contains(t)) && meta_matches(&e.node, &meta)
            })
            .filter(|e| !passing || e.checks.iter().all(|c| c.status == CheckStatus::Passing))
            .map(|e| {
                json!({
                    "Node": render::node(&e.node),
                    "Service": render::service(&e.service, &dc),
                    "Checks": e.checks.iter().map(render::check).collect::<Vec<_>>(),
                })
            })
            .collect();
        keep(filter.as_ref(), &mut rows);
        let topics = match listing {
            Listing::Ingress => {
                let mut topics = catalog_topics(near.as_deref());
                topics.push(Topic::ConfigEntries);
                topics
            }
            Listing::Service | Listing::Connect => service_topics(&name, near.as_deref()),
        };
        (i, Body::json(&rows), topics)
    })
    .await
}

async fn node(
    State(state): State<ApiState>,
    Path(node): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let a = blocking::query(&state, &req, |st| {
        let (i, checks) = st.node_checks(&node);
        {
            let mut rows: Vec<Value> = checks.iter().map(render::check).collect();
            keep(filter.as_ref(), &mut rows);
            (i, rows, vec![Topic::Catalog])
        }
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn checks(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let a = blocking::query(&state, &req, |st| {
        let (i, checks) = st.service_checks(&name);
        {
            let mut rows: Vec<Value> = checks.iter().map(render::check).collect();
            keep(filter.as_ref(), &mut rows);
            (i, rows, vec![Topic::Catalog])
        }
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn by_state(
    State(state): State<ApiState>,
    Path(wanted): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let state_filter = match wanted.as_str() {
        "any" => None,
        s => Some(
            CheckStatus::parse(s)
                .ok_or_else(|| ApiError::bad(format!("Invalid check state {s:?}")))?,
        ),
    };
    let a = blocking::query(&state, &req, |st| {
        let (i, checks) = st.checks_in_state(state_filter);
        {
            let mut rows: Vec<Value> = checks.iter().map(render::check).collect();
            keep(filter.as_ref(), &mut rows);
            (i, rows, vec![Topic::Catalog])
        }
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}
