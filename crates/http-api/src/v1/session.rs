//! `/v1/session/*`.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};
use skein_state::{Op, Outcome, Topic};
use skein_types::{Session, SessionBehavior};

use super::{authorize, render};
use crate::blocking;
use crate::query::Req;
use crate::response::{answer, ok};
use crate::{Access, ApiError, ApiState};
use skein_config::parse_go_duration;

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/session/create", put(create))
        .route("/v1/session/destroy/{id}", put(destroy))
        .route("/v1/session/renew/{id}", put(renew))
        .route("/v1/session/info/{id}", get(info))
        .route("/v1/session/node/{node}", get(node))
        .route("/v1/session/list", get(list))
}

/// Below this, a numeric `LockDelay` means seconds (Consul's rule).
const LOCK_DELAY_SECONDS_THRESHOLD: f64 = 1000.0;
const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);
const MAX_TTL: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    #[serde(alias = "lock_delay", alias = "lockdelay")]
    lock_delay: Option<Value>,
    #[serde(alias = "node")]
    node: Option<String>,
    #[serde(alias = "name")]
    name: Option<String>,
    #[serde(alias = "checks")]
    checks: Option<Vec<String>>,
    #[serde(alias = "node_checks")]
    node_checks: Option<Vec<String>>,
    #[serde(alias = "service_checks")]
    service_checks: Option<Vec<ServiceCheck>>,
    #[serde(alias = "behavior")]
    behavior: Option<String>,
    #[serde(rename = "TTL", alias = "ttl")]
    ttl: Option<String>,
    #[serde(rename = "ID")]
    _id: Option<String>,
    #[serde(alias = "namespace")]
    _namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ServiceCheck {
    #[serde(rename = "ID", alias = "id")]
    id: String,
    #[serde(rename = "Namespace", alias = "namespace", default)]
    _namespace: String,
}

async fn create(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let body: CreateBody = if body.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        super::decode_body(&body)?
    };
    let session = build_session(&state, body)?;
    let id = session.id.clone();
    match state.backend.write(Op::SessionCreate(session)).await? {
        Outcome::Unit => Ok(ok(&json!({ "ID": id }))),
        Outcome::Refused(e) => Err(e.into()),
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

fn build_session(state: &ApiState, body: CreateBody) -> Result<Session, ApiError> {
    let behavior = match body.behavior.as_deref() {
        None | Some("") | Some("release") => SessionBehavior::Release,
        Some("delete") => SessionBehavior::Delete,
        Some(other) => return Err(ApiError::bad(format!("Invalid Behavior setting '{other}'"))),
    };
    let ttl = body.ttl.unwrap_or_default();
    check_ttl(&ttl, state.config.session_ttl_min)?;
    let node_checks = body
        .node_checks
        .or(body.checks)
        .unwrap_or_else(|| vec!["serfHealth".into()]);
    Ok(Session {
        id: uuid::Uuid::new_v4().to_string(),
        name: body.name.unwrap_or_default(),
        node: body
            .node
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| state.agent.node_name.clone()),
        lock_delay_ns: lock_delay_ns(body.lock_delay.as_ref())?,
        behavior,
        ttl,
        node_checks,
        service_checks: body
            .service_checks
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect(),
        create_index: 0,
        modify_index: 0,
    })
}

fn check_ttl(ttl: &str, min: Duration) -> Result<(), ApiError> {
    if ttl.is_empty() {
        return Ok(());
    }
    let parsed = parse_go_duration(ttl)
        .map_err(|_| ApiError::bad(format!("Request decode failed: invalid TTL {ttl:?}")))?;
    if parsed != Duration::ZERO && (parsed < min || parsed > MAX_TTL) {
        return Err(ApiError::bad(format!(
            "Invalid Session TTL '{ttl}', must be between [{}s=24h0m0s]",
            min.as_secs_f64()
        )));
    }
    Ok(())
}

fn lock_delay_ns(v: Option<&Value>) -> Result<u64, ApiError> {
    let bad = || ApiError::bad("Request decode failed: invalid LockDelay");
    match v {
        None | Some(Value::Null) => Ok(DEFAULT_LOCK_DELAY.as_nanos() as u64),
        Some(Value::String(s)) => parse_go_duration(s)
            .map(|d| d.as_nanos() as u64)
            .map_err(|_| bad()),
        Some(Value::Number(n)) => {
            let n = n.as_f64().filter(|n| *n >= 0.0).ok_or_else(bad)?;
            let ns = if n < LOCK_DELAY_SECONDS_THRESHOLD {
                n * 1e9
            } else {
                n
            };
            Ok(ns as u64)
        }
        Some(_) => Err(bad()),
    }
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::bad(format!("Session id '{id}' invalid")));
    }
    Ok(())
}

async fn destroy(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    check_id(&id)?;
    state.backend.write(Op::SessionDestroy { id }).await?;
    Ok(ok(&true))
}

async fn renew(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    if !state.backend.session_renew(&id).await? {
        return Err(ApiError::NotFound(format!("Session id '{id}' not found")));
    }
    let store = state.backend.store();
    let session = store.read().ok().and_then(|s| s.session_get(&id).1);
    let rows: Vec<Value> = session.iter().map(render::session).collect();
    Ok(ok(&rows))
}

async fn info(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let a = blocking::query(&state, &req, |s| {
        let (i, session) = s.session_get(&id);
        let rows: Vec<Value> = session.iter().map(render::session).collect();
        (i, rows, vec![Topic::Sessions])
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
        let (i, sessions) = s.session_node(&node);
        (
            i,
            sessions.iter().map(render::session).collect::<Vec<_>>(),
            vec![Topic::Sessions],
        )
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn list(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let a = blocking::query(&state, &req, |s| {
        let (i, sessions) = s.session_list();
        (
            i,
            sessions.iter().map(render::session).collect::<Vec<_>>(),
            vec![Topic::Sessions],
        )
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}
