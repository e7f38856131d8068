//! `/v1/agent/*`: the agent's own services and checks (through
//! [`LocalAgent`](crate::LocalAgent)) and facts about the agent.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
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
        .route("/v1/agent/token/{kind}", put(set_token))
        .route("/v1/agent/reload", put(reload))
        .route("/v1/agent/monitor", get(super::monitor::monitor))
        .route("/v1/agent/force-leave/{node}", put(force_leave))
        .route("/v1/agent/join/{address}", put(join))
        .route("/v1/agent/health/service/name/{name}", get(health_by_name))
        .route("/v1/agent/health/service/id/{id}", get(health_by_id))
        .route("/v1/agent/metrics", get(metrics))
}

/// One gossip member in Consul's JSON shape.
fn render_member(m: &crate::MemberInfo) -> Value {
    json!({
        "Name": m.name,
        "Addr": m.addr.ip().to_string(),
        "Port": m.addr.port(),
        "Tags": m.tags,
        "Status": m.status,
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
        "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    })
}

/// This agent's own member entry: from the gossip pool when it knows it.
fn self_member(state: &ApiState) -> Value {
    let a = &state.agent;
    state
        .cluster
        .members()
        .iter()
        .find(|m| m.name == a.node_name)
        .map_or_else(|| member(a), render_member)
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
        "raft": state.backend.raft_stats(),
        "build": { "version": a.consul_version, "skein": a.skein_version },
    });
    Ok(ok(&json!({
        "Config": config,
        "DebugConfig": { "NodeName": a.node_name, "Datacenter": a.datacenter },
        "Coord": { "Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5 },
        "Member": self_member(&state),
        "Stats": stats,
        "Meta": {},
        "xDS": { "SupportedProxies": { "envoy": ["1.40.0"] }, "Port": a.grpc_port, "Ports": { "Plaintext": a.grpc_port, "TLS": -1 } },
    })))
}

/// `GET /v1/agent/members`: the LAN pool, or with `?wan` the WAN pool
/// (servers of every datacenter, named `<node>.<dc>`).
async fn members(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let members = if req.params.flag("wan") {
        state.cluster.wan_members()
    } else {
        state.cluster.members()
    };
    let rows: Vec<Value> = members.iter().map(render_member).collect();
    Ok(ok(&rows))
}

/// `PUT /v1/agent/join/:address[?wan]`: joins the LAN (or WAN) pool
/// through `address`.
async fn join(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    state
        .cluster
        .join(vec![address], req.params.flag("wan"))
        .await
        .map_err(ApiError::Internal)?;
    Ok(ok(&Value::Null))
}

async fn services(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let dc = &state.agent.datacenter;
    let rows: Vec<(String, Value)> = state
        .local
        .services()
        .iter()
        .map(|s| (s.id.to_string(), render::agent_service(s, dc)))
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
    let mut body = render::agent_service(&svc, &state.agent.datacenter);
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
        .map(|c| (c.check_id.to_string(), render::check(c)))
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

async fn register(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let def = ServiceDefinition::from_json(&super::decode_body::<Value>(&body)?)
        .map_err(ApiError::BadRequest)?;
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
    let def = CheckDefinition::from_json(&super::decode_body::<Value>(&body)?)
        .map_err(ApiError::BadRequest)?;
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
    let v = super::decode_body::<Value>(&body)?;
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

/// Token kinds `/v1/agent/token/:kind` accepts, with their legacy names.
const TOKEN_KINDS: &[(&str, &str)] = &[
    ("default", "default"),
    ("agent", "agent"),
    ("agent_recovery", "agent_recovery"),
    ("replication", "replication"),
    (
        "config_file_service_registration",
        "config_file_service_registration",
    ),
    ("dns", "dns"),
    ("agent_master", "agent_recovery"),
    ("acl_token", "default"),
    ("acl_agent_token", "agent"),
    ("acl_agent_master_token", "agent_recovery"),
    ("acl_replication_token", "replication"),
];

/// Without gossip the only member is this agent, so every other name is
/// unknown, as Consul answers for a node it has never seen.
async fn force_leave(
    State(state): State<ApiState>,
    Path(node): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    if node == state.agent.node_name {
        return Err(ApiError::Internal(
            "agent cannot force-leave itself; use leave".into(),
        ));
    }
    state
        .cluster
        .force_leave(&node, req.params.flag("prune"), req.params.flag("wan"))
        .map_err(ApiError::Internal)?;
    Ok(ok(&Value::Null))
}

/// Aggregated local health of one service instance: the worst of its own
/// checks and the node's checks.
fn instance_health(
    state: &ApiState,
    svc: &skein_types::ServiceInstance,
) -> (CheckStatus, Vec<Value>) {
    let checks: Vec<_> = state
        .local
        .checks()
        .into_iter()
        .filter(|c| c.service_id.is_empty() || c.service_id == svc.id)
        .collect();
    let worst = checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(CheckStatus::Passing);
    (worst, checks.iter().map(render::check).collect())
}

fn health_status_code(s: CheckStatus) -> axum::http::StatusCode {
    match s {
        CheckStatus::Passing => axum::http::StatusCode::OK,
        CheckStatus::Warning => axum::http::StatusCode::TOO_MANY_REQUESTS,
        CheckStatus::Critical => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn wants_text(req: &Req) -> bool {
    req.params.get("format") == Some("text")
}

async fn health_by_id(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let svc = state.local.services().into_iter().find(|s| s.id == id);
    let Some(svc) = svc else {
        return Err(ApiError::NotFound(format!("ServiceId {id} not found")));
    };
    let (status, checks) = instance_health(&state, &svc);
    let code = health_status_code(status);
    if wants_text(&req) {
        return Ok((code, status.as_str().to_owned()).into_response());
    }
    let body = json!({ "AggregatedStatus": status.as_str(), "Service": render::agent_service(&svc, &state.agent.datacenter), "Checks": checks });
    Ok(crate::response::json(
        code,
        axum::http::HeaderMap::new(),
        &body,
    ))
}

async fn health_by_name(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let instances: Vec<_> = state
        .local
        .services()
        .into_iter()
        .filter(|s| s.service == name)
        .collect();
    if instances.is_empty() {
        return Err(ApiError::NotFound(format!("ServiceName {name} Not Found")));
    }
    let rows: Vec<(CheckStatus, Value)> = instances
        .iter()
        .map(|svc| {
            let (status, checks) = instance_health(&state, svc);
            let row = json!({ "AggregatedStatus": status.as_str(), "Service": render::agent_service(svc, &state.agent.datacenter), "Checks": checks });
            (status, row)
        })
        .collect();
    let worst = rows
        .iter()
        .map(|(s, _)| *s)
        .max()
        .unwrap_or(CheckStatus::Passing);
    let code = health_status_code(worst);
    if wants_text(&req) {
        return Ok((code, worst.as_str().to_owned()).into_response());
    }
    let body: Vec<Value> = rows.into_iter().map(|(_, r)| r).collect();
    Ok(crate::response::json(
        code,
        axum::http::HeaderMap::new(),
        &body,
    ))
}

async fn reload(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    state.local.reload().await?;
    Ok(ok(&Value::Null))
}

async fn set_token(
    State(state): State<ApiState>,
    Path(kind): Path<String>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !state.config.acl_enabled {
        return Err(ApiError::AclDisabled);
    }
    authorize(&state, &req, Access::Management)?;
    let canonical = TOKEN_KINDS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, c)| *c)
        .ok_or_else(|| ApiError::NotFound(format!("Token {kind:?} is unknown")))?;
    let v = super::decode_body::<Value>(&body)?;
    let token = v
        .get("Token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad("Request decode failed: missing Token"))?;
    state.local.set_token(canonical, token.to_owned());
    Ok(ok(&Value::Null))
}

/// Gauges about this agent's state, as JSON or Prometheus text.
async fn metrics(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let gauges = gauges(&state);
    if req.params.get("format") == Some("prometheus") {
        let mut text = String::new();
        for (name, value) in &gauges {
            let metric = name.replace('.', "_");
            text.push_str(&format!("# TYPE {metric} gauge\n{metric} {value}\n"));
        }
        return Ok(([("content-type", "text/plain; version=0.0.4")], text).into_response());
    }
    let rows: Vec<Value> = gauges
        .iter()
        .map(|(n, v)| json!({"Name": n, "Value": v, "Labels": {}}))
        .collect();
    Ok(ok(&json!({
        "Timestamp": utc_timestamp(std::time::SystemTime::now()),
        "Gauges": rows, "Points": [], "Counters": [], "Samples": [],
    })))
}

fn gauges(state: &ApiState) -> Vec<(&'static str, f64)> {
    let store = state.backend.store();
    let (kv, services, nodes, parked) = match store.read() {
        Ok(s) => (
            s.kv_list("").1.len(),
            s.service_instances().1.len(),
            s.nodes().1.len(),
            s.parked_watches(),
        ),
        Err(_) => (0, 0, 0, 0),
    };
    vec![
        (
            "skein.raft.last_log_index",
            state.backend.last_log_index() as f64,
        ),
        ("skein.kv.keys", kv as f64),
        ("skein.catalog.service_instances", services as f64),
        ("skein.catalog.nodes", nodes as f64),
        (
            "skein.agent.local_services",
            state.local.services().len() as f64,
        ),
        (
            "skein.agent.local_checks",
            state.local.checks().len() as f64,
        ),
        ("skein.blocking.parked_watches", parked as f64),
    ]
}

/// `2026-11-23 11:45:00 +0000 UTC`, Go's default time format in UTC.
fn utc_timestamp(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_go_formatted_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_434_300);
        assert_eq!(utc_timestamp(t), "2026-11-23 11:45:00 +0000 UTC");
        assert_eq!(
            utc_timestamp(std::time::UNIX_EPOCH),
            "1970-01-01 00:00:00 +0000 UTC"
        );
    }
}
