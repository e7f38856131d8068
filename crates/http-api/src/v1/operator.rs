//! `/v1/operator/raft/*`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::authorize;
use crate::query::Req;
use crate::response::json as json_response;
use crate::response::read_headers;
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/operator/raft/configuration", get(configuration))
}

async fn configuration(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let meta = state.backend.read_barrier(req.consistency).await?;
    let last_index = state.backend.last_log_index();
    let servers: Vec<Value> = state
        .backend
        .peers()
        .into_iter()
        .map(|p| {
            json!({
                "ID": p.id,
                "Node": p.node,
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
        axum::http::StatusCode::OK,
        headers,
        &json!({ "Servers": servers, "Index": 0 }),
    ))
}
