//! match / check / authorize / L7 outcomes.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use serde_json::json;
use skein_intention::query::{Target, decide};
use skein_intention::{
    Authorization, DefaultPolicy, HttpRequest, MatchBy, ServiceIntentions, ServiceName,
    SpiffeService, authorize, authorize_request, check, matches,
};

fn entry(v: serde_json::Value) -> ServiceIntentions {
    let mut e: ServiceIntentions = serde_json::from_value(v).unwrap();
    e.normalize();
    e.validate().unwrap();
    e
}

/// api: web allow, * deny; db: api allow; *: web deny, * allow.
fn fixture() -> Vec<ServiceIntentions> {
    vec![
        entry(json!({"Name": "api", "Sources": [
            {"Name": "web", "Action": "allow"}, {"Name": "*", "Action": "deny"}]})),
        entry(json!({"Name": "db", "Sources": [{"Name": "api", "Action": "allow"}]})),
        entry(json!({"Name": "*", "Sources": [
            {"Name": "web", "Action": "deny"}, {"Name": "*", "Action": "allow"}]})),
        entry(
            json!({"Name": "billing", "Sources": [{"Name": "web", "Permissions": [
            {"Action": "deny", "HTTP": {"PathPrefix": "/admin"}},
            {"Action": "allow", "HTTP": {"PathPrefix": "/", "Methods": ["GET"]}}]}]}),
        ),
    ]
}

fn svc(name: &str) -> ServiceName {
    ServiceName::local(name)
}

fn pairs(ixns: &[skein_intention::Intention]) -> Vec<String> {
    ixns.iter()
        .map(|i| format!("{}>{}:{}", i.source_name, i.destination_name, i.precedence))
        .collect()
}

#[test]
fn match_by_destination_includes_wildcards_in_precedence_order() {
    let f = fixture();
    let got = pairs(&matches(&f, MatchBy::Destination, &svc("api")));
    assert_eq!(got, ["web>api:9", "*>api:8", "web>*:6", "*>*:5"]);
    let got = pairs(&matches(&f, MatchBy::Destination, &svc("nothing")));
    assert_eq!(got, ["web>*:6", "*>*:5"]);
}

#[test]
fn match_by_source_includes_wildcards_in_precedence_order() {
    let f = fixture();
    let got = pairs(&matches(&f, MatchBy::Source, &svc("web")));
    assert_eq!(
        got,
        ["web>api:9", "web>billing:9", "*>api:8", "web>*:6", "*>*:5"]
    );
    let got = pairs(&matches(&f, MatchBy::Source, &svc("api")));
    assert_eq!(got, ["api>db:9", "*>api:8", "*>*:5"]);
}

#[test]
fn check_outcomes() {
    let f = fixture();
    let cases = [
        ("web", "api", true, "exact allow beats wildcard deny"),
        ("other", "api", false, "wildcard source deny"),
        ("api", "db", true, "exact allow"),
        ("web", "db", false, "web>* deny outranks *>* allow"),
        ("other", "db", true, "*>* allow"),
        ("web", "billing", false, "L7 counts as deny"),
        ("other", "billing", true, "*>* allow"),
    ];
    for (src, dst, want, why) in cases {
        assert_eq!(
            check(&f, &svc(src), &svc(dst), false),
            want,
            "{src}>{dst}: {why}"
        );
    }
}

#[test]
fn check_falls_back_to_the_default() {
    let f = vec![entry(
        json!({"Name": "api", "Sources": [{"Name": "web", "Action": "allow"}]}),
    )];
    assert!(check(&f, &svc("other"), &svc("api"), true));
    assert!(!check(&f, &svc("other"), &svc("api"), false));
    assert!(check(&[], &svc("a"), &svc("b"), true));
}

#[test]
fn decision_summary() {
    let f = fixture();
    let ixns = matches(&f, MatchBy::Source, &svc("web"));
    let target = Target {
        service: &svc("billing"),
        peer: "",
        by: MatchBy::Destination,
    };
    let d = decide(&ixns, &target, false, true);
    assert!(d.allowed && d.has_permissions && d.has_exact);
    let target = Target {
        service: &svc("db"),
        peer: "",
        by: MatchBy::Destination,
    };
    let d = decide(&ixns, &target, true, false);
    assert!(!d.allowed && !d.has_exact && d.default_allow);
}

#[test]
fn authorize_reasons() {
    let f = fixture();
    let acl_deny = DefaultPolicy::Acl { allow: false };
    let got = authorize(&f, &svc("web"), &svc("api"), acl_deny);
    assert_eq!(
        got,
        Authorization {
            authorized: true,
            reason:
                "Matched L4 intention: default/web => default/api (Precedence: 9, Action: ALLOW)"
                    .into(),
        }
    );
    let got = authorize(&f, &svc("other"), &svc("api"), acl_deny);
    assert!(!got.authorized);
    assert_eq!(
        got.reason,
        "Matched L4 intention: default/* => default/api (Precedence: 8, Action: DENY)"
    );
    let got = authorize(&f, &svc("web"), &svc("billing"), acl_deny);
    assert!(!got.authorized);
    assert_eq!(
        got.reason,
        "Matched L7 intention: default/web => default/billing (Precedence: 9, Permissions: 2)"
    );

    let lone = vec![entry(
        json!({"Name": "api", "Sources": [{"Name": "web", "Action": "allow"}]}),
    )];
    let got = authorize(&lone, &svc("x"), &svc("api"), acl_deny);
    assert_eq!(
        (got.authorized, got.reason.as_str()),
        (false, "Default behavior configured by ACLs")
    );
    let got = authorize(
        &lone,
        &svc("x"),
        &svc("api"),
        DefaultPolicy::Intention { allow: true },
    );
    assert_eq!(
        (got.authorized, got.reason.as_str()),
        (true, "Default intention policy")
    );
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        json!({"Authorized": true, "Reason": "Default intention policy"})
    );
}

