//! `/v1/catalog/gateway-services/:gateway`: the services an ingress or
//! terminating gateway's config entry links to it, wildcards expanded
//! against the catalog.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};
use skein_chain::EntrySet;
use skein_config_entry::ConfigEntry;
use skein_state::{Store, Topic};

use super::authorize;
use crate::blocking;
use crate::query::Req;
use crate::response::answer;
use crate::{Access, ApiError, ApiState};

const WILDCARD: &str = "*";

pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route(
        "/v1/catalog/gateway-services/{gateway}",
        get(gateway_services),
    )
}

async fn gateway_services(
    State(state): State<ApiState>,
    Path(gateway): Path<String>,
    req: Req,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Read)?;
    let a = blocking::query(&state, &req, |s| {
        let index = s.config_entries_index().max(s.catalog_index());
        (
            index,
            linked_services(s, &gateway),
            vec![Topic::ConfigEntries, Topic::Catalog],
        )
    })
    .await?;
    Ok(answer(&state, &a, req.consistency))
}

fn entry(store: &Store, kind: &str, name: &str) -> Option<ConfigEntry> {
    let stored = store.config_entry(kind, name)?;
    ConfigEntry::from_stored_json(stored.to_json()).ok()
}

/// Rows for every service linked to `gateway`, ingress first.
fn linked_services(store: &Store, gateway: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    if let Some(ConfigEntry::IngressGateway(g)) = entry(store, "ingress-gateway", gateway) {
        for listener in &g.listeners {
            for svc in &listener.services {
                let names = expand(store, &svc.name, Some(&listener.protocol));
                let from_wildcard = svc.name == WILDCARD;
                for name in names {
                    let mut row = base_row(gateway, &name, "ingress-gateway", from_wildcard);
                    row.insert("Port".into(), listener.port.into());
                    row.insert("Protocol".into(), listener.protocol.clone().into());
                    if !svc.hosts.is_empty() {
                        row.insert("Hosts".into(), json!(svc.hosts));
                    }
                    rows.push(Value::Object(row));
                }
            }
        }
    }
    if let Some(ConfigEntry::TerminatingGateway(g)) = entry(store, "terminating-gateway", gateway) {
        for svc in &g.services {
            let from_wildcard = svc.name == WILDCARD;
            for name in expand(store, &svc.name, None) {
                let mut row = base_row(gateway, &name, "terminating-gateway", from_wildcard);
                for (key, value) in [
                    ("CAFile", &svc.ca_file),
                    ("CertFile", &svc.cert_file),
                    ("KeyFile", &svc.key_file),
                    ("SNI", &svc.sni),
                ] {
                    if !value.is_empty() {
                        row.insert(key.into(), value.clone().into());
                    }
                }
                rows.push(Value::Object(row));
            }
        }
    }
    rows
}

fn base_row(gateway: &str, service: &str, kind: &str, from_wildcard: bool) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("Gateway".into(), json!({ "Name": gateway }));
    row.insert("Service".into(), json!({ "Name": service }));
    row.insert("GatewayKind".into(), kind.into());
    if from_wildcard {
        row.insert("FromWildcard".into(), true.into());
    }
    row
}

/// The ingress gateways whose config entry routes to `service`.
pub(crate) fn ingress_gateways_for(store: &Store, service: &str) -> Vec<String> {
    store
        .config_entries(Some("ingress-gateway"))
        .into_iter()
        .filter_map(|e| {
            e.body
                .get("Name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|gateway| {
            linked_services(store, gateway)
                .iter()
                .any(|row| row["Service"]["Name"] == service)
        })
        .collect()
}

/// A named service stays as it is; `*` becomes every plain service in the
/// catalog (of the listener's protocol, for ingress).
fn expand(store: &Store, name: &str, protocol: Option<&str>) -> Vec<String> {
    if name != WILDCARD {
        return vec![name.to_owned()];
    }
    let plain: BTreeSet<String> = store
        .service_instances()
        .1
        .into_iter()
        .filter(|(_, s)| s.kind.is_empty() && s.service != "consul")
        .map(|(_, s)| s.service.to_string())
        .collect();
    let Some(protocol) = protocol else {
        return plain.into_iter().collect();
    };
    let entries = super::chain::stored_entries(store);
    let set = EntrySet::new(entries.iter());
    plain
        .into_iter()
        .filter(|s| set.service_protocol(s) == protocol)
        .collect()
}
