//! `/v1/operator/*`: the Raft configuration and its peers, autopilot, the
//! gossip keyring and usage.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde_json::{Map, Value, json};
use skein_state::Op;

use super::{authorize, read_store};
use crate::query::Req;
use crate::response::{json as json_response, ok, read_headers};
use crate::{Access, ApiError, ApiState, KeyringAnswer, KeyringRequest, MemberInfo, Peer};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/operator/raft/configuration", get(configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
        .route("/v1/operator/raft/transfer-leader", post(transfer_leader))
        .route(
            "/v1/operator/autopilot/configuration",
            get(autopilot_get).put(autopilot_put),
        )
        .route("/v1/operator/autopilot/health", get(autopilot_health))
        .route("/v1/operator/autopilot/state", get(autopilot_state))
        .route(
            "/v1/operator/keyring",
            get(keyring_list)
                .post(keyring_change)
                .put(keyring_change)
                .delete(keyring_change),
        )
        .route("/v1/operator/usage", get(usage))
}

async fn configuration(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let meta = state.backend.read_barrier(req.consistency).await?;
    let last_index = state.backend.last_log_index();
    let members = state.cluster.members();
    let servers: Vec<Value> = state
        .backend
        .peers()
        .into_iter()
        .map(|p| {
            json!({
                "ID": p.id,
                "Node": peer_name(&p, &members),
                "Address": p.address,
                "Leader": p.leader,
                "Voter": p.voter,
                "ProtocolVersion": "3",
                "LastIndex": last_index,
            })
        })
        .collect();
    let headers = read_headers(&state, last_index, meta, req.consistency);
    Ok(json_response(
        StatusCode::OK,
        headers,
        &json!({ "Servers": servers, "Index": 0 }),
    ))
}

/// The gossip member that runs `peer`: the one whose address and `port`
/// tag make up the peer's RPC address.
fn peer_member<'a>(peer: &Peer, members: &'a [MemberInfo]) -> Option<&'a MemberInfo> {
    members.iter().find(|m| {
        m.tags
            .get("port")
            .is_some_and(|port| format!("{}:{port}", m.addr.ip()) == peer.address)
    })
}

fn peer_name(peer: &Peer, members: &[MemberInfo]) -> String {
    peer_member(peer, members).map_or_else(|| peer.node.clone(), |m| m.name.clone())
}

/// `DELETE /v1/operator/raft/peer?id=|?address=`.
async fn remove_peer(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    let peers = state.backend.peers();
    let (found, what) = match (req.params.get("id"), req.params.get("address")) {
        (Some(id), _) => (peers.iter().find(|p| p.id == id), format!("id {id:?}")),
        (None, Some(address)) => (
            peers.iter().find(|p| p.address == address),
            format!("address {address:?}"),
        ),
        (None, None) => {
            return Err(ApiError::bad(
                "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
            ));
        }
    };
    let not_found =
        || ApiError::Internal(format!("{what} was not found in the Raft configuration"));
    let id: u64 = found
        .and_then(|p| p.id.parse().ok())
        .ok_or_else(not_found)?;
    if !state.backend.remove_peer(id).await? {
        return Err(not_found());
    }
    Ok(ok(&Value::Null))
}

/// `POST /v1/operator/raft/transfer-leader[?id=]`: hands leadership to
/// the voter `id`, or to any up-to-date voter.
async fn transfer_leader(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    let peers = state.backend.peers();
    let others: Vec<&Peer> = peers.iter().filter(|p| p.voter && !p.leader).collect();
    let target = match req.params.get("id") {
        Some(id) => Some(
            others
                .iter()
                .find(|p| p.id == id)
                .and_then(|p| p.id.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::Internal(format!(
                        "cannot transfer leadership to {id:?}: not a voter of the Raft configuration"
                    ))
                })?,
        ),
        None => None,
    };
    if others.is_empty() {
        return Err(ApiError::Internal(
            "cannot transfer leadership: no other voter in the Raft configuration".into(),
        ));
    }
    state.backend.transfer_leader(target).await?;
    Ok(ok(&json!({ "Success": true })))
}

