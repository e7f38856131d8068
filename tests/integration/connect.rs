//! Connect control plane over HTTP: config entries (CRUD, CAS, validation,
//! blocking reads), intentions (exact, match, check, legacy IDs, authorize)
//! and gateway services, against a dev agent.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Agent, delete, get, post, put};

fn put_entry(agent: &Agent, entry: &Value) -> crate::harness::Resp {
    put(&agent.url("/v1/config"), entry.to_string())
}

#[test]
fn config_entries_crud_cas_and_blocking_reads() {
    let agent = Agent::dev(&[]);
    let missing = get(&agent.url("/v1/config/service-defaults/web"));
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("Config entry not found"),
        "{}",
        missing.body
    );

    let r = put_entry(
        &agent,
        &json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http"}),
    );
    assert_eq!((r.status, r.body.trim()), (200, "true"));
    let got = get(&agent.url("/v1/config/service-defaults/web"));
    let entry = got.json();
    assert_eq!(entry["Protocol"], "http");
    assert_eq!(entry["Kind"], "service-defaults");
    let modify = entry["ModifyIndex"].as_u64().expect("ModifyIndex");

    // snake_case keys, as HCL files write them, decode too.
    let r = put_entry(
        &agent,
        &json!({"kind": "proxy-defaults", "name": "global", "config": {"protocol": "http"}}),
    );
    assert_eq!(r.body.trim(), "true", "{}", r.body);

    // A stale CAS changes nothing; the right one applies.
    let stale = put(
        &agent.url(&format!("/v1/config?cas={}", modify + 1000)),
        json!({"Kind": "service-defaults", "Name": "web", "Protocol": "grpc"}).to_string(),
    );
    assert_eq!(stale.body.trim(), "false");
    assert_eq!(
        get(&agent.url("/v1/config/service-defaults/web")).json()["Protocol"],
        "http"
    );

    // A blocking list wakes on the write.
    let index = get(&agent.url("/v1/config/service-defaults"))
        .index
        .expect("index");
    let url = agent.url(&format!(
        "/v1/config/service-defaults?index={index}&wait=20s"
    ));
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        (get(&url), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    let ok = put(
        &agent.url(&format!("/v1/config?cas={modify}")),
        json!({"Kind": "service-defaults", "Name": "web", "Protocol": "grpc"}).to_string(),
    );
    assert_eq!(ok.body.trim(), "true");
    let (woken, took) = waiter.join().expect("waiter");
    assert!(
        took < Duration::from_secs(10),
        "woke on the write after {took:?}"
    );
    assert_eq!(woken.json()[0]["Protocol"], "grpc");

    let filtered =
        get(&agent.url("/v1/config/service-defaults?filter=Protocol%20%3D%3D%20%22http%22"));
    assert_eq!(filtered.json(), json!([]), "the grpc entry is filtered out");
    let del = delete(&agent.url("/v1/config/service-defaults/web?cas=1"));
    assert_eq!(del.body.trim(), "false");
    assert_eq!(
        delete(&agent.url("/v1/config/service-defaults/web")).status,
        200
    );
    assert_eq!(
        get(&agent.url("/v1/config/service-defaults/web")).status,
        404
    );
    assert_eq!(get(&agent.url("/v1/config/not-a-kind")).status, 400);
}

#[test]
fn invalid_config_entries_are_rejected_and_nothing_is_stored() {
    let agent = Agent::dev(&[]);
    let cases = [
        (json!({"Name": "web"}), "Kind"),
        (
            json!({"Kind": "no-such-kind", "Name": "web"}),
            "no-such-kind",
        ),
        (
            json!({"Kind": "service-defaults", "Name": "web", "Protocl": "http"}),
            "Protocl",
        ),
        (
            json!({"Kind": "service-router", "Name": "web", "Routes": [{"Match": {"HTTP": {"PathPrefix": "/admin"}}, "Destination": {"Service": "api"}}]}),
            "protocol",
        ),
        (json!({"Kind": "proxy-defaults", "Name": "web"}), "global"),
        (
            json!({"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 60}, {"Weight": 30, "ServiceSubset": "v2"}]}),
            "100",
        ),
        (
            json!({"Kind": "service-resolver", "Name": "web", "DefaultSubset": "v9", "Subsets": {"v1": {"Filter": "Service.Meta.version == v1"}}}),
            "v9",
        ),
        (
            json!({"Kind": "service-intentions", "Name": "api", "Sources": [{"Name": "web", "Action": "permit"}]}),
            "Action",
        ),
        (
            json!({"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Port": 0, "Protocol": "tcp"}]}),
            "No service declared",
        ),
    ];
    for (entry, needle) in cases {
        let r = put_entry(&agent, &entry);
        assert_eq!(r.status, 400, "{entry}: {} {}", r.status, r.body);
        assert!(
            r.body.contains(needle),
            "{entry}: the error names {needle:?}: {}",
            r.body
        );
    }
    for kind in [
        "service-defaults",
        "proxy-defaults",
        "service-splitter",
        "service-resolver",
        "service-intentions",
        "ingress-gateway",
    ] {
        let listed = get(&agent.url(&format!("/v1/config/{kind}")));
        assert_eq!(listed.json(), json!([]), "nothing stored for {kind}");
    }
    let malformed = put(&agent.url("/v1/config"), "{not json");
    assert_eq!(malformed.status, 400);
}

