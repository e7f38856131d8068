//! `/v1/connect/ca/*` and `/v1/agent/connect/ca/roots`: the Connect CA's
//! roots and configuration, from the replicated CA state.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use skein_state::{CaState, Op, Outcome, Store, Topic};

use super::authorize;
use crate::blocking;
use crate::query::Req;
use crate::response::{answer, ok, read_headers};
use crate::{Access, ApiError, ApiState};

/// Settings whose change needs a new root (a rotation).
const ROOT_SETTINGS: [&str; 2] = ["PrivateKeyType", "PrivateKeyBits"];

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/connect/ca/roots", get(roots))
        .route("/v1/agent/connect/ca/roots", get(roots))
        .route(
            "/v1/connect/ca/configuration",
            get(configuration).put(set_configuration),
        )
}

/// Consul's `IndexedCARoots`.
fn roots_json(ca: Option<&CaState>) -> Value {
    let Some(ca) = ca else {
        return json!({ "ActiveRootID": "", "TrustDomain": "", "Roots": [] });
    };
    let active = ca
        .active_root()
        .and_then(|r| r.get("ID"))
        .cloned()
        .unwrap_or(Value::from(""));
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
    let pem = req.params.flag("pem") && req.params.get("pem") != Some("false");
    let a = blocking::query(&state, &req, |s: &Store| {
        let body = if pem {
            Value::String(roots_pem(s.connect_ca()))
        } else {
            roots_json(s.connect_ca())
        };
        (s.connect_ca_index(), body, vec![Topic::ConnectCa])
    })
    .await?;
    if let Value::String(pem) = &a.value {
        let mut headers = read_headers(&state, a.index, a.meta, req.consistency);
        headers.insert(
            "content-type",
            axum::http::HeaderValue::from_static("application/pem-certificate-chain"),
        );
        return Ok((StatusCode::OK, headers, pem.clone()).into_response());
    }
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

fn current_ca(state: &ApiState) -> Result<CaState, ApiError> {
    let store = state.backend.store();
    let guard = store
        .read()
        .map_err(|_| ApiError::Internal("state store poisoned".into()))?;
    guard
        .connect_ca()
        .cloned()
        .ok_or_else(|| ApiError::Internal("CA has not finished initializing".into()))
}

/// `PUT /v1/connect/ca/configuration`: new settings for the built-in CA.
/// Settings that need a new root are refused until rotation lands.
async fn set_configuration(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorWrite)?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("Request decode failed: {e}")))?;
    let provider = v
        .get("Provider")
        .and_then(Value::as_str)
        .unwrap_or("consul");
    if provider != "consul" {
        return Err(ApiError::bad(format!("unknown CA provider {provider:?}")));
    }
    let given = match v.get("Config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ApiError::bad(
                "Request decode failed: Config must be an object",
            ));
        }
    };
    let mut ca = current_ca(&state)?;
    let mut config = ca.config.as_object().cloned().unwrap_or_default();
    for key in ROOT_SETTINGS {
        if let Some(new) = given.get(key)
            && config.get(key) != Some(new)
        {
            return Err(ApiError::bad(format!(
                "changing {key} needs a root rotation, which this version does not perform"
            )));
        }
    }
    config.extend(given);
    ca.config = Value::Object(config);
    let cas = Some(ca.modify_index);
    let outcome = state
        .backend
        .write(Op::ConnectCaSet {
            ca: Box::new(ca),
            cas,
        })
        .await?;
    match outcome {
        Outcome::Bool(true) => Ok(ok(&true)),
        _ => Err(ApiError::Internal(
            "the CA configuration changed meanwhile; try again".into(),
        )),
    }
}
