//! Proposed writes checked against the graph of existing entries.

use serde_json::{Value, json};
use skein_config_entry::{EntryKey, Kind};

use super::{entries, protocol};
use crate::{EntrySet, ProposedChange, validate_proposed};

fn upsert(existing: &[Value], proposed: Value) -> Result<(), String> {
    let existing = entries(existing);
    let proposed = entries(&[proposed]).remove(0);
    let set = EntrySet::new(&existing);
    validate_proposed(&set, ProposedChange::Upsert(&proposed)).map_err(|e| e.to_string())
}

fn delete(existing: &[Value], kind: Kind, name: &str) -> Result<(), String> {
    let existing = entries(existing);
    let set = EntrySet::new(&existing);
    let key = EntryKey::new(kind, name);
    validate_proposed(&set, ProposedChange::Delete(&key)).map_err(|e| e.to_string())
}

fn router(name: &str) -> Value {
    json!({"Kind": "service-router", "Name": name, "Routes": [
        {"Match": {"HTTP": {"PathPrefix": "/x"}}, "Destination": {"ServiceSubset": "v1"}}
    ]})
}

const L4_ERR: &str =
    "uses a protocol \"tcp\" that does not permit advanced routing or splitting behavior";

#[test]
fn routers_and_splitters_need_an_http_protocol() {
    let subsets = json!({"Kind": "service-resolver", "Name": "web", "Subsets": {"v1": {}}});
    let err = upsert(std::slice::from_ref(&subsets), router("web")).unwrap_err();
    assert!(err.ends_with(L4_ERR), "{err}");
    assert_eq!(
        upsert(&[protocol("web", "http"), subsets.clone()], router("web")),
        Ok(())
    );
    let err = upsert(
        &[protocol("web", "http"), subsets, router("web")],
        protocol("web", "tcp"),
    )
    .unwrap_err();
    assert!(err.ends_with(L4_ERR), "{err}");
}

#[test]
fn deleting_the_protocol_source_is_refused_while_chains_need_it() {
    let existing = [
        json!({"Kind": "proxy-defaults", "Config": {"protocol": "http"}}),
        json!({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 100, "Service": "web2"}]}),
    ];
    let err = delete(&existing, Kind::ProxyDefaults, "global").unwrap_err();
    assert!(err.ends_with(L4_ERR), "{err}");
    assert_eq!(delete(&existing, Kind::ServiceSplitter, "web"), Ok(()));
}

#[test]
fn references_to_missing_subsets_are_refused() {
    let err = upsert(&[protocol("web", "http")], router("web")).unwrap_err();
    assert_eq!(err, "service \"web\" does not have a subset named \"v1\"");
    let existing = [
        protocol("web", "http"),
        json!({"Kind": "service-resolver", "Name": "web", "Subsets": {"v1": {}}}),
        router("web"),
    ];
    let err = upsert(
        &existing,
        json!({"Kind": "service-resolver", "Name": "web"}),
    )
    .unwrap_err();
    assert_eq!(
        err, "service \"web\" does not have a subset named \"v1\"",
        "linked router chain rechecked"
    );
}

#[test]
fn redirect_cycles_are_refused() {
    let existing = [json!({"Kind": "service-resolver", "Name": "a", "Redirect": {"Service": "b"}})];
    let err = upsert(
        &existing,
        json!({"Kind": "service-resolver", "Name": "b", "Redirect": {"Service": "a"}}),
    )
    .unwrap_err();
    assert!(
        err.starts_with("detected circular resolver redirect: ["),
        "{err}"
    );
}

#[test]
fn ingress_listeners_must_match_service_protocols() {
    let ingress = |proto: &str| {
        json!({"Kind": "ingress-gateway", "Name": "igw",
               "Listeners": [{"Port": 8080, "Protocol": proto, "Services": [{"Name": "web"}]}]})
    };
    assert_eq!(
        upsert(&[], ingress("http")).unwrap_err(),
        "service \"web\" has protocol \"tcp\", which does not match defined listener protocol \"http\""
    );
    assert_eq!(upsert(&[protocol("web", "http")], ingress("http")), Ok(()));
    assert!(
        upsert(&[protocol("web", "http")], ingress("tcp")).is_err(),
        "editing the gateway itself is strict"
    );
    assert_eq!(
        upsert(&[ingress("tcp")], protocol("web", "http")),
        Ok(()),
        "a tcp listener may front an L7 service whose chain is just a resolver"
    );
}

#[test]
fn l7_intentions_need_an_http_protocol() {
    let ixn = json!({"Kind": "service-intentions", "Name": "web", "Sources": [
        {"Name": "api", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]}
    ]});
    let err = upsert(&[], ixn.clone()).unwrap_err();
    assert!(
        err.contains("incompatible with L7 intentions permissions"),
        "{err}"
    );
    assert_eq!(upsert(&[protocol("web", "http")], ixn.clone()), Ok(()));
    let err = upsert(&[protocol("web", "http"), ixn], protocol("web", "tcp")).unwrap_err();
    assert!(
        err.contains("incompatible with L7 intentions permissions"),
        "{err}"
    );
}

#[test]
fn gateway_names_may_not_clash() {
    let tgw = json!({"Kind": "terminating-gateway", "Name": "gw"});
    let igw = json!({"Kind": "ingress-gateway", "Name": "gw"});
    assert_eq!(
        upsert(&[tgw], igw).unwrap_err(),
        "cannot create a \"ingress-gateway\" config entry with name \"gw\", a \"terminating-gateway\" config entry with that name already exists"
    );
}

#[test]
fn permissive_mtls_needs_the_mesh_entry() {
    let permissive =
        json!({"Kind": "service-defaults", "Name": "web", "MutualTLSMode": "permissive"});
    assert!(
        upsert(&[], permissive.clone())
            .unwrap_err()
            .starts_with("cannot set MutualTLSMode=permissive")
    );
    let mesh = json!({"Kind": "mesh", "AllowEnablingPermissiveMutualTLS": true});
    assert_eq!(upsert(&[mesh], permissive), Ok(()));
}

#[test]
fn mesh_changes_are_not_graph_checked() {
    assert_eq!(upsert(&[router("web")], json!({"Kind": "mesh"})), Ok(()));
}