/// The stored autopilot configuration over the configured defaults, with
/// its indexes.
fn autopilot_current(state: &ApiState) -> Result<(Map<String, Value>, u64, u64), ApiError> {
    let mut config = match &state.config.autopilot_defaults {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let (create, modify) = read_store(state, |store| match store.autopilot() {
        Some(a) => {
            if let Value::Object(set) = &a.config {
                config.extend(set.clone());
            }
            (a.create_index, a.modify_index)
        }
        None => (0, 0),
    })?;
    Ok((config, create, modify))
}

async fn autopilot_get(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    state.backend.read_barrier(req.consistency).await?;
    let (mut config, create, modify) = autopilot_current(&state)?;
    config.insert("CreateIndex".into(), json!(create));
    config.insert("ModifyIndex".into(), json!(modify));
    Ok(ok(&Value::Object(config)))
}

/// The fields of an autopilot configuration and their JSON kinds.
const AUTOPILOT_FIELDS: &[(&str, Kind)] = &[
    ("CleanupDeadServers", Kind::Bool),
    ("LastContactThreshold", Kind::Duration),
    ("MaxTrailingLogs", Kind::Number),
    ("MinQuorum", Kind::Number),
    ("ServerStabilizationTime", Kind::Duration),
    ("RedundancyZoneTag", Kind::String),
    ("DisableUpgradeMigration", Kind::Bool),
    ("UpgradeVersionTag", Kind::String),
    ("CreateIndex", Kind::Number),
    ("ModifyIndex", Kind::Number),
];

#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Number,
    String,
    Duration,
}

/// `PUT /v1/operator/autopilot/configuration[?cas=N]`: the fields given
/// replace the current ones; answers `true`, or `false` when `cas` no
/// longer matches.
async fn autopilot_put(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    let given: Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("Error parsing autopilot config: {e}")))?;
    let cas = match req.params.get("cas") {
        Some(raw) => Some(
            raw.parse::<u64>()
                .map_err(|_| ApiError::bad(format!("Error parsing cas value: {raw:?}")))?,
        ),
        None => None,
    };
    let (mut config, _, _) = autopilot_current(&state)?;
    for (key, value) in given {
        let Some((name, kind)) = AUTOPILOT_FIELDS
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(&key))
        else {
            return Err(ApiError::bad(format!(
                "Error parsing autopilot config: unknown field {key:?}"
            )));
        };
        if matches!(*name, "CreateIndex" | "ModifyIndex") {
            continue;
        }
        config.insert((*name).to_owned(), checked(name, *kind, value)?);
    }
    let outcome = state
        .backend
        .write(Op::AutopilotSet {
            config: Value::Object(config),
            cas,
        })
        .await?;
    Ok(ok(&matches!(outcome, skein_state::Outcome::Bool(true))))
}

fn checked(name: &str, kind: Kind, value: Value) -> Result<Value, ApiError> {
    let fits = match kind {
        Kind::Bool => value.is_boolean(),
        Kind::Number => value.is_u64(),
        Kind::String => value.is_string(),
        Kind::Duration => value
            .as_str()
            .is_some_and(|d| skein_config::parse_go_duration(d).is_ok()),
    };
    if fits {
        Ok(value)
    } else {
        Err(ApiError::bad(format!(
            "Error parsing autopilot config: invalid {name}: {value}"
        )))
    }
}

/// One server's autopilot health.
fn server_health(peer: &Peer, members: &[MemberInfo], term: u64, index: u64) -> Value {
    let member = peer_member(peer, members);
    let serf = member.map_or("none", |m| match m.status {
        1 => "alive",
        2 => "leaving",
        3 => "left",
        _ => "failed",
    });
    // A server we have no gossip entry for (a lone dev server) counts as
    // alive: it answers this very request.
    let alive = member.is_none() || serf == "alive";
    json!({
        "ID": peer.id,
        "Name": member.map_or_else(|| peer.node.clone(), |m| m.name.clone()),
        "Address": peer.address,
        "SerfStatus": if member.is_none() { "alive" } else { serf },
        "Version": member.and_then(|m| m.tags.get("build")).cloned().unwrap_or_default(),
        "Leader": peer.leader,
        "LastContact": "0s",
        "LastTerm": term,
        "LastIndex": index,
        "Healthy": alive,
        "Voter": peer.voter,
        "StableSince": "1970-01-01T00:00:00Z",
    })
}

/// Servers' health, whether all are healthy, and how many voters may fail
/// without losing the quorum.
fn health(state: &ApiState) -> (bool, u64, Vec<Value>) {
    let members = state.cluster.members();
    let (term, index) = (state.backend.raft_term(), state.backend.last_log_index());
    let servers: Vec<Value> = state
        .backend
        .peers()
        .iter()
        .map(|p| server_health(p, &members, term, index))
        .collect();
    let voters = servers.iter().filter(|s| s["Voter"] == true).count() as u64;
    let healthy_voters = servers
        .iter()
        .filter(|s| s["Voter"] == true && s["Healthy"] == true)
        .count() as u64;
    let quorum = voters / 2 + 1;
    let healthy = servers.iter().all(|s| s["Healthy"] == true) && healthy_voters >= quorum;
    (healthy, healthy_voters.saturating_sub(quorum), servers)
}

/// `GET /v1/operator/autopilot/health`: 200 when healthy, 429 when not.
async fn autopilot_health(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let (healthy, tolerance, servers) = health(&state);
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    Ok(json_response(
        status,
        Default::default(),
        &json!({ "Healthy": healthy, "FailureTolerance": tolerance, "Servers": servers }),
    ))
}

