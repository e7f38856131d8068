//! `/v1/connect/intentions*` and `/v1/agent/connect/authorize`: the
//! intention API as a view over `service-intentions` config entries. A
//! change is computed by skein-intention against the entries read here and
//! written back with check-and-set on the entry, retried when another write
//! got there first.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use skein_intention::mutation::{self, Write};
use skein_intention::query::{self, MatchBy};
use skein_intention::{
    Authorization, DefaultPolicy, Intention, KIND, ServiceIntentions, ServiceName, SpiffeService,
    Timestamp,
};
use skein_state::{Op, Outcome, Store, Topic};

use super::{authorize, filter_of, keep};
use crate::blocking;
use crate::query::Req;
use crate::response::{answer, ok};
use crate::{Access, ApiError, ApiState};

/// How often a change is recomputed when its check-and-set loses a race.
const CAS_ATTEMPTS: usize = 8;

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/connect/intentions", get(list).post(create))
        .route(
            "/v1/connect/intentions/exact",
            get(get_exact).put(put_exact).delete(delete_exact),
        )
        .route("/v1/connect/intentions/match", get(match_intentions))
        .route("/v1/connect/intentions/check", get(check))
        .route(
            "/v1/connect/intentions/{id}",
            get(get_by_id).put(update_by_id).delete(delete_by_id),
        )
        .route(
            "/v1/agent/connect/authorize",
            post(authorize_conn).put(authorize_conn),
        )
}

/// Every `service-intentions` entry in the store.
fn entries(store: &Store) -> Vec<ServiceIntentions> {
    store
        .config_entries(Some(KIND))
        .into_iter()
        .filter_map(|e| match serde_json::from_value(e.to_json()) {
            Ok(entry) => Some(entry),
            Err(err) => {
                tracing::warn!(error = %err, "stored service-intentions entry does not decode");
                None
            }
        })
        .collect()
}

/// The ModifyIndex a write of `destination`'s entry checks and sets on
/// (0: the entry must not exist yet).
fn cas_index(list: &[ServiceIntentions], destination: &str) -> u64 {
    list.iter()
        .find(|e| e.name == destination)
        .map_or(0, |e| e.modify_index)
}

fn intention_error(e: skein_intention::Error) -> ApiError {
    ApiError::bad(e.to_string())
}

/// Computes a change with `change` against the current entries and writes
/// it, retrying when the entry moved underneath.
async fn write_change<F>(state: &ApiState, change: F) -> Result<(), ApiError>
where
    F: Fn(&[ServiceIntentions]) -> Result<Write, skein_intention::Error>,
{
    for _ in 0..CAS_ATTEMPTS {
        let list = super::read_store(state, entries)?;
        let op = match change(&list).map_err(intention_error)? {
            Write::Unchanged => return Ok(()),
            Write::Upsert(entry) => Op::ConfigEntrySet {
                kind: KIND.into(),
                cas: Some(cas_index(&list, &entry.name)),
                name: entry.name.clone(),
                entry: serde_json::to_value(&entry)
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
            },
            Write::Delete(dest) => Op::ConfigEntryDelete {
                kind: KIND.into(),
                cas: Some(cas_index(&list, &dest.name)),
                name: dest.name,
            },
        };
        if state.backend.write(op).await? == Outcome::Bool(true) {
            return Ok(());
        }
    }
    Err(ApiError::Internal(
        "intention write kept conflicting; try again".into(),
    ))
}

fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix(d.as_secs() as i64, d.subsec_nanos())
}

/// A `source`/`destination`/`name` parameter as a local service name.
fn name_param(req: &Req, key: &str) -> Result<ServiceName, ApiError> {
    let raw = req
        .params
        .get(key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad(format!("required query parameter '{key}' not set")))?;
    let parsed = skein_intention::parse_name(raw, false).map_err(intention_error)?;
    Ok(parsed.service())
}

/// Where the default verdict comes from: `default_intention_policy` when
/// set, else the ACL default policy (allow when ACLs are off).
fn default_policy(state: &ApiState) -> DefaultPolicy {
    if let Some(policy) = &state.config.default_intention_policy {
        return DefaultPolicy::Intention {
            allow: policy == "allow",
        };
    }
    let allow = !state.config.acl_enabled || state.config.acl_default_policy != "deny";
    DefaultPolicy::Acl { allow }
}

