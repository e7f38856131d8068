//! `/v1/connect/ca/*` and `/v1/agent/connect/ca/roots`: the Connect CA's
//! roots and configuration, from the replicated CA state.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use skein_state::{CaState, Store, Topic};

use super::authorize;
use crate::blocking;
use crate::query::Req;
use crate::response::{answer, ok, read_headers};
use crate::{Access, ApiError, ApiState};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/connect/ca/roots", get(roots))
        .route("/v1/agent/connect/ca/roots", get(roots))
        .route(
            "/v1/connect/ca/configuration",
            get(configuration).put(set_configuration),
        )
        .route("/v1/agent/connect/ca/leaf/{service}", get(leaf))
}

/// `GET /v1/agent/connect/ca/leaf/:service` (blocking on the certificate's
/// index): the agent's certificate for `service`, private key included.
async fn leaf(
    State(state): State<ApiState>,
    axum::extract::Path(service): axum::extract::Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    super::check_path_name(&service)?;
    let (index, value) = state.leaves.leaf(&service, req.index, req.wait).await?;
    let meta = skein_types::read::ReadMeta {
        known_leader: state.backend.leader().is_some(),
        last_contact_ms: 0,
    };
    let a = blocking::Answer { index, value, meta };
    Ok(answer(&state, &a, req.consistency))
}

/// Consul's `IndexedCARoots`.
fn roots_json(ca: Option<&CaState>) -> Value {
    let Some(ca) = ca else {
        return json!({ "ActiveRootID": "", "TrustDomain": "", "Roots": [] });
    };
    let active = ca.active_root_id().unwrap_or_default();
    let roots: Vec<Value> = ca
        .roots
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Value::Object(m) = &mut r {
                m.remove("RotatedOutAt");
            }
            r
        })
        .collect();
    json!({ "ActiveRootID": active, "TrustDomain": ca.trust_domain(), "Roots": roots })
}

/// The roots' certificates, one PEM after another.
fn roots_pem(ca: Option<&CaState>) -> String {
    ca.map(|ca| {
        ca.roots
            .iter()
            .filter_map(|r| r.get("RootCert").and_then(Value::as_str))
            .map(|pem| format!("{}\n", pem.trim_end()))
            .collect()
    })
    .unwrap_or_default()
}

async fn roots(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    if req.params.flag("pem") {
        let a = blocking::query(&state, &req, |s: &Store| {
            (
                s.connect_ca_index(),
                roots_pem(s.connect_ca()),
                vec![Topic::ConnectCa],
            )
        })
        .await?;
        let mut headers = read_headers(&state, a.index, a.meta, req.consistency);
        headers.insert(
            "content-type",
            axum::http::HeaderValue::from_static("application/pem-certificate-chain"),
        );
        return Ok((StatusCode::OK, headers, a.value).into_response());
    }
    let a = blocking::query(&state, &req, |s: &Store| {
        (
            s.connect_ca_index(),
            roots_json(s.connect_ca()),
            vec![Topic::ConnectCa],
        )
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

/// Consul's `CAConfiguration`.
fn configuration_json(ca: &CaState) -> Value {
    json!({
        "ClusterID": ca.cluster_id,
        "Provider": ca.provider,
        "Config": ca.config,
        "State": null,
        "ForceWithoutCrossSigning": false,
        "CreateIndex": ca.create_index,
        "ModifyIndex": ca.modify_index,
    })
}

async fn configuration(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let a = blocking::query(&state, &req, |s: &Store| {
        let body = s.connect_ca().map(configuration_json);
        (s.connect_ca_index(), body, vec![Topic::ConnectCa])
    })
    .await?;
    if a.value.is_none() {
        return Err(ApiError::Internal(
            "CA has not finished initializing".into(),
        ));
    }
    Ok(answer(&state, &a, req.consistency))
}

/// `PUT /v1/connect/ca/configuration`: new settings for the built-in CA;
/// a new key type or size rotates the root (cross-signed by the old one).
async fn set_configuration(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    let v: Value = super::decode_body(&body)?;
    let provider = v
        .get("Provider")
        .and_then(Value::as_str)
        .unwrap_or("consul")
        .to_owned();
    let given = match v.get("Config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ApiError::bad(
                "Request decode failed: Config must be an object",
            ));
        }
    };
    if state.backend.ca_set_config(provider, given).await? {
        Ok(ok(&true))
    } else {
        Err(ApiError::Internal(
            "the CA configuration changed meanwhile; try again".into(),
        ))
    }
}
