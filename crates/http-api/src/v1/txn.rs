//! `PUT /v1/txn`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use skein_state::{Op, Outcome};
use skein_types::txn::{CatalogVerb, KvVerb};
use skein_types::{Check, CheckStatus, Node, ServiceInstance, TxnError, TxnOp, TxnResult};

use super::{authorize, render};
use crate::query::Req;
use crate::response::{json as json_response, read_headers};
use crate::{Access, ApiError, ApiState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOp {
    #[serde(rename = "KV")]
    kv: Option<WireKv>,
    #[serde(rename = "Node")]
    node: Option<WireCatalog>,
    #[serde(rename = "Service")]
    service: Option<WireCatalog>,
    #[serde(rename = "Check")]
    check: Option<WireCatalog>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct WireKv {
    verb: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    flags: u64,
    #[serde(default)]
    index: u64,
    #[serde(default)]
    session: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    partition: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireCatalog {
    verb: String,
    #[serde(default)]
    node: Value,
    #[serde(default)]
    service: Value,
    #[serde(default)]
    check: Value,
}

/// `PUT /v1/txn`: all operations apply or none does.
pub(crate) async fn apply(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.len() as u64 > state.config.txn_max_req_len {
        return Err(ApiError::TooLarge(format!(
            "Request body({} bytes) too large, max size: {} bytes.",
            body.len(),
            state.config.txn_max_req_len
        )));
    }
    let wire: Vec<WireOp> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("Failed to parse body: {e}")))?;
    if wire.len() > state.config.txn_max_ops {
        return Err(ApiError::TooLarge(format!(
            "Transaction contains too many operations ({} > {})",
            wire.len(),
            state.config.txn_max_ops
        )));
    }
    let ops = wire
        .into_iter()
        .enumerate()
        .map(|(i, w)| convert(i, w))
        .collect::<Result<Vec<_>, _>>()?;
    let read_only = ops.iter().all(TxnOp::is_read);
    authorize(
        &state,
        &req,
        if read_only {
            Access::Read
        } else {
            Access::Write
        },
    )?;
    if read_only {
        return read(&state, &req, &ops).await;
    }
    match state.backend.write(Op::Txn(ops)).await? {
        Outcome::Txn(result) => Ok(render_result(HeaderMap::new(), result)),
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

async fn read(state: &ApiState, req: &Req, ops: &[TxnOp]) -> Result<Response, ApiError> {
    let meta = state.backend.read_barrier(req.consistency).await?;
    let (index, result) = super::read_store(state, |s| s.txn_read(ops))?;
    Ok(render_result(
        read_headers(state, index, meta, req.consistency),
        result,
    ))
}

fn render_result(headers: HeaderMap, result: Result<Vec<TxnResult>, Vec<TxnError>>) -> Response {
    match result {
        Ok(results) => {
            let rows: Vec<Value> = results.iter().map(render_one).collect();
            json_response(
                StatusCode::OK,
                headers,
                &json!({ "Results": rows, "Errors": null }),
            )
        }
        Err(errors) => {
            let rows: Vec<Value> = errors
                .iter()
                .map(|e| json!({"OpIndex": e.op_index, "What": e.what}))
                .collect();
            json_response(
                StatusCode::CONFLICT,
                headers,
                &json!({ "Results": null, "Errors": rows }),
            )
        }
    }
}

fn render_one(r: &TxnResult) -> Value {
    match r {
        TxnResult::Kv(e) => json!({ "KV": render::kv_entry(e) }),
        TxnResult::Node(n) => json!({ "Node": render::node(n) }),
        TxnResult::Service(_, s) => json!({ "Service": render::service(s, "") }),
        TxnResult::Check(c) => json!({ "Check": render::check(c) }),
    }
}

fn convert(i: usize, w: WireOp) -> Result<TxnOp, ApiError> {
    match (w.kv, w.node, w.service, w.check) {
        (Some(kv), None, None, None) => convert_kv(i, kv),
        (None, Some(n), None, None) => Ok(TxnOp::Node {
            verb: catalog_verb(i, &n.verb)?,
            node: parse_node(i, &n.node)?,
        }),
        (None, None, Some(s), None) => {
            let node = s.node.as_str().unwrap_or_default().to_owned();
            Ok(TxnOp::Service {
                verb: catalog_verb(i, &s.verb)?,
                node,
                service: parse_service(i, &s.service)?,
            })
        }
        (None, None, None, Some(c)) => Ok(TxnOp::Check {
            verb: catalog_verb(i, &c.verb)?,
            check: parse_check(i, &c.check)?,
        }),
        _ => Err(ApiError::bad(format!(
            "Operation {i} must have exactly one of KV, Node, Service or Check"
        ))),
    }
}

fn convert_kv(i: usize, kv: WireKv) -> Result<TxnOp, ApiError> {
    let verb = KvVerb::parse(&kv.verb)
        .ok_or_else(|| ApiError::bad(format!("Unknown KV verb {:?} in operation {i}", kv.verb)))?;
    let value = match kv.value.as_deref() {
        None | Some("") => Vec::new(),
        Some(v) => base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|_| {
                ApiError::bad(format!(
                    "Failed to parse body: operation {i}: Value is not valid base64"
                ))
            })?,
    };
    let _ = (&kv.namespace, &kv.partition);
    Ok(TxnOp::Kv {
        verb,
        key: kv.key,
        value,
        flags: kv.flags,
        index: kv.index,
        session: kv.session,
    })
}

fn catalog_verb(i: usize, verb: &str) -> Result<CatalogVerb, ApiError> {
    CatalogVerb::parse(verb)
        .ok_or_else(|| ApiError::bad(format!("Unknown verb {verb:?} in operation {i}")))
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

fn string(v: &Value, key: &str) -> String {
    field(v, key).as_str().unwrap_or_default().to_owned()
}

fn string_map(v: &Value, key: &str) -> BTreeMap<String, String> {
    serde_json::from_value(field(v, key).clone()).unwrap_or_default()
}

fn parse_node(i: usize, v: &Value) -> Result<Node, ApiError> {
    let node = Node {
        id: string(v, "ID").into(),
        node: string(v, "Node").into(),
        address: string(v, "Address").into(),
        datacenter: string(v, "Datacenter").into(),
        tagged_addresses: string_map(v, "TaggedAddresses"),
        meta: string_map(v, "Meta"),
        create_index: 0,
        modify_index: field(v, "ModifyIndex").as_u64().unwrap_or(0),
    };
    if node.node.is_empty() {
        return Err(ApiError::bad(format!("Operation {i}: missing node name")));
    }
    Ok(node)
}

fn parse_service(i: usize, v: &Value) -> Result<ServiceInstance, ApiError> {
    let id = string(v, "ID");
    let service = string(v, "Service");
    if id.is_empty() && service.is_empty() {
        return Err(ApiError::bad(format!("Operation {i}: missing service ID")));
    }
    Ok(ServiceInstance {
        id: if id.is_empty() {
            service.clone().into()
        } else {
            id.into()
        },
        service: service.into(),
        tags: serde_json::from_value(field(v, "Tags").clone()).unwrap_or_default(),
        address: string(v, "Address").into(),
        port: field(v, "Port")
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        meta: string_map(v, "Meta"),
        kind: string(v, "Kind").into(),
        extra: BTreeMap::new(),
        create_index: 0,
        modify_index: field(v, "ModifyIndex").as_u64().unwrap_or(0),
    })
}

fn parse_check(i: usize, v: &Value) -> Result<Check, ApiError> {
    let status = match field(v, "Status").as_str() {
        None | Some("") => CheckStatus::Critical,
        Some(s) => CheckStatus::parse(s)
            .ok_or_else(|| ApiError::bad(format!("Operation {i}: invalid check status {s:?}")))?,
    };
    Ok(Check {
        node: string(v, "Node").into(),
        check_id: string(v, "CheckID").into(),
        name: string(v, "Name").into(),
        status,
        notes: string(v, "Notes").into(),
        output: string(v, "Output").into(),
        service_id: string(v, "ServiceID").into(),
        modify_index: field(v, "ModifyIndex").as_u64().unwrap_or(0),
        ..Check::default()
    })
}
