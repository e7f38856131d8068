//! `/v1/catalog/*`.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, get_service, put};
use serde_json::{Map, Value, json};
use skein_config::json_field as field;
use skein_state::{Op, Outcome, Registration, Store, Topic};
use skein_types::{Check, CheckStatus, Node, ServiceInstance};

use super::{
    InstanceFilters, authorize, catalog_topics, filter_of, keep, meta_matches, near_of,
    node_meta_of, render, service_topics, sort_near,
};
use crate::blocking::{self, Blocking};
use crate::query::Req;
use crate::read_route::ReadRoute;
use crate::response::{answer, ok};
use crate::shared::Body;
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes(state: &ApiState) -> Router<ApiState> {
    Router::new()
        .route("/v1/catalog/register", put(register))
        .route("/v1/catalog/deregister", put(deregister))
        .route("/v1/catalog/datacenters", get(datacenters))
        .route("/v1/catalog/nodes", get(nodes))
        .route("/v1/catalog/services", get(services))
        .route(
            "/v1/catalog/service/{name}",
            get_service(ReadRoute::new(state, service)),
        )
        .route(
            "/v1/catalog/connect/{name}",
            get_service(ReadRoute::new(state, connect)),
        )
        .route("/v1/catalog/node/{node}", get(node))
        .route("/v1/catalog/node-services/{node}", get(node_services))
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let v: Value = super::decode_body(body)?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad("Request decode failed: expected an object")),
    }
}

