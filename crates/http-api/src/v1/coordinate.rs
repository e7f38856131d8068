//! `/v1/coordinate/*`: network coordinates. Without gossip there is no
//! Vivaldi estimation yet: each agent publishes its starting coordinate and
//! clients may write updates, which are stored through Raft.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::{Value, json};
use skein_state::{Op, Topic};

use super::authorize;
use crate::blocking;
use crate::query::Req;
use crate::response::{answer, not_found, ok};
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/coordinate/datacenters", get(datacenters))
        .route("/v1/coordinate/nodes", get(nodes))
        .route("/v1/coordinate/node/{node}", get(node))
        .route("/v1/coordinate/update", put(update))
}

fn row(node: &str, coord: &Value) -> Value {
    json!({ "Node": node, "Segment": "", "Partition": "", "Coord": coord })
}

async fn datacenters(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let store = state.backend.store();
    let servers: Vec<String> = state.backend.peers().into_iter().map(|p| p.node).collect();
    let coords: Vec<Value> = store
        .read()
        .map(|s| s.coordinates().1)
        .unwrap_or_default()
        .iter()
        .filter(|(n, _)| servers.contains(n))
        .map(|(n, c)| json!({ "Node": format!("{n}.{}", state.agent.datacenter), "Coord": c }))
        .collect();
    Ok(ok(
        &json!([{ "Datacenter": state.agent.datacenter, "AreaID": "wan", "Coordinates": coords }]),
    ))
}

async fn nodes(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let a = blocking::query(&state, &req, |s| {
        let (i, all) = s.coordinates();
        (
            i,
            all.iter().map(|(n, c)| row(n, c)).collect::<Vec<_>>(),
            vec![Topic::Coordinates],
        )
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn node(
    State(state): State<ApiState>,
    Path(node): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let a = blocking::query(&state, &req, |s| {
        let (i, all) = s.coordinates();
        let rows: Vec<Value> = all
            .iter()
            .filter(|(n, _)| *n == node)
            .map(|(n, c)| row(n, c))
            .collect();
        (i, rows, vec![Topic::Coordinates])
    })
    .await?;
    if a.value.is_empty() {
        return Ok(not_found(&state, a.index, a.meta, req.consistency));
    }
    Ok(answer(&state, &a, req.consistency))
}

async fn update(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let v: Value = super::decode_body(&body)?;
    let node = v
        .get("Node")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad("Missing node name"))?;
    let coord = v
        .get("Coord")
        .cloned()
        .ok_or_else(|| ApiError::bad("Missing coordinate"))?;
    check_coordinate(&coord)?;
    state
        .backend
        .write(Op::CoordinateUpdate {
            node: node.to_owned(),
            coord,
        })
        .await?;
    Ok(ok(&Value::Null))
}

/// A Vivaldi coordinate: an 8-dimensional `Vec` and finite numbers.
fn check_coordinate(c: &Value) -> Result<(), ApiError> {
    let bad = || {
        ApiError::bad("Invalid coordinate: expected {Vec: [8 numbers], Error, Adjustment, Height}")
    };
    let vec = c.get("Vec").and_then(Value::as_array).ok_or_else(bad)?;
    if vec.len() != 8 || !vec.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)) {
        return Err(bad());
    }
    for k in ["Error", "Adjustment", "Height"] {
        if !c.get(k).and_then(Value::as_f64).is_some_and(f64::is_finite) {
            return Err(bad());
        }
    }
    Ok(())
}
