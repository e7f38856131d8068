//! `/v1/agent/*`: the agent's own view. Service registration writes the
//! catalog entry of this agent's node through Raft.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::{Map, Value, json};
use skein_state::{Op, Outcome, Registration};
use skein_types::{Check, CheckStatus, Node, ServiceInstance};

use super::{authorize, check_path_name, render};
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
    reject_filter(&req)?;
    let store = state.backend.store();
    let services = store
        .read()
        .ok()
        .and_then(|s| s.node(&state.agent.node_name).1)
        .map(|(_, s)| s)
        .unwrap_or_default();
    let map: BTreeMap<String, Value> = services
        .iter()
        .filter(|s| s.service != "consul")
        .map(|s| (s.id.clone(), render::service(s, &state.agent.datacenter)))
        .collect();
    Ok(ok(&map))
}

async fn checks(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    reject_filter(&req)?;
    let store = state.backend.store();
    let checks = store
        .read()
        .ok()
        .map(|s| s.node_checks(&state.agent.node_name).1)
        .unwrap_or_default();
    let map: BTreeMap<String, Value> = checks
        .iter()
        .filter(|c| c.check_id != "serfHealth")
        .map(|c| (c.check_id.clone(), render::check(c)))
        .collect();
    Ok(ok(&map))
}

/// `?filter=` is not evaluated yet; refusing is better than a wrong answer.
pub(crate) fn reject_filter(req: &Req) -> Result<(), ApiError> {
    match req.params.get("filter") {
        Some(f) if !f.is_empty() => Err(ApiError::bad(
            "filter expressions are not supported by this skein version",
        )),
        _ => Ok(()),
    }
}

/// Looks a field up by Consul's PascalCase name or its snake_case alias.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let want = name.to_ascii_lowercase();
    obj.iter()
        .find(|(k, _)| k.replace('_', "").to_ascii_lowercase() == want)
        .map(|(_, v)| v)
}

fn str_field(obj: &Map<String, Value>, name: &str) -> String {
    field(obj, name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn register(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let def: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("Request decode failed: {e}")))?;
    let obj = def
        .as_object()
        .ok_or_else(|| ApiError::bad("Request decode failed: expected an object"))?;
    let service = parse_service(obj)?;
    let checks = parse_checks(obj, &service)?;
    let reg = Registration {
        node: self_node(&state.agent),
        skip_node_update: true,
        service: Some(service),
        checks,
    };
    match state.backend.write(Op::Register(Box::new(reg))).await? {
        Outcome::Bool(_) => Ok(ok(&Value::Null)),
        Outcome::Refused(e) => Err(e.into()),
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

pub(crate) fn self_node(agent: &AgentInfo) -> Node {
    Node {
        id: agent.node_id.clone(),
        node: agent.node_name.clone(),
        address: agent.address.clone(),
        datacenter: agent.datacenter.clone(),
        tagged_addresses: BTreeMap::from([
            ("lan".into(), agent.address.clone()),
            ("wan".into(), agent.address.clone()),
        ]),
        ..Node::default()
    }
}

fn parse_service(obj: &Map<String, Value>) -> Result<ServiceInstance, ApiError> {
    let name = str_field(obj, "Name");
    if name.is_empty() {
        return Err(ApiError::bad("Missing service name"));
    }
    let id = Some(str_field(obj, "ID"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| name.clone());
    check_path_name(&id)?;
    let port = match field(obj, "Port") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| ApiError::bad("Request decode failed: invalid Port"))?,
    };
    let decode = |key: &str| field(obj, key).cloned().filter(|v| !v.is_null());
    let mut extra = BTreeMap::new();
    for key in [
        "TaggedAddresses",
        "Weights",
        "Proxy",
        "Connect",
        "EnableTagOverride",
    ] {
        if let Some(v) = decode(key) {
            extra.insert(key.to_owned(), v);
        }
    }
    Ok(ServiceInstance {
        id,
        service: name,
        tags: decode("Tags")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|_| ApiError::bad("Request decode failed: invalid Tags"))?
            .unwrap_or_default(),
        address: str_field(obj, "Address"),
        port,
        meta: decode("Meta")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|_| ApiError::bad("Request decode failed: invalid Meta"))?
            .unwrap_or_default(),
        kind: str_field(obj, "Kind"),
        extra,
        create_index: 0,
        modify_index: 0,
    })
}

fn parse_checks(obj: &Map<String, Value>, svc: &ServiceInstance) -> Result<Vec<Check>, ApiError> {
    let mut defs: Vec<&Map<String, Value>> = Vec::new();
    if let Some(Value::Object(c)) = field(obj, "Check") {
        defs.push(c);
    }
    if let Some(Value::Array(list)) = field(obj, "Checks") {
        defs.extend(list.iter().filter_map(Value::as_object));
    }
    let many = defs.len() > 1;
    defs.iter()
        .enumerate()
        .map(|(i, d)| parse_check(d, svc, many.then_some(i + 1)))
        .collect()
}

fn parse_check(
    def: &Map<String, Value>,
    svc: &ServiceInstance,
    n: Option<usize>,
) -> Result<Check, ApiError> {
    let default_id = match n {
        Some(n) => format!("service:{}:{n}", svc.id),
        None => format!("service:{}", svc.id),
    };
    let id = Some(str_field(def, "CheckID"))
        .filter(|s| !s.is_empty())
        .or_else(|| Some(str_field(def, "ID")).filter(|s| !s.is_empty()))
        .unwrap_or(default_id);
    let status = match str_field(def, "Status").as_str() {
        "" => CheckStatus::Critical,
        s => CheckStatus::parse(s)
            .ok_or_else(|| ApiError::bad(format!("Invalid check status {s:?}")))?,
    };
    let check_type = [
        "TTL",
        "HTTP",
        "TCP",
        "GRPC",
        "Args",
        "H2PING",
        "AliasService",
    ]
    .iter()
    .find(|k| field(def, k).is_some_and(|v| !v.is_null()))
    .map(|k| {
        if *k == "Args" {
            "script".to_owned()
        } else {
            k.to_ascii_lowercase()
        }
    })
    .unwrap_or_default();
    Ok(Check {
        check_id: id,
        name: Some(str_field(def, "Name"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("Service '{}' check", svc.service)),
        status,
        notes: str_field(def, "Notes"),
        service_id: svc.id.clone(),
        service_name: svc.service.clone(),
        check_type,
        interval: str_field(def, "Interval"),
        timeout: str_field(def, "Timeout"),
        ..Check::default()
    })
}

async fn deregister(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let op = Op::Deregister {
        node: state.agent.node_name.clone(),
        service_id: Some(id),
        check_id: None,
    };
    state.backend.write(op).await?;
    Ok(ok(&Value::Null))
}

async fn leave(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    state.backend.leave();
    Ok(ok(&Value::Null))
}
