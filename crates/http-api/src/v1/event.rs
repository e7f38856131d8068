//! `/v1/event/fire/:name` and `/v1/event/list`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::Value;

use super::authorize;
use crate::blocking::Answer;
use crate::events::{UserEvent, render};
use crate::query::Req;
use crate::response::{answer, ok};
use crate::{Access, ApiError, ApiState, ReadMeta};

/// How long a fire waits for the event to reach this agent's own list.
const LOCAL_DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/event/fire/{name}", put(fire))
        .route("/v1/event/list", get(list))
}

async fn fire(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    if name.is_empty() || name.starts_with('_') {
        return Err(ApiError::bad(format!("Invalid event name {name:?}")));
    }
    let filter = |k: &str| req.params.get(k).unwrap_or_default().to_owned();
    for key in ["node", "service", "tag"] {
        regex_ok(&filter(key))?;
    }
    let mut event = UserEvent {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        payload: body.to_vec(),
        node_filter: filter("node"),
        service_filter: filter("service"),
        tag_filter: filter("tag"),
        ltime: 0,
    };
    let mut delivered = state.events.subscribe();
    event.ltime = state
        .cluster
        .fire_event(&event.name, event.encode())
        .map_err(ApiError::Internal)?;
    // When this agent is a target, answer once the event is in its own
    // list, so a list right after the fire sees it.
    let services = state.local.services();
    let offered = services
        .iter()
        .map(|s| (s.service.as_str(), s.tags.as_slice()));
    if event.accepted_by(&state.agent.node_name, offered) {
        let deadline = tokio::time::Instant::now() + LOCAL_DELIVERY_WAIT;
        while !state.events.contains(&event.id) {
            if tokio::time::timeout_at(deadline, delivered.changed())
                .await
                .is_err()
            {
                break;
            }
        }
    }
    Ok(ok(&render(&event)))
}

fn regex_ok(expr: &str) -> Result<(), ApiError> {
    if expr.is_empty() {
        return Ok(());
    }
    regex::Regex::new(expr)
        .map(|_| ())
        .map_err(|e| ApiError::bad(format!("Invalid filter regex {expr:?}: {e}")))
}

async fn list(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let name = req.params.get("name").unwrap_or_default().to_owned();
    let deadline = tokio::time::Instant::now() + req.wait;
    loop {
        let mut waiting = state.events.subscribe();
        let (index, events) = state.events.list();
        if req.index == 0 || index != req.index || tokio::time::Instant::now() >= deadline {
            let rows: Vec<Value> = events
                .iter()
                .filter(|e| name.is_empty() || e.name == name)
                .map(render)
                .collect();
            let meta = ReadMeta {
                known_leader: true,
                last_contact_ms: 0,
            };
            return Ok(answer(
                &state,
                &Answer {
                    index,
                    value: rows,
                    meta,
                },
                req.consistency,
            ));
        }
        let _ = tokio::time::timeout_at(deadline, waiting.changed()).await;
    }
}
