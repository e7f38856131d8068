//! `/v1/health/*`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, get_service};
use serde_json::{Value, json};
use skein_state::{Store, Topic};
use skein_types::CheckStatus;

use super::{
    InstanceFilters, authorize, catalog_topics, filter_of, keep, render, service_topics, sort_near,
};
use crate::blocking::{self, Blocking};
use crate::query::Req;
use crate::read_route::ReadRoute;
use crate::response::answer;
use crate::shared::Body;
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes(state: &ApiState) -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/health/service/{name}",
            get_service(ReadRoute::new(state, service)),
        )
        .route(
            "/v1/health/connect/{name}",
            get_service(ReadRoute::new(state, connect)),
        )
        .route(
            "/v1/health/ingress/{name}",
            get_service(ReadRoute::new(state, ingress)),
        )
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

fn service(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    instances(state, name, req, Listing::Service)
}

fn connect(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    instances(state, name, req, Listing::Connect)
}

fn ingress(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    instances(state, name, req, Listing::Ingress)
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
/// `/v1/health/ingress/:name`. The request is read and dropped here; only
/// the read and its blocking parameters go into the future that may park.
fn instances(
    state: ApiState,
    name: String,
    req: Req,
    listing: Listing,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    let read = InstancesRead::of(&state, name, &req, listing)
        .map(|read| move |st: &Store| read.answer(st));
    blocking::shared_or(state, Blocking::of(&req), read)
}

/// A health read of a service's instances, with its filters.
struct InstancesRead {
    name: String,
    listing: Listing,
    passing: bool,
    dc: String,
    filters: InstanceFilters,
}

impl InstancesRead {
    fn of(state: &ApiState, name: String, req: &Req, listing: Listing) -> Result<Self, ApiError> {
        authorize(state, req, Access::Read)?;
        Ok(Self {
            name,
            listing,
            passing: req.params.flag("passing"),
            dc: state.agent.datacenter.clone(),
            filters: InstanceFilters::of(state, req)?,
        })
    }

    fn answer(&self, st: &Store) -> (u64, Body, Vec<Topic>) {
        let f = &self.filters;
        let (i, mut entries) = entries_of(st, &self.name, self.listing);
        sort_near(st, f.near(), &mut entries, |e| &e.node.node);
        let mut rows: Vec<Value> = f
            .of_this_cluster(entries)
            .iter()
            .filter(|e| f.admits(&e.node, &e.service.tags))
            .filter(|e| !self.passing || e.checks.iter().all(|c| c.status == CheckStatus::Passing))
            .map(|e| {
                json!({
                    "Node": render::node(&e.node),
                    "Service": render::service(&e.service, &self.dc),
                    "Checks": e.checks.iter().map(render::check).collect::<Vec<_>>(),
                })
            })
            .collect();
        keep(f.filter.as_ref(), &mut rows);
        let topics = match self.listing {
            Listing::Ingress => {
                let mut topics = catalog_topics(f.near());
                topics.push(Topic::ConfigEntries);
                topics
            }
            Listing::Service | Listing::Connect => service_topics(&self.name, f.near()),
        };
        (i, Body::json(&rows), topics)
    }
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
