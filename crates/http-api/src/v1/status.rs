//! `/v1/status/*`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::ApiState;
use crate::response::ok;

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
}

async fn leader(State(state): State<ApiState>) -> Response {
    ok(&state.backend.leader().unwrap_or_default())
}

async fn peers(State(state): State<ApiState>) -> Response {
    let addrs: Vec<String> = state
        .backend
        .peers()
        .into_iter()
        .filter(|p| p.voter)
        .map(|p| p.address)
        .collect();
    ok(&addrs)
}
