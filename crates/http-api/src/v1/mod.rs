//! Handlers, one module per Consul API area.

pub(crate) mod agent;
pub(crate) mod catalog;
pub(crate) mod chain;
pub(crate) mod config;
pub(crate) mod connect_ca;
pub(crate) mod coordinate;
pub(crate) mod event;
pub(crate) mod gateway;
pub(crate) mod health;
pub(crate) mod intentions;
pub(crate) mod kv;
pub(crate) mod monitor;
pub(crate) mod operator;
pub(crate) mod render;
pub(crate) mod session;
pub(crate) mod snapshot;
pub(crate) mod status;
pub(crate) mod txn;

use crate::query::Req;
use crate::{Access, ApiError, ApiState};

/// Refuses the request unless its token may perform `access`.
pub(crate) fn authorize(state: &ApiState, req: &Req, access: Access) -> Result<(), ApiError> {
    if state.auth.allows(&req.token, access) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// Rejects names Consul rejects in paths.
pub(crate) fn check_path_name(name: &str) -> Result<(), ApiError> {
    if name.contains('\n') || name.contains('\r') {
        return Err(ApiError::bad("Invalid characters in path"));
    }
    Ok(())
}

/// The request's `?filter=` expression, parsed; a bad one is a 400.
pub(crate) fn filter_of(req: &Req) -> Result<Option<skein_filter::Filter>, ApiError> {
    match req.params.get("filter") {
        None | Some("") => Ok(None),
        Some(expr) => skein_filter::Filter::parse(expr)
            .map(Some)
            .map_err(|e| ApiError::bad(e.to_string())),
    }
}

/// Keeps the rows `filter` matches (all of them without a filter).
pub(crate) fn keep(filter: Option<&skein_filter::Filter>, rows: &mut Vec<serde_json::Value>) {
    if let Some(f) = filter {
        rows.retain(|r| f.matches(r));
    }
}

/// `?node-meta=key:value` pairs (repeatable; every pair must match).
pub(crate) fn node_meta_of(req: &Req) -> Result<Vec<(String, String)>, ApiError> {
    req.params
        .all("node-meta")
        .into_iter()
        .map(|kv| {
            kv.split_once(':')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    ApiError::bad(format!("Invalid node-meta {kv:?}: expected key:value"))
                })
        })
        .collect()
}

/// True when the node carries every wanted metadata pair.
pub(crate) fn meta_matches(node: &skein_types::Node, wanted: &[(String, String)]) -> bool {
    wanted.iter().all(|(k, v)| node.meta.get(k) == Some(v))
}

/// The filters a read of a service's instances takes from its request:
/// `?filter`, `?peer`, `?node-meta`, `?tag` and `?near`.
pub(crate) struct InstanceFilters {
    pub(crate) filter: Option<skein_filter::Filter>,
    peer: String,
    meta: Vec<(String, String)>,
    tags: Vec<String>,
    near: Option<String>,
}

impl InstanceFilters {
    pub(crate) fn of(state: &ApiState, req: &Req) -> Result<Self, ApiError> {
        Ok(Self {
            filter: filter_of(req)?,
            peer: req.params.get("peer").unwrap_or_default().to_owned(),
            meta: node_meta_of(req)?,
            tags: req
                .params
                .all("tag")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            near: near_of(state, req),
        })
    }

    /// The node `?near` sorts by.
    pub(crate) fn near(&self) -> Option<&str> {
        self.near.as_deref()
    }

    /// `rows`, or none when the read names a peer: skein has no cluster
    /// peerings yet, so a peer's imported services are none.
    pub(crate) fn of_this_cluster<T>(&self, rows: Vec<T>) -> Vec<T> {
        if self.peer.is_empty() {
            rows
        } else {
            Vec::new()
        }
    }

    /// Whether an instance with `tags` on `node` has every `?tag` and
    /// `?node-meta` asked for.
    pub(crate) fn admits(&self, node: &skein_types::Node, tags: &[skein_types::Name]) -> bool {
        self.tags.iter().all(|t| tags.iter().any(|have| have == t))
            && meta_matches(node, &self.meta)
    }
}

/// `?near=<node>`, with `_agent` meaning this agent's node.
pub(crate) fn near_of(state: &ApiState, req: &Req) -> Option<String> {
    match req.params.get("near") {
        None | Some("") => None,
        Some("_agent") => Some(state.agent.node_name.clone()),
        Some(node) => Some(node.to_owned()),
    }
}

/// Orders `rows` by the estimated round trip from `near`'s coordinate,
/// nearest first; rows whose node has no coordinate keep their order after
/// the others. Without a coordinate for `near` the order is unchanged.
pub(crate) fn sort_near<T>(
    st: &skein_state::Store,
    near: Option<&str>,
    rows: &mut [T],
    node_of: impl Fn(&T) -> &str,
) {
    use skein_types::Coordinate;
    let Some(origin) = near
        .and_then(|n| st.coordinate(n))
        .and_then(Coordinate::from_json)
    else {
        return;
    };
    rows.sort_by_cached_key(|row| {
        let rtt = st
            .coordinate(node_of(row))
            .and_then(Coordinate::from_json)
            .and_then(|c| origin.distance_to(&c));
        (rtt.is_none(), rtt)
    });
}

/// The tables a read depends on: the catalog, and the coordinates too when
/// they order the answer.
/// What a read of one service's instances depends on: that service only
/// (its index moves with its instances, checks, nodes and mesh proxies).
pub(crate) fn service_topics(name: &str, near: Option<&str>) -> Vec<skein_state::Topic> {
    let mut topics = vec![skein_state::Topic::Service(name.to_owned())];
    if near.is_some() {
        topics.push(skein_state::Topic::Coordinates);
    }
    topics
}

pub(crate) fn catalog_topics(near: Option<&str>) -> Vec<skein_state::Topic> {
    let mut topics = vec![skein_state::Topic::Catalog];
    if near.is_some() {
        topics.push(skein_state::Topic::Coordinates);
    }
    topics
}

/// A JSON request body, or Consul's 400 for one that does not decode.
pub(crate) fn decode_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("Request decode failed: {e}")))
}

/// Runs `f` under the store's read lock.
pub(crate) fn read_store<T>(
    state: &ApiState,
    f: impl FnOnce(&skein_state::Store) -> T,
) -> Result<T, ApiError> {
    let store = state.backend.store();
    let guard = store
        .read()
        .map_err(|_| ApiError::Internal("state store poisoned".into()))?;
    Ok(f(&guard))
}