fn s(obj: &Map<String, Value>, key: &str) -> String {
    field(obj, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn map(obj: &Map<String, Value>, key: &str) -> BTreeMap<String, String> {
    field(obj, key)
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

async fn register(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let obj = object(&body)?;
    check_body_dc(&state, &obj)?;
    let node = Node {
        id: s(&obj, "ID").into(),
        node: s(&obj, "Node").into(),
        address: s(&obj, "Address").into(),
        datacenter: state.agent.datacenter.clone().into(),
        tagged_addresses: map(&obj, "TaggedAddresses"),
        meta: map(&obj, "NodeMeta"),
        ..Node::default()
    };
    if node.node.is_empty() || node.address.is_empty() {
        return Err(ApiError::bad(if node.node.is_empty() {
            "Must provide node"
        } else {
            "Must provide address"
        }));
    }
    let service = field(&obj, "Service")
        .and_then(Value::as_object)
        .map(parse_service)
        .transpose()?;
    let mut checks = Vec::new();
    if let Some(Value::Object(c)) = field(&obj, "Check") {
        checks.push(parse_check(c, &node.node, service.as_ref())?);
    }
    if let Some(Value::Array(list)) = field(&obj, "Checks") {
        for c in list.iter().filter_map(Value::as_object) {
            checks.push(parse_check(c, &node.node, service.as_ref())?);
        }
    }
    let skip = field(&obj, "SkipNodeUpdate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let reg = Registration {
        node,
        skip_node_update: skip,
        service,
        checks,
    };
    write_bool(&state, Op::Register(Box::new(reg))).await
}

/// A `Datacenter` in the body routes the request like `?dc=`.
fn check_body_dc(state: &ApiState, obj: &Map<String, Value>) -> Result<(), ApiError> {
    match s(obj, "Datacenter") {
        dc if dc.is_empty() || dc == state.agent.datacenter => Ok(()),
        _ => Err(ApiError::Internal(skein_types::wire::NO_PATH_TO_DC.into())),
    }
}

async fn write_bool(state: &ApiState, op: Op) -> Result<Response, ApiError> {
    match state.backend.write(op).await? {
        Outcome::Bool(b) => Ok(ok(&b)),
        Outcome::Refused(e) => Err(e.into()),
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

fn parse_service(obj: &Map<String, Value>) -> Result<ServiceInstance, ApiError> {
    let name = s(obj, "Service");
    if name.is_empty() {
        return Err(ApiError::bad("Must provide service name"));
    }
    let id = Some(s(obj, "ID"))
        .filter(|x| !x.is_empty())
        .unwrap_or_else(|| name.clone());
    let mut extra = BTreeMap::new();
    for key in [
        "TaggedAddresses",
        "Weights",
        "Proxy",
        "Connect",
        "EnableTagOverride",
    ] {
        if let Some(v) = field(obj, key) {
            extra.insert(key.to_owned(), v.clone());
        }
    }
    Ok(ServiceInstance {
        id: id.into(),
        service: name.into(),
        tags: field(obj, "Tags")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        address: s(obj, "Address").into(),
        port: field(obj, "Port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        meta: map(obj, "Meta"),
        kind: s(obj, "Kind").into(),
        extra,
        create_index: 0,
        modify_index: 0,
    })
}

fn parse_check(
    obj: &Map<String, Value>,
    node: &str,
    svc: Option<&ServiceInstance>,
) -> Result<Check, ApiError> {
    let status = match s(obj, "Status").as_str() {
        "" => CheckStatus::Critical,
        st => CheckStatus::parse(st)
            .ok_or_else(|| ApiError::bad(format!("Invalid check status {st:?}")))?,
    };
    let service_id = s(obj, "ServiceID");
    let service_id = if service_id.is_empty() {
        String::new()
    } else {
        service_id
    };
    let check_id = Some(s(obj, "CheckID"))
        .filter(|x| !x.is_empty())
        .unwrap_or_else(|| s(obj, "Name"));
    if check_id.is_empty() {
        return Err(ApiError::bad("Must provide check ID or name"));
    }
    let _ = svc;
    Ok(Check {
        node: node.to_owned().into(),
        check_id: check_id.into(),
        name: s(obj, "Name").into(),
        status,
        notes: s(obj, "Notes").into(),
        output: s(obj, "Output").into(),
        service_id: service_id.into(),
        ..Check::default()
    })
}

async fn deregister(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let obj = object(&body)?;
    check_body_dc(&state, &obj)?;
    let node = s(&obj, "Node");
    if node.is_empty() {
        return Err(ApiError::bad("Must provide node"));
    }
    let service_id = Some(s(&obj, "ServiceID")).filter(|x| !x.is_empty());
    let check_id = Some(s(&obj, "CheckID")).filter(|x| !x.is_empty());
    write_bool(
        &state,
        Op::Deregister {
            node,
            service_id,
            check_id,
        },
    )
    .await
}

/// `GET /v1/catalog/datacenters`: this datacenter first, then the others
/// the WAN pool knows, nearest first.
async fn datacenters(State(state): State<ApiState>) -> Response {
    ok(&state.cluster.datacenters())
}

async fn nodes(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let meta = node_meta_of(&req)?;
    let near = near_of(&state, &req);
    let a = blocking::query(&state, &req, |st| {
        let (i, mut nodes) = st.nodes();
        sort_near(st, near.as_deref(), &mut nodes, |n| &n.node);
        let mut rows: Vec<Value> = nodes
            .iter()
            .filter(|n| meta_matches(n, &meta))
            .map(render::node)
            .collect();
        keep(filter.as_ref(), &mut rows);
        (i, rows, catalog_topics(near.as_deref()))
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn services(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let meta = node_meta_of(&req)?;
    let a = blocking::query(&state, &req, |st| {
        let (i, services) = match (&filter, meta.is_empty()) {
            (None, true) => st.services(),
            _ => services_matching(st, filter.as_ref(), &meta),
        };
        (i, services, vec![Topic::Catalog])
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

fn service(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    instances(state, name, req, false)
}

fn connect(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    instances(state, name, req, true)
}

/// `/v1/catalog/service/:name` and, with `mesh`, `/v1/catalog/connect/:name`.
/// The request is read and dropped here; only the read and its blocking
/// parameters go into the future that may park.
fn instances(
    state: ApiState,
    name: String,
    req: Req,
    mesh: bool,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    let read =
        InstancesRead::of(&state, name, &req, mesh).map(|read| move |st: &Store| read.answer(st));
    blocking::shared_or(state, Blocking::of(&req), read)
}

/// A catalog read of a service's instances, with its filters.
struct InstancesRead {
    name: String,
    mesh: bool,
    filters: InstanceFilters,
}

impl InstancesRead {
    fn of(state: &ApiState, name: String, req: &Req, mesh: bool) -> Result<Self, ApiError> {
        authorize(state, req, Access::Read)?;
        Ok(Self {
            name,
            mesh,
            filters: InstanceFilters::of(state, req)?,
        })
    }

    fn answer(&self, st: &Store) -> (u64, Body, Vec<Topic>) {
        let f = &self.filters;
        let (i, mut rows) = if self.mesh {
            st.connect_nodes(&self.name)
        } else {
            st.service_nodes(&self.name)
        };
        sort_near(st, f.near(), &mut rows, |(n, _)| &n.node);
        let mut rows: Vec<Value> = f
            .of_this_cluster(rows)
            .iter()
            .filter(|(n, svc)| f.admits(n, &svc.tags))
            .map(|(n, svc)| render::catalog_service(n, svc))
            .collect();
        keep(f.filter.as_ref(), &mut rows);
        (i, Body::json(&rows), service_topics(&self.name, f.near()))
    }
}

async fn node(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let dc = state.agent.datacenter.clone();
    let a = blocking::query(&state, &req, |st| {
        let (i, found) = st.node(&name);
        let value = found.map(|(n, services)| {
            let services: BTreeMap<String, Value> = services
                .iter()
                .map(|s| (s.id.to_string(), render::service(s, &dc)))
                .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.matches(v)))
                .collect();
            json!({ "Node": render::node(&n), "Services": services })
        });
        (i, value.unwrap_or(Value::Null), vec![Topic::Catalog])
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

/// `/v1/catalog/services` with a filter: the filter sees each instance as a
/// `/v1/catalog/service` row; names and tags are gathered from the matches.
fn services_matching(
    st: &skein_state::Store,
    f: Option<&skein_filter::Filter>,
    meta: &[(String, String)],
) -> (u64, BTreeMap<String, Vec<String>>) {
    let (i, instances) = st.service_instances();
    let instances: Vec<_> = instances
        .into_iter()
        .filter(|(n, svc)| {
            meta_matches(n, meta) && f.is_none_or(|f| f.matches(&render::catalog_service(n, svc)))
        })
        .collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, svc) in &instances {
        let tags = out.entry(svc.service.to_string()).or_default();
        for t in &svc.tags {
            if !tags.iter().any(|have| have == t) {
                tags.push(t.to_string());
            }
        }
    }
    (i, out)
}

/// `/v1/catalog/node-services/:node`: the node and its services as a list.
async fn node_services(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let dc = state.agent.datacenter.clone();
    let a = blocking::query(&state, &req, |st| {
        let (i, found) = st.node(&name);
        let value = found.map(|(n, services)| {
            let mut rows: Vec<Value> = services.iter().map(|s| render::service(s, &dc)).collect();
            keep(filter.as_ref(), &mut rows);
            json!({ "Node": render::node(&n), "Services": rows })
        });
        (i, value.unwrap_or(Value::Null), vec![Topic::Catalog])
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}
