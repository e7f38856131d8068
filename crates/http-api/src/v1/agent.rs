//! `/v1/agent/*`: the agent's own services and checks (through
//! [`LocalAgent`](crate::LocalAgent)) and facts about the agent.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::{Value, json};
use skein_config::{CheckDefinition, ServiceDefinition};
use skein_types::CheckStatus;

use super::{authorize, check_path_name, filter_of, render};
use crate::query::Req;
use crate::response::ok;
use crate::{Access, AgentInfo, ApiError, ApiState};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/services", get(services))
        .route("/v1/agent/checks", get(checks))
        .route("/v1/agent/service/register", put(register))
        .route("/v1/agent/service/deregister/{id}", put(deregister))
        .route(
            "/v1/agent/service/maintenance/{id}",
            put(service_maintenance),
        )
        .route("/v1/agent/service/{id}", get(service))
        .route("/v1/agent/maintenance", put(node_maintenance))
        .route("/v1/agent/check/register", put(check_register))
        .route("/v1/agent/check/deregister/{id}", put(check_deregister))
        .route("/v1/agent/check/pass/{id}", put(check_pass))
        .route("/v1/agent/check/warn/{id}", put(check_warn))
        .route("/v1/agent/check/fail/{id}", put(check_fail))
        .route("/v1/agent/check/update/{id}", put(check_update))
        .route("/v1/agent/leave", put(leave))
}

pub(crate) fn member(agent: &AgentInfo) -> Value {
    json!({
        "Name": agent.node_name,
        "Addr": agent.address,
        "Port": agent.serf_lan_port,
        "Tags": {
            "role": if agent.server { "consul" } else { "node" },
            "dc": agent.datacenter,
            "port": agent.server_port.to_string(),
            "id": agent.node_id,
            "build": format!("{}:skein", agent.consul_version),
            "vsn": "2", "vsn_min": "2", "vsn_max": "3", "raft_vsn": "3",
            "segment": "",
        },
        "Status": 1,
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
        "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    })
}

async fn agent_self(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let a = &state.agent;
    let leader = state.backend.leader().unwrap_or_default();
    let config = json!({
        "Datacenter": a.datacenter, "PrimaryDatacenter": a.primary_datacenter,
        "NodeName": a.node_name, "NodeID": a.node_id, "Server": a.server,
        "Revision": "skein", "Version": a.consul_version, "BuildDate": "",
        "SkeinVersion": a.skein_version,
    });
    let stats = json!({
        "consul": { "leader_addr": leader, "server": a.server.to_string(),
                    "leader": (state.backend.leader().as_deref() == Some(&format!("{}:{}", a.address, a.server_port))).to_string(),
                    "known_datacenters": "1", "bootstrap": "false" },
        "raft": { "last_log_index": state.backend.last_log_index().to_string() },
        "build": { "version": a.consul_version, "skein": a.skein_version },
    });
    Ok(ok(&json!({
        "Config": config,
        "DebugConfig": { "NodeName": a.node_name, "Datacenter": a.datacenter },
        "Coord": { "Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5 },
        "Member": member(a),
        "Stats": stats,
        "Meta": {},
        "xDS": { "SupportedProxies": { "envoy": ["1.40.0"] }, "Port": -1, "Ports": { "Plaintext": -1, "TLS": -1 } },
    })))
}

async fn members(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let mut m = member(&state.agent);
    if req.params.flag("wan")
        && let Some(obj) = m.as_object_mut()
    {
        obj.insert(
            "Name".into(),
            json!(format!(
                "{}.{}",
                state.agent.node_name, state.agent.datacenter
            )),
        );
    }
    Ok(ok(&vec![m]))
}

async fn services(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let dc = &state.agent.datacenter;
    let rows: Vec<(String, Value)> = state
        .local
        .services()
        .iter()
        .map(|s| (s.id.clone(), render::service(s, dc)))
        .collect();
    let kept = filtered(&req, rows)?;
    Ok(ok(&kept.into_iter().collect::<BTreeMap<_, _>>()))
}

async fn service(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let found = state.local.services().into_iter().find(|s| s.id == id);
    let Some(svc) = found else {
        return Err(ApiError::NotFound(format!("unknown service ID: {id}")));
    };
    let mut body = render::service(&svc, &state.agent.datacenter);
    let hash = content_hash(&body);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("ContentHash".into(), json!(hash));
    }
    let mut resp = ok(&body);
    if let Ok(v) = axum::http::HeaderValue::from_str(&hash) {
        resp.headers_mut().insert("x-consul-contenthash", v);
    }
    Ok(resp)
}

fn content_hash(v: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

async fn checks(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let rows: Vec<(String, Value)> = state
        .local
        .checks()
        .iter()
        .map(|c| (c.check_id.clone(), render::check(c)))
        .collect();
    let kept = filtered(&req, rows)?;
    Ok(ok(&kept.into_iter().collect::<BTreeMap<_, _>>()))
}

/// Applies `?filter=` to the values of keyed rows.
fn filtered(req: &Req, mut rows: Vec<(String, Value)>) -> Result<Vec<(String, Value)>, ApiError> {
    if let Some(f) = filter_of(req)? {
        rows.retain(|(_, v)| f.matches(v));
    }
    Ok(rows)
}

fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("Request decode failed: {e}")))
}