/// `GET /v1/operator/autopilot/state`.
async fn autopilot_state(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let (healthy, tolerance, servers) = health(&state);
    let leader = servers
        .iter()
        .find(|s| s["Leader"] == true)
        .map(|s| s["ID"].clone())
        .unwrap_or(Value::Null);
    let voters: Vec<Value> = servers
        .iter()
        .filter(|s| s["Voter"] == true)
        .map(|s| s["ID"].clone())
        .collect();
    let by_id: Map<String, Value> = servers
        .into_iter()
        .map(|s| {
            let id = s["ID"].as_str().unwrap_or_default().to_owned();
            let status = if s["Leader"] == true {
                "leader"
            } else if s["Voter"] == true {
                "voter"
            } else {
                "non-voter"
            };
            let row = json!({
                "ID": s["ID"], "Name": s["Name"], "Address": s["Address"],
                "NodeStatus": s["SerfStatus"], "Version": s["Version"],
                "LastContact": s["LastContact"], "LastTerm": s["LastTerm"],
                "LastIndex": s["LastIndex"], "Healthy": s["Healthy"],
                "StableSince": s["StableSince"], "Status": status,
            });
            (id, row)
        })
        .collect();
    Ok(ok(&json!({
        "Healthy": healthy,
        "FailureTolerance": tolerance,
        "OptimisticFailureTolerance": tolerance,
        "Servers": by_id,
        "Leader": leader,
        "Voters": voters,
    })))
}

/// `GET /v1/operator/keyring`: the keys installed on the members of each
/// pool (the WAN pool's first on servers), with how many have each.
async fn keyring_list(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let answers = keyring_op(&state, KeyringRequest::List).await?;
    let rows: Vec<Value> = answers
        .iter()
        .map(|a| {
            json!({
                "WAN": a.wan,
                "Datacenter": if a.wan { "" } else { state.agent.datacenter.as_str() },
                "Segment": "",
                "Partition": "",
                "Keys": a.keys,
                "PrimaryKeys": a.primary_keys,
                "NumNodes": a.num_nodes,
                "Messages": a.messages,
            })
        })
        .collect();
    Ok(ok(&rows))
}

/// `POST` (install a key everywhere), `PUT` (encrypt with an installed
/// key) and `DELETE` (remove a key everywhere) of `/v1/operator/keyring`,
/// each with `{"Key": ...}`.
async fn keyring_change(
    State(state): State<ApiState>,
    method: Method,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    let op: fn(String) -> KeyringRequest = match method {
        Method::POST => KeyringRequest::Install,
        Method::PUT => KeyringRequest::Use,
        _ => KeyringRequest::Remove,
    };
    authorize(&state, &req, Access::OperatorWrite)?;
    let parsed: Value = super::decode_body(&body)?;
    let key = parsed
        .get("Key")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad("Request decode failed: missing \"Key\""))?;
    keyring_op(&state, op(key.to_owned())).await?;
    Ok(ok(&Value::Null))
}

/// Runs `op` on the pools; a member's failure fails the request, with
/// Serf's summary and each member's error.
async fn keyring_op(state: &ApiState, op: KeyringRequest) -> Result<Vec<KeyringAnswer>, ApiError> {
    let answers = state
        .cluster
        .keyring(op)
        .await
        .map_err(ApiError::Internal)?;
    for answer in &answers {
        let Some(failure) = &answer.failure else {
            continue;
        };
        let detail: Vec<String> = answer
            .messages
            .iter()
            .map(|(node, m)| format!("{node}: {m}"))
            .collect();
        return Err(ApiError::Internal(if detail.is_empty() {
            failure.clone()
        } else {
            format!("{failure}: {}", detail.join("; "))
        }));
    }
    Ok(answers)
}

/// `GET /v1/operator/usage`: service, instance and node counts.
async fn usage(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let meta = state.backend.read_barrier(req.consistency).await?;
    let u = read_store(&state, |store| store.usage())?;
    let counts = json!({
        "Services": u.services,
        "ServiceInstances": u.instances,
        "ConnectServiceInstances": {
            "api-gateway": 0, "connect-native": 0, "connect-proxy": u.connect_proxies,
            "ingress-gateway": 0, "mesh-gateway": 0, "terminating-gateway": 0,
        },
        "BillableServiceInstances": u.billable,
        "Nodes": u.nodes,
    });
    let index = u.index;
    Ok(ok(&json!({
        "Usage": { state.agent.datacenter.clone(): counts },
        "Index": index,
        "LastContact": meta.last_contact_ms,
        "KnownLeader": meta.known_leader,
        "ConsistencyLevel": "leader",
        "NotModified": false,
        "Backend": 0,
        "ResultsFilteredByACLs": false,
    })))
}