async fn list(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let filter = filter_of(&req)?;
    let a = blocking::query(&state, &req, |s| {
        let mut rows: Vec<Value> = query::list(entries(s).iter())
            .iter()
            .filter_map(|i| serde_json::to_value(i).ok())
            .collect();
        keep(filter.as_ref(), &mut rows);
        (s.config_entries_index(), rows, vec![Topic::ConfigEntries])
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn create(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let ixn = super::decode_body::<Intention>(&body)?;
    let id = uuid::Uuid::new_v4();
    let at = now();
    write_change(&state, |list| {
        mutation::legacy_create(list.iter(), ixn.clone(), id, at.clone())
    })
    .await?;
    Ok(ok(&json!({ "ID": id.to_string() })))
}

async fn get_exact(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let raw_source = req.params.get("source").unwrap_or_default().to_owned();
    let source = skein_intention::parse_name(&raw_source, true).map_err(intention_error)?;
    let src = source.service();
    let dst = name_param(&req, "destination")?;
    let a = blocking::query(&state, &req, |s| {
        let found = query::get_exact(entries(s).iter(), &src, &source.peer, &dst);
        (s.config_entries_index(), found, vec![Topic::ConfigEntries])
    })
    .await?;
    if a.value.is_none() {
        return Err(ApiError::NotFound("Intention not found".into()));
    }
    Ok(answer(&state, &a, req.consistency))
}

async fn put_exact(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let src = name_param(&req, "source")?;
    let dst = name_param(&req, "destination")?;
    let mut ixn = super::decode_body::<Intention>(&body)?;
    ixn.source_name.clone_from(&src.name);
    ixn.source_ns.clone_from(&src.namespace);
    ixn.destination_name.clone_from(&dst.name);
    ixn.destination_ns.clone_from(&dst.namespace);
    write_change(&state, |list| {
        mutation::upsert_exact(list.iter(), ixn.clone())
    })
    .await?;
    Ok(ok(&true))
}

async fn delete_exact(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let src = name_param(&req, "source")?;
    let dst = name_param(&req, "destination")?;
    write_change(&state, |list| {
        mutation::delete_exact(list.iter(), &src, &dst)
    })
    .await?;
    Ok(ok(&true))
}

async fn match_intentions(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let by = match req.params.get("by") {
        Some("source") => MatchBy::Source,
        Some("destination") => MatchBy::Destination,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "'by' parameter must be 'source' or 'destination', got {other:?}"
            )));
        }
        None => return Err(ApiError::bad("required query parameter 'by' not set")),
    };
    let names: Vec<(String, ServiceName)> = req
        .params
        .all("name")
        .into_iter()
        .map(|raw| {
            let p = skein_intention::parse_name(raw, false).map_err(intention_error)?;
            Ok((raw.to_owned(), p.service()))
        })
        .collect::<Result<_, ApiError>>()?;
    if names.is_empty() {
        return Err(ApiError::bad("required query parameter 'name' not set"));
    }
    let a = blocking::query(&state, &req, |s| {
        let all = entries(s);
        let out: BTreeMap<String, Vec<Intention>> = names
            .iter()
            .map(|(raw, n)| (raw.clone(), query::matches(all.iter(), by, n)))
            .collect();
        (s.config_entries_index(), out, vec![Topic::ConfigEntries])
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn check(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let src = name_param(&req, "source")?;
    let dst = name_param(&req, "destination")?;
    let default_allow = default_policy(&state).allow();
    let a = blocking::query(&state, &req, |s| {
        let allowed = query::check(entries(s).iter(), &src, &dst, default_allow);
        (
            s.config_entries_index(),
            json!({ "Allowed": allowed }),
            vec![Topic::ConfigEntries],
        )
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

async fn get_by_id(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    mutation::check_id(&id).map_err(intention_error)?;
    let a = blocking::query(&state, &req, |s| {
        let found = query::get_by_id(entries(s).iter(), &id).ok().flatten();
        (s.config_entries_index(), found, vec![Topic::ConfigEntries])
    })
    .await?;
    if a.value.is_none() {
        return Err(ApiError::NotFound("Intention not found".into()));
    }
    Ok(answer(&state, &a, req.consistency))
}

async fn update_by_id(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let ixn = super::decode_body::<Intention>(&body)?;
    let at = now();
    write_change(&state, |list| {
        mutation::legacy_update(list.iter(), &id, ixn.clone(), at.clone())
    })
    .await?;
    Ok(ok(&Value::Null))
}

async fn delete_by_id(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    write_change(&state, |list| mutation::legacy_delete(list.iter(), &id)).await?;
    Ok(ok(&Value::Null))
}

/// `POST /v1/agent/connect/authorize`: may the certificate's service
/// connect to `Target`?
async fn authorize_conn(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Write)?;
    let v: Value = super::decode_body(&body)?;
    let target = v
        .get("Target")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad("Target service must be specified"))?;
    let uri = v
        .get("ClientCertURI")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if uri.is_empty() {
        return Err(ApiError::bad("ClientCertURI must be specified"));
    }
    let client = SpiffeService::parse(uri)
        .ok_or_else(|| ApiError::bad("ClientCertURI not a valid Connect identifier"))?;
    let target = ServiceName::local(target);
    let policy = default_policy(&state);
    let verdict = super::read_store(&state, |s| {
        // The trust domain first, so intentions are not revealed to a
        // foreign identity.
        let refused = |reason: String| Authorization {
            authorized: false,
            reason,
        };
        match s.connect_trust_domain() {
            None => refused("Connect CA not bootstrapped yet".into()),
            Some(td) if !client.trust_domain.eq_ignore_ascii_case(&td) => refused(format!(
                "Identity from an external trust domain: {}",
                client.trust_domain
            )),
            Some(_) => skein_intention::authorize(
                entries(s).iter(),
                &client.service_name(),
                &target,
                policy,
            ),
        }
    })?;
    Ok(ok(&verdict))
}