async fn register(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let def = ServiceDefinition::from_json(&body_json(&body)?).map_err(ApiError::BadRequest)?;
    check_path_name(&def.id)?;
    let replace = req.params.flag("replace-existing-checks");
    state.local.register_service(def, replace).await?;
    Ok(ok(&Value::Null))
}

async fn deregister(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    state.local.deregister_service(id).await?;
    Ok(ok(&Value::Null))
}

async fn check_register(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let def = CheckDefinition::from_json(&body_json(&body)?).map_err(ApiError::BadRequest)?;
    state.local.register_check(def).await?;
    Ok(ok(&Value::Null))
}

async fn check_deregister(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    state.local.deregister_check(id).await?;
    Ok(ok(&Value::Null))
}

async fn check_ttl(
    state: ApiState,
    req: Req,
    id: String,
    status: CheckStatus,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let note = req.params.get("note").unwrap_or_default().to_owned();
    state.local.update_ttl(id, status, note).await?;
    Ok(ok(&Value::Null))
}

async fn check_pass(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    check_ttl(state, req, id, CheckStatus::Passing).await
}

async fn check_warn(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    check_ttl(state, req, id, CheckStatus::Warning).await
}

async fn check_fail(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    check_ttl(state, req, id, CheckStatus::Critical).await
}

async fn check_update(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let v = body_json(&body)?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad("Request decode failed: expected an object"))?;
    let get = |k: &str| {
        obj.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let status = CheckStatus::parse(get("Status"))
        .ok_or_else(|| ApiError::bad(format!("Invalid check status: '{}'", get("Status"))))?;
    state
        .local
        .update_ttl(id, status, get("Output").to_owned())
        .await?;
    Ok(ok(&Value::Null))
}

fn maintenance_args(req: &Req) -> Result<(bool, String), ApiError> {
    let enable = match req.params.get("enable") {
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "Invalid value for \"enable\": {other:?}"
            )));
        }
        None => return Err(ApiError::bad("Missing value for enable")),
    };
    Ok((
        enable,
        req.params.get("reason").unwrap_or_default().to_owned(),
    ))
}

async fn service_maintenance(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let (enable, reason) = maintenance_args(&req)?;
    state.local.service_maintenance(id, enable, reason).await?;
    Ok(ok(&Value::Null))
}

async fn node_maintenance(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let (enable, reason) = maintenance_args(&req)?;
    state.local.node_maintenance(enable, reason).await?;
    Ok(ok(&Value::Null))
}

async fn leave(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    state.backend.leave();
    Ok(ok(&Value::Null))
}