fn check(agent: &Agent, src: &str, dst: &str) -> bool {
    let r = get(&agent.url(&format!(
        "/v1/connect/intentions/check?source={src}&destination={dst}"
    )));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["Allowed"].as_bool().expect("Allowed")
}

fn trust_domain(agent: &Agent) -> String {
    let roots = get(&agent.url("/v1/connect/ca/roots")).json();
    roots["TrustDomain"]
        .as_str()
        .expect("trust domain")
        .to_owned()
}

fn authorize(agent: &Agent, src: &str, dst: &str) -> (bool, String) {
    let td = trust_domain(agent);
    authorize_as(agent, &td, src, dst)
}

fn authorize_as(agent: &Agent, td: &str, src: &str, dst: &str) -> (bool, String) {
    let uri = format!("spiffe://{td}/ns/default/dc/dc1/svc/{src}");
    let r = post(
        &agent.url("/v1/agent/connect/authorize"),
        json!({"Target": dst, "ClientCertURI": uri}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (
        v["Authorized"].as_bool().expect("Authorized"),
        v["Reason"].as_str().unwrap_or_default().to_owned(),
    )
}

fn upsert(agent: &Agent, src: &str, dst: &str, action: &str) {
    let r = put(
        &agent.url(&format!(
            "/v1/connect/intentions/exact?source={src}&destination={dst}"
        )),
        json!({"Action": action}).to_string(),
    );
    assert_eq!((r.status, r.body.trim()), (200, "true"), "{}", r.body);
}

#[test]
fn intentions_follow_precedence_and_authorize_agrees() {
    let agent = Agent::dev(&[]);
    // Nothing configured, ACLs off: the default allows.
    assert!(check(&agent, "web", "db"));
    upsert(&agent, "*", "db", "deny");
    upsert(&agent, "web", "db", "allow");
    upsert(&agent, "*", "*", "deny");
    upsert(&agent, "web", "*", "allow");
    // (source, destination, allowed): exact beats wildcard; a wildcard
    // destination loses to an exact one.
    let table = [
        ("web", "db", true),     // web -> db allow (precedence 9)
        ("api", "db", false),    // * -> db deny (8)
        ("web", "cache", true),  // web -> * allow (6)
        ("api", "cache", false), // * -> * deny (5)
    ];
    for (src, dst, want) in table {
        assert_eq!(check(&agent, src, dst), want, "check {src} -> {dst}");
        let (authorized, reason) = authorize(&agent, src, dst);
        assert_eq!(authorized, want, "authorize {src} -> {dst}: {reason}");
        assert!(reason.contains("Matched L4 intention"), "{reason}");
    }

    // match by destination lists the most precise first.
    let m = get(&agent.url("/v1/connect/intentions/match?by=destination&name=db")).json();
    let order: Vec<(String, String)> = m["db"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| {
            (
                i["SourceName"].as_str().unwrap().to_owned(),
                i["DestinationName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [("web", "db"), ("*", "db"), ("web", "*"), ("*", "*")]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(order, want);

    // An identity from another trust domain is refused before intentions.
    let foreign = "11111111-2222-3333-4444-555555555555.consul";
    let (authorized, reason) = authorize_as(&agent, foreign, "web", "db");
    assert!(
        !authorized && reason.contains("external trust domain"),
        "{reason}"
    );

    let exact = get(&agent.url("/v1/connect/intentions/exact?source=web&destination=db"));
    assert_eq!(exact.json()["Action"], "allow");
    assert_eq!(
        get(&agent.url("/v1/connect/intentions"))
            .json()
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    // The intentions live in service-intentions config entries.
    let entry = get(&agent.url("/v1/config/service-intentions/db")).json();
    assert_eq!(entry["Sources"].as_array().map(Vec::len), Some(2));

    assert_eq!(
        delete(&agent.url("/v1/connect/intentions/exact?source=web&destination=db")).status,
        200
    );
    assert!(!check(&agent, "web", "db"), "now * -> db deny decides");
    assert_eq!(
        get(&agent.url("/v1/connect/intentions/exact?source=web&destination=db")).status,
        404
    );
}

#[test]
fn legacy_intention_ids_create_read_update_delete() {
    let agent = Agent::dev(&[]);
    let created = post(
        &agent.url("/v1/connect/intentions"),
        json!({"SourceName": "web", "DestinationName": "api", "Action": "deny", "Description": "no"}).to_string(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json()["ID"].as_str().expect("ID").to_owned();
    let got = get(&agent.url(&format!("/v1/connect/intentions/{id}"))).json();
    assert_eq!(
        (got["SourceName"].as_str(), got["Action"].as_str()),
        (Some("web"), Some("deny"))
    );
    assert!(!check(&agent, "web", "api"));
    let upd = put(
        &agent.url(&format!("/v1/connect/intentions/{id}")),
        json!({"SourceName": "web", "DestinationName": "api", "Action": "allow"}).to_string(),
    );
    assert_eq!(upd.status, 200, "{}", upd.body);
    assert!(check(&agent, "web", "api"));
    assert_eq!(
        delete(&agent.url(&format!("/v1/connect/intentions/{id}"))).status,
        200
    );
    assert_eq!(
        get(&agent.url(&format!("/v1/connect/intentions/{id}"))).status,
        404
    );
    assert_eq!(
        get(&agent.url("/v1/connect/intentions/not-a-uuid")).status,
        400
    );
    let bad = post(
        &agent.url("/v1/connect/intentions"),
        json!({"SourceName": "web", "DestinationName": "api", "Action": "maybe"}).to_string(),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(get(&agent.url("/v1/connect/intentions")).json(), json!([]));
}

#[test]
fn gateway_services_come_from_gateway_config_entries() {
    let agent = Agent::dev(&[]);
    assert_eq!(
        get(&agent.url("/v1/catalog/gateway-services/ig")).json(),
        json!([])
    );
    let r = put_entry(
        &agent,
        &json!({"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Port": 8080, "Protocol": "tcp", "Services": [{"Name": "web"}]}]}),
    );
    assert_eq!(r.body.trim(), "true", "{}", r.body);
    let rows = get(&agent.url("/v1/catalog/gateway-services/ig")).json();
    assert_eq!(rows[0]["Service"]["Name"], "web");
    assert_eq!(rows[0]["GatewayKind"], "ingress-gateway");
    assert_eq!(rows[0]["Port"], 8080);
    let r = put_entry(
        &agent,
        &json!({"Kind": "terminating-gateway", "Name": "tg", "Services": [{"Name": "billing", "SNI": "billing.example"}]}),
    );
    assert_eq!(r.body.trim(), "true", "{}", r.body);
    let rows = get(&agent.url("/v1/catalog/gateway-services/tg")).json();
    assert_eq!(rows[0]["GatewayKind"], "terminating-gateway");
    assert_eq!(rows[0]["SNI"], "billing.example");
}

#[test]
fn default_intention_policy_decides_when_no_intention_matches() {
    let agent = Agent::dev(&["-hcl=default_intention_policy = \"deny\""]);
    assert!(
        !check(&agent, "web", "db"),
        "no intention: the configured deny"
    );
    let (authorized, reason) = authorize(&agent, "web", "db");
    assert!(!authorized);
    assert_eq!(reason, "Default intention policy");
    upsert(&agent, "web", "db", "allow");
    assert!(check(&agent, "web", "db"));
}

#[test]
fn health_ingress_lists_the_gateways_that_route_to_a_service() {
    let agent = Agent::dev(&[]);
    assert_eq!(get(&agent.url("/v1/health/ingress/web")).json(), json!([]));
    let reg = put(
        &agent.url("/v1/catalog/register"),
        json!({"Node": "edge", "Address": "10.0.0.9",
               "Service": {"ID": "ig", "Service": "ig", "Kind": "ingress-gateway", "Port": 8443}})
        .to_string(),
    );
    assert_eq!(reg.status, 200, "{}", reg.body);
    let index = get(&agent.url("/v1/health/ingress/web"))
        .index
        .expect("index");
    let url = agent.url(&format!("/v1/health/ingress/web?index={index}&wait=20s"));
    let waiter = std::thread::spawn(move || get(&url));
    let r = put_entry(
        &agent,
        &json!({"Kind": "ingress-gateway", "Name": "ig",
                "Listeners": [{"Port": 8080, "Protocol": "tcp", "Services": [{"Name": "web"}]}]}),
    );
    assert_eq!(r.body.trim(), "true", "{}", r.body);
    let rows = waiter.join().expect("waiter").json();
    assert_eq!(rows[0]["Service"]["Service"], "ig", "{rows}");
    assert_eq!(rows[0]["Node"]["Node"], "edge");
    assert_eq!(
        get(&agent.url("/v1/health/ingress/other")).json(),
        json!([])
    );
    let filtered = get(&agent.url("/v1/health/ingress/web?filter=Node.Node%20%3D%3D%20%22nope%22"));
    assert_eq!(filtered.json(), json!([]));
}