#[test]
fn peered_sources_never_match_local_clients() {
    let f = vec![entry(json!({"Name": "api", "Sources": [
        {"Name": "web", "Peer": "east", "Action": "allow"}]}))];
    let got = authorize(
        &f,
        &svc("web"),
        &svc("api"),
        DefaultPolicy::Acl { allow: false },
    );
    assert_eq!(got.reason, "Default behavior configured by ACLs");
    assert!(matches(&f, MatchBy::Source, &svc("web")).is_empty());
    assert_eq!(matches(&f, MatchBy::Destination, &svc("api")).len(), 1);
}

#[test]
fn spiffe_ids() {
    let id =
        SpiffeService::parse("spiffe://11111111-2222.consul/ns/default/dc/dc1/svc/web").unwrap();
    assert_eq!(id.trust_domain, "11111111-2222.consul");
    assert_eq!(id.service_name(), svc("web"));
    let id = SpiffeService::parse("spiffe://td.consul/ap/p1/ns/ns1/dc/dc1/svc/web").unwrap();
    assert_eq!(id.service_name(), ServiceName::new("p1", "ns1", "web"));
    for bad in [
        "spiffe://td.consul/agent/client/dc/dc1/id/node",
        "spiffe://td.consul/ns/default/dc/dc1/svc/",
        "http://td.consul/ns/default/dc/dc1/svc/web",
    ] {
        assert_eq!(SpiffeService::parse(bad), None, "{bad}");
    }
}

#[test]
fn l7_first_matching_permission_decides() {
    let f = fixture();
    let req = |method, path| HttpRequest {
        method,
        path,
        headers: &[],
    };
    let (web, billing) = (svc("web"), svc("billing"));
    let cases = [
        (req("GET", "/admin/users"), false, "deny /admin comes first"),
        (req("GET", "/orders?id=1"), true, "allow GET /"),
        (
            req("POST", "/orders"),
            false,
            "no permission matches: default deny",
        ),
    ];
    for (r, want, why) in cases {
        assert_eq!(
            authorize_request(&f, &web, &billing, &r, false),
            want,
            "{why}"
        );
    }
    assert!(authorize_request(
        &f,
        &web,
        &billing,
        &req("POST", "/orders"),
        true
    ));
    assert!(authorize_request(
        &f,
        &svc("web"),
        &svc("api"),
        &req("PUT", "/"),
        false
    ));
    assert!(!authorize_request(
        &f,
        &svc("web"),
        &svc("db"),
        &req("GET", "/"),
        true
    ));
}

#[test]
fn l7_header_and_regex_matchers() {
    let e = entry(
        json!({"Name": "api", "Sources": [{"Name": "web", "Permissions": [
        {"Action": "allow", "HTTP": {"PathRegex": "/v[0-9]+/items", "Header": [
            {"Name": "X-Tenant", "Exact": "ACME", "IgnoreCase": true},
            {"Name": "x-debug", "Present": true, "Invert": true},
            {"Name": "accept", "Contains": "json"},
            {"Name": "x-trace", "Regex": "[a-f0-9]{4}"}]}}]}]}),
    );
    let f = vec![e];
    let ok: &[(&str, &str)] = &[
        ("x-tenant", "acme"),
        ("Accept", "text/html"),
        ("accept", "application/json"),
        ("x-trace", "beef"),
    ];
    let req = |path, headers| HttpRequest {
        method: "GET",
        path,
        headers,
    };
    let (web, api) = (svc("web"), svc("api"));
    assert!(authorize_request(
        &f,
        &web,
        &api,
        &req("/v2/items", ok),
        false
    ));
    assert!(
        !authorize_request(&f, &web, &api, &req("/v2/items/1", ok), false),
        "regex is anchored"
    );
    let debug: Vec<_> = ok.iter().copied().chain([("X-Debug", "1")]).collect();
    assert!(
        !authorize_request(&f, &web, &api, &req("/v2/items", &debug), false),
        "inverted present"
    );
    let bad_trace: Vec<_> = ok
        .iter()
        .copied()
        .filter(|(n, _)| *n != "x-trace")
        .chain([("x-trace", "beefy")])
        .collect();
    assert!(!authorize_request(
        &f,
        &web,
        &api,
        &req("/v2/items", &bad_trace),
        false
    ));
    let no_tenant: Vec<_> = ok
        .iter()
        .copied()
        .filter(|(n, _)| *n != "x-tenant")
        .collect();
    assert!(!authorize_request(
        &f,
        &web,
        &api,
        &req("/v2/items", &no_tenant),
        false
    ));
}
